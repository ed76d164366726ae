"""Figures of the encoding models (model.h5 with responses.h5): scores per ROI, layer preference per ROI,
the lambda histogram against its grid, and NIfTI maps of voxel scores when the source had a volume grid."""
import os

import h5py
import numpy as np

from common import Figure, plt, read_rois, roi_order, strings
from nifti import volume_from_voxels, write_nifti

SECTION = "Encoding models"


def _voxel_field(model, name, n_voxels):
    """model.h5 /voxels/<name> as an array, or None; checks it has one entry per voxel of responses.h5."""
    path = "voxels/" + name
    if path not in model:
        return None
    values = model[path][()]
    if values.shape[0] != n_voxels:
        raise ValueError(
            f"model.h5 {path} has {values.shape[0]} voxels but responses.h5 has {n_voxels}: "
            "the two files come from different runs"
        )
    return values


def _html_table(header, rows):
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def scores_per_roi(ctx, model, rois, valid):
    """Box plots of test r (and noise-normalized r when the data had repetitions) per ROI."""
    n_voxels = len(valid)
    fields = [(k, label) for k, label in (("test_r", "test r"), ("normalized_r", "noise-normalized r"))]
    fields = [(_voxel_field(model, k, n_voxels), label) for k, label in fields]
    fields = [(v, label) for v, label in fields if v is not None]
    if not fields or not rois:
        return []
    names = roi_order(rois)
    width = max(5, 0.55 * len(names) + 2)
    fig, axes = plt.subplots(1, len(fields), figsize=(width * len(fields), 4), squeeze=False)
    rows = []
    for ax, (values, label) in zip(axes[0], fields):
        data = [values[rois[n] & valid & np.isfinite(values)] for n in names]
        ax.boxplot(data, labels=names, showfliers=False)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        ax.set_title(f"{label} per ROI (valid voxels)")
    test_r = fields[0][0]
    ceiling = _voxel_field(model, "noise_ceiling", n_voxels)
    norm = _voxel_field(model, "normalized_r", n_voxels)
    for n in names:
        sel = rois[n] & valid
        row = [n, int(sel.sum()), f"{np.nanmedian(test_r[sel]):.3f}" if sel.any() else "-",
               f"{np.nanmean(test_r[sel]):.3f}" if sel.any() else "-"]
        if norm is not None:
            row.append(f"{np.nanmedian(norm[sel]):.3f}" if sel.any() else "-")
        if ceiling is not None:
            row.append(f"{np.nanmedian(ceiling[sel]):.3f}" if sel.any() else "-")
        rows.append(row)
    header = ["ROI", "voxels", "median test r", "mean test r"]
    header += ["median normalized r"] if norm is not None else []
    header += ["median noise ceiling"] if ceiling is not None else []
    name = ctx.save(fig, "scores_per_roi.png")
    caption = "Test-set Pearson r of each voxel's encoding model, by ROI."
    if norm is not None:
        caption += " Normalized r divides by the noise ceiling estimated from repetitions."
    return [Figure(SECTION, "Prediction accuracy per ROI", name, caption, html=_html_table(header, rows))]


def layer_preference(ctx, model, rois, valid):
    """Share of each ROI's voxels best predicted by each layer (and the per-layer test r profile)."""
    if "voxels/best_layer" not in model or "layers/names" not in model or not rois:
        return []
    layers = strings(model["layers/names"])
    best = _voxel_field(model, "best_layer", len(valid)).astype(np.int64)
    names = roi_order(rois)
    share = np.zeros((len(names), len(layers)))
    for r, n in enumerate(names):
        sel = rois[n] & valid & (best >= 0) & (best < len(layers))
        if sel.any():
            share[r] = np.bincount(best[sel], minlength=len(layers))[: len(layers)] / sel.sum()
    per_layer = model["per_layer/test_r"][()] if "per_layer/test_r" in model else None
    panels = 2 if per_layer is not None else 1
    height = max(3, 0.35 * len(names) + 1.5)
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, height), squeeze=False)
    ax = axes[0][0]
    colors = plt.cm.viridis(np.linspace(0, 1, len(layers)))
    left = np.zeros(len(names))
    for l, layer in enumerate(layers):
        ax.barh(names, share[:, l], left=left, color=colors[l], label=layer)
        left += share[:, l]
    mean_depth = share @ np.arange(len(layers))
    for r, depth in enumerate(mean_depth):
        ax.text(1.01, r, f"{depth:.2f}", va="center", fontsize=7)
    ax.set_xlim(0, 1.12)
    ax.invert_yaxis()
    ax.set_xlabel("share of voxels (text: mean preferred layer index)")
    ax.set_title("Layer preference per ROI")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(len(layers), 4))
    if per_layer is not None:
        ax = axes[0][1]
        for r, n in enumerate(names):
            sel = rois[n] & valid
            if sel.any():
                ax.plot(range(len(layers)), np.nanmean(per_layer[:, sel], axis=1), marker="o", label=n)
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels(layers, rotation=45, fontsize=7)
        ax.set_ylabel("mean test r (layer alone)")
        ax.set_title("Per-layer accuracy profile")
        ax.legend(fontsize=6, ncol=2)
    name = ctx.save(fig, "layer_preference.png")
    return [Figure(SECTION, "Layer preference per ROI", name,
                   "For each ROI, the share of voxels whose best single-layer model uses each layer "
                   "(early to late: left to right).")]


def lambda_histogram(ctx, model):
    """Histogram of the chosen lambdas on the searched grid; mass at an edge means the grid is too narrow."""
    if "lambdas" not in model or "voxels/lambda" not in model:
        return []
    grid = np.sort(np.asarray(model["lambdas"][()], dtype=np.float64))
    chosen = np.asarray(model["voxels/lambda"][()], dtype=np.float64)
    if chosen.ndim == 1:
        chosen = chosen[:, None]
    bands = strings(model["layers/names"]) if chosen.shape[1] > 1 and "layers/names" in model else []
    fig, axes = plt.subplots(1, chosen.shape[1], figsize=(5.5 * chosen.shape[1], 3.6), squeeze=False)
    log_grid = np.log10(grid)
    step = np.median(np.diff(log_grid)) if len(grid) > 1 else 1.0
    edges = np.concatenate([log_grid - step / 2, [log_grid[-1] + step / 2]])
    notes = []
    for b in range(chosen.shape[1]):
        ax = axes[0][b]
        values = chosen[:, b]
        values = np.log10(values[np.isfinite(values) & (values > 0)])
        ax.hist(values, bins=edges, color="tab:blue", edgecolor="white")
        for edge, label in ((log_grid[0], "grid min"), (log_grid[-1], "grid max")):
            ax.axvline(edge, color="tab:red", ls="--", lw=1)
            ax.text(edge, ax.get_ylim()[1] * 0.95, label, color="tab:red", fontsize=7, ha="center")
        at_low = np.mean(np.isclose(values, log_grid[0])) if values.size else 0.0
        at_high = np.mean(np.isclose(values, log_grid[-1])) if values.size else 0.0
        band = f" ({bands[b]})" if bands else ""
        ax.set_title(f"chosen lambda{band}: {100 * at_low:.1f}% at min, {100 * at_high:.1f}% at max",
                     fontsize=9)
        ax.set_xlabel("log10 lambda")
        ax.set_ylabel("voxels")
        notes.append(f"{band or 'all'}: {100 * at_low:.1f}% / {100 * at_high:.1f}%")
    name = ctx.save(fig, "lambda_histogram.png")
    return [Figure(SECTION, "Chosen ridge penalties", name,
                   f"Cross-validated lambda per voxel over the {len(grid)}-value grid (dashed: its edges). "
                   "Voxels at an edge (min / max: " + "; ".join(notes) + ") would want a wider grid.")]


def nifti_maps(ctx, model, responses_path):
    """NIfTI-1 maps of voxel scores when responses.h5 holds /voxels/ijk (the source had a volume grid)."""
    with h5py.File(responses_path, "r") as f:
        if "voxels/ijk" not in f:
            return []
        ijk = f["voxels/ijk"][()]
        affine = f["voxels/ijk"].attrs.get("affine", np.eye(4))
        shape = None
        for key in ("volume_shape", "shape", "dims"):
            if key in f["voxels/ijk"].attrs:
                shape = tuple(int(s) for s in f["voxels/ijk"].attrs[key][:3])
    n_voxels = ijk.shape[0]
    maps = {}
    for key in ("test_r", "normalized_r", "noise_ceiling", "cv_score", "test_r2"):
        values = _voxel_field(model, key, n_voxels)
        if values is not None:
            maps[key] = np.nan_to_num(values.astype(np.float32))
    best = _voxel_field(model, "best_layer", n_voxels)
    if best is not None:
        maps["best_layer"] = best.astype(np.float32) + 1.0  # 0 = outside the voxel set
    lam = _voxel_field(model, "lambda", n_voxels)
    if lam is not None and lam.ndim == 1:
        maps["log10_lambda"] = np.log10(np.maximum(lam, 1e-30)).astype(np.float32)
    if not maps:
        return []
    out = []
    folder = os.path.join(ctx.out_dir, "nifti")
    os.makedirs(folder, exist_ok=True)
    for key, values in maps.items():
        volume = volume_from_voxels(values, ijk, shape, fill=0.0)
        write_nifti(os.path.join(folder, key + ".nii"), volume, affine, description=f"deepvox {key}")
        out.append(Figure(SECTION, f"NIfTI map: {key}", f"nifti/{key}.nii",
                          "x".join(str(d) for d in volume.shape) + " float32, 0 outside the voxels",
                          kind="file"))
    # Preview: the test r map on the axial slices that hold voxels.
    key = "test_r" if "test_r" in maps else next(iter(maps))
    volume = volume_from_voxels(maps[key], ijk, shape, fill=np.nan)
    slices = np.unique(ijk[:, 2])
    slices = slices[np.linspace(0, len(slices) - 1, min(len(slices), 12)).astype(int)]
    cols = min(6, len(slices))
    rows = (len(slices) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2 * rows + 0.4), squeeze=False)
    vmax = np.nanmax(np.abs(maps[key])) or 1.0
    for a, ax in enumerate(axes.flat):
        ax.axis("off")
        if a < len(slices):
            im = ax.imshow(volume[:, :, slices[a]].T, origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(f"k={slices[a]}", fontsize=7)
    fig.colorbar(im, ax=axes, shrink=0.6, label=key)
    name = ctx.save(fig, "nifti_preview.png")
    out.insert(0, Figure(SECTION, f"Volume map of {key}", name,
                         "Axial slices of the NIfTI map (the files below open in FSLeyes, MRIcroGL, "
                         "nilearn...)."))
    return out


def encoding_figures(ctx):
    model_path, responses_path = ctx.run_file("model.h5"), ctx.run_file("responses.h5")
    if model_path is None or responses_path is None:
        return []
    rois, valid = read_rois(responses_path)
    with h5py.File(model_path, "r") as model:
        if valid is None:
            n = model["voxels/test_r"].shape[0] if "voxels/test_r" in model else 0
            valid = np.ones(n, dtype=bool)
        figures = scores_per_roi(ctx, model, rois, valid)
        figures += layer_preference(ctx, model, rois, valid)
        figures += lambda_histogram(ctx, model)
        figures += nifti_maps(ctx, model, responses_path)
    return figures
