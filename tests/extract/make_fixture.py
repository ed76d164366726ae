"""Builds the extract test fixture from real photographs shipped by Debian packages.

Writes into OUT/: images/*.png (224x224 centre crops, so deepvox and PIL decode identical pixels),
manifest.csv, bad_*.csv manifests (missing file, zero-byte, truncated JPEG, non-image), and
reference.h5: features computed independently with torch (Debian's python3-torch) from the same
TorchScript model, with the pooling rule of decisions.md re-implemented here.
usage: make_fixture.py OUT MODEL.pt MAX_FEATURES layer [layer ...]
"""
import csv
import glob
import os
import sys

import h5py
import numpy as np
import torch
from PIL import Image

out, model_path, max_features, layers = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
os.makedirs(os.path.join(out, "images"), exist_ok=True)

sources = sorted(glob.glob("/usr/lib/python3/dist-packages/skimage/data/*.png"))
sources = [s for s in sources if os.path.basename(s) in
           ("astronaut.png", "chelsea.png", "coffee.png", "rocket.png", "motorcycle_left.png", "hubble_deep_field.jpg",
            "coins.png", "camera.png", "horse.png", "grass.png", "brick.png")]
sources += sorted(glob.glob("/usr/share/backgrounds/mate/nature/*.jpg"))[:3]
assert len(sources) >= 8, sources

rows = []
for i, src in enumerate(sources):
    img = Image.open(src).convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((224, 224), Image.BICUBIC)
    name = f"img{i:02d}.png"
    img.save(os.path.join(out, "images", name))
    rows.append((f"stim{i:02d}", f"images/{name}", "cat" if i % 2 else "dog", src))
with open(os.path.join(out, "manifest.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["stimulus_id", "path", "category", "source"])
    w.writerows(rows)

# Bad inputs, one manifest each (the first rows are good, so the failure happens mid-run).
bad = {
    "missing": "images/does_not_exist.png",
    "zero": "images/zero.jpg",
    "truncated": "images/truncated.jpg",
    "notimage": "images/notimage.png",
}
open(os.path.join(out, "images/zero.jpg"), "wb").close()
buf = open(sources[-1], "rb").read()
open(os.path.join(out, "images/truncated.jpg"), "wb").write(buf[: len(buf) // 2])
open(os.path.join(out, "images/notimage.png"), "w").write("this is not an image\n")
for kind, path in bad.items():
    with open(os.path.join(out, f"bad_{kind}.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["stimulus_id", "path"])
        w.writerows([(r[0], r[1]) for r in rows[:5]] + [("bad", path)])


def plan(shape):
    """decisions.md: largest h x w grid keeping the aspect ratio with C*h*w <= max_features."""
    if len(shape) == 1 or np.prod(shape) <= max_features:
        return None
    c, h, w = shape
    for hh in range(h, 0, -1):
        ww = min(w, max(1, int(round(hh * w / h))))
        if c * hh * ww <= max_features:
            return hh, ww
    return 1, 1


model = torch.jit.load(model_path).eval()
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
x = torch.stack([torch.from_numpy(np.asarray(Image.open(os.path.join(out, r[1])).convert("RGB"), dtype=np.float32))
                 .permute(2, 0, 1) for r in rows]) / 255.0
x = (x - mean) / std
torch.set_num_threads(1)
with torch.no_grad():
    taps = model(x)
with h5py.File(os.path.join(out, "reference.h5"), "w") as f:
    for name in layers:
        a = taps[name]
        p = plan(tuple(a.shape[1:]))
        if p is not None:
            a = torch.nn.functional.adaptive_avg_pool2d(a, p)
        f[name] = a.flatten(1).numpy()
        f[name].attrs["pooled_shape"] = np.array(a.shape[1:], dtype=np.int64)
print(f"fixture: {len(rows)} images, layers {layers}")
