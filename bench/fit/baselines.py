#!/usr/bin/python3
"""Python references of the fit benchmark, the same per-voxel k-fold lambda search as `deepvox fit`
(z-scored features, intercept, R^2 mean over 5 contiguous folds, ties to the larger lambda, refit on
all training stimuli, test r):

  sklearn  straightforward: one scikit-learn Ridge solve per fold and lambda for all voxels at once,
           then one Ridge per distinct chosen lambda for the refit.
  numpy    strongest: per fold one Gram matrix and one eigh (float32, in memory), kernel form when
           p >= n, every lambda by one stacked hat-matrix product, scores without per-voxel loops;
           the refit as W = X^T U (S + l)^-1 U^T Y per voxel.

Prints one JSON line: seconds (load, compute, total), peak RSS, chosen lambda indices saved to --out.
usage: baselines.py {sklearn,numpy} DATA_DIR --lambdas L1,L2,... --out FILE.npz
"""
import argparse
import json
import os
import resource
import time

import h5py
import numpy as np


def load(data):
    with h5py.File(os.path.join(data, "features.h5"), "r") as f:
        x = np.hstack([f["features"][k][()] for k in f["features"]])
    with h5py.File(os.path.join(data, "responses.h5"), "r") as f:
        y = f["responses"][()]
        train, test = f["split/train"][()], f["split/test"][()]
    return x, y, train, test


def r2_scores(yv, pred):
    sse = ((yv - pred) ** 2).sum(0, dtype=np.float64)
    sst = ((yv - yv.mean(0)) ** 2).sum(0, dtype=np.float64)
    return np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1), 0.0)


def pearson(a, b):
    a = a - a.mean(0)
    b = b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def choose(acc):
    # Ties go to the larger lambda, as in deepvox.
    return acc.shape[0] - 1 - np.argmax(acc[::-1], axis=0)


def run_sklearn(x, y, folds, lambdas, n_train):
    from sklearn.linear_model import Ridge
    xt_all, yt_all = x[:n_train], y[:n_train]
    acc = np.zeros((len(lambdas), y.shape[1]))
    for f in range(folds.max() + 1):
        tr, ev = folds != f, folds == f
        for li, lam in enumerate(lambdas):
            m = Ridge(alpha=lam).fit(xt_all[tr], yt_all[tr])
            acc[li] += r2_scores(yt_all[ev], m.predict(xt_all[ev]))
    idx = choose(acc)
    test_r = np.zeros(y.shape[1])
    for li in np.unique(idx):
        sel = idx == li
        m = Ridge(alpha=lambdas[li]).fit(xt_all, yt_all[:, sel])
        test_r[sel] = pearson(m.predict(x[n_train:]), y[n_train:, sel])
    return idx, test_r


def run_numpy(x, y, folds, lambdas, n_train):
    lam = np.asarray(lambdas, dtype=np.float32)
    eps = np.finfo(np.float32).eps
    acc = np.zeros((len(lambdas), y.shape[1]))

    def basis(xt, xe, want_w=False):
        mu = xt.mean(0)
        xt, xe = xt - mu, xe - mu
        if xt.shape[1] >= xt.shape[0]:  # kernel form
            s, u = np.linalg.eigh(xt @ xt.T)
            keep = s > s[-1] * 4 * np.sqrt(len(s)) * eps
            s, u = s[keep], u[:, keep]
            return s, u, (xe @ xt.T) @ u, (xt.T @ u if want_w else None)
        s, v = np.linalg.eigh(xt.T @ xt)
        keep = s > s[-1] * 4 * np.sqrt(len(s)) * eps
        s, v = s[keep], v[:, keep]
        return s, xt @ v, xe @ v, v

    for f in range(folds.max() + 1):
        tr, ev = folds != f, folds == f
        s, m, a, _ = basis(x[:n_train][tr], x[:n_train][ev])
        yt = y[:n_train][tr]
        ybar = yt.mean(0)
        yc = yt - ybar
        yv = y[:n_train][ev]
        nv, nt, r = a.shape[0], m.shape[0], len(s)
        a_all = np.concatenate([a / (s + l) for l in lam])  # (L nv) x r
        if len(lam) * nv * nt <= r * nt + len(lam) * nv * r:
            pred = (a_all @ m.T) @ yc
        else:
            pred = a_all @ (m.T @ yc)
        for li in range(len(lam)):
            acc[li] += r2_scores(yv, pred[li * nv:(li + 1) * nv] + ybar)
    idx = choose(acc)
    s, m, a, wbasis = basis(x[:n_train], x[n_train:], want_w=True)
    yt = y[:n_train]
    ybar = yt.mean(0)
    c = (m.T @ (yt - ybar)) / (s[:, None] + lam[idx][None, :])
    w = wbasis @ c  # p x V weights, as deepvox writes them
    test_r = pearson(a @ c + ybar, y[n_train:])
    return idx, test_r, w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["sklearn", "numpy"])
    ap.add_argument("data")
    ap.add_argument("--lambdas", required=True)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    lambdas = [float(v) for v in a.lambdas.split(",")]
    t0 = time.perf_counter()
    x, y, train, test = load(a.data)
    assert np.array_equal(train, np.arange(len(train))) and np.array_equal(test, len(train) + np.arange(len(test)))
    n = len(train)
    mu, sd = x[:n].mean(0, dtype=np.float64), x[:n].std(0, dtype=np.float64)
    sd[sd == 0] = 1
    x = ((x - mu) / sd).astype(np.float32)
    folds = np.concatenate([np.full(len(c), i) for i, c in enumerate(np.array_split(np.arange(n), a.folds))])
    t1 = time.perf_counter()
    if a.mode == "sklearn":
        idx, test_r = run_sklearn(x, y, folds, lambdas, n)
    else:
        idx, test_r, _ = run_numpy(x, y, folds, lambdas, n)
    t2 = time.perf_counter()
    np.savez(a.out, lambda_index=idx, test_r=test_r)
    print(json.dumps({"mode": a.mode, "load_s": t1 - t0, "compute_s": t2 - t1, "total_s": t2 - t0,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


if __name__ == "__main__":
    main()
