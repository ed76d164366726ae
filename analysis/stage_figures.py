"""Figures of the later stages: synthetic-vs-real repetitions (synthetic.h5), decoders (decoding.h5),
activation maximization (maximize.h5), reconstructions (reconstruct.h5) and explanations (explain.h5).

Beyond the datasets run-files.md fixes, each stage's layout is its own, so these read what is there:
every numeric dataset under a group is plotted the way its shape allows, and missing parts are skipped."""
import os

import h5py
import numpy as np

from common import Figure, image_grid, load_image, plt, read_stimulus_paths, strings


def _scalars(group):
    """{name: float} of the 0-d or 1-element numeric datasets and attributes of a group."""
    out = {}
    for key, d in group.items():
        if isinstance(d, h5py.Dataset) and d.dtype.kind in "fiu" and d.size == 1:
            out[key] = float(np.asarray(d[()]).reshape(-1)[0])
    for key, v in group.attrs.items():
        v = np.asarray(v)
        if v.dtype.kind in "fiu" and v.size == 1:
            out.setdefault(key, float(v.reshape(-1)[0]))
    return out


def _ids(dataset):
    return strings(dataset) if dataset.dtype.kind in "SOU" else [str(v) for v in dataset[()].reshape(-1)]


def synthetic_repetition(ctx):
    path = ctx.run_file("synthetic.h5")
    if path is None:
        return []
    with h5py.File(path, "r") as f:
        if "repetition" not in f:
            return []
        group = f["repetition"]
        vectors = {k: d[()].astype(np.float64) for k, d in group.items()
                   if isinstance(d, h5py.Dataset) and d.dtype.kind in "fiu" and d.ndim == 1 and d.size > 1}
        scalars = _scalars(group)
    if not vectors:
        return []
    synth = [k for k in vectors if "synth" in k.lower()]
    real = [k for k in vectors if "real" in k.lower() or "ceiling" in k.lower()]
    pair = (synth[0], real[0]) if synth and real and len(vectors[synth[0]]) == len(vectors[real[0]]) else None
    panels = (1 if pair else 0) + 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), squeeze=False)
    if pair:
        ax = axes[0][0]
        x, y = vectors[pair[1]], vectors[pair[0]]
        ok = np.isfinite(x) & np.isfinite(y)
        ax.scatter(x[ok], y[ok], s=4, alpha=0.5)
        lo, hi = np.nanmin([x[ok].min(), y[ok].min()]), np.nanmax([x[ok].max(), y[ok].max()])
        ax.plot([lo, hi], [lo, hi], color="grey", ls="--", lw=1, label="identity")
        r = np.corrcoef(x[ok], y[ok])[0, 1] if ok.sum() > 2 else np.nan
        ax.set_xlabel(pair[1])
        ax.set_ylabel(pair[0])
        ax.set_title(f"synthetic vs real (r = {r:.3f})", fontsize=9)
        ax.legend(fontsize=7)
    ax = axes[0][-1]
    for key, values in vectors.items():
        ax.hist(values[np.isfinite(values)], bins=40, histtype="step", label=key)
    ax.set_title("distributions", fontsize=9)
    ax.legend(fontsize=7)
    name = ctx.save(fig, "synthetic_repetition.png")
    caption = "Synthetic responses compared with real repetitions (synthetic.h5 /repetition)."
    if scalars:
        caption += " " + ", ".join(f"{k} = {v:.4g}" for k, v in scalars.items())
    return [Figure("Synthetic responses", "Synthetic vs real repetitions", name, caption)]


def _learning_curve(group):
    """(sizes, accuracy, spread or None) from an experiment's learning_curve in any of the common layouts."""
    if "learning_curve" not in group:
        return None
    lc = group["learning_curve"]
    if isinstance(lc, h5py.Group):
        sizes = next((lc[k][()] for k in ("sizes", "n", "size", "n_train") if k in lc), None)
        acc = next((lc[k][()] for k in ("accuracy", "mean", "acc") if k in lc), None)
        spread = next((lc[k][()] for k in ("std", "sd", "sem") if k in lc), None)
        if sizes is None or acc is None:
            return None
        acc = np.asarray(acc, dtype=np.float64)
        if acc.ndim == 2 and spread is None:  # repeats along the second axis
            acc, spread = acc.mean(axis=1), acc.std(axis=1)
        return np.asarray(sizes, dtype=np.float64), acc, spread
    data = np.asarray(lc[()], dtype=np.float64)
    if data.ndim == 2 and data.shape[1] >= 2:
        return data[:, 0], data[:, 1], data[:, 2] if data.shape[1] > 2 else None
    for key in ("sizes", "n_train"):
        if key in lc.attrs:
            return np.asarray(lc.attrs[key], dtype=np.float64), data.reshape(-1), None
    for key in ("learning_curve_sizes", "sizes"):
        if key in group:
            return np.asarray(group[key][()], dtype=np.float64), data.reshape(-1), None
    return np.arange(1, data.size + 1, dtype=np.float64), data.reshape(-1), None


def decoding(ctx):
    path = ctx.run_file("decoding.h5")
    if path is None:
        return []
    rows, curves, confusions = [], [], []
    with h5py.File(path, "r") as f:
        for kind in ("experiments", "controls"):
            if kind not in f:
                continue
            for name, g in f[kind].items():
                if not isinstance(g, h5py.Group) or "accuracy" not in g:
                    continue
                acc = float(np.mean(g["accuracy"][()]))
                chance = float(np.mean(g["chance"][()])) if "chance" in g else np.nan
                p = float(np.mean(g["p_value"][()])) if "p_value" in g else np.nan
                rows.append((kind, name, acc, chance, p))
                curve = _learning_curve(g)
                if curve is not None:
                    curves.append((name, chance, curve))
                if "confusion" in g and g["confusion"].ndim == 2:
                    confusions.append((f"{kind}/{name}", g["confusion"][()].astype(np.float64)))
    figures = []
    if rows:
        fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(rows) + 2), 4))
        labels = [f"{n}" + (" (control)" if k == "controls" else "") for k, n, *_ in rows]
        colors = ["tab:grey" if k == "controls" else "tab:blue" for k, *_ in rows]
        ax.bar(range(len(rows)), [r[2] for r in rows], color=colors)
        for i, (_, _, acc, chance, p) in enumerate(rows):
            if np.isfinite(chance):
                ax.hlines(chance, i - 0.4, i + 0.4, color="tab:red", lw=1.5)
            if np.isfinite(p):
                ax.text(i, acc + 0.01, f"p={p:.2g}", ha="center", fontsize=7)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("accuracy (red: chance)")
        ax.set_ylim(0, 1.05)
        ax.set_title("Decoding accuracy on real fMRI")
        name = ctx.save(fig, "decoding_accuracy.png")
        figures.append(Figure("Decoding", "Decoder accuracy", name,
                              "Accuracy of each decoder on held-out real responses; "
                              "grey bars are negative controls."))
    if curves:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, chance, (sizes, acc, spread) in curves:
            line = ax.plot(sizes, acc, marker="o", label=name)[0]
            if spread is not None:
                ax.fill_between(sizes, acc - spread, acc + spread, color=line.get_color(), alpha=0.2)
            if np.isfinite(chance):
                ax.axhline(chance, color=line.get_color(), ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("training set size")
        ax.set_ylabel("accuracy (dotted: chance)")
        ax.legend(fontsize=7)
        ax.set_title("Decoder learning curves")
        name = ctx.save(fig, "decoding_learning_curves.png")
        figures.append(Figure("Decoding", "Learning curves", name,
                              "Accuracy as the training set (synthetic or real) grows."))
    if confusions:
        cols = min(4, len(confusions))
        rows_n = (len(confusions) + cols - 1) // cols
        fig, axes = plt.subplots(rows_n, cols, figsize=(3.2 * cols, 3.2 * rows_n), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, (name, m) in zip(axes.flat, confusions):
            ax.axis("on")
            totals = m.sum(axis=1, keepdims=True)
            ax.imshow(m / np.where(totals > 0, totals, 1), vmin=0, vmax=1, cmap="Blues")
            ax.set_title(name, fontsize=7)
            ax.set_xlabel("predicted", fontsize=7)
            ax.set_ylabel("true", fontsize=7)
        name = ctx.save(fig, "decoding_confusion.png")
        figures.append(Figure("Decoding", "Confusion matrices", name, "Row-normalized confusion matrices."))
    return figures


def maximize(ctx):
    path = ctx.run_file("maximize.h5")
    if path is None:
        return []
    with h5py.File(path, "r") as f:
        if "images" not in f or f["images"].ndim != 5:
            return []
        images = f["images"][:16, :8]
        labels = _ids(f["targets"])[: images.shape[0]] if "targets" in f else None
        if labels is not None and len(labels) != images.shape[0]:
            labels = None
        if labels is None:
            labels = [f"target {t}" for t in range(images.shape[0])]
        validation = _scalars(f["validation"]) if "validation" in f else {}
    fig = image_grid(images, row_labels=labels, col_labels=[f"restart {r}" for r in range(images.shape[1])],
                     title="Activation maximization (rows: targets)")
    name = ctx.save(fig, "maximize_grid.png")
    caption = "Images optimized to drive each target (voxel or ROI) through the encoding model."
    if validation:
        caption += " Validation: " + ", ".join(f"{k} = {v:.4g}" for k, v in validation.items())
    return [Figure("Activation maximization", "Maximizing images per target", name, caption)]


def reconstruct(ctx):
    path = ctx.run_file("reconstruct.h5")
    if path is None:
        return []
    paths = read_stimulus_paths(ctx.run_dir)
    with h5py.File(path, "r") as f:
        if "images" not in f:
            return []
        recon = f["images"][:10]
        ids = _ids(f["stimulus_ids"])[: recon.shape[0]] if "stimulus_ids" in f else [""] * recon.shape[0]
        ident = _scalars(f["identification"]) if "identification" in f else {}
    shown = []
    for i, sid in enumerate(ids):
        original = np.zeros_like(recon[i])
        if sid in paths and os.path.isfile(paths[sid]):
            img = load_image(paths[sid])
            # Nearest-neighbour resize to the reconstruction's size (display only).
            ys = np.linspace(0, img.shape[0] - 1, recon.shape[1]).astype(int)
            xs = np.linspace(0, img.shape[1] - 1, recon.shape[2]).astype(int)
            original = img[ys][:, xs]
        shown.append((original, recon[i]))
    grid = np.stack([np.stack([s[0] for s in shown]), np.stack([s[1] for s in shown])])
    title = "Reconstructions (top: seen, bottom: reconstructed)"
    if ident:
        title += "\n" + ", ".join(f"{k} = {v:.3g}" for k, v in ident.items())
    fig = image_grid(grid, row_labels=["seen", "reconstructed"], col_labels=ids, title=title)
    name = ctx.save(fig, "reconstruction_grid.png")
    caption = "Images reconstructed from brain activity next to the images shown."
    if ident:
        caption += " Identification: " + ", ".join(f"{k} = {v:.4g}" for k, v in ident.items())
    return [Figure("Reconstruction", "Reconstructions", name, caption)]


def explain(ctx):
    path = ctx.run_file("explain.h5")
    if path is None:
        return []
    paths = read_stimulus_paths(ctx.run_dir)
    stimulus_ids = []
    responses = ctx.run_file("responses.h5")
    if responses:
        with h5py.File(responses, "r") as r:
            if "stimulus_ids" in r:
                stimulus_ids = strings(r["stimulus_ids"])
    with h5py.File(path, "r") as f:
        if "heatmaps" not in f:
            return []
        heat = f["heatmaps"][:8]
        pairs = None
        if "pairs" in f:
            raw = f["pairs"][: heat.shape[0]]
            pairs = [[_pair_id(v, stimulus_ids) for v in row] for row in np.atleast_2d(raw)]
        overlap = f["overlap"][()] if "overlap" in f else None
    k_n = heat.shape[0]
    fig, axes = plt.subplots(k_n, 3, figsize=(7.5, 2.5 * k_n), squeeze=False)
    for k in range(k_n):
        image_id, reference_id = (pairs[k] + ["", ""])[:2] if pairs else ("", "")
        image = load_image(paths[image_id]) if image_id in paths else None
        reference = load_image(paths[reference_id]) if reference_id in paths else None
        for ax in axes[k]:
            ax.axis("off")
        if image is not None:
            axes[k][0].imshow(image)
        axes[k][0].set_title(f"image {image_id}", fontsize=7)
        if reference is not None:
            axes[k][1].imshow(reference)
        axes[k][1].set_title(f"reference {reference_id}", fontsize=7)
        extent = (0, image.shape[1], image.shape[0], 0) if image is not None else None
        if image is not None:
            axes[k][2].imshow(image, extent=extent)
        axes[k][2].imshow(heat[k], cmap="jet", alpha=0.5 if image is not None else 1.0, extent=extent)
        label = "shared-feature map"
        if overlap is not None and np.ndim(overlap) >= 1 and k < len(overlap):
            label += f" (overlap {float(np.asarray(overlap[k]).reshape(-1)[0]):.2f})"
        axes[k][2].set_title(label, fontsize=7)
    name = ctx.save(fig, "explain_panels.png")
    caption = "Parallel-backpropagation maps of the features an image shares with its reference."
    if overlap is not None:
        caption += f" Mean overlap with the object mask: {float(np.nanmean(overlap)):.3f}."
    return [Figure("Explanations", "Explain panels", name, caption)]


def _pair_id(value, stimulus_ids):
    """A /pairs entry as a stimulus id: strings are ids, integers index responses.h5 /stimulus_ids."""
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("utf-8")
    if isinstance(value, str):
        return value
    i = int(value)
    return stimulus_ids[i] if 0 <= i < len(stimulus_ids) else str(i)


def stage_figures(ctx):
    figures = []
    for make in (synthetic_repetition, decoding, maximize, reconstruct, explain):
        figures += make(ctx)
    return figures
