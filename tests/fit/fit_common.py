"""Shared helpers of fit's reference tests: seeded inputs in run-files.md layout, running the stage
under mpiexec, reading model.h5, and a straightforward numpy k-fold ridge search (the reference)."""
import os
import shutil
import subprocess

import h5py
import numpy as np


def write_inputs(run_dir, layers, y, train, test, ids=None, feature_ids=None, trials=None, rois=None, valid=None):
    """layers: list of (name, array [S, D]); y: [S, V]; train/test: row indices; trials: dict with
    'responses' [T, V], 'stimulus_index' [T] and optional 'session', 'run'."""
    if os.path.isdir(run_dir):
        shutil.rmtree(run_dir)
    os.makedirs(run_dir)
    s = y.shape[0]
    ids = ids if ids is not None else ["stim-%04d" % i for i in range(s)]
    feature_ids = feature_ids if feature_ids is not None else ids
    with h5py.File(os.path.join(run_dir, "features.h5"), "w") as f:
        f.create_dataset("stimulus_ids", data=np.array(feature_ids, dtype="S"))
        g = f.create_group("features", track_order=True)  # file order = tap order
        for name, x in layers:
            d = g.create_dataset(name, data=np.asarray(x, dtype=np.float32))
            d.attrs["pooling"] = "avg"
        f.attrs["network"] = "synthetic"
        f.attrs["input_size"] = 32
    with h5py.File(os.path.join(run_dir, "responses.h5"), "w") as f:
        f.create_dataset("stimulus_ids", data=np.array(ids, dtype="S"))
        f.create_dataset("responses", data=np.asarray(y, dtype=np.float32))
        f.create_dataset("split/train", data=np.asarray(train, dtype=np.int64))
        f.create_dataset("split/test", data=np.asarray(test, dtype=np.int64))
        if valid is not None:
            f.create_dataset("voxels/valid", data=np.asarray(valid, dtype=np.uint8))
        for name, mask in (rois or {}).items():
            f.create_dataset("rois/" + name, data=np.asarray(mask, dtype=np.uint8))
        if trials is not None:
            for k, v in trials.items():
                f.create_dataset("trials/" + k, data=v)


def run_fit(driver, mpiexec, run_dir, sets, ranks=1, expect_fail=False):
    cmd = [mpiexec, "-n", str(ranks), "--oversubscribe", "--allow-run-as-root", "--bind-to", "none", driver,
           "--set", "run_dir=" + run_dir, "--set", "threads=1", "--set", "progress=never"]
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=280)
    if expect_fail:
        assert p.returncode != 0, "fit should have failed:\n" + p.stdout + p.stderr
        return p.stdout + p.stderr
    assert p.returncode == 0, "fit failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr)
    return p.stdout + p.stderr


def load_model(run_dir):
    out = {}
    with h5py.File(os.path.join(run_dir, "model.h5"), "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f.visititems(visit)
        out["attrs"] = dict(f.attrs)
        out["lambda_attrs"] = dict(f["voxels/lambda"].attrs)
    return out


def zscore_train(x, n_train):
    mu = x[:n_train].mean(0)
    sd = x[:n_train].std(0)
    sd[sd == 0] = 1
    return (x - mu) / sd


def fold_scores(score, yv, pred):
    if score == "sse":
        return ((yv - pred) ** 2).sum(0)
    sst = ((yv - yv.mean(0)) ** 2).sum(0)
    if score == "r2":
        sse = ((yv - pred) ** 2).sum(0)
        return np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1), 0.0)
    pc = pred - pred.mean(0)
    vp = (pc ** 2).sum(0)
    cov = (pc * (yv - yv.mean(0))).sum(0)
    ok = (vp > 0) & (sst > 0)
    return np.where(ok, cov / np.sqrt(np.where(ok, vp * sst, 1)), 0.0)


def reference_cv(xz_train, y_train, folds, lambdas, score="r2", intercept=True, zscore_fold=False):
    """Straightforward k-fold search: one linear solve per fold and lambda (numpy). Returns the chosen
    lambda index per voxel (ties to the larger lambda) and the CV score."""
    k = folds.max() + 1
    p = xz_train.shape[1]
    acc = np.zeros((len(lambdas), y_train.shape[1]))
    for f in range(k):
        tr, ev = folds != f, folds == f
        xt, xv = xz_train[tr], xz_train[ev]
        if zscore_fold or intercept:
            mu = xt.mean(0)
            sd = xt.std(0) if zscore_fold else np.ones(p)
            sd[sd == 0] = 1
            xt, xv = (xt - mu) / sd, (xv - mu) / sd
        yt, yv = y_train[tr], y_train[ev]
        ybar = yt.mean(0) if intercept else np.zeros(yt.shape[1])
        for li, lam in enumerate(lambdas):
            w = np.linalg.solve(xt.T @ xt + lam * np.eye(p), xt.T @ (yt - ybar))
            acc[li] += fold_scores(score, yv, xv @ w + ybar)
    sel = -acc if score == "sse" else acc / k
    idx = len(lambdas) - 1 - np.argmax(sel[::-1], axis=0)
    reported = acc if score == "sse" else acc / k
    return idx, reported[idx, np.arange(acc.shape[1])]


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def pearson_cols(a, b):
    a = a - a.mean(0)
    b = b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a ** 2).sum(0) * (b ** 2).sum(0))
