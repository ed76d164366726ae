#!/usr/bin/python3
"""Renders the analysis report on a planted run directory and checks what it shows.

  test_report.py SCRATCH_DIR            checks on a planted run directory
  test_report.py SCRATCH_DIR RUN_DIR    renders a real run (the ci reference run)
Checks: every figure is a real PNG referenced by the HTML; the per-ROI medians and the lambda-edge shares
in the report equal the planted values; the NIfTI maps read back through nifti_clib (Debian's libniftiio,
an independent reader) with the right grid, affine (sform and qform) and voxel values; a rotated affine
survives the qform quaternion; an empty run directory gives a report with no figures. With RUN_DIR (a real
ci run), the report is rendered from the pipeline's own files instead."""
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REPORT = os.path.join(ROOT, "analysis", "report.py")
sys.path.insert(0, os.path.join(ROOT, "analysis"))
from nifti import read_nifti, write_nifti  # noqa: E402

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def libnifti_header(path):
    """Header fields as libniftiio parses them ({name: text})."""
    lib = ctypes.CDLL("libniftiio.so.2")
    lib.nifti_image_read.restype = ctypes.c_void_p
    lib.nifti_image_read.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.nifti_image_to_ascii.restype = ctypes.c_void_p
    lib.nifti_image_to_ascii.argtypes = [ctypes.c_void_p]
    lib.nifti_image_free.argtypes = [ctypes.c_void_p]
    nim = lib.nifti_image_read(path.encode(), 0)
    if not nim:
        raise RuntimeError(f"libniftiio cannot read {path}")
    text = ctypes.cast(lib.nifti_image_to_ascii(nim), ctypes.c_char_p).value.decode()
    lib.nifti_image_free(nim)
    return dict(re.findall(r"^\s*(\S+(?: matrix)?) = '([^']*)'", text, flags=re.M))


def matrix(text):
    return np.array([float(v) for v in text.split()]).reshape(4, 4)


def run_report(run_dir, *extra):
    out = subprocess.run([sys.executable, REPORT, run_dir, *extra], capture_output=True, text=True)
    print(out.stdout.strip(), out.stderr.strip()[-2000:])
    return out


def planted_checks(scratch):
    run_dir = os.path.join(scratch, "planted")
    shutil.rmtree(run_dir, ignore_errors=True)
    made = subprocess.run([sys.executable, os.path.join(HERE, "make_run_dir.py"), run_dir],
                          capture_output=True, text=True, check=True)
    planted = json.loads(made.stdout)
    check(run_report(run_dir).returncode == 0, "report.py renders the planted run directory")
    out = os.path.join(run_dir, "report")
    html = open(os.path.join(out, "report.html")).read()
    expected = [
        "scores_per_roi", "layer_preference", "lambda_histogram", "nifti_preview", "synthetic_repetition",
        "decoding_accuracy", "decoding_learning_curves", "decoding_confusion", "maximize_grid",
        "reconstruction_grid", "explain_panels", "scaling_extract"]
    for name in expected:
        path = os.path.join(out, name + ".png")
        ok = os.path.isfile(path) and os.path.getsize(path) > 5000
        ok = ok and open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
        check(ok and f"src='{name}.png'" in html, f"{name}.png is a PNG in the report")
    for roi, median in planted["roi_median_test_r"].items():
        check(f"<td>{roi}</td><td>" in html and f"<td>{median:.3f}</td>" in html,
              f"report table shows the planted median test r of {roi} ({median:.3f})")
    check(f"{planted['lambda_at_min_pct']:.1f}% / {planted['lambda_at_max_pct']:.1f}%" in html,
          "lambda caption reports the planted shares at the grid edges (10.0% / 15.0%)")

    # NIfTI maps against libniftiio and the planted voxels.
    nii = os.path.join(out, "nifti", "test_r.nii")
    header = libnifti_header(nii)
    with h5py.File(os.path.join(run_dir, "responses.h5"), "r") as f:
        ijk, affine = f["voxels/ijk"][()], f["voxels/ijk"].attrs["affine"]
    with h5py.File(os.path.join(run_dir, "model.h5"), "r") as f:
        test_r = f["voxels/test_r"][()]
    shape = tuple(int(header[k]) for k in ("nx", "ny", "nz"))
    check(shape == tuple(planted["shape"]), f"libniftiio reads grid {shape}")
    check(header["datatype_name"] == "FLOAT32" and header["nifti_type"] == "NIFTI-1+",
          "float32 single-file NIfTI-1")
    check(np.allclose(matrix(header["sto_xyz_matrix"]), affine), "libniftiio sform equals /voxels/ijk affine")
    check(np.allclose(matrix(header["qto_xyz_matrix"]), affine, atol=1e-5),
          "libniftiio qform equals the affine")
    raw = np.fromfile(nii, dtype="<f4", offset=int(header["image_offset"])).reshape(shape, order="F")
    check(np.array_equal(raw[ijk[:, 0], ijk[:, 1], ijk[:, 2]], test_r), "voxel values sit at their ijk")
    mask = np.zeros(shape, bool)
    mask[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = True
    check(np.all(raw[~mask] == 0), "zero outside the voxel set")
    try:
        import nibabel  # optional second reader (python3-nibabel)

        img = nibabel.load(nii)
        check(np.allclose(img.affine, affine) and np.array_equal(np.asarray(img.dataobj), raw),
              "nibabel agrees")
    except ImportError:
        print("skip nibabel cross-check (python3-nibabel not installed)")

    # A rotated, oblique affine with a flip: the qform quaternion must reproduce it.
    angle = np.deg2rad(17.0)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    rot = rot @ np.array([[1, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]])
    # Both branches of the quaternion code: a mirrored grid (qfac -1, like LAS) and a plain rotation.
    for flip in (-1.8, 1.8):
        oblique = np.eye(4)
        oblique[:3, :3] = rot @ np.diag([flip, 1.8, 2.2])
        oblique[:3, 3] = [80.5, -110.25, -60.0]
        path = os.path.join(scratch, "oblique.nii")
        volume = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
        write_nifti(path, volume, oblique)
        h = libnifti_header(path)
        check(np.allclose(matrix(h["qto_xyz_matrix"]), oblique, atol=1e-4),
              f"oblique affine (x spacing {flip}) survives the qform")
        back, back_affine = read_nifti(path)
        check(np.array_equal(back, volume) and np.allclose(back_affine, oblique, atol=1e-4),
              "read_nifti round trip")

    # Figures only when their inputs exist: responses.h5 alone gives none.
    empty = os.path.join(scratch, "only_responses")
    shutil.rmtree(empty, ignore_errors=True)
    os.makedirs(empty)
    shutil.copy(os.path.join(run_dir, "responses.h5"), empty)
    result = run_report(empty)
    check(result.returncode == 0 and "report: 0 figures" in result.stdout, "no inputs, no figures")
    bad = run_report(os.path.join(scratch, "does_not_exist"))
    check(bad.returncode != 0 and "does not exist" in bad.stderr,
          "a missing run directory is named in the error")


def real_run_checks(run_dir, scratch):
    out = os.path.join(scratch, "real_report")
    result = run_report(run_dir, "--out", out)
    check(result.returncode == 0, f"report.py renders the ci run {run_dir}")
    if not os.path.isfile(os.path.join(run_dir, "model.h5")):
        print("the ci run has no model.h5 (fit not built): only the report page is checked")
        return
    for name in ("scores_per_roi", "lambda_histogram"):
        check(os.path.isfile(os.path.join(out, name + ".png")), f"ci run: {name}.png")
    with h5py.File(os.path.join(run_dir, "responses.h5"), "r") as f:
        has_grid = "voxels/ijk" in f
    if has_grid:
        check(os.path.isfile(os.path.join(out, "nifti", "test_r.nii")), "ci run: NIfTI map of test r")


def main():
    scratch = sys.argv[1]
    os.makedirs(scratch, exist_ok=True)
    if len(sys.argv) > 2:
        if not os.path.isfile(os.path.join(sys.argv[2], "responses.h5")):
            print(f"SKIP: no ci run in {sys.argv[2]}")
            return 77
        real_run_checks(sys.argv[2], scratch)
    else:
        planted_checks(scratch)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all report checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
