#!/usr/bin/python3
"""Helpers of jobs/scaling.sh (Debian's python3-h5py).

  scaling_tool.py inputs STAGE SRC_RUN_DIR DST_RUN_DIR ITEMS [MANIFEST]
      Writes the inputs of one scaling run holding ITEMS work items: the first ITEMS rows of the image
      manifest (extract), or ITEMS voxels of responses.h5 (its first ones, repeated when it has fewer)
      with features.h5 linked (fit).
      Prints the extra deepvox options the run needs.
  scaling_tool.py count STAGE SRC_RUN_DIR [MANIFEST]
      Prints the work items the source holds (images for extract, voxels for fit).
  scaling_tool.py record CSV LOG RSS_DIR key=value ...
      Appends one CSV row: the given fields, per-phase times parsed from the stage's log, peak RSS per rank
      and the CPU seconds of all ranks.
"""
import csv
import os
import re
import sys

# Per-phase times each stage logs (rank 0), as (column, regex). Unlisted time is "other": process start,
# MPI and model setup, reading inputs, commit.
PHASES = {
    "extract": [
        ("decode_wait", r"time waiting for decoding ([\d.]+)s"),
        ("forward_pool", r"forward\+pool ([\d.]+)s"),
        ("write", r"forward\+pool [\d.]+s, writing ([\d.]+)s"),
    ],
    "fit": [
        ("cross_validation", r"fit: cross-validation ([\d.]+) s"),
        ("refit", r"fit: refit and weights ([\d.]+) s"),
        ("per_layer", r"fit: per-layer fits ([\d.]+) s"),
    ],
}
FIELDS = ["stage", "mode", "ranks", "threads", "work", "repeat", "wall_s"]


def manifest_rows(path):
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, [row for row in reader if row]


def count(stage, src, manifest=None):
    if stage == "extract":
        return len(manifest_rows(manifest or os.path.join(src, "stimuli", "manifest.csv"))[1])
    if stage == "fit":
        import h5py

        with h5py.File(os.path.join(src, "responses.h5"), "r") as f:
            return f["responses"].shape[1]
    raise SystemExit(f"scaling_tool.py: no work-item definition for stage {stage} (extract, fit)")


def subset_extract(src, dst, items, manifest):
    manifest = os.path.abspath(manifest or os.path.join(src, "stimuli", "manifest.csv"))
    header, rows = manifest_rows(manifest)
    if items > len(rows):
        raise SystemExit(f"scaling: {manifest} has {len(rows)} images, {items} asked for")
    path_col = header.index("path")
    base = os.path.dirname(manifest)
    out = os.path.join(dst, "manifest.csv")
    with open(out, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows[:items]:
            row = list(row)
            row[path_col] = os.path.join(base, row[path_col])  # absolute: the subset lives elsewhere
            writer.writerow(row)
    print(f"--set\nextract.images={out}")  # one argument per line (scaling.sh reads them with mapfile)


def subset_fit(src, dst, items):
    """responses.h5 with `items` voxels: its first ones, or all of them repeated when more are asked for
    (fit's cost depends on the voxel count, not on the values; a small run_dir can then time a large fit).
    Every voxel-indexed dataset is cut or repeated alike."""
    import h5py
    import numpy as np

    src_responses = os.path.join(src, "responses.h5")
    with h5py.File(src_responses, "r") as f_in, h5py.File(os.path.join(dst, "responses.h5"), "w") as f_out:
        n_voxels = f_in["responses"].shape[1]
        columns = np.arange(items) % n_voxels
        for k, v in f_in.attrs.items():
            f_out.attrs[k] = v

        def copy(name, obj):
            if not isinstance(obj, h5py.Dataset):
                return
            data = obj[()]
            if name in ("responses", "trials/responses"):
                data = data[:, columns]
            elif name == "voxels/ijk" and items > n_voxels:
                return  # repeated voxels would share grid positions: leave the grid out
            elif name.startswith(("rois/", "voxels/")) and data.ndim >= 1 and data.shape[0] == n_voxels:
                data = data[columns]
            f_out[name] = data
            for k, v in obj.attrs.items():
                f_out[name].attrs[k] = v

        f_in.visititems(copy)
    link = os.path.join(dst, "features.h5")
    if not os.path.exists(link):
        os.symlink(os.path.abspath(os.path.join(src, "features.h5")), link)


def record(csv_path, log_path, rss_dir, fields):
    row = dict(kv.split("=", 1) for kv in fields)
    text = open(log_path, errors="replace").read()
    phases = {}
    for column, pattern in PHASES.get(row.get("stage", ""), []):
        found = re.findall(pattern, text)
        if found:
            phases[f"phase_{column}_s"] = float(found[-1])
    wall = float(row["wall_s"])
    if phases:
        phases["phase_other_s"] = max(0.0, wall - sum(phases.values()))
    rss, cpu = [], []
    for name in sorted(os.listdir(rss_dir), key=lambda n: int(n.split("-")[1])):
        fields = open(os.path.join(rss_dir, name)).read().split()
        rss.append(int(fields[0]) / 1024.0)
        cpu.append(float(fields[1]) if len(fields) > 1 else float("nan"))
    row.update({k: f"{v:.3f}" for k, v in phases.items()})
    row["rss_max_mb"] = f"{max(rss):.1f}" if rss else ""
    row["rss_ranks_mb"] = ";".join(f"{v:.1f}" for v in rss)
    # CPU seconds of all ranks: unlike wall time, it does not depend on what else the machine runs.
    row["cpu_s"] = f"{sum(cpu):.2f}" if cpu else ""
    # One header for every stage: the union of the columns, keeping earlier rows.
    rows, header = [], []
    if os.path.isfile(csv_path) and os.path.getsize(csv_path) > 0:
        with open(csv_path, newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    for key in FIELDS + sorted(k for k in row if k.startswith("phase_")) + list(row):
        if key not in header:
            header.append(key)
    rows.append(row)
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    shown = ", ".join(f"{k[6:-2]} {float(v):.1f}s" for k, v in row.items() if k.startswith("phase_"))
    print(f"scaling: {row['stage']} {row['mode']} ranks={row['ranks']} work={row['work']}: {wall:.1f}s wall"
          f"{' (' + shown + ')' if shown else ''}, {row['cpu_s'] or '?'} CPU s, "
          f"peak RSS {row['rss_max_mb'] or '?'} MiB")


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd = argv[1]
    if cmd == "inputs":
        stage, src, dst, items = argv[2], argv[3], argv[4], int(argv[5])
        manifest = argv[6] if len(argv) > 6 and argv[6] else None
        os.makedirs(dst, exist_ok=True)
        if stage == "extract":
            subset_extract(src, dst, items, manifest)
        elif stage == "fit":
            subset_fit(src, dst, items)
        else:
            raise SystemExit(f"scaling_tool.py: no work-item definition for stage {stage} (extract, fit)")
    elif cmd == "count":
        print(count(argv[2], argv[3], argv[4] if len(argv) > 4 and argv[4] else None))
    elif cmd == "record":
        record(argv[2], argv[3], argv[4], argv[5:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
