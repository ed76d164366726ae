#!/usr/bin/python3
"""Checks that stage files are bit-identical (run-files.md): every dataset equal byte for byte.

  compare_runs.py RUN_A RUN_B FILE.h5 [FILE.h5 ...]
  compare_runs.py --rows START END RUN_A/features.h5 RUN_B/features.h5
Datasets must match in name, dtype, shape and bytes. Attributes are not compared: provenance (time,
command line, rank count, paths) naturally differs. String datasets may name files inside the run directory
(responses.h5 /stimulus_paths): there, each run's own directory is replaced by "RUN_DIR" before comparing.
With --rows, each 2-D /features/* dataset of A must
equal rows [START, END) of B's (a run over a prefix of B's stimuli). Exit 0 when equal, 1 with a list."""
import os
import sys

import h5py
import numpy as np


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, (obj.dtype, obj.shape, obj[()]))
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def same_bytes(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def without_run_dir(values, run_dir):
    """Fixed-length strings with the run directory replaced by a placeholder, re-padded to one width."""
    prefix = os.path.abspath(run_dir).encode()
    out = [bytes(v).replace(prefix, b"RUN_DIR") for v in values.reshape(-1)]
    return np.array(out, dtype=f"S{max([len(v) for v in out] + [1])}").reshape(values.shape)


def compare_files(path_a, path_b):
    problems = []
    a, b = datasets(path_a), datasets(path_b)
    for name in set(a) & set(b):
        if a[name][0].kind == "S" and b[name][0].kind == "S":
            va = without_run_dir(a[name][2], os.path.dirname(path_a))
            vb = without_run_dir(b[name][2], os.path.dirname(path_b))
            a[name], b[name] = (va.dtype, va.shape, va), (vb.dtype, vb.shape, vb)
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            problems.append(f"{name}: only in {path_a if name in a else path_b}")
            continue
        (dt_a, sh_a, va), (dt_b, sh_b, vb) = a[name], b[name]
        if dt_a != dt_b or sh_a != sh_b:
            problems.append(f"{name}: {dt_a}{sh_a} vs {dt_b}{sh_b}")
        elif not same_bytes(va, vb):
            diff = ""
            if va.dtype.kind == "f":
                bad = ~((va == vb) | (np.isnan(va) & np.isnan(vb)))
                worst = np.nanmax(np.abs(va - vb))
                diff = f" ({int(bad.sum())} of {va.size} values differ, max |a-b| {worst:.3g})"
            problems.append(f"{name}: contents differ{diff}")
    print(f"{path_a} vs {path_b}: {len(a)} datasets, {'identical' if not problems else 'DIFFERENT'}")
    return problems


def compare_rows(path_a, path_b, start, end):
    problems = []
    with h5py.File(path_a, "r") as fa, h5py.File(path_b, "r") as fb:
        for name in fa["features"]:
            a, b = fa["features"][name][()], fb["features"][name][start:end]
            if not same_bytes(a, b):
                problems.append(f"features/{name}: differs from rows [{start}, {end}) of {path_b}")
    print(f"{path_a} vs rows [{start}, {end}) of {path_b}: {'identical' if not problems else 'DIFFERENT'}")
    return problems


def main(argv):
    if len(argv) >= 6 and argv[1] == "--rows":
        problems = compare_rows(argv[4], argv[5], int(argv[2]), int(argv[3]))
    elif len(argv) >= 4:
        problems = []
        for name in argv[3:]:
            problems += [f"{name} {p}" for p in compare_files(f"{argv[1]}/{name}", f"{argv[2]}/{name}")]
    else:
        print(__doc__)
        return 2
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
