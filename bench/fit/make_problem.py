#!/usr/bin/python3
"""Writes the fit benchmark problem as features.h5 + responses.h5 (run-files.md layout) in OUT_DIR.

Seeded: n_train = 1000, n_test = 200, p = 4096 features in two layers (CNN-like: a low-rank latent
structure plus noise), v = 20000 voxels driven by the latent factors at a spread of SNRs, so the
chosen lambdas spread over the grid. Any tool can be timed on the same files.

usage: make_problem.py OUT_DIR [--voxels V] [--features P] [--seed S]
"""
import argparse
import os

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=1000)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--features", type=int, default=4096)
    ap.add_argument("--voxels", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=2024)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n = a.train + a.test
    latent = rng.standard_normal((n, 64)).astype(np.float32)
    # Features: a few strong shared directions plus independent noise (correlated, like CNN units).
    mix = (rng.standard_normal((64, a.features)) / np.sqrt(np.arange(1, 65))[:, None]).astype(np.float32)
    x = latent @ mix + 0.5 * rng.standard_normal((n, a.features)).astype(np.float32)
    # Voxels: latent signal at log-uniform SNRs from 1/30 to 3, plus a per-voxel offset.
    drive = (rng.standard_normal((64, a.voxels)) / np.sqrt(np.arange(1, 65))[:, None]).astype(np.float32)
    signal = latent @ drive
    signal /= signal.std(0)
    snr = np.exp(rng.uniform(np.log(1 / 30), np.log(3), a.voxels)).astype(np.float32)
    y = np.sqrt(snr) * signal + rng.standard_normal((n, a.voxels)).astype(np.float32) + rng.standard_normal(a.voxels)
    os.makedirs(a.out, exist_ok=True)
    ids = np.array(["img%05d" % i for i in range(n)], dtype="S")
    half = a.features // 2
    with h5py.File(os.path.join(a.out, "features.h5"), "w") as f:
        f.create_dataset("stimulus_ids", data=ids)
        g = f.create_group("features", track_order=True)
        g.create_dataset("early", data=x[:, :half])
        g.create_dataset("late", data=x[:, half:])
        f.attrs["network"] = "synthetic-benchmark"
    with h5py.File(os.path.join(a.out, "responses.h5"), "w") as f:
        f.create_dataset("stimulus_ids", data=ids)
        f.create_dataset("responses", data=y.astype(np.float32))
        f.create_dataset("split/train", data=np.arange(a.train, dtype=np.int64))
        f.create_dataset("split/test", data=np.arange(a.train, n, dtype=np.int64))
    print("wrote %s: %d train + %d test stimuli, %d features, %d voxels" % (a.out, a.train, a.test, a.features,
                                                                             a.voxels))


if __name__ == "__main__":
    main()
