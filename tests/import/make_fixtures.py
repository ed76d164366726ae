#!/usr/bin/python3
"""Writes tiny datasets in exactly the published layout of every format the import stage reads.

Usage: make_fixtures.py OUTDIR. Each writer's docstring cites where its layout is documented; the
values are seeded random numbers plus planted oddities (NaN trials, constant voxels, repetitions).
"""
import json
import os
import sys

import h5py
import numpy as np
from PIL import Image

from fixture_formats import write_nifti1, write_nifti2, write_npy

RNG = np.random.default_rng(20240601)
AFFINE = np.array([[-1.8, 0, 0, 90.0], [0, 1.8, 0, -120.0], [0, 0, 1.8, -70.0], [0, 0, 0, 1]])


def mkdir(*parts):
    p = os.path.join(*parts)
    os.makedirs(p, exist_ok=True)
    return p


def touch_png(path, value):
    Image.fromarray(np.full((4, 4, 3), value % 256, dtype=np.uint8)).save(path)


# ---------------------------------------------------------------------------------------------
def bold5000(root):
    """BOLD5000 release 1.0 ROI files (Chang et al. 2019, Sci Data; figshare 6459449; overview at
    https://bold5000-dataset.github.io/website/overview.html): ROIs/CSI1/h5/CSI1_ROIs_TR34.h5 holds one
    trials x voxels dataset per ROI; ROIs/stim_lists/CSI01_stim_lists.txt one image per trial, "rep_" on
    the repeated ones; 4,803 images shown once, 112 four times, one three times = 5,254 trials."""
    sets = ([("COCO", "COCO_train2014_%012d.jpg" % (100000 + i)) for i in range(2000)] +
            [("ImageNet", "n%08d_%d.JPEG" % (1440000 + i // 4, 1000 + i)) for i in range(1916)] +
            [("Scene", "%s%d.jpg" % (["airport", "kitchen", "forest", "bedroom"][i % 4], i)) for i in range(1000)])
    order = RNG.permutation(len(sets))
    names = [sets[i][1] for i in order]
    four, three = names[:112], names[112]
    trials = [(n, 1) for n in names[113:]] + [(n, 4) for n in four] + [(three, 3)]
    seq = []
    for name, k in trials:
        seq += [("rep_" + name) if k > 1 else name] * k
    seq = [seq[i] for i in RNG.permutation(len(seq))]
    assert len(seq) == 5254
    lists = mkdir(root, "ROIs", "stim_lists")
    with open(os.path.join(lists, "CSI01_stim_lists.txt"), "w") as f:
        f.write("\n".join(seq) + "\n")
    widths = {"LHEarlyVis": 7, "LHLOC": 5, "LHOPA": 4, "LHPPA": 6, "LHRSC": 3,
              "RHEarlyVis": 8, "RHLOC": 5, "RHOPA": 3, "RHPPA": 5, "RHRSC": 4}
    h5dir = mkdir(root, "ROIs", "CSI1", "h5")
    with h5py.File(os.path.join(h5dir, "CSI1_ROIs_TR34.h5"), "w") as f:
        for roi, w in widths.items():
            x = RNG.normal(size=(5254, w))
            if roi == "LHPPA":
                x[17, 2] = np.nan  # a NaN trial: voxel flagged, value never propagated
            if roi == "RHRSC":
                x[:, 1] = 0.25  # a constant voxel
            f.create_dataset(roi, data=x)
    stim = mkdir(root, "BOLD5000_Stimuli", "Scene_Stimuli", "Presented_Stimuli")
    for s in ("COCO", "ImageNet", "Scene"):
        mkdir(stim, s)
    for s, name in sets:
        open(os.path.join(stim, s, name), "wb").close()  # import records paths only; extract decodes
    # A broken subject: its ROI file has fewer trials than its stimulus list.
    with open(os.path.join(lists, "CSI02_stim_lists.txt"), "w") as f:
        f.write("\n".join(seq[:12]) + "\n")
    with h5py.File(os.path.join(mkdir(root, "ROIs", "CSI2", "h5"), "CSI2_ROIs_TR34.h5"), "w") as f:
        f.create_dataset("LHPPA", data=RNG.normal(size=(10, 3)))


# ---------------------------------------------------------------------------------------------
def bold5000_v2(root):
    """BOLD5000 2.0 GLMsingle betas (figshare 14456124): CSI1_GLMbetas-TYPED-FITHRF-GLMDENOISE-RR_ses-NN.nii.gz,
    X x Y x Z x trials; trial order from the BIDS events of OpenNeuro ds001499
    (sub-CSI1/ses-NN/func/sub-CSI1_ses-NN_task-5000scenes_run-NN_events.tsv, image in ImgName)."""
    nx, ny, nz = 4, 3, 2
    images = ["COCO_train2014_%012d.jpg" % i for i in range(6)] + ["n01440764_%d.JPEG" % i for i in range(4)]
    repeated = images[:2]
    betas_dir = mkdir(root, "BOLD5000_GLMsingle_betas")
    cols = ["onset", "duration", "Subj", "Sess", "Run", "Trial", "ImgName", "ImgType", "StimOn(s)",
            "StimOff(s)", "Response", "RT"]
    plan = {1: [images[0:5] + [repeated[0]], [repeated[1], images[5], repeated[0], images[6]]],
            2: [[repeated[1], images[7], repeated[0], images[8], repeated[1]], [images[9], repeated[0], repeated[1]]]}
    for ses, runs in plan.items():
        func = mkdir(root, "ds001499", "sub-CSI1", "ses-%02d" % ses, "func")
        n = 0
        for run, imgs in enumerate(runs, 1):
            with open(os.path.join(func, "sub-CSI1_ses-%02d_task-5000scenes_run-%02d_events.tsv" % (ses, run)), "w") as f:
                f.write("\t".join(cols) + "\n")
                for k, img in enumerate(imgs):
                    kind = ("rep_" if img in repeated else "") + ("coco" if img.startswith("COCO") else "imagenet")
                    f.write("\t".join(map(str, [6 + 10 * k, 1, 1, ses, run, k + 1, img, kind, 0, 1, 1, 0.8])) + "\n")
            n += len(imgs)
        data = RNG.normal(size=(nx, ny, nz, n)).astype(np.float32)
        data[0, 0, 0, :] = 0.0  # outside the brain: GLMsingle leaves zeros
        write_nifti1(os.path.join(betas_dir, "CSI1_GLMbetas-TYPED-FITHRF-GLMDENOISE-RR_ses-%02d.nii.gz" % ses), data, AFFINE)
    mask = np.ones((nx, ny, nz), dtype=np.uint8)
    mask[0, 0, 0] = 0
    mask[3, 2, 1] = 0
    write_nifti1(os.path.join(betas_dir, "CSI1_brainmask.nii.gz"), mask, AFFINE)
    roi = np.zeros((nx, ny, nz), dtype=np.int16)
    roi[1:3, :, 0] = 1
    write_nifti1(os.path.join(betas_dir, "CSI1_mask-LHPPA.nii.gz"), roi, AFFINE)
    stim = mkdir(root, "BOLD5000_Stimuli", "Scene_Stimuli", "Presented_Stimuli")
    for img in images:
        d = mkdir(stim, "COCO" if img.startswith("COCO") else "ImageNet")
        open(os.path.join(d, img), "wb").close()


# ---------------------------------------------------------------------------------------------
def nsd(root, bad=False):
    """NSD (Allen et al. 2022; data manual https://cvnlab.slite.page/p/CT9Fwl4_hc/NSD-Data-Manual):
    nsddata_betas/ppdata/subj01/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_sessionNN.hdf5 /betas int16
    (percent signal change x 300) written from MATLAB as X x Y x Z x 750, i.e. (750, Z, Y, X) to h5py;
    nsddata/ppdata/subj01/behav/responses.tsv (73KID is 1-based); roi/*.nii.gz label volumes with
    nsddata/freesurfer/subj01/label/*.mgz.ctab names; nsd_stim_info_merged.csv (nsdId 0-based, shared1000)."""
    nx, ny, nz, n_ses = 6, 5, 4, 3
    ids = RNG.choice(np.arange(1, 73001), size=900, replace=False)
    shared = set(ids[:80].tolist())
    shows = np.repeat(ids, 3)[: 750 * n_ses]
    shows = shows[RNG.permutation(len(shows))]
    beta_dir = mkdir(root, "nsddata_betas", "ppdata", "subj01", "func1pt8mm", "betas_fithrf_GLMdenoise_RR")
    rows = []
    for s in range(1, n_ses + 1):
        t = 750 - (1 if bad and s == 2 else 0)
        x = np.round(RNG.normal(scale=600, size=(750, nz, ny, nx)) + 300 * s).astype(np.int16)
        x[:, 1, 2, 3] = 42  # constant voxel (i=3, j=2, k=1): flagged invalid
        with h5py.File(os.path.join(beta_dir, "betas_session%02d.hdf5" % s), "w") as f:
            f.create_dataset("betas", data=x[:t], chunks=(1, nz, ny, nx))
        for k in range(750):
            run = k // 63 + 1 if k < 378 else 7 + (k - 378) // 62
            rows.append([1, s, run, k % 63 + 1, int(shows[(s - 1) * 750 + k]), 0, 1000 * k, 0, 1, 700, 0, 0, 0, 0, 1,
                         0, 0, 1, 0])
    behav = mkdir(root, "nsddata", "ppdata", "subj01", "behav")
    head = ["SUBJECT", "SESSION", "RUN", "TRIAL", "73KID", "10KID", "TIME", "ISOLD", "ISCORRECT", "RT", "CHANGEMIND",
            "MEMORYRECENT", "MEMORYFIRST", "ISOLDCURRENT", "ISCORRECTCURRENT", "TOTAL1", "TOTAL2", "BUTTON",
            "MISSINGDATA"]
    with open(os.path.join(behav, "responses.tsv"), "w") as f:
        f.write("\t".join(head) + "\n")
        for r in rows:
            f.write("\t".join(str(v) for v in r) + "\n")
    roi = mkdir(root, "nsddata", "ppdata", "subj01", "func1pt8mm", "roi")
    general = -np.ones((nx, ny, nz), dtype=np.int16)
    general[1:5, 1:4, :] = 0
    general[1:5, 1:4, 1:3] = 1
    write_nifti1(os.path.join(roi, "nsdgeneral.nii.gz"), general, AFFINE)
    visual = np.where(general >= 0, RNG.integers(0, 8, size=general.shape), -1).astype(np.int16)
    write_nifti1(os.path.join(roi, "prf-visualrois.nii.gz"), visual, AFFINE)
    lh = np.where(np.arange(nx)[:, None, None] < 3, visual, 0).astype(np.int16)
    write_nifti1(os.path.join(roi, "lh.prf-visualrois.nii.gz"), lh, AFFINE)
    kastner = np.where(general >= 0, RNG.integers(0, 26, size=general.shape), -1).astype(np.float32)
    write_nifti1(os.path.join(roi, "Kastner2015.nii.gz"), kastner, AFFINE)
    labels = mkdir(root, "nsddata", "freesurfer", "subj01", "label")
    with open(os.path.join(labels, "prf-visualrois.mgz.ctab"), "w") as f:
        f.write("0 Unknown\n1 V1v\t\n2 V1d\t\n3 V2v\t\n4 V2d\t\n5 V3v\t\n6 V3d\t\n7 hV4\t\n")
    with open(os.path.join(labels, "nsdgeneral.mgz.ctab"), "w") as f:
        f.write("0 Unknown\n1 nsdgeneral\n")
    exp = mkdir(root, "nsddata", "experiments", "nsd")
    with open(os.path.join(exp, "nsd_stim_info_merged.csv"), "w") as f:
        f.write(",cocoId,cocoSplit,cropBox,loss,nsdId,flagged,BOLD5000,shared1000," +
                ",".join("subject%d" % i for i in range(1, 9)) + "\n")
        for n in range(73000):
            f.write('%d,%d,train2017,"(0, 0, 0.1671875, 0.1671875)",0.0,%d,False,False,%s,%s\n' % (
                n, 500000 + n, n, "True" if (n + 1) in shared else "False", ",".join(["0"] * 8)))
    stim = mkdir(root, "nsddata_stimuli", "stimuli", "nsd")
    with h5py.File(os.path.join(stim, "nsd_stimuli.hdf5"), "w") as f:
        f.create_dataset("imgBrick", data=np.zeros((4, 8, 8, 3), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------
def bdata(root):
    """BData (bdpy, KamitaniLab/bdpy bdpy/bdata/bdata.py, __save_h5): /dataset float64 samples x columns,
    /metadata/{key,description,value}, value[k] marking key k's columns with 1 and NaN elsewhere.
    h5py writes Python str lists as variable-length strings and numpy 'S' arrays as fixed-length NULLPAD;
    the older files spell the groups dataSet/metaData."""
    n_vox, n = 20, 48
    keys = ["VoxelData", "voxel_x", "voxel_y", "voxel_z", "ROI_V1", "ROI_V2", "ROI_VC", "Run", "Block", "Label",
            "DataType", "Session"]
    C = n_vox + 5  # voxels, Run, Block, Label, DataType, Session
    value = np.full((len(keys), C), np.nan)
    value[0, :n_vox] = 1
    value[0, n_vox:] = 0
    for k, axis in ((1, 0), (2, 1), (3, 2)):
        value[k, :n_vox] = RNG.integers(-60, 60, size=n_vox) * 3.0
    value[4, :n_vox] = (np.arange(n_vox) < 8).astype(float)
    value[5, :n_vox] = ((np.arange(n_vox) >= 8) & (np.arange(n_vox) < 14)).astype(float)
    value[6, :n_vox] = (np.arange(n_vox) < 18).astype(float)
    for k, col in ((7, n_vox), (8, n_vox + 1), (9, n_vox + 2), (10, n_vox + 3), (11, n_vox + 4)):
        value[k, col] = 1
    labels = np.array([1518878.005958, 1443537.022563, 2086240.005934, 3954731.002436, 4254680.001242,
                       1677366.002594, 2958343.014302, 3085013.000954])
    data = np.zeros((n, C))
    data[:, :n_vox] = RNG.normal(size=(n, n_vox))
    data[:, n_vox] = np.arange(n) // 12 + 1      # Run
    data[:, n_vox + 1] = np.arange(n) // 4 + 1   # Block
    data[:, n_vox + 2] = labels[np.arange(n) % 8]
    data[:, n_vox + 3] = np.where(np.arange(n) % 8 >= 6, 2, 1)  # labels 6 and 7 are the test images
    data[n - 4:, n_vox + 3] = 3                  # imagery samples: left out
    data[:, n_vox + 4] = 1 + (np.arange(n) >= 24)  # Session
    data[5, 3] = np.nan  # NaN voxel value
    desc = ["1 = voxel data"] + ["voxel coordinate %s" % a for a in "xyz"] + ["ROI %s" % r for r in ("V1", "V2", "VC")] + \
           ["Run number", "Block number", "Stimulus label", "1 = training, 2 = test, 3 = imagery", "Session"]
    with h5py.File(os.path.join(root, "bdata_new.h5"), "w") as f:
        f.create_dataset("/dataset", data=data)
        f.create_group("/metadata")
        f.create_dataset("/metadata/key", data=keys)  # h5py 3: list of str -> variable-length UTF-8
        f.create_dataset("/metadata/description", data=desc)
        f.create_dataset("/metadata/value", data=value)
    with h5py.File(os.path.join(root, "bdata_old.h5"), "w") as f:
        f.create_dataset("/dataSet", data=data)
        f.create_group("/metaData")
        f.create_dataset("/metaData/key", data=np.array(keys, dtype="S"))  # fixed-length, NULLPAD
        f.create_dataset("/metaData/description", data=np.array(desc, dtype="S"))
        f.create_dataset("/metaData/value", data=value)
    with h5py.File(os.path.join(root, "bdata_matlab.h5"), "w") as f:  # MATLAB-style: both transposed
        f.create_dataset("/dataset", data=data.T)
        f.create_dataset("/metadata/key", data=np.array(keys, dtype="S"))
        f.create_dataset("/metadata/description", data=np.array(desc, dtype="S"))
        f.create_dataset("/metadata/value", data=value.T)
    with h5py.File(os.path.join(root, "bdata_broken.h5"), "w") as f:
        f.create_dataset("/dataset", data=data)
        f.create_dataset("/metadata/key", data=keys)


# ---------------------------------------------------------------------------------------------
def algonauts(root):
    """Algonauts 2023 challenge data (gifale95/algonauts_2023 tutorial): subj01/training_split/training_fmri/
    {lh,rh}_training_fmri.npy float32 images x vertices; training_images/train-NNNN_nsd-NNNNN.png (train index
    from 1, NSD index from 0); roi_masks/{lh,rh}.<class>_challenge_space.npy labels per vertex, and
    mapping_<class>.npy pickled dictionaries."""
    subj = mkdir(root, "subj01")
    n, vl, vr = 40, 30, 25
    fmri = mkdir(subj, "training_split", "training_fmri")
    write_npy(os.path.join(fmri, "lh_training_fmri.npy"), RNG.normal(size=(n, vl)).astype(np.float32))
    write_npy(os.path.join(fmri, "rh_training_fmri.npy"), RNG.normal(size=(n, vr)).astype(np.float32))
    imgs = mkdir(subj, "training_split", "training_images")
    nsd0 = np.sort(RNG.choice(73000, size=n, replace=False))
    nsd0[0] = 12  # the tutorial's first image, train-0001_nsd-00013.png, is nsd-00013
    for i, k in enumerate(nsd0):
        touch_png(os.path.join(imgs, "train-%04d_nsd-%05d.png" % (i + 1, k)), i)
    masks = mkdir(subj, "roi_masks")
    for hemi, v in (("lh", vl), ("rh", vr)):
        write_npy(os.path.join(masks, "%s.prf-visualrois_challenge_space.npy" % hemi), RNG.integers(0, 8, size=v).astype(np.int32))
        write_npy(os.path.join(masks, "%s.floc-faces_challenge_space.npy" % hemi), RNG.integers(0, 6, size=v).astype(np.float64))
        write_npy(os.path.join(masks, "%s.all-vertices_fsaverage_space.npy" % hemi), np.ones(163842, dtype=np.float32))
    write_npy(os.path.join(masks, "lh.custom_challenge_space.npy"), (np.arange(vl) % 3).astype(np.int64))
    write_npy(os.path.join(masks, "rh.custom_challenge_space.npy"), (np.arange(vr) % 2).astype(np.int64))
    write_npy(os.path.join(masks, "mapping_prf-visualrois.npy"),
              np.array({0: "Unknown", 1: "V1v", 2: "V1d", 3: "V2v", 4: "V2d", 5: "V3v", 6: "V3d", 7: "hV4"}))
    with open(os.path.join(root, "roi_map.yaml"), "w") as f:
        f.write("custom:\n  1: blob_a\n  2: blob_b\n")
    json.dump({"nsd0": nsd0.tolist()}, open(os.path.join(root, "truth.json"), "w"))


# ---------------------------------------------------------------------------------------------
def generic(root):
    """Generic: a .npy (numpy.save; here Fortran order, big-endian float64) or HDF5 matrix plus a CSV."""
    t, v = 30, 12
    x = RNG.normal(size=(t, v))
    write_npy(os.path.join(root, "responses.npy"), np.asfortranarray(x.astype(">f8")))
    ids = ["img%02d" % (i % 12) for i in range(t)]
    cats = {"img%02d" % i: ["dog", "cat", "car"][i % 3] for i in range(12)}
    with open(os.path.join(root, "stimuli.csv"), "w") as f:
        f.write("stimulus_id,session,run,category,split,source\n")
        for i, s in enumerate(ids):
            f.write("%s,%d,%d,%s,%s,\"photo, %d\"\n" % (s, 1 + i // 15, 1 + i // 5, cats[s],
                                                        "test" if s in ("img00", "img05") else "train", i))
    with h5py.File(os.path.join(root, "responses.h5"), "w") as f:
        f.create_dataset("/data/betas", data=x.astype(np.float32))
        f.create_dataset("/data/names", data=np.array(["a", "b"], dtype="S"))
    with h5py.File(os.path.join(root, "two.h5"), "w") as f:
        f.create_dataset("a", data=x)
        f.create_dataset("b", data=x)
    with open(os.path.join(root, "dup.csv"), "w") as f:  # one matrix row short of responses.npy
        f.write("stimulus_id\n" + "\n".join(ids[:-1]) + "\n")
    write_npy(os.path.join(root, "roi_a.npy"), (np.arange(v) < 5).astype(np.bool_))


# ---------------------------------------------------------------------------------------------
def npy_variants(root):
    """numpy.lib.format files in every header version, byte order, dtype and memory order the reader
    supports. Values follow a formula the C++ test recomputes: base(c) for C index c."""
    for version in ((1, 0), (2, 0), (3, 0)):
        for order in "<>":
            for code in ("f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"):
                for fortran in (False, True):
                    for shape in ((2, 3, 4), (7,), ()):
                        c = np.arange(int(np.prod(shape))).reshape(shape)
                        if code[0] == "f":
                            a = c * 0.5 - 3.0
                        elif code[0] == "i":
                            a = c - 5
                        elif code[0] == "u":
                            a = c + 200
                        else:
                            a = c % 3 == 0
                        dtype = np.dtype(code).newbyteorder(order) if code[1] != "1" else np.dtype(code)
                        arr = np.asarray(a).astype(dtype)
                        if fortran:
                            arr = np.asfortranarray(arr)
                        name = "v%d_%s_%s_%s_%s.npy" % (version[0], "le" if order == "<" else "be", code,
                                                       "F" if fortran else "C", "x".join(map(str, shape)) or "scalar")
                        write_npy(os.path.join(root, name), arr, version=version)
    write_npy(os.path.join(root, "object.npy"), np.array({1: "V1"}))


def nifti_variants(root):
    """NIfTI-1 (.nii.gz, int16 with scl_slope/scl_inter) and NIfTI-2 (.nii, float64) volumes whose
    values follow v(i, j, k, t) = i + 10 j + 100 k + 1000 t; the C++ test recomputes them."""
    i, j, k, t = np.meshgrid(np.arange(3), np.arange(4), np.arange(5), np.arange(2), indexing="ij")
    v = i + 10 * j + 100 * k + 1000 * t
    write_nifti1(os.path.join(root, "scaled.nii.gz"), v.astype(np.int16), AFFINE, scl_slope=2.0, scl_inter=1.0)
    write_nifti2(os.path.join(root, "plain2.nii"), (v[..., 0] * 0.5).astype(np.float64), AFFINE)
    write_nifti1(os.path.join(root, "float.nii"), v.astype(np.float32), AFFINE)
    with open(os.path.join(root, "truncated.nii.gz"), "wb") as f:
        f.write(open(os.path.join(root, "scaled.nii.gz"), "rb").read()[:200])


def main():
    out = sys.argv[1]
    for name, fn in (("bold5000", bold5000), ("bold5000_v2", bold5000_v2), ("nsd", nsd), ("bdata", bdata),
                     ("algonauts", algonauts), ("generic", generic), ("npy", npy_variants), ("nifti", nifti_variants)):
        fn(mkdir(out, name))
    nsd(mkdir(out, "nsd_bad"), bad=True)


if __name__ == "__main__":
    main()
