#!/usr/bin/python3
"""scikit-learn references for the decoder: multinomial L2 logistic regression at several C, the
correlation-to-template classifier in numpy, and scipy's binomial tails.

scikit-learn's lbfgs stops on scipy's default ftol (2.2e-9 relative decrease), which leaves the gradient
near 4e-6 whatever `tol` says; its solution is therefore polished with scipy's L-BFGS-B (ftol 0, gtol
1e-13) on scikit-learn's objective, 0.5 |W|^2 + C sum log-loss divided by C n, written out in numpy.
usage: make_logreg_reference.py OUT.h5"""
import sys

import h5py
import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp
from scipy.stats import binom
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(7)
n, p, k = 150, 8, 3
centres = rng.normal(0, 1.0, (k, p))
y = np.arange(n) % k
x = centres[y] + rng.normal(0, 1.5, (n, p))
x_test = centres[np.arange(60) % k] + rng.normal(0, 1.5, (60, p))

with h5py.File(sys.argv[1], "w") as f:
    f["x"] = x
    f["y"] = y.astype(np.int64)
    f["x_test"] = x_test
    for i, c in enumerate([0.01, 0.5, 50.0]):
        m = LogisticRegression(C=c, multi_class="multinomial", solver="lbfgs", tol=1e-12, max_iter=100000).fit(x, y)
        g = f.create_group(f"fit{i}")
        g["C"] = c
        g["coef"] = m.coef_            # [K, P]
        g["intercept"] = m.intercept_  # [K]
        g["predict"] = m.predict(x_test).astype(np.int64)
        onehot = np.eye(k)[y]

        def objective(t):
            w, b = t[:p * k].reshape(p, k), t[p * k:]
            z = x @ w + b
            lse = logsumexp(z, 1, keepdims=True)
            r = (np.exp(z - lse) - onehot) / n
            loss = ((lse - z) * onehot).sum() / n + 0.5 / (c * n) * (w * w).sum()
            return loss, np.concatenate([(x.T @ r + w / (c * n)).ravel(), r.sum(0)])

        start = np.concatenate([m.coef_.T.ravel(), m.intercept_])
        res = minimize(objective, start, jac=True, method="L-BFGS-B", options=dict(gtol=1e-13, ftol=0, maxiter=100000))
        assert np.abs(res.x - start).max() < 1e-3, "scikit-learn's solution is far from the optimum"
        g["coef_optimum"] = res.x[:p * k].reshape(p, k).T  # [K, P]
        g["intercept_optimum"] = res.x[p * k:]
    # Templates: class means; a pattern goes to the class whose mean it correlates with most.
    t = np.stack([x[y == c].mean(0) for c in range(k)])
    xc = x_test - x_test.mean(1, keepdims=True)
    tc = t - t.mean(1, keepdims=True)
    r = (xc @ tc.T) / np.outer(np.linalg.norm(xc, axis=1), np.linalg.norm(tc, axis=1))
    f["template_predict"] = r.argmax(1).astype(np.int64)
    cases = np.array([[30, 80, 0.25], [12, 80, 0.125], [50, 200, 0.1], [1, 5, 0.5]])
    f["binom_cases"] = cases
    f["binom_sf"] = np.array([binom.sf(kk - 1, int(nn), pp) for kk, nn, pp in cases])
