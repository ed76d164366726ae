"""Shared helpers for the analysis scripts: reading run files (run-files.md layout) and saving figures.

Every figure function takes a Context and returns a list of Figure entries (possibly empty when its
inputs are missing), so report.py can build the HTML from whatever the run directory holds.
"""
import csv
import os
from dataclasses import dataclass, field

import h5py
import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes or CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


@dataclass
class Figure:
    """One entry of the report: an image (PNG) or a downloadable file, with a caption."""

    section: str
    title: str
    path: str  # relative to the output folder
    caption: str = ""
    kind: str = "png"  # png | file
    html: str = ""  # optional table shown under the figure


@dataclass
class Context:
    run_dir: str
    out_dir: str
    scaling_csvs: list = field(default_factory=list)
    dpi: int = 110

    def run_file(self, name):
        """Path of a finished stage file in the run directory, or None when it does not exist."""
        path = os.path.join(self.run_dir, name)
        return path if os.path.isfile(path) else None

    def save(self, fig, name):
        """Saves a matplotlib figure as out_dir/name (PNG) and closes it; returns the relative name."""
        fig.savefig(os.path.join(self.out_dir, name), dpi=self.dpi, bbox_inches="tight")
        plt.close(fig)
        return name


def strings(dataset):
    """A string dataset as a list of str: fixed-length (null-padded bytes) or variable-length."""
    out = []
    for value in dataset[()]:
        if isinstance(value, bytes):
            value = value.rstrip(b"\0").decode("utf-8")
        out.append(str(value))
    return out


def attr_string(obj, name, default=""):
    if name not in obj.attrs:
        return default
    value = obj.attrs[name]
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO" and value.size == 1:
        value = value.reshape(-1)[0]
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return str(value)


def read_rois(responses_path):
    """ROI masks of responses.h5 as {name: bool[V]} in file order, plus the valid-voxel mask (or None)."""
    rois, valid = {}, None
    with h5py.File(responses_path, "r") as f:
        if "rois" in f:
            for name, d in f["rois"].items():
                if isinstance(d, h5py.Dataset):
                    rois[name] = d[()].astype(bool)
        if "voxels/valid" in f:
            valid = f["voxels/valid"][()].astype(bool)
    return rois, valid


# Visual-hierarchy order for plots (HDF5 lists groups alphabetically): early areas first, then the rest.
HIERARCHY = ["V1", "V2", "V3", "V3A", "V3B", "hV4", "V4", "VO1", "VO2", "LO1", "LO2", "LO", "LOC", "IT",
             "FFA", "OFA", "PPA", "OPA", "RSC", "EBA"]


def _hierarchy_rank(name):
    core = name
    for prefix in ("LH", "RH", "lh.", "rh.", "lh_", "rh_", "Left", "Right"):
        if core.startswith(prefix) and len(core) > len(prefix):
            core = core[len(prefix):]
            break
    return HIERARCHY.index(core) if core in HIERARCHY else len(HIERARCHY)


def roi_order(rois, limit=24):
    """ROI names to plot, early visual areas first: all, or the `limit` largest when there are many."""
    names = list(rois)
    if len(names) > limit:
        names = sorted(names, key=lambda n: -int(rois[n].sum()))[:limit]
    return sorted(names, key=lambda n: (_hierarchy_rank(n), list(rois).index(n)))


def read_stimulus_paths(run_dir):
    """{stimulus_id: image path} from run_dir/stimuli/manifest.csv (the demo's), or {} if absent."""
    manifest = os.path.join(run_dir, "stimuli", "manifest.csv")
    if not os.path.isfile(manifest):
        return {}
    base = os.path.dirname(manifest)
    out = {}
    with open(manifest, newline="") as fh:
        for row in csv.DictReader(fh):
            sid, path = row.get("stimulus_id"), row.get("path")
            if sid and path:
                out[sid] = path if os.path.isabs(path) else os.path.join(base, path)
    return out


def load_image(path):
    """An image file as uint8 HxWx3 (matplotlib reads PNG itself and JPEG/WebP through Pillow)."""
    img = plt.imread(path)
    if img.dtype != np.uint8:
        img = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3]


def image_grid(images, row_labels=None, col_labels=None, title="", cell=1.3):
    """A figure of uint8 images [rows, cols, H, W, 3] without axes."""
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols + 0.8, cell * rows + 0.6), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(images[r, c])
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=7, rotation=0, ha="right", va="center")
            if r == 0 and col_labels is not None:
                ax.set_title(col_labels[c], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
