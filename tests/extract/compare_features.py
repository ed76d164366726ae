"""Compares features.h5 files. usage:
  compare_features.py reference REF.h5 OUT.h5 TOL   per layer max|a-b|/max|b| <= TOL (decisions.md)
  compare_features.py identical A.h5 B.h5 [...]      every dataset byte-identical (provenance differs)
"""
import sys

import h5py
import numpy as np


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


mode = sys.argv[1]
if mode == "reference":
    ref, out, tol = h5py.File(sys.argv[2]), h5py.File(sys.argv[3]), float(sys.argv[4])
    worst = 0.0
    for name in ref:
        a, b = out["features/" + name][()], ref[name][()]
        assert a.shape == b.shape, f"{name}: shape {a.shape} vs reference {b.shape}"
        shape_out = np.atleast_1d(out["features/" + name].attrs["pooled_shape"]).tolist()
        shape_ref = np.atleast_1d(ref[name].attrs["pooled_shape"]).tolist()
        assert shape_out == shape_ref, f"{name}: pooled_shape {shape_out} vs reference {shape_ref}"
        rel = float(np.abs(a - b).max() / np.abs(b).max())
        worst = max(worst, rel)
        print(f"{name}: {a.shape}, max rel err {rel:.2e}")
        assert rel <= tol, f"{name}: relative error {rel:.3e} > {tol}"
    print(f"all layers within {tol} (worst {worst:.2e})")
elif mode == "identical":
    first = datasets(h5py.File(sys.argv[2]))
    for other in sys.argv[3:]:
        d = datasets(h5py.File(other))
        assert first.keys() == d.keys(), f"{other}: datasets {sorted(d)} vs {sorted(first)}"
        for k in first:
            assert first[k].dtype == d[k].dtype and first[k].shape == d[k].shape, f"{other}:{k} differs in type/shape"
            assert first[k].tobytes() == d[k].tobytes(), f"{other}:{k} differs"
    print(f"{len(sys.argv) - 2} files bit-identical ({len(first)} datasets)")
else:
    sys.exit("unknown mode " + mode)
