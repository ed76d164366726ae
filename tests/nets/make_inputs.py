#!/usr/bin/env python3
"""Writes the network inputs every reference test feeds (C++, TF.js and torchvision see the same floats).

  make_inputs.py OUT_DIR SIZE [SIZE...]  ->  OUT_DIR/inputs_<SIZE>.f32: float32 [3, SIZE, SIZE, 3] (NHWC)

Real photographs from scikit-image's data (Debian python3-skimage): the cat, the coffee cup, the astronaut.
Shorter side resized to SIZE (antialiased), centre-cropped, Keras ImageNet scaling x/127.5 - 1.
"""
import os
import sys

import numpy as np
import skimage.data
from PIL import Image

PHOTOS = ("chelsea", "coffee", "astronaut")


def prepare(rgb, size):
    img = Image.fromarray(rgb)
    scale = size / min(img.size)
    w, h = max(size, round(img.size[0] * scale)), max(size, round(img.size[1] * scale))
    img = img.resize((w, h), Image.BICUBIC, reducing_gap=None)
    left, top = (w - size) // 2, (h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, dtype=np.float32) / 127.5 - 1.0


def main():
    out_dir, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
    os.makedirs(out_dir, exist_ok=True)
    for size in sizes:
        batch = np.stack([prepare(getattr(skimage.data, name)(), size) for name in PHOTOS])
        batch.astype("<f4").tofile(os.path.join(out_dir, f"inputs_{size}.f32"))
        print(f"inputs_{size}.f32: {batch.shape} from {', '.join(PHOTOS)}")


if __name__ == "__main__":
    main()
