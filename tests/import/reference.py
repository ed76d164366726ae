"""Independent expectations for responses.h5, computed from the fixture files with numpy/h5py.

Each function returns a dict of dataset path -> expected array (plus a few special keys), built from
the published layouts directly, never from the C++ code.
"""
import csv
import gzip
import os
import struct

import h5py
import numpy as np

NIFTI_DTYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64}


def read_nifti(path):
    """NIfTI-1 reader from the format definition (nifti1.h), for the fixtures' single-file volumes."""
    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    assert struct.unpack_from("<i", raw, 0)[0] == 348
    dim = struct.unpack_from("<8h", raw, 40)
    datatype = struct.unpack_from("<h", raw, 70)[0]
    vox_offset = int(struct.unpack_from("<f", raw, 108)[0])
    slope, inter = struct.unpack_from("<2f", raw, 112)
    srow = np.array(struct.unpack_from("<12f", raw, 280), dtype=np.float64).reshape(3, 4)
    shape = dim[1:1 + dim[0]]
    data = np.frombuffer(raw, dtype=NIFTI_DTYPES[datatype], count=int(np.prod(shape)), offset=vox_offset)
    data = data.reshape(shape, order="F").astype(np.float32)
    if slope not in (0.0, 1.0) or inter != 0.0:
        data = data * np.float32(slope) + np.float32(inter)
    affine = np.vstack([srow, [0, 0, 0, 1]])
    return data, affine


def zscore_sessions(x, sessions):
    """Per-session z-scoring, ddof 0, over finite values; NaN -> 0 (the session mean)."""
    x = x.astype(np.float64)
    out = np.zeros_like(x)
    bad = np.zeros(x.shape[1], dtype=bool)
    for s in dict.fromkeys(sessions.tolist()):
        rows = sessions == s
        block = x[rows]
        mean = np.nanmean(block, axis=0)
        sd = np.sqrt(np.nanmean((block - mean) ** 2, axis=0))
        bad |= ~(sd > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (block - mean) / sd
        z[~np.isfinite(z)] = 0.0
        out[rows] = z
    return out.astype(np.float32), bad


def finish(trials, stim_of_trial, sessions, zscore):
    """Trials after cleaning, per-stimulus means and the valid flags."""
    trials = np.asarray(trials, dtype=np.float32)
    finite = np.isfinite(trials)
    const = np.array([np.ptp(trials[finite[:, v], v]) == 0 if finite[:, v].any() else True
                      for v in range(trials.shape[1])])
    valid = finite.all(axis=0) & ~const
    if zscore:
        trials, bad = zscore_sessions(trials, sessions)
        valid &= ~bad
    else:
        trials = np.where(finite, trials, np.float32(0))
    S = stim_of_trial.max() + 1
    means = np.stack([trials[stim_of_trial == s].astype(np.float64).mean(axis=0) for s in range(S)]).astype(np.float32)
    return trials, means, valid.astype(np.uint8)


def first_appearance(ids):
    order, index = {}, []
    for i in ids:
        index.append(order.setdefault(i, len(order)))
    return list(order), np.array(index, dtype=np.int64)


def load_ctab(path):
    out = {}
    for line in open(path):
        parts = line.split()
        if len(parts) >= 2 and int(parts[0]) > 0:
            out[int(parts[0])] = parts[1]
    return out


def label_masks(rois, order, labels, table, cls, prefix=""):
    for value in sorted({int(round(x)) for x in labels if np.isfinite(x) and round(x) > 0}):
        base = table.get(value, "%s_%d" % (cls, value))
        name = prefix + base
        if name in rois:
            name = prefix + cls + "." + base
        rois[name] = (np.round(labels) == value).astype(np.uint8)
        order.append(name)


# ---------------------------------------------------------------------------------------------
def bold5000(fx):
    root = os.path.join(fx, "bold5000")
    lines = [l.strip() for l in open(os.path.join(root, "ROIs/stim_lists/CSI01_stim_lists.txt")) if l.strip()]
    ids, stim = first_appearance([l[4:] if l.startswith("rep_") else l for l in lines])
    with h5py.File(os.path.join(root, "ROIs/CSI1/h5/CSI1_ROIs_TR34.h5"), "r") as f:
        names = list(f.keys())
        blocks = [f[n][()] for n in names]
    x = np.hstack(blocks).astype(np.float32)
    trials, means, valid = finish(x, stim, np.zeros(len(lines), dtype=np.int64), zscore=False)
    rois, col = {}, 0
    for n, b in zip(names, blocks):
        m = np.zeros(x.shape[1], dtype=np.uint8)
        m[col:col + b.shape[1]] = 1
        rois[n] = m
        col += b.shape[1]
    for n in names:
        base = n[2:]
        if base not in rois:
            rois[base] = rois.get("LH" + base, 0) | rois.get("RH" + base, 0)
    counts = np.bincount(stim)
    sets = {}
    for s in ("COCO", "ImageNet", "Scene"):
        for name in os.listdir(os.path.join(root, "BOLD5000_Stimuli/Scene_Stimuli/Presented_Stimuli", s)):
            sets[name] = s
    cats = ["COCO", "ImageNet", "Scene"]
    return {"/stimulus_ids": ids, "/trials/stimulus_index": stim, "/trials/responses": trials, "/responses": means,
            "/voxels/valid": valid, "/trials/session": np.zeros(len(lines), dtype=np.int64),
            "/trials/run": np.arange(len(lines)) // 37, "/split/test": np.flatnonzero(counts == 4),
            "/split/train": np.flatnonzero(counts != 4), "/categories/names": cats,
            "/categories/index": np.array([cats.index(sets[i]) for i in ids]), "rois": rois,
            "/repetitions/count": counts, "/repetitions/stimulus_index": np.flatnonzero(counts >= 2)}


def bold5000_v2(fx, with_rois):
    root = os.path.join(fx, "bold5000_v2")
    ids_raw, sessions, runs, blocks = [], [], [], []
    for ses in (1, 2):
        func = os.path.join(root, "ds001499/sub-CSI1/ses-%02d/func" % ses)
        for name in sorted(os.listdir(func)):
            rows = list(csv.DictReader(open(os.path.join(func, name)), delimiter="\t"))
            ids_raw += [r["ImgName"] for r in rows]
            sessions += [ses] * len(rows)
            runs += [int(name.split("_run-")[1][:2])] * len(rows)
        vol, affine = read_nifti(os.path.join(root, "BOLD5000_GLMsingle_betas/CSI1_GLMbetas-TYPED-FITHRF-GLMDENOISE-RR_ses-%02d.nii.gz" % ses))
        blocks.append(vol.reshape(-1, vol.shape[3], order="F").T)
    mask, _ = read_nifti(os.path.join(root, "BOLD5000_GLMsingle_betas/CSI1_brainmask.nii.gz"))
    flat = np.flatnonzero(mask.reshape(-1, order="F") != 0)
    x = np.vstack(blocks)[:, flat]
    ids, stim = first_appearance(ids_raw)
    sessions = np.array(sessions)
    trials, means, valid = finish(x, stim, sessions, zscore=True)
    nx, ny = mask.shape[0], mask.shape[1]
    ijk = np.stack([flat % nx, (flat // nx) % ny, flat // (nx * ny)], axis=1)
    counts = np.bincount(stim)
    out = {"/stimulus_ids": ids, "/trials/stimulus_index": stim, "/trials/responses": trials, "/responses": means,
           "/voxels/valid": valid, "/trials/session": sessions, "/trials/run": np.array(runs), "/voxels/ijk": ijk,
           "affine": affine, "/split/test": np.flatnonzero(counts >= 4), "/split/train": np.flatnonzero(counts < 4),
           "rois": {}}
    if with_rois:
        roi, _ = read_nifti(os.path.join(root, "BOLD5000_GLMsingle_betas/CSI1_mask-LHPPA.nii.gz"))
        out["rois"]["LHPPA"] = (roi.reshape(-1, order="F")[flat] == 1).astype(np.uint8)
    return out


def nsd(fx, sessions=(1, 2, 3), roi_files=("nsdgeneral", "prf-visualrois", "lh.prf-visualrois", "Kastner2015")):
    root = os.path.join(fx, "nsd")
    rows = list(csv.DictReader(open(os.path.join(root, "nsddata/ppdata/subj01/behav/responses.tsv")), delimiter="\t"))
    rows = [r for r in rows if int(r["SESSION"]) in sessions]
    general, affine = read_nifti(os.path.join(root, "nsddata/ppdata/subj01/func1pt8mm/roi/nsdgeneral.nii.gz"))
    flat = np.flatnonzero(general.reshape(-1, order="F") > 0)
    nx, ny, nz = general.shape
    blocks = []
    for s in sessions:
        with h5py.File(os.path.join(root, "nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_session%02d.hdf5" % s), "r") as f:
            b = f["betas"][()]  # (750, Z, Y, X): C order flat index = i + X (j + Y k), as NIfTI's
        blocks.append(b.reshape(b.shape[0], -1)[:, flat].astype(np.float32) / np.float32(300))
    x = np.vstack(blocks)
    ids, stim = first_appearance(["nsd-%05d" % int(r["73KID"]) for r in rows])
    sessions = np.array([int(r["SESSION"]) for r in rows])
    trials, means, valid = finish(x, stim, sessions, zscore=True)
    rois, order = {}, []
    roi_dir = os.path.join(root, "nsddata/ppdata/subj01/func1pt8mm/roi")
    shipped = os.path.join(os.path.dirname(__file__), "../../configs/nsd_labels")
    for name in roi_files:
        vol, _ = read_nifti(os.path.join(roi_dir, name + ".nii.gz"))
        cls = name[3:] if name.startswith("lh.") else name
        own = os.path.join(root, "nsddata/freesurfer/subj01/label", cls + ".mgz.ctab")
        table = load_ctab(own if os.path.exists(own) else os.path.join(shipped, cls + ".mgz.ctab"))
        label_masks(rois, order, vol.reshape(-1, order="F")[flat], table, cls, "lh." if name.startswith("lh.") else "")
    info = list(csv.DictReader(open(os.path.join(root, "nsddata/experiments/nsd/nsd_stim_info_merged.csv"))))
    shared = {"nsd-%05d" % (int(r["nsdId"]) + 1) for r in info if r["shared1000"] == "True"}
    test = np.array([i for i, s in enumerate(ids) if s in shared])
    return {"/stimulus_ids": ids, "/trials/stimulus_index": stim, "/trials/responses": trials, "/responses": means,
            "/voxels/valid": valid, "/trials/session": sessions, "/trials/run": np.array([int(r["RUN"]) for r in rows]),
            "/voxels/ijk": np.stack([flat % nx, (flat // nx) % ny, flat // (nx * ny)], axis=1), "affine": affine,
            "/split/test": test, "/split/train": np.setdiff1d(np.arange(len(ids)), test), "rois": rois,
            "roi_order": order}


def bdata(fx):
    with h5py.File(os.path.join(fx, "bdata/bdata_new.h5"), "r") as f:
        data = f["dataset"][()]
        keys = [k.decode() if isinstance(k, bytes) else k for k in f["metadata/key"][()]]
        value = f["metadata/value"][()]
    col = {k: np.flatnonzero(value[keys.index(k)] == 1) for k in keys}
    vox = col["VoxelData"]
    dtype = data[:, col["DataType"][0]]
    keep = (dtype == 1) | (dtype == 2)
    ids, stim = first_appearance(["%.6f" % v for v in data[keep, col["Label"][0]]])
    x = data[keep][:, vox].astype(np.float32)
    trials, means, valid = finish(x, stim, np.zeros(len(stim)), zscore=False)
    test = sorted({stim[i] for i in range(len(stim)) if dtype[keep][i] == 2})
    rois = {k[4:]: (value[keys.index(k)][vox] == 1).astype(np.uint8) for k in keys if k.startswith("ROI_")}
    xyz = np.stack([value[keys.index(a)][vox] for a in ("voxel_x", "voxel_y", "voxel_z")], axis=1)
    return {"/stimulus_ids": ids, "/trials/stimulus_index": stim, "/trials/responses": trials, "/responses": means,
            "/voxels/valid": valid, "/trials/session": data[keep, col["Session"][0]].astype(np.int64),
            "/trials/run": data[keep, col["Run"][0]].astype(np.int64), "/split/test": np.array(test),
            "/split/train": np.setdiff1d(np.arange(len(ids)), test), "/voxels/xyz": xyz, "rois": rois}


def algonauts(fx, roi_map):
    subj = os.path.join(fx, "algonauts/subj01")
    lh = np.load(os.path.join(subj, "training_split/training_fmri/lh_training_fmri.npy"))
    rh = np.load(os.path.join(subj, "training_split/training_fmri/rh_training_fmri.npy"))
    names = sorted(os.listdir(os.path.join(subj, "training_split/training_images")))
    ids = ["nsd-%05d" % (int(n.split("_nsd-")[1][:5]) + 1) for n in names]  # NSD index from 0 -> 73KID from 1
    x = np.hstack([lh, rh])
    stim = np.arange(len(ids))
    trials, means, valid = finish(x, stim, np.zeros(len(ids)), zscore=False)
    vl, vr = lh.shape[1], rh.shape[1]
    rois = {"lh": np.r_[np.ones(vl), np.zeros(vr)].astype(np.uint8), "rh": np.r_[np.zeros(vl), np.ones(vr)].astype(np.uint8)}
    order = ["lh", "rh"]
    shipped = os.path.join(os.path.dirname(__file__), "../../configs/nsd_labels")
    bilateral = []
    masks = os.path.join(subj, "roi_masks")
    for f in sorted(n for n in os.listdir(masks) if n.endswith("_challenge_space.npy")):
        hemi, cls = f[:2], f[3:-len("_challenge_space.npy")]
        lab = np.load(os.path.join(masks, f)).astype(np.float32)
        full = np.zeros(vl + vr, dtype=np.float32)
        full[(0 if hemi == "lh" else vl):(vl if hemi == "lh" else vl + vr)] = lab
        table = roi_map.get(cls) or (load_ctab(os.path.join(shipped, cls + ".mgz.ctab"))
                                     if os.path.exists(os.path.join(shipped, cls + ".mgz.ctab")) else {})
        before = len(order)
        label_masks(rois, order, full, table, cls, hemi + ".")
        bilateral += [n[3:] for n in order[before:]]
    for b in bilateral:
        if b not in rois:
            rois[b] = rois.get("lh." + b, 0) | rois.get("rh." + b, 0)
            order.append(b)
    return {"/stimulus_ids": ids, "/trials/stimulus_index": stim, "/trials/responses": trials, "/responses": means,
            "/voxels/valid": valid, "rois": rois, "roi_order": order,
            "paths": [os.path.join(subj, "training_split/training_images", n) for n in names]}


def generic(fx, zscore):
    root = os.path.join(fx, "generic")
    x = np.load(os.path.join(root, "responses.npy")).astype(np.float32)
    rows = list(csv.DictReader(open(os.path.join(root, "stimuli.csv"))))
    ids, stim = first_appearance([r["stimulus_id"] for r in rows])
    sessions = np.array([int(r["session"]) for r in rows])
    trials, means, valid = finish(x, stim, sessions, zscore=zscore)
    cats, cat_index = first_appearance([next(r["category"] for r in rows if r["stimulus_id"] == i) for i in ids])
    test = [i for i, s in enumerate(ids) if s in ("img00", "img05")]
    return {"/stimulus_ids": ids, "/trials/stimulus_index": stim, "/trials/responses": trials, "/responses": means,
            "/voxels/valid": valid, "/trials/session": sessions, "/trials/run": np.array([int(r["run"]) for r in rows]),
            "/categories/names": cats, "/categories/index": cat_index, "/split/test": np.array(test),
            "/split/train": np.setdiff1d(np.arange(len(ids)), test), "rois": {}}
