#!/usr/bin/python3
"""Planted run directory for the synth and decode tests, with independent numpy/scikit-learn references.

Writes OUT/run/{responses,features,model}.h5 in run-files.md's layout, OUT/run/stimuli/manifest.csv,
OUT/bad_features.h5 (one layer one column short) and OUT/reference.h5 (what the stages must reproduce).

The virtual subject: 4 categories; each stimulus's 30 features are its category's mean plus noise;
48 voxels (ROIs V1 = 0..23, LOC = 24..47; voxel 47 constant, hence invalid) respond linearly to the
features plus trial noise. Training stimuli are seen once, test stimuli 4 times. 160 extra images outside
the fMRI set carry categories in the manifest; 8 of them share a source photo with a test image.
"""
import os
import sys

import h5py
import numpy as np
from sklearn.linear_model import Ridge

out = sys.argv[1]
run = os.path.join(out, "run")
os.makedirs(os.path.join(run, "stimuli"), exist_ok=True)
rng = np.random.default_rng(20250601)

CATS = ["animal", "building", "food", "vehicle"]
C, PA, PB, V = 4, 12, 18, 48
P = PA + PB
N_TRAIN, N_TEST, N_EXTRA, REPS = 240, 80, 160, 4
HOLDOUT = "vehicle"

means = rng.normal(0, 0.55, (C, P))
w_true = rng.normal(0, 1 / np.sqrt(P), (P, V))
b_true = rng.normal(0, 0.5, V)
sigma = rng.uniform(0.35, 0.8, V)  # trial noise per voxel

n_all = N_TRAIN + N_TEST + N_EXTRA
cat = np.concatenate([np.arange(N_TRAIN) % C, np.arange(N_TEST) % C, np.arange(N_EXTRA) % C])
x = means[cat] + rng.normal(0, 1, (n_all, P))
ids = [f"train{i:04d}" for i in range(N_TRAIN)] + [f"test{i:04d}" for i in range(N_TEST)] + \
      [f"extra{i:04d}" for i in range(N_EXTRA)]
signal = x @ w_true + b_true
signal[:, V - 1] = 0.0

S = N_TRAIN + N_TEST
train = np.arange(N_TRAIN)
test = np.arange(N_TRAIN, S)
trial_stim = np.concatenate([train, np.repeat(test, REPS)])
trials = signal[trial_stim] + rng.normal(0, 1, (len(trial_stim), V)) * sigma
trials[:, V - 1] = 0.0
resp = np.zeros((S, V))
for s in range(S):
    resp[s] = trials[trial_stim == s].mean(0)
valid = np.ones(V, np.uint8)
valid[V - 1] = 0
rois = {"V1": (np.arange(V) < 24).astype(np.uint8), "LOC": (np.arange(V) >= 24).astype(np.uint8)}


def fixed(strings):
    width = max(1, max(len(s) for s in strings))
    return np.array([s.encode() for s in strings], dtype=f"S{width}")


with h5py.File(os.path.join(run, "responses.h5"), "w") as f:
    f["stimulus_ids"] = fixed(ids[:S])
    f["responses"] = resp.astype(np.float32)
    f["trials/responses"] = trials.astype(np.float32)
    f["trials/stimulus_index"] = trial_stim.astype(np.int64)
    f["trials/session"] = np.zeros(len(trial_stim), np.int64)
    f["trials/run"] = np.zeros(len(trial_stim), np.int64)
    f["split/train"] = train.astype(np.int64)
    f["split/test"] = test.astype(np.int64)
    for name, mask in rois.items():
        f[f"rois/{name}"] = mask
    f["voxels/valid"] = valid
    f["categories/names"] = fixed(CATS)
    f["categories/index"] = cat[:S].astype(np.int64)

# Manifest: every image (paths are never opened: features come from features.h5).
sources = [f"photo{i:04d}" for i in range(n_all)]
for k in range(8):  # extras 0..7 come from the same photos as test images 0..7
    sources[S + k] = sources[N_TRAIN + k]
with open(os.path.join(run, "stimuli", "manifest.csv"), "w") as m:
    m.write("stimulus_id,path,category,source\n")
    for i in range(n_all):
        m.write(f"{ids[i]},{ids[i]}.png,{CATS[cat[i]]},{sources[i]}\n")


def write_features(path, widths):
    with h5py.File(path, "w") as f:
        f["stimulus_ids"] = fixed(ids)
        f["layers"] = fixed(["layerA", "layerB"])
        f["features/layerA"] = x[:, :widths[0]].astype(np.float32)
        f["features/layerB"] = x[:, PA:PA + widths[1]].astype(np.float32)
        f.attrs["images"] = os.path.join(run, "stimuli", "manifest.csv")


write_features(os.path.join(run, "features.h5"), (PA, PB))
write_features(os.path.join(out, "bad_features.h5"), (PA, PB - 1))

# The encoding model (what `fit` writes): z-scored features (training statistics, ddof 0), ridge with a
# per-voxel alpha and an intercept.
lambdas = np.array([1.0, 10.0, 100.0])[np.arange(V) % 3]
xf = x.astype(np.float32).astype(np.float64)  # the stages read float32 features


def ridge(rows):
    mu, sd = xf[rows].mean(0), xf[rows].std(0)
    z = (xf[rows] - mu) / sd
    r = Ridge(alpha=lambdas, fit_intercept=True).fit(z, resp[rows].astype(np.float32).astype(np.float64))
    return mu, sd, r


mu, sd, model = ridge(train)
coef = model.coef_.T.copy()
coef[:, V - 1] = 0.0
intercept = model.intercept_.copy()
with h5py.File(os.path.join(run, "model.h5"), "w") as f:
    f["weights"] = coef.astype(np.float32)
    f["intercept"] = intercept.astype(np.float32)
    f["features/mean"] = mu.astype(np.float32)
    f["features/scale"] = sd.astype(np.float32)
    f["layers/names"] = fixed(["layerA", "layerB"])
    f["layers/offset"] = np.array([0, PA, P], np.int64)
    f["voxels/lambda"] = lambdas
    f["lambdas"] = np.array([1.0, 10.0, 100.0])
    f.create_group("extract")


def f32(a):
    return a.astype(np.float32).astype(np.float64)  # what the stages read from model.h5


def predict(rows, m=(f32(mu), f32(sd), f32(coef), f32(intercept))):
    return ((xf[rows] - m[0]) / m[1]) @ m[2] + m[3]


pred_all = predict(np.arange(n_all))

# The held-out-category model, refitted without the category's training stimuli.
keep = train[cat[train] != CATS.index(HOLDOUT)]
hmu, hsd, hmodel = ridge(keep)
hcoef = hmodel.coef_.T.copy()
hcoef[:, V - 1] = 0.0
hint = hmodel.intercept_.copy()
hint[V - 1] = intercept[V - 1]
hold_all = ((xf - hmu) / hsd) @ hcoef + hint

# Residual variance: mean over training trials of (trial - prediction)^2; 0 for the invalid voxel.
res = trials[:N_TRAIN].astype(np.float32).astype(np.float64) - pred_all[:N_TRAIN]
residual_var = (res ** 2).mean(0)
residual_var[V - 1] = 0


def corr(a, b, axis):
    a = a - a.mean(axis, keepdims=True)
    b = b - b.mean(axis, keepdims=True)
    den = np.sqrt((a * a).sum(axis) * (b * b).sum(axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis) / den, np.nan)


def measures(pred, reps, axis):
    K = len(reps)
    total = sum(reps)
    syn = np.mean([corr(pred, r, axis) for r in reps], 0)
    rr = np.mean([corr(reps[k], reps[l], axis) for k in range(K) for l in range(K) if k != l], 0)
    ro = np.mean([corr(reps[k], (total - reps[k]) / (K - 1), axis) for k in range(K)], 0)
    sm = corr(pred, total / K, axis)
    return np.stack([syn, rr, ro, sm])


reps = [trials[N_TRAIN:].astype(np.float32).astype(np.float64)[k::REPS] for k in range(REPS)]
pred_test = pred_all[N_TRAIN:S]
voxel = measures(pred_test, reps, 0)
voxel[:, valid == 0] = np.nan
groups = [("all", valid)] + sorted(rois.items())
pattern_means = []
for name, mask in groups:
    cols = np.where((mask > 0) & (valid > 0))[0]
    pattern_means.append(np.nanmean(measures(pred_test[:, cols], [r[:, cols] for r in reps], 1), 1))

# The decoding margin the planted signal predicts: the Bayes-optimal (true-parameter Gaussian) classifier
# of the real test responses, per ROI. Class means mu_c W + b, covariance W^T W + diag(sigma^2 / REPS).
oracle = []
for name, mask in sorted(rois.items()):
    cols = np.where((mask > 0) & (valid > 0))[0]
    w = w_true[:, cols]
    mean_c = means @ w + b_true[cols]
    cov = w.T @ w + np.diag(sigma[cols] ** 2 / REPS)
    inv = np.linalg.inv(cov)
    y = resp[test][:, cols]
    d = np.stack([np.einsum("ij,jk,ik->i", y - mean_c[c], inv, y - mean_c[c]) for c in range(C)], 1)
    oracle.append(np.mean(d.argmin(1) == cat[test]))

with h5py.File(os.path.join(out, "reference.h5"), "w") as f:
    f["pred_all"] = pred_all
    f["holdout_all"] = hold_all
    f["residual_var"] = residual_var
    f["repetition/voxel"] = voxel
    f["repetition/pattern_means"] = np.array(pattern_means)
    f["repetition/groups"] = fixed([g[0] for g in groups])
    f["oracle_accuracy"] = np.array(oracle)
    f["oracle_rois"] = fixed(sorted(rois))
    f["usable_extras"] = np.int64(N_EXTRA - 8)
    f.attrs["holdout"] = HOLDOUT
print("planted run in", run, "oracle accuracy per ROI (LOC, V1):", oracle)
