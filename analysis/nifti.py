"""NIfTI-1 single-file (.nii) writer with numpy only: a 348-byte header, 4 bytes of (no) extension, data.

Debian 12 packages nibabel, but the pipeline's setup does not install it, so the maps are written by hand
following the NIfTI-1 standard (nifti1.h): float32 data in Fortran (x fastest) order, the voxel-to-world
affine in both the sform (exact) and the qform (its rigid part as a quaternion, for viewers that read only
the qform).
"""
import struct

import numpy as np

HEADER_FORMAT = "<i10s18sihcb8h3f4h8f3fh2B2f2f2i80s24s2h6f4f4f4f16s4s"
NIFTI_FLOAT32 = 16
XFORM_SCANNER_ANAT = 1
UNITS_MM = 2


def _quaternion(affine):
    """qform parameters (b, c, d, qfac, pixdim) of the rotation part of a 4x4 affine (nifti1_io's method)."""
    m = np.asarray(affine, dtype=np.float64)[:3, :3]
    pixdim = np.sqrt((m * m).sum(axis=0))
    pixdim[pixdim == 0] = 1.0
    r = m / pixdim
    # Nearest orthonormal matrix (the sform may carry shear the qform cannot).
    u, _, vt = np.linalg.svd(r)
    r = u @ vt
    qfac = 1.0
    if np.linalg.det(r) < 0:
        qfac = -1.0
        r[:, 2] = -r[:, 2]
    a = 1.0 + r[0, 0] + r[1, 1] + r[2, 2]
    if a > 0.5:
        a = 0.5 * np.sqrt(a)
        b = 0.25 * (r[2, 1] - r[1, 2]) / a
        c = 0.25 * (r[0, 2] - r[2, 0]) / a
        d = 0.25 * (r[1, 0] - r[0, 1]) / a
    else:
        xd = 1.0 + r[0, 0] - (r[1, 1] + r[2, 2])
        yd = 1.0 + r[1, 1] - (r[0, 0] + r[2, 2])
        zd = 1.0 + r[2, 2] - (r[0, 0] + r[1, 1])
        if xd > 1.0:
            b = 0.5 * np.sqrt(xd)
            c = 0.25 * (r[0, 1] + r[1, 0]) / b
            d = 0.25 * (r[0, 2] + r[2, 0]) / b
            a = 0.25 * (r[2, 1] - r[1, 2]) / b
        elif yd > 1.0:
            c = 0.5 * np.sqrt(yd)
            b = 0.25 * (r[0, 1] + r[1, 0]) / c
            d = 0.25 * (r[1, 2] + r[2, 1]) / c
            a = 0.25 * (r[0, 2] - r[2, 0]) / c
        else:
            d = 0.5 * np.sqrt(zd)
            b = 0.25 * (r[0, 2] + r[2, 0]) / d
            c = 0.25 * (r[1, 2] + r[2, 1]) / d
            a = 0.25 * (r[1, 0] - r[0, 1]) / d
        if a < 0.0:
            b, c, d = -b, -c, -d
    return b, c, d, qfac, pixdim


def write_nifti(path, volume, affine, description=""):
    """Writes a 3-D float volume [X, Y, Z] (index order i, j, k) with its 4x4 affine as NIfTI-1."""
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != 3:
        raise ValueError(f"{path}: NIfTI maps are 3-D, got shape {volume.shape}")
    affine = np.asarray(affine, dtype=np.float64).reshape(4, 4)
    b, c, d, qfac, pixdim = _quaternion(affine)
    finite = volume[np.isfinite(volume)]
    cal_min, cal_max = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    dims = (3, *volume.shape, 1, 1, 1, 1)
    header = struct.pack(
        HEADER_FORMAT,
        348, b"", b"", 0, 0, b"r", 0,
        *dims,
        0.0, 0.0, 0.0,  # intent_p1..3
        0, NIFTI_FLOAT32, 32, 0,  # intent_code, datatype, bitpix, slice_start
        qfac, *pixdim, 0.0, 0.0, 0.0, 0.0,  # pixdim[0] holds qfac
        352.0, 1.0, 0.0,  # vox_offset, scl_slope, scl_inter
        0, 0, UNITS_MM,  # slice_end, slice_code, xyzt_units
        cal_max, cal_min, 0.0, 0.0,  # cal_max, cal_min, slice_duration, toffset
        0, 0,  # glmax, glmin
        description.encode("ascii", "replace")[:79], b"",
        XFORM_SCANNER_ANAT, XFORM_SCANNER_ANAT,  # qform_code, sform_code
        b, c, d, *affine[:3, 3],
        *affine[0], *affine[1], *affine[2],
        b"", b"n+1\0",
    )
    assert len(header) == 348
    with open(path, "wb") as fh:
        fh.write(header)
        fh.write(b"\0\0\0\0")  # no extensions
        fh.write(volume.tobytes(order="F"))


def read_nifti(path):
    """Reads back what write_nifti writes (float32 NIfTI-1): (volume [X, Y, Z], sform affine 4x4)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    fields = struct.unpack(HEADER_FORMAT, raw[:348])
    if fields[0] != 348 or fields[-1] != b"n+1\0":
        raise ValueError(f"{path}: not a single-file NIfTI-1")
    dims = fields[7:15]
    shape = tuple(dims[1 : 1 + dims[0]])
    offset = int(fields[30])  # vox_offset
    data = np.frombuffer(raw, dtype="<f4", count=int(np.prod(shape)), offset=offset)
    srow = np.frombuffer(raw[280:328], dtype="<f4").reshape(3, 4)
    affine = np.vstack([srow, [0, 0, 0, 1]]).astype(np.float64)
    return data.reshape(shape, order="F"), affine


def volume_from_voxels(values, ijk, shape=None, fill=np.nan):
    """Scatters per-voxel values [V] into a volume at positions ijk [V, 3] (grid shape: given or max+1)."""
    ijk = np.asarray(ijk, dtype=np.int64)
    if shape is None:
        shape = tuple(int(s) for s in ijk.max(axis=0) + 1)
    volume = np.full(shape, fill, dtype=np.float32)
    volume[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = values
    return volume
