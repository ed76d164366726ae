#!/usr/bin/python3
"""Benchmark problems for synth and decode, written so any tool can be timed on the same files.

synth/   features.h5 (two layers, N images) + model.h5 (run-files.md layout, random ridge weights):
         predicting every image is what `deepvox synth --set synth.features=...` and the Python baseline do.
decode.h5  a decoding problem shaped like the demo's: n_train synthetic-like patterns of V voxels in
         K categories (class means plus noise), and a real-like test set (same means, more noise).

usage: make_problem.py OUT_DIR [--images N] [--features P] [--voxels V] [--train n] [--decode-voxels Vd] [--classes K]
"""
import argparse
import os

import h5py
import numpy as np


def fixed(strings):
    width = max(len(s) for s in strings)
    return np.array([s.encode() for s in strings], dtype=f"S{width}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--features", type=int, default=20000)
    ap.add_argument("--voxels", type=int, default=5000)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--decode-voxels", type=int, default=500)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(os.path.join(a.out, "synth"), exist_ok=True)

    half = a.features // 2
    with h5py.File(os.path.join(a.out, "synth", "features.h5"), "w") as f:
        f["stimulus_ids"] = fixed([f"img{i:06d}" for i in range(a.images)])
        f["layers"] = fixed(["early", "late"])
        for name, width in (("early", half), ("late", a.features - half)):
            f[f"features/{name}"] = rng.random((a.images, width), dtype=np.float32)
    with h5py.File(os.path.join(a.out, "synth", "model.h5"), "w") as f:
        f["weights"] = (rng.standard_normal((a.features, a.voxels), dtype=np.float32) / np.sqrt(a.features))
        f["intercept"] = rng.standard_normal(a.voxels, dtype=np.float32)
        f["features/mean"] = np.full(a.features, 0.5, np.float32)
        f["features/scale"] = np.full(a.features, 0.29, np.float32)
        f["layers/names"] = fixed(["early", "late"])
        f["layers/offset"] = np.array([0, half, a.features], np.int64)
        f["voxels/lambda"] = np.full(a.voxels, 10.0)

    k, v = a.classes, a.decode_voxels
    centres = rng.normal(0, 0.06, (k, v))  # about 2 s.d. between class means: accuracy well below 1
    y = np.arange(a.train) % k
    y_test = np.arange(400) % k
    with h5py.File(os.path.join(a.out, "decode.h5"), "w") as f:
        f["x"] = centres[y] + rng.normal(0, 1, (a.train, v))
        f["y"] = y.astype(np.int64)
        f["x_test"] = centres[y_test] + rng.normal(0, 1.5, (400, v))
        f["y_test"] = y_test.astype(np.int64)
        f["c_grid"] = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0])
        f["folds"] = np.int64(3)


if __name__ == "__main__":
    main()
