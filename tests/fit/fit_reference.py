#!/usr/bin/python3
"""End-to-end tests of `deepvox fit` against independent references (scikit-learn, numpy, planted truth).

usage: fit_reference.py --driver FIT_DRIVER --mpiexec MPIEXEC --work DIR CASE
CASE: sklearn | cv_choice | planted | degenerate | ranks | noise_ceiling | layers | precision
"""
import argparse
import os
import sys

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fit_common import (load_model, pearson_cols, reference_cv, rel_err, run_fit, write_inputs,  # noqa: E402
                        zscore_train)

ARGS = None


def fit(run_dir, sets, **kw):
    return run_fit(ARGS.driver, ARGS.mpiexec, run_dir, sets, **kw)


def lambdas_set(lams):
    return "fit.lambdas=[" + ",".join(repr(float(v)) for v in lams) + "]"


def make_problem(rng, s, dims, v, n_test, noise=1.0):
    layers = [("layer%d" % i, rng.standard_normal((s, d)) @ rng.standard_normal((d, d)) * 0.3 + rng.standard_normal((s, d)))
              for i, d in enumerate(dims)]
    x = np.hstack([l[1] for l in layers])
    w = rng.standard_normal((x.shape[1], v)) * (rng.random(v) ** 3)
    y = x @ w + noise * rng.standard_normal((s, v)) * rng.uniform(0.5, 20, v) + rng.standard_normal(v) * 3
    idx = rng.permutation(s)
    # The files hold float32: references start from the same rounded values.
    layers = [(n, l.astype(np.float32).astype(np.float64)) for n, l in layers]
    x = np.hstack([l[1] for l in layers])
    y = y.astype(np.float32).astype(np.float64)
    return layers, x, y, np.sort(idx[n_test:]), np.sort(idx[:n_test])


def case_sklearn():
    """Fixed lambda, float64: weights, intercepts and test predictions equal scikit-learn's Ridge."""
    rng = np.random.default_rng(1)
    for dims, intercept in [((12, 20), True), ((70, 80), True), ((12, 20), False)]:  # primal, kernel, no intercept
        layers, x, y, train, test = make_problem(rng, 100, dims, 23, 20)
        d = os.path.join(ARGS.work, "sklearn")
        write_inputs(d, layers, y, train, test)
        lam = 3.7
        fit(d, [lambdas_set([lam]), "fit.precision=float64", "fit.intercept=%s" % str(intercept).lower()])
        m = load_model(d)
        sc = StandardScaler().fit(x[train])
        ref = Ridge(alpha=lam, fit_intercept=intercept).fit(sc.transform(x[train]), y[train])
        assert m["weights"].shape == (x.shape[1], 23)
        e_w = rel_err(m["weights"], ref.coef_.T)
        e_b = rel_err(m["intercept"], ref.intercept_ if intercept else np.zeros(23))
        xt = (x[test] - m["features/mean"].astype(np.float64)) / m["features/scale"].astype(np.float64)
        pred = xt @ m["weights"].astype(np.float64) + m["intercept"]
        ref_pred = ref.predict(sc.transform(x[test]))
        e_p = rel_err(pred, ref_pred)
        r_ref = pearson_cols(ref_pred, y[test])
        e_r = np.max(np.abs(m["voxels/test_r"] - r_ref))
        print("dims %s intercept %s: weights %.2e, intercept %.2e, predictions %.2e, test r %.2e" %
              (dims, intercept, e_w, e_b, e_p, e_r))
        assert e_w < 1e-6 and e_b < 1e-6 and e_p < 1e-6 and e_r < 1e-6
        assert np.all(m["voxels/lambda"] == lam)


def case_cv_choice():
    """The chosen lambda per voxel equals a straightforward numpy k-fold search on the same folds."""
    rng = np.random.default_rng(2)
    lams = np.logspace(-1, 5, 13)
    runs = [((15, 10), "r2", "train", [], "contiguous"), ((60, 70), "pearson", "fold", [], "contiguous"),
            ((15, 10), "sse", "train", ["fit.intercept=false"], "contiguous"),
            ((60, 70), "r2", "train", ["fit.fold_by=session"], "session"),
            ((15, 10), "r2", "none", [], "contiguous")]
    for dims, score, zscore, extra, folding in runs:
        layers, x, y, train, test = make_problem(rng, 130, dims, 41, 30, noise=3.0)
        trials = None
        n = len(train)
        if folding == "session":
            session_of = rng.integers(0, 7, y.shape[0])
            trials = {"stimulus_index": np.arange(y.shape[0], dtype=np.int64), "session": session_of.astype(np.int64),
                      "responses": y.astype(np.float32)}
            labels = session_of[train]
            groups = np.unique(labels)
            fold_of_group = np.concatenate([np.full(len(c), i) for i, c in enumerate(np.array_split(groups, 5))])
            folds = fold_of_group[np.searchsorted(groups, labels)]
        else:
            folds = np.concatenate([np.full(len(c), i) for i, c in enumerate(np.array_split(np.arange(n), 5))])
        d = os.path.join(ARGS.work, "cv")
        write_inputs(d, layers, y, train, test, trials=trials)
        fit(d, [lambdas_set(lams), "fit.precision=float64", "fit.score=" + score, "fit.zscore=" + zscore] + extra)
        m = load_model(d)
        assert np.array_equal(m["folds"], folds), "folds differ"
        intercept = "fit.intercept=false" not in extra
        xz = zscore_train(x[train], n) if zscore != "none" else x[train]
        idx, cv = reference_cv(xz, y[train], folds, lams, score, intercept, zscore == "fold")
        same = np.mean(m["voxels/lambda_index"] == idx)
        e_cv = rel_err(m["voxels/cv_score"], cv)
        print("%s %s %s %s: lambda equal for %.0f%% of voxels (%d distinct chosen), cv score err %.1e" %
              (dims, score, zscore, folding, 100 * same, len(np.unique(idx)), e_cv))
        assert same == 1.0 and e_cv < 1e-5
        assert len(np.unique(idx)) >= 3, "test problem too easy: lambdas do not spread"


def case_planted():
    """Sparse linear model plus noise at known SNR: the test r approaches sqrt(SNR / (1 + SNR))."""
    rng = np.random.default_rng(3)
    s, p, v, n_test = 2600, 40, 60, 400
    x = rng.standard_normal((s, p))
    w = np.zeros((p, v))
    for j in range(v):
        w[rng.choice(p, 5, replace=False), j] = rng.standard_normal(5)
    w /= np.linalg.norm(w, axis=0)  # signal variance 1
    snr = np.where(np.arange(v) < v // 2, 1.0, 1.0 / 3.0)
    y = x @ w + rng.standard_normal((s, v)) / np.sqrt(snr)
    idx = rng.permutation(s)
    d = os.path.join(ARGS.work, "planted")
    write_inputs(d, [("l", x)], y, np.sort(idx[n_test:]), np.sort(idx[:n_test]))
    fit(d, [])
    m = load_model(d)
    for name, sel, value in [("SNR 1", snr == 1.0, 1.0), ("SNR 1/3", snr < 1.0, 1.0 / 3.0)]:
        theory = np.sqrt(value / (1 + value))
        got = m["voxels/test_r"][sel].mean()
        print("%s: mean test r %.4f, theoretical %.4f" % (name, got, theory))
        assert abs(got - theory) < 0.02 and got < theory + 0.01


def case_degenerate():
    """Constant, NaN and flagged voxels are excluded with zero weights; rank-deficient features still
    match scikit-learn; too few samples, unknown layers and id mismatches are clear errors."""
    rng = np.random.default_rng(4)
    s, v = 60, 12
    base = rng.standard_normal((s, 8))
    x = np.hstack([base, base[:, :3], np.full((s, 1), 2.5)])  # duplicated columns and a constant one
    y = x @ rng.standard_normal((x.shape[1], v)) + rng.standard_normal((s, v))
    x, y = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    train, test = np.arange(0, 45), np.arange(45, 60)
    y[:, 0] = 1.5  # constant
    y[7, 1] = np.nan  # NaN in a training row
    y[50, 3] = np.inf  # non-finite in a test row
    valid = np.ones(v, np.uint8)
    valid[2] = 0
    d = os.path.join(ARGS.work, "degenerate")
    write_inputs(d, [("a", x[:, :8]), ("b", x[:, 8:])], y, train, test, valid=valid)
    log = fit(d, [lambdas_set([2.0]), "fit.precision=float64"])
    m = load_model(d)
    bad = [0, 1, 2, 3]
    assert list(np.nonzero(m["voxels/valid"] == 0)[0]) == bad, m["voxels/valid"]
    assert np.all(m["weights"][:, bad] == 0) and np.all(np.isnan(m["voxels/test_r"][bad]))
    assert "excluded" in log
    good = [j for j in range(v) if j not in bad]
    sc = StandardScaler().fit(x[train])
    ref = Ridge(alpha=2.0).fit(sc.transform(x[train]), y[train][:, good])
    e = rel_err(m["weights"][:, good], ref.coef_.T)
    print("rank-deficient features: weights err %.2e; excluded voxels %s" % (e, bad))
    assert e < 1e-6

    # Fewer training stimuli than folds.
    write_inputs(d, [("a", x[:, :8])], y[:, 4:], np.arange(4), np.arange(4, 10))
    err = fit(d, ["fit.folds=5"], expect_fail=True)
    assert "fit.folds = 5" in err and "4 stimuli" in err, err
    # Stimulus ids of responses.h5 missing from features.h5: the error names them.
    ids = ["s%d" % i for i in range(s)]
    fids = list(ids)
    fids[3], fids[17] = "other-a", "other-b"
    write_inputs(d, [("a", x[:, :8])], y[:, 4:], train, test, ids=ids, feature_ids=fids)
    err = fit(d, [], expect_fail=True)
    assert "s3" in err and "s17" in err, err
    # A layer that features.h5 does not have.
    write_inputs(d, [("a", x[:, :8])], y[:, 4:], train, test)
    err = fit(d, ["fit.layers=[nope]"], expect_fail=True)
    assert "nope" in err, err
    err = fit(d, ["fit.weights_io=sometimes"], expect_fail=True)
    assert "fit.weights_io" in err and "sometimes" in err, err
    print("errors name their cause")


def case_ranks():
    """model.h5 is bit-identical at 1, 2 and 4 ranks (fixed voxel blocks), plain+per-layer and banded,
    with /weights written collectively or independently."""
    rng = np.random.default_rng(5)
    layers, x, y, train, test = make_problem(rng, 90, (20, 30), 53, 20)
    trials = {"stimulus_index": np.repeat(np.arange(90), 2).astype(np.int64),
              "responses": (np.repeat(y, 2, axis=0) + rng.standard_normal((180, 53))).astype(np.float32),
              "session": np.repeat(np.arange(90) % 6, 2).astype(np.int64)}
    rois = {"first": np.arange(53) < 20, "second": np.arange(53) >= 20}
    block7 = ["fit.voxel_block=7"]
    plain = block7 + ["fit.per_layer=true", "fit.lambdas=[0.1,1,10,100,1000]"]
    banded = block7 + ["fit.banded=true", "fit.banded_candidates=4", "fit.lambdas=[1,10]"]
    block20 = ["fit.voxel_block=20"]  # 3 blocks: at 4 ranks one rank has no voxel
    # 4 ranks on one node write /weights independently (fit.weights_io auto); both modes are forced too.
    groups = [("plain + per-layer", [(plain, 1), (plain, 2), (plain, 4),
                                     (plain + ["fit.weights_io=independent"], 2),
                                     (plain + ["fit.weights_io=collective"], 4)]),
              ("banded", [(banded, 1), (banded, 2)]),
              ("3 blocks; decompositions shared or not", [(block20, 1), (block20, 4),
                                                          (block20 + ["fit.share_decompositions=false"], 2)])]
    for label, runs in groups:
        results = []
        for i, (sets, r) in enumerate(runs):
            d = os.path.join(ARGS.work, "run%d" % i)
            write_inputs(d, layers, y, train, test, trials=trials, rois=rois)
            fit(d, sets, ranks=r)
            results.append(load_model(d))
        keys = sorted(k for k in results[0] if k not in ("attrs", "lambda_attrs"))
        for other, (sets, r) in zip(results[1:], runs[1:]):
            assert sorted(k for k in other if k not in ("attrs", "lambda_attrs")) == keys
            for k in keys:
                a, b = results[0][k], other[k]
                assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), \
                    "%s differs: %s at 1 rank vs %s at %d" % (k, runs[0][0], sets, r)
        print("%s: %d datasets bit-identical at %s ranks" % (label, len(keys), [r for _, r in runs]))


def case_noise_ceiling():
    """NCSNR noise ceiling matches the planted trial noise, and a correct model's normalized r is near 1."""
    rng = np.random.default_rng(6)
    s, p, v, reps, sigma2 = 1000, 20, 40, 3, 2.0
    x = rng.standard_normal((s, p))
    w = rng.standard_normal((p, v))
    w /= np.linalg.norm(w, axis=0)
    signal = x @ w
    tr = np.repeat(signal, reps, axis=0) + np.sqrt(sigma2) * rng.standard_normal((s * reps, v))
    y = tr.reshape(s, reps, v).mean(1)
    trials = {"stimulus_index": np.repeat(np.arange(s), reps).astype(np.int64), "responses": tr.astype(np.float32)}
    d = os.path.join(ARGS.work, "nc")
    write_inputs(d, [("l", x)], y, np.arange(200, s), np.arange(200), trials=trials,
                 rois={"all": np.ones(v, np.uint8)})
    fit(d, [])
    m = load_model(d)
    theory = np.sqrt(1.0 / (1.0 + sigma2 / reps))
    nc, nr = m["voxels/noise_ceiling"].mean(), m["voxels/normalized_r"].mean()
    print("noise ceiling %.4f (theory %.4f), normalized r %.4f, ROI mean normalized r %.4f" %
          (nc, theory, nr, m["rois/all/mean_normalized_r"][0]))
    assert abs(nc - theory) < 0.02 and 0.93 < nr < 1.04
    assert abs(m["rois/all/mean_normalized_r"][0] - nr) < 1e-5


def case_layers():
    """Planted layer hierarchy: per-layer fits find each voxel's layer; banded ridge favours its band."""
    rng = np.random.default_rng(7)
    s, v = 500, 40
    a, b = rng.standard_normal((s, 30)), rng.standard_normal((s, 25))
    early = np.arange(v) < v // 2
    y = np.where(early, a @ rng.standard_normal((30, v)), b @ rng.standard_normal((25, v))) / 5
    y += rng.standard_normal((s, v))
    d = os.path.join(ARGS.work, "layers")
    write_inputs(d, [("conv1", a), ("fc7", b)], y, np.arange(100, s), np.arange(100),
                 rois={"early": early, "late": ~early})
    fit(d, ["fit.per_layer=true", "fit.banded=true"])
    m = load_model(d)
    assert list(m["layers/names"]) == [b"conv1", b"fc7"], m["layers/names"]
    best = m["voxels/best_layer"]
    ok = np.mean(best == np.where(early, 0, 1))
    lam = m["voxels/lambda"]  # [V, 2]: per band
    favours = np.mean(np.where(early, lam[:, 0] < lam[:, 1], lam[:, 1] < lam[:, 0]))
    frac = m["rois/early/best_layer_fraction"], m["rois/late/best_layer_fraction"]
    print("best layer right for %.0f%% of voxels; banded lambdas favour the right band for %.0f%%; ROI fractions %s" %
          (100 * ok, 100 * favours, frac))
    assert ok >= 0.95 and favours >= 0.9 and frac[0][0] > 0.9 and frac[1][1] > 0.9
    assert m["per_layer/test_r"].shape == (2, v) and m["voxels/lambda"].shape == (v, 2)


def case_precision():
    """float32 against float64: weights agree to 1e-4 relative, lambdas for >= 99% of voxels."""
    rng = np.random.default_rng(8)
    layers, x, y, train, test = make_problem(rng, 400, (60, 90), 300, 80, noise=2.0)
    out = {}
    for prec in ("float32", "float64"):
        d = os.path.join(ARGS.work, "prec_" + prec)
        write_inputs(d, layers, y, train, test)
        fit(d, ["fit.precision=" + prec])
        out[prec] = load_model(d)
    e = rel_err(out["float32"]["weights"], out["float64"]["weights"])
    same = np.mean(out["float32"]["voxels/lambda"] == out["float64"]["voxels/lambda"])
    print("float32 vs float64: weights %.2e relative, lambdas equal for %.1f%% of voxels" % (e, 100 * same))
    assert e < 1e-4 and same >= 0.99


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("case")
    ARGS = ap.parse_args()
    ARGS.work = os.path.join(ARGS.work, ARGS.case)
    os.makedirs(ARGS.work, exist_ok=True)
    globals()["case_" + ARGS.case]()
    print("ok")


if __name__ == "__main__":
    main()
