#!/usr/bin/python3
"""Python baselines of the synth and decode benchmarks. Prints one JSON line.

synth   torch + h5py: read each layer's features in batches of 16 images, z-score, one matmul with the
        model's weights plus the intercept, write the [N, V] responses to an HDF5 file (float32). The same
        work as `deepvox synth` with synth.features given (no fMRI analysis).
decode  scikit-learn: the decoder search `deepvox decode` runs per job: for each of the stratified folds,
        LogisticRegression(multinomial, lbfgs, same tol) along the ascending C grid with warm starts, then
        one final fit at the best C; fits/s counts every fit.

usage: baselines.py synth DATA_DIR OUT.h5 [--threads T] | baselines.py decode DATA_DIR [--tol 1e-6]
"""
import argparse
import json
import os
import resource
import time

import h5py
import numpy as np


def synth(a):
    import torch
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    with h5py.File(os.path.join(a.data, "synth", "model.h5"), "r") as m:
        w = torch.from_numpy(m["weights"][()])
        b = torch.from_numpy(m["intercept"][()])
        mean = torch.from_numpy(m["features/mean"][()])
        scale = torch.from_numpy(m["features/scale"][()])
        layers = [s.decode() for s in m["layers/names"][()]]
    with h5py.File(os.path.join(a.data, "synth", "features.h5"), "r") as f, h5py.File(a.out, "w") as o:
        n = f["stimulus_ids"].shape[0]
        out = o.create_dataset("responses", (n, w.shape[1]), dtype=np.float32)
        for start in range(0, n, 16):
            x = torch.from_numpy(np.hstack([f[f"features/{l}"][start:start + 16] for l in layers]))
            out[start:start + 16] = torch.addmm(b, (x - mean) / scale, w).numpy()
    seconds = time.perf_counter() - t0
    print(json.dumps({"tool": "torch+h5py", "images": int(n), "seconds": seconds, "images_per_s": n / seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def decode(a):
    from sklearn.linear_model import LogisticRegression
    with h5py.File(os.path.join(a.data, "decode.h5"), "r") as f:
        x, y, grid, folds = f["x"][()], f["y"][()], f["c_grid"][()], int(f["folds"][()])
    # Stratified round robin, as deepvox: the i-th sample of a class goes to fold i % folds.
    fold, counts = np.empty(len(y), np.int64), {}
    for i, c in enumerate(y):
        fold[i] = counts.get(c, 0) % folds
        counts[c] = counts.get(c, 0) + 1
    t0 = time.perf_counter()
    fits, acc = 0, np.zeros(len(grid))
    for k in range(folds):
        tr, va = fold != k, fold == k
        xt, xv = x[tr], x[va]
        xt = (xt - xt.mean(0)) / xt.std(0)
        xv = (xv - xv.mean(0)) / xv.std(0)
        m = LogisticRegression(multi_class="multinomial", solver="lbfgs", tol=a.tol, max_iter=500, warm_start=True)
        for i, c in enumerate(grid):
            m.set_params(C=c).fit(xt, y[tr])
            acc[i] += (m.predict(xv) == y[va]).mean() / folds
            fits += 1
    best = grid[int(np.argmax(acc))]
    xs = (x - x.mean(0)) / x.std(0)
    LogisticRegression(C=best, multi_class="multinomial", solver="lbfgs", tol=a.tol, max_iter=500).fit(xs, y)
    fits += 1
    seconds = time.perf_counter() - t0
    print(json.dumps({"tool": "scikit-learn", "fits": fits, "seconds": seconds, "fits_per_s": fits / seconds,
                      "best_C": float(best), "cv_accuracy": acc.tolist()}))


ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["synth", "decode"])
ap.add_argument("data")
ap.add_argument("out", nargs="?")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--tol", type=float, default=1e-6)
a = ap.parse_args()
synth(a) if a.mode == "synth" else decode(a)
