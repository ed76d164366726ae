#!/usr/bin/python3
"""Compares two virtual-subject run folders byte for byte (run-files.md "Bit-identical").

Usage: compare_runs.py RUN_A RUN_B
Every dataset of responses.h5 and truth.h5 must be equal (values and dtype); attributes are
provenance and may differ, and so may /stimulus_paths, which are absolute paths into each run
folder (compared by file name instead). Every file under stimuli/ (images, manifest) must be identical.
"""
import filecmp
import os
import sys

import h5py
import numpy as np

a, b = sys.argv[1], sys.argv[2]
problems = []


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


for name in ("responses.h5", "truth.h5"):
    with h5py.File(os.path.join(a, name), "r") as fa, h5py.File(os.path.join(b, name), "r") as fb:
        da, db = datasets(fa), datasets(fb)
        if sorted(da) != sorted(db):
            problems.append("%s: different datasets: %s" % (name, sorted(set(da) ^ set(db))))
        for key in sorted(set(da) & set(db)):
            xa, xb = da[key][()], db[key][()]
            if key == "stimulus_paths":
                xa = np.array([os.path.basename(p) for p in xa])
                xb = np.array([os.path.basename(p) for p in xb])
            if xa.dtype != xb.dtype or xa.shape != xb.shape or xa.tobytes() != xb.tobytes():
                problems.append("%s:/%s differs" % (name, key))
        print("%s: %d datasets compared" % (name, len(da)))

files = 0
for root, _, names in os.walk(os.path.join(a, "stimuli")):
    for n in names:
        pa = os.path.join(root, n)
        pb = os.path.join(b, os.path.relpath(pa, a))
        files += 1
        if not os.path.exists(pb) or not filecmp.cmp(pa, pb, shallow=False):
            problems.append("stimuli file differs: " + os.path.relpath(pa, a))
print("stimuli: %d files compared" % files)
if problems:
    print("\n".join(problems[:30]))
    sys.exit(1)
print("identical")
