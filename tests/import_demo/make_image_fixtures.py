#!/usr/bin/python3
"""Writes the image-decoding fixtures and their independent reference decodings.

Usage: make_image_fixtures.py OUTDIR

Every tricky kind is written with PIL (or by hand, for 16-bit PNG, which PIL cannot write in RGB),
and the expected 8-bit RGB is computed here with PIL/numpy, independently of OpenCV:
  - alpha composited over grey 128 with round((c*a + 128*(255-a)) / 255);
  - 16-bit scaled with round(v * 255 / 65535);
  - CMYK converted with R = (255-C)(255-K)/255 (libjpeg's Adobe-CMYK convention) from PIL's decoded CMYK.
Expected arrays are raw files: int32 height, int32 width, then height*width*3 uint8 (RGB, row-major).
Resize references use torchvision's Resize(size) + CenterCrop(size) on PIL images (bilinear, antialiased).
"""
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as TF

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def save_expected(name, rgb):
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    with open(os.path.join(out, name + ".expected"), "wb") as f:
        f.write(struct.pack("<ii", rgb.shape[0], rgb.shape[1]))
        f.write(rgb.tobytes())


def composite(rgb, alpha):
    a = alpha.astype(np.int64)[..., None]
    return ((rgb.astype(np.int64) * a + 128 * (255 - a) + 127) // 255).astype(np.uint8)


def smooth_photo(h, w):
    """A smooth colourful image (JPEG-friendly) with some texture."""
    y, x = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    g = 128 + 100 * np.cos((x + y) / 17.0)
    b = 128 + 80 * np.sin(np.hypot(x - w / 2, y - h / 3) / 7.0)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def png_16bit(path, arr):
    """Minimal PNG writer for 16-bit gray (H,W) or RGB (H,W,3) (PIL cannot write 16-bit RGB)."""
    h, w = arr.shape[:2]
    color_type = 0 if arr.ndim == 2 else 2
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) +
                chunk(b"IEND", b""))


# Plain RGB: PNG (lossless) and JPEG/WebP/TIFF decoded by PIL as the reference.
rgb = smooth_photo(48, 64)
Image.fromarray(rgb).save(os.path.join(out, "rgb.png"))
save_expected("rgb.png", rgb)
Image.fromarray(rgb).save(os.path.join(out, "rgb.jpg"), quality=92)
save_expected("rgb.jpg", np.asarray(Image.open(os.path.join(out, "rgb.jpg")).convert("RGB")))
Image.fromarray(rgb).save(os.path.join(out, "rgb.webp"), lossless=True)
save_expected("rgb.webp", rgb)
Image.fromarray(rgb).save(os.path.join(out, "rgb.tif"))
save_expected("rgb.tif", rgb)

# Grayscale PNG and JPEG.
gray = rgb[..., 1].copy()
Image.fromarray(gray, "L").save(os.path.join(out, "gray.png"))
save_expected("gray.png", np.repeat(gray[..., None], 3, -1))
Image.fromarray(gray, "L").save(os.path.join(out, "gray.jpg"), quality=92)
dec = np.asarray(Image.open(os.path.join(out, "gray.jpg")))
save_expected("gray.jpg", np.repeat(dec[..., None], 3, -1))

# Palette PNG, without and with transparency (tRNS).
pal = Image.fromarray(rgb).quantize(colors=16, method=Image.Quantize.MEDIANCUT)
pal.save(os.path.join(out, "palette.png"))
save_expected("palette.png", np.asarray(pal.convert("RGB")))
pal_t = pal.copy()
trns = bytes([0, 64, 128, 200] + [255] * 12)
pal_t.info["transparency"] = trns
pal_t.save(os.path.join(out, "palette_trns.png"), transparency=trns)
idx = np.asarray(pal_t)
alpha = np.frombuffer(trns, np.uint8)[idx]
save_expected("palette_trns.png", composite(np.asarray(pal.convert("RGB")), alpha))

# RGBA and gray+alpha PNG.
alpha = (np.linspace(0, 255, rgb.shape[1])[None, :] * np.ones((rgb.shape[0], 1))).astype(np.uint8)
alpha[:8] = 0
alpha[-8:] = 255
Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(os.path.join(out, "rgba.png"))
save_expected("rgba.png", composite(rgb, alpha))
Image.fromarray(np.dstack([gray, alpha]), "LA").save(os.path.join(out, "la.png"))
save_expected("la.png", composite(np.repeat(gray[..., None], 3, -1), alpha))

# 16-bit PNGs (RGB and gray).
rgb16 = rng.integers(0, 65536, size=(20, 30, 3), dtype=np.uint16)
rgb16[0, :3] = [[0, 65535, 257], [128, 32767, 32896], [65534, 1, 384]]
png_16bit(os.path.join(out, "rgb16.png"), rgb16)
save_expected("rgb16.png", np.floor(rgb16.astype(np.float64) * 255 / 65535 + 0.5))
gray16 = rng.integers(0, 65536, size=(20, 30), dtype=np.uint16)
png_16bit(os.path.join(out, "gray16.png"), gray16)
g8 = np.floor(gray16.astype(np.float64) * 255 / 65535 + 0.5)
save_expected("gray16.png", np.repeat(g8[..., None], 3, -1))

# CMYK JPEG (PIL writes Adobe-inverted CMYK), flat 16x16 blocks of assorted inks.
inks = [(0, 0, 0, 0), (255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255), (0, 255, 255, 0),
        (128, 0, 0, 0), (0, 0, 0, 128), (64, 128, 192, 32), (200, 30, 100, 60), (0, 0, 0, 64), (30, 30, 30, 0)]
cmyk = np.zeros((32, 16 * 6, 4), np.uint8)
for i, ink in enumerate(inks):
    cmyk[(i // 6) * 16:(i // 6) * 16 + 16, (i % 6) * 16:(i % 6) * 16 + 16] = ink
Image.fromarray(cmyk, "CMYK").save(os.path.join(out, "cmyk.jpg"), quality=98)
dec = np.asarray(Image.open(os.path.join(out, "cmyk.jpg"))).astype(np.float64)  # PIL: true CMYK values
k = 255 - dec[..., 3:4]
save_expected("cmyk.jpg", np.floor((255 - dec[..., :3]) * k / 255 + 0.5))
with open(os.path.join(out, "cmyk.blocks"), "w") as f:  # the block colours, for a coarse second check
    for ink in inks:
        c, m, y, kk = ink
        f.write("%d %d %d\n" % tuple(round((255 - v) * (255 - kk) / 255) for v in (c, m, y)))

# Bad inputs.
data = open(os.path.join(out, "rgb.jpg"), "rb").read()
open(os.path.join(out, "truncated.jpg"), "wb").write(data[: len(data) * 2 // 3])
data = open(os.path.join(out, "rgb.png"), "rb").read()
open(os.path.join(out, "truncated.png"), "wb").write(data[: len(data) // 2])
open(os.path.join(out, "empty.jpg"), "wb").close()
open(os.path.join(out, "notimage.jpg"), "w").write("stimulus_id,path\nthis is a CSV, not a JPEG\n")
# Well-formed markers (SOI, an empty scan header, EOI) around noise: complete, but not decodable.
noise = bytes(b for b in rng.integers(0, 256, 500, np.uint8).tobytes() if b != 0xFF)
open(os.path.join(out, "garbage.jpg"), "wb").write(b"\xff\xd8\xff\xda\x00\x02" + noise + b"\xff\xd9")

# Progressive JPEG (several scans) must pass the completeness check.
Image.fromarray(rgb).save(os.path.join(out, "progressive.jpg"), quality=90, progressive=True)
save_expected("progressive.jpg", np.asarray(Image.open(os.path.join(out, "progressive.jpg")).convert("RGB")))

# Resize + centre crop references (torchvision on PIL images), for several shapes and sizes.
cases = []
try:
    import skimage.data
    photo = Image.fromarray(skimage.data.astronaut())      # 512 x 512
    cat = Image.fromarray(skimage.data.chelsea())          # 451 x 300
except Exception:  # python3-skimage missing: a synthetic photo still exercises the geometry
    photo = Image.fromarray(smooth_photo(512, 512))
    cat = Image.fromarray(smooth_photo(300, 451))
small = Image.fromarray(smooth_photo(90, 120))
for name, img in [("astronaut", photo), ("chelsea", cat), ("small", small)]:
    img.save(os.path.join(out, "resize_%s.png" % name))
    for size in (224, 299, 64):
        ref = TF.center_crop(T.Resize(size)(img), size)
        save_expected("resize_%s_%d" % (name, size), np.asarray(ref))
        cases.append("resize_%s %d" % (name, size))
with open(os.path.join(out, "resize_cases.txt"), "w") as f:
    f.write("\n".join(cases) + "\n")

# torchvision's output shape of Resize(size) for assorted inputs (w h size -> w h).
with open(os.path.join(out, "resize_shapes.txt"), "w") as f:
    for w, h in [(451, 300), (300, 451), (640, 427), (425, 425), (1, 3), (333, 1000), (1000, 333), (513, 257)]:
        for size in (224, 299, 37):
            nh, nw = TF._compute_resized_output_size((h, w), [size])
            f.write("%d %d %d %d %d\n" % (w, h, size, nw, nh))
print("fixtures in", out)

# HDF5 image bricks (NSD's imgBrick layout: uint8 [N, H, W, 3], as h5py shows it).
import h5py  # noqa: E402

brick = (np.arange(5 * 6 * 7 * 3) * 7 % 251).astype(np.uint8).reshape(5, 6, 7, 3)
with h5py.File(os.path.join(out, "brick.h5"), "w") as f:
    f.create_dataset("imgBrick", data=brick)  # contiguous: read without HDF5
with h5py.File(os.path.join(out, "brick_chunked.h5"), "w") as f:
    f.create_dataset("images", data=brick, chunks=(1, 6, 7, 3), compression="gzip")
with h5py.File(os.path.join(out, "nsd_stimuli.hdf5"), "w") as f:
    f.create_dataset("imgBrick", data=brick[:3])
with h5py.File(os.path.join(out, "brick_attr.h5"), "w") as f:
    f.create_dataset("imgBrick", data=brick[:2]).attrs["stimulus_id_scheme"] = "nsd"
with h5py.File(os.path.join(out, "brick_float.h5"), "w") as f:
    f.create_dataset("imgBrick", data=brick.astype(np.float32))
brick.tofile(os.path.join(out, "brick.raw"))
