#!/usr/bin/python3
"""Bit-identity across rank counts: every dataset of FILE in each run folder must equal the first's, byte
for byte (attributes hold provenance such as the rank count and time, and are not compared).

usage: compare_runs.py FILE DIR1 DIR2 [DIR3 ...]
"""
import sys

import h5py
import numpy as np


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, (obj.dtype.str, obj.shape, obj[()].tobytes()))
                     if isinstance(obj, h5py.Dataset) else None)
    return out


name, dirs = sys.argv[1], sys.argv[2:]
ref = datasets(f"{dirs[0]}/{name}")
failed = False
for d in dirs[1:]:
    other = datasets(f"{d}/{name}")
    if set(other) != set(ref):
        print(f"{d}/{name}: datasets differ: {sorted(set(other) ^ set(ref))}")
        failed = True
    for k in sorted(set(other) & set(ref)):
        if other[k] != ref[k]:
            print(f"{d}/{name}: /{k} differs from {dirs[0]}")
            failed = True
print(f"{name}: {len(ref)} datasets compared across {len(dirs)} runs:", "DIFFERENT" if failed else "bit-identical")
sys.exit(1 if failed else 0)
