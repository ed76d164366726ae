#!/usr/bin/python3
"""End-to-end tests of `deepvox import` on fixtures in each published layout, at 1, 2 and 4 ranks.

Usage: test_readers.py --deepvox BIN --mpiexec MPIEXEC --fixtures DIR --work DIR FORMAT
Every responses.h5 is compared with reference.py's independent expectations, the 1- and 2-rank files
must be bit-identical, and bad inputs must fail with a message naming the file and the problem.
"""
import argparse
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

import reference

ARGS = None
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg, flush=True)


def run_import(name, ranks, overrides):
    run_dir = os.path.join(ARGS.work, "%s_np%d" % (name, ranks))
    shutil.rmtree(run_dir, ignore_errors=True)
    cmd = [ARGS.mpiexec, "-n", str(ranks), "--oversubscribe", "--allow-run-as-root", "--bind-to", "none",
           ARGS.deepvox, "import", "--set", "run_dir=" + run_dir]
    for o in overrides:
        cmd += ["--set", o]
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    return p.returncode, p.stdout + p.stderr, os.path.join(run_dir, "responses.h5")


def declared(key):
    p = subprocess.run([ARGS.deepvox, "keys"], capture_output=True, text=True,
                       env=dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1"))
    ok = any(line.split(" ")[0] == key for line in p.stdout.splitlines())
    if not ok:
        fail("config key %s is not declared in src/core/schema/import.inc" % key)
    return ok


def decode(a):
    if a.dtype.kind in "SO":
        return [x.decode() if isinstance(x, bytes) else x for x in a.tolist()]
    return a


def compare(label, path, expected, exact):
    with h5py.File(path, "r") as f:
        for key, want in expected.items():
            if key.startswith("/"):
                if key not in f:
                    fail("%s: %s missing" % (label, key))
                    continue
                got = decode(f[key][()])
                if isinstance(want, list):
                    if list(got) != list(want):
                        fail("%s: %s differs (first: %s vs %s)" % (label, key, list(got)[:3], want[:3]))
                    continue
                want = np.asarray(want)
                if got.shape != want.shape:
                    fail("%s: %s shape %s, expected %s" % (label, key, got.shape, want.shape))
                elif got.dtype.kind == "f" and (not exact or key == "/responses"):  # means: summation order
                    if not np.allclose(got, want, rtol=1e-5, atol=2e-5):
                        fail("%s: %s max |diff| %g" % (label, key, np.abs(got - want).max()))
                elif not np.array_equal(got, want.astype(got.dtype)):
                    fail("%s: %s differs at %d entries" % (label, key, int(np.sum(got != want))))
            elif key == "rois":
                names = set(f["rois"].keys()) if "rois" in f else set()
                if names != set(want):
                    fail("%s: ROI names %s, expected %s" % (label, sorted(names ^ set(want)), "the reference's"))
                for n in set(want) & names:
                    if not np.array_equal(f["rois"][n][()], want[n]):
                        fail("%s: ROI %s differs" % (label, n))
            elif key == "affine":
                if not np.allclose(f["voxels/ijk"].attrs["affine"], want, atol=1e-4):
                    fail("%s: affine differs" % label)
        for k in ("/responses", "/trials/responses"):
            if k in f and not np.all(np.isfinite(f[k][()])):
                fail("%s: %s holds non-finite values" % (label, k))


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def same_file_contents(label, a, b):
    da, db = datasets(a), datasets(b)
    if set(da) != set(db):
        fail("%s: datasets differ: %s" % (label, sorted(set(da) ^ set(db))))
    for k in set(da) & set(db):
        x, y = np.asarray(da[k]), np.asarray(db[k])
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            fail("%s: /%s is not bit-identical" % (label, k))


def check_run(name, overrides, expected, exact=False, ranks=(1, 2, 4)):
    before = len(FAILURES)
    paths = []
    for n in ranks:
        rc, out, path = run_import(name, n, overrides)
        if rc != 0 or not os.path.exists(path):
            fail("%s at %d rank(s) exited %d:\n%s" % (name, n, rc, out[-3000:]))
            return None
        compare("%s np%d" % (name, n), path, expected, exact)
        paths.append(path)
    for n, path in zip(ranks[1:], paths[1:]):
        same_file_contents("%s np%d vs np%d" % (name, ranks[0], n), paths[0], path)
    if len(FAILURES) == before:
        print("ok: %s" % name, flush=True)
    return paths[0]


def check_error(name, overrides, needles, ranks=2):
    before = len(FAILURES)
    rc, out, path = run_import(name, ranks, overrides)
    if rc == 0:
        fail("%s: succeeded, expected an error mentioning %s" % (name, needles))
        return
    for n in needles:
        if n not in out:
            fail("%s: error output lacks %r:\n%s" % (name, n, out[-2000:]))
    if os.path.exists(path):
        fail("%s: a failed import left %s" % (name, path))
    if len(FAILURES) == before:
        print("ok: %s fails cleanly" % name, flush=True)


# ---------------------------------------------------------------------------------------------
def test_bold5000(fx):
    src = os.path.join(fx, "bold5000")
    path = check_run("bold5000", ["import.format=bold5000", "import.source=" + src, "import.subject=CSI1"],
                     reference.bold5000(fx), exact=True)
    if path:
        with h5py.File(path, "r") as f:
            if f["split/test"].shape[0] != 112 or f["stimulus_ids"].shape[0] != 4916:
                fail("bold5000: expected 4,916 images and a 112-image test set")
            manifest = f.attrs["stimulus_images"]
            manifest = manifest.decode() if isinstance(manifest, bytes) else manifest
            ids = [x.decode() for x in f["stimulus_ids"][()]]
            paths = [x.decode() for x in f["stimulus_paths"][()]]
        lines = open(manifest).read().splitlines()
        if len(lines) != 4917 or lines[0] != "stimulus_id,path,category":
            fail("bold5000: the manifest has %d lines" % len(lines))
        if not all(p.endswith("/" + i) and os.path.exists(p) for i, p in zip(ids, paths)):
            fail("bold5000: stimulus_paths do not point at the Presented_Stimuli files")
    check_error("bold5000_short", ["import.format=bold5000", "import.source=" + src, "import.subject=CSI2"],
                ["CSI2_ROIs_TR34.h5", "10 x 3", "lists 12 trials"])
    check_error("bold5000_tr", ["import.format=bold5000", "import.source=" + src, "import.subject=CSI1",
                                "import.tr=TR9"], ["import.tr", "TR9"])
    check_error("bold5000_no_subject", ["import.format=bold5000", "import.source=" + src],
                ["import.subject must be set", "CSI1, CSI2"])
    check_error("bold5000_subject", ["import.format=bold5000", "import.source=" + src, "import.subject=CSI3"],
                ["CSI3_ROIs_TR34.h5", "cannot find"])


def test_bold5000_v2(fx):
    src = os.path.join(fx, "bold5000_v2")
    base = ["import.format=bold5000_v2", "import.source=" + src, "import.subject=CSI1"]
    rois = declared("import.rois")
    extra = ["import.rois=[%s]" % os.path.join(src, "BOLD5000_GLMsingle_betas/CSI1_mask-LHPPA.nii.gz")] if rois else []
    check_run("bold5000_v2", base + extra, reference.bold5000_v2(fx, rois))
    check_error("bold5000_v2_betas", base + ["import.betas=TYPEA-ASSUMEHRF"],
                ["CSI1_GLMbetas-TYPEA-ASSUMEHRF_ses-NN.nii.gz", src])


def test_nsd(fx):
    base = ["import.format=nsd", "import.subject=subj01"]
    path = check_run("nsd", base + ["import.source=" + os.path.join(fx, "nsd")], reference.nsd(fx))
    if path:
        with h5py.File(path, "r") as f:
            brick = f.attrs["stimulus_images"]
            brick = brick.decode() if isinstance(brick, bytes) else brick
            if not brick.endswith("nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"):
                fail("nsd: stimulus_images is %s" % brick)
            if f.attrs["zscore"] not in ("session", b"session"):
                fail("nsd: zscore default is not session")
            if f["voxels/valid"][()].sum() != f["voxels/valid"].shape[0] - 1:
                fail("nsd: exactly the constant voxel should be invalid")
    if declared("import.session_list") and declared("import.rois"):
        # import.subject unset: the only subject in the download (subj01) is used.
        check_run("nsd_subset", base[:1] + ["import.source=" + os.path.join(fx, "nsd"), "import.session_list=[3, 1]",
                                        "import.rois=[prf-visualrois]"],
                  reference.nsd(fx, sessions=(1, 3), roi_files=("prf-visualrois",)), ranks=(2,))
    check_error("nsd_bad", base + ["import.source=" + os.path.join(fx, "nsd_bad")],
                ["betas_session02.hdf5", "749 trials", "750"])
    check_error("nsd_subject", base[:1] + ["import.subject=subj09", "import.source=" + os.path.join(fx, "nsd")],
                ["import.subject", "subj09"])


def test_bdata(fx):
    expected = reference.bdata(fx)
    new = check_run("bdata", ["import.format=bdata", "import.source=" + os.path.join(fx, "bdata/bdata_new.h5")],
                    expected, exact=True)
    for variant in ("old", "matlab"):
        other = check_run("bdata_" + variant, ["import.format=bdata", "import.source=" +
                                               os.path.join(fx, "bdata/bdata_%s.h5" % variant)], expected,
                          exact=True, ranks=(1,))
        if new and other:
            same_file_contents("bdata new vs " + variant, new, other)
    check_error("bdata_broken", ["import.format=bdata", "import.source=" + os.path.join(fx, "bdata/bdata_broken.h5")],
                ["bdata_broken.h5", "/metadata has no 'value'"])


def test_algonauts(fx):
    src = os.path.join(fx, "algonauts")
    base = ["import.format=algonauts", "import.source=" + src, "import.subject=subj01"]
    expected = reference.algonauts(fx, {})
    path = check_run("algonauts", base, expected, exact=True)
    if path:
        with h5py.File(path, "r") as f:
            ids = [x.decode() for x in f["stimulus_ids"][()]]
            train, test = f["split/train"][()], f["split/test"][()]
        if ids[0] != "nsd-00013":  # train-0001_nsd-00012.png: NSD index 12 from 0 is 73KID 13
            fail("algonauts: first id %s" % ids[0])
        if len(test) != 4 or sorted(np.r_[train, test].tolist()) != list(range(40)):
            fail("algonauts: seeded split is not 4 test / 36 train over 40 images")
        manifest = os.path.join(os.path.dirname(path), "stimuli", "manifest.csv")
        rows = open(manifest).read().splitlines()[1:]
        if [r.split(",")[1] for r in rows] != expected["paths"]:
            fail("algonauts: the manifest does not list the training images in row order")
    mapped = reference.algonauts(fx, {"custom": {1: "blob_a", 2: "blob_b"}})
    check_run("algonauts_roi_map", base + ["import.roi_map=" + os.path.join(src, "roi_map.yaml")],
              {"rois": mapped["rois"]}, ranks=(1,))


def test_generic(fx):
    src = os.path.join(fx, "generic")
    base = ["import.format=generic", "import.stimuli=" + os.path.join(src, "stimuli.csv")]
    check_run("generic", base + ["import.source=" + os.path.join(src, "responses.npy")],
              reference.generic(fx, False), exact=True)
    check_run("generic_zscore", base + ["import.source=" + os.path.join(src, "responses.npy"), "import.zscore=session"],
              reference.generic(fx, True), ranks=(2,))
    check_run("generic_h5", base + ["import.source=" + os.path.join(src, "responses.h5")],
              reference.generic(fx, False), exact=True, ranks=(1,))
    if declared("import.rois"):
        check_run("generic_rois", base + ["import.source=" + os.path.join(src, "responses.npy"),
                                          "import.rois=[area_a=%s]" % os.path.join(src, "roi_a.npy")],
                  {"rois": {"area_a": (np.arange(12) < 5).astype(np.uint8)}}, ranks=(1,))
    if declared("import.dataset") and declared("import.transpose"):
        expected = reference.generic(fx, False)
        check_run("generic_dataset", base + ["import.source=" + os.path.join(src, "two.h5"), "import.dataset=b"],
                  {k: expected[k] for k in ("/stimulus_ids", "/trials/responses")}, exact=True, ranks=(1,))
        check_error("generic_transpose", base + ["import.source=" + os.path.join(src, "responses.npy"),
                                                 "import.transpose=true"], ["responses.npy has 12 rows", "lists 30"])
    check_error("generic_two", base + ["import.source=" + os.path.join(src, "two.h5")],
                ["two.h5", "2 2-D datasets", "import.dataset"])
    check_error("generic_rows", ["import.format=generic", "import.source=" + os.path.join(src, "responses.npy"),
                                 "import.stimuli=" + os.path.join(src, "dup.csv")],
                ["responses.npy has 30 rows", "dup.csv lists 29"])
    check_error("generic_missing", base + ["import.source=" + os.path.join(src, "nope.npy")], ["nope.npy"])


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--deepvox", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("format")
    ARGS = ap.parse_args()
    os.makedirs(ARGS.work, exist_ok=True)
    globals()["test_" + ARGS.format](ARGS.fixtures)
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        sys.exit(1)


if __name__ == "__main__":
    main()
