#!/usr/bin/python3
"""Writes a small run directory in the run-files.md layout, with planted values the report test checks:
every stage file the report reads, a volume grid with a known affine, demo-style stimuli and a scaling CSV.

  make_run_dir.py OUT_DIR
Planted facts (also printed as JSON): ROI medians of test r, the share of voxels at each lambda grid edge,
and the voxel positions of the NIfTI maps."""
import json
import os
import sys

import h5py
import numpy as np

SHAPE = (9, 8, 5)
AFFINE = np.array([[-2.0, 0, 0, 90.0], [0, 2.0, 0, -126.0], [0, 0, 2.5, -72.0], [0, 0, 0, 1]])
LAYERS = ["conv2d_3", "mixed2", "mixed7"]


def fixed_strings(values):
    width = max(len(v.encode()) for v in values)
    return np.array([v.encode() for v in values], dtype=f"S{width}")


def main(out):
    rng = np.random.default_rng(7)
    os.makedirs(os.path.join(out, "stimuli"), exist_ok=True)
    n_stim, n_vox = 24, 160
    ids = [f"demo_{i:04d}" for i in range(n_stim)]
    # Stimuli: small PNGs written with matplotlib (what the demo manifest points to).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(os.path.join(out, "stimuli", "manifest.csv"), "w") as fh:
        fh.write("stimulus_id,path,category\n")
        for i, sid in enumerate(ids):
            img = np.zeros((32, 32, 3), dtype=np.uint8)
            img[..., i % 3] = 40 + 8 * i
            img[8:24, 8:24] = 255
            plt.imsave(os.path.join(out, "stimuli", sid + ".png"), img)
            fh.write(f"{sid},{sid}.png,cat{i % 3}\n")

    # responses.h5: three ROIs, a volume grid (unique ijk per voxel), 10 invalid voxels.
    flat = rng.choice(np.prod(SHAPE), size=n_vox, replace=False)
    ijk = np.stack(np.unravel_index(flat, SHAPE), axis=1).astype(np.int64)
    roi_of = np.repeat(np.arange(3), [60, 50, 50])
    valid = np.ones(n_vox, dtype=np.uint8)
    valid[::16] = 0
    with h5py.File(os.path.join(out, "responses.h5"), "w") as f:
        f.attrs["stage"] = "responses"
        f.attrs["mpi_ranks"] = np.int64(2)
        f["stimulus_ids"] = fixed_strings(ids)
        f["responses"] = rng.standard_normal((n_stim, n_vox)).astype(np.float32)
        for r, name in enumerate(["V1", "V4", "LOC"]):
            f[f"rois/{name}"] = (roi_of == r).astype(np.uint8)
        f["voxels/valid"] = valid
        f["voxels/ijk"] = ijk
        f["voxels/ijk"].attrs["affine"] = AFFINE

    # model.h5: test r rising with ROI index; best layer = ROI index (early ROI prefers early layer).
    test_r = (0.1 + 0.2 * roi_of + 0.05 * rng.standard_normal(n_vox)).astype(np.float32)
    ceiling = np.full(n_vox, 0.8, dtype=np.float32)
    grid = 10.0 ** np.arange(-2, 8.5, 0.5)
    lam_index = rng.integers(1, len(grid) - 1, size=n_vox)
    lam_index[:16] = 0  # 10% at the grid's low edge
    lam_index[16:40] = len(grid) - 1  # 15% at its high edge
    best = roi_of.copy()
    with h5py.File(os.path.join(out, "model.h5"), "w") as f:
        f.attrs["stage"] = "model"
        f["lambdas"] = grid
        f["voxels/lambda"] = grid[lam_index]
        f["voxels/test_r"] = test_r
        f["voxels/cv_score"] = test_r * 0.9
        f["voxels/noise_ceiling"] = ceiling
        f["voxels/normalized_r"] = test_r / ceiling
        f["voxels/best_layer"] = best.astype(np.int64)
        f["layers/names"] = fixed_strings(LAYERS)
        f["layers/offset"] = np.array([0, 10, 20, 30], dtype=np.int64)
        per_layer = [test_r * (1 - 0.3 * abs(layer - roi_of)) for layer in range(3)]
        f["per_layer/test_r"] = np.stack(per_layer).astype(np.float32)

    with h5py.File(os.path.join(out, "synthetic.h5"), "w") as f:
        f["stimulus_ids"] = fixed_strings(ids[:8])
        f["responses"] = rng.standard_normal((8, n_vox)).astype(np.float32)
        real = rng.uniform(0, 0.8, n_vox)
        f["repetition/real_r"] = real
        f["repetition/synthetic_r"] = real * 0.8 + 0.05 * rng.standard_normal(n_vox)
        f["repetition/mean_ratio"] = 0.8

    with h5py.File(os.path.join(out, "decoding.h5"), "w") as f:
        runs = (("experiments", "synthetic_to_real", 0.62), ("experiments", "real_to_real", 0.7),
                ("controls", "shuffled_labels", 0.34))
        for kind, name, acc in runs:
            g = f.create_group(f"{kind}/{name}")
            g["accuracy"] = acc
            g["chance"] = 1 / 3
            g["p_value"] = 0.001 if kind == "experiments" else 0.6
            g["confusion"] = rng.integers(0, 20, (3, 3))
        f["experiments/synthetic_to_real/learning_curve"] = np.array(
            [[50, 0.45, 0.03], [100, 0.52, 0.03], [200, 0.58, 0.02], [400, 0.62, 0.02]])

    with h5py.File(os.path.join(out, "maximize.h5"), "w") as f:
        f["images"] = rng.integers(0, 255, (3, 2, 16, 16, 3), dtype=np.uint8)
        f["targets"] = fixed_strings(["V1", "V4", "LOC"])
        f["trajectories"] = rng.standard_normal((3, 2, 10)).astype(np.float32)
        f["validation/activation_gain"] = 2.5

    with h5py.File(os.path.join(out, "reconstruct.h5"), "w") as f:
        f["stimulus_ids"] = fixed_strings(ids[:4])
        f["images"] = rng.integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)
        f["identification/accuracy"] = 0.75

    with h5py.File(os.path.join(out, "explain.h5"), "w") as f:
        f["heatmaps"] = rng.random((2, 32, 32)).astype(np.float32)
        f["pairs"] = np.array([[0, 3], [5, 6]], dtype=np.int64)
        f["overlap"] = np.array([0.6, 0.4], dtype=np.float32)

    with open(os.path.join(out, "scaling.csv"), "w") as fh:
        fh.write("stage,mode,ranks,threads,work,repeat,wall_s,phase_compute_s,phase_write_s,rss_max_mb,"
                 "rss_ranks_mb,host,cpus\n")
        for mode in ("strong", "weak"):
            for n in (1, 2, 4, 8):
                work = 64 if mode == "strong" else 16 * n
                wall = 64 / min(n, 2) if mode == "strong" else 16 * n / min(n, 2)
                ranks_mb = ";".join(str(300 + r) for r in range(n))
                fh.write(f"extract,{mode},{n},1,{work},0,{wall:.2f},{0.9 * wall:.2f},{0.1 * wall:.2f},"
                         f"{300 + n},{ranks_mb},testhost,2\n")

    planted = {
        "roi_median_test_r": {name: float(np.median(test_r[(roi_of == r) & (valid == 1)]))
                              for r, name in enumerate(["V1", "V4", "LOC"])},
        "lambda_at_min_pct": 100 * 16 / n_vox,
        "lambda_at_max_pct": 100 * 24 / n_vox,
        "shape": SHAPE,
    }
    print(json.dumps(planted))


if __name__ == "__main__":
    main(sys.argv[1])
