"""Byte-level writers shared by the fixture scripts: NIfTI-1/NIfTI-2 and .npy variants.

NIfTI is written by hand from the format definitions (nifti1.h / nifti2.h of the NIfTI DFWG,
https://nifti.nimh.nih.gov/nifti-1 and https://nifti.nimh.nih.gov/nifti-2) so the C++ reader, which
uses libnifti2, is checked against an independent writer; nibabel is not a Debian dependency here.
"""
import gzip
import struct

import numpy as np

NIFTI_CODES = {np.dtype("uint8"): (2, 8), np.dtype("int16"): (4, 16), np.dtype("int32"): (8, 32),
               np.dtype("float32"): (16, 32), np.dtype("float64"): (64, 64)}


def _affine_rows(affine):
    a = np.asarray(affine, dtype=np.float64)
    return [float(x) for x in a[0]], [float(x) for x in a[1]], [float(x) for x in a[2]]


def write_nifti1(path, data, affine, scl_slope=0.0, scl_inter=0.0):
    """data is indexed [x, y, z(, t)] and stored x fastest (NIfTI order)."""
    data = np.asarray(data)
    datatype, bitpix = NIFTI_CODES[data.dtype]
    dim = [data.ndim] + list(data.shape) + [1] * (7 - data.ndim)
    sx, sy, sz = _affine_rows(affine)
    fmt = "<i10s18sihcc8h3f4h8ffffhccffffii80s24shh6f4f4f4f16s4s"
    assert struct.calcsize(fmt) == 348
    hdr = struct.pack(fmt, 348, b"", b"", 0, 0, b"r", b"\0", *dim, 0.0, 0.0, 0.0, 0, datatype, bitpix, 0,
                      1.0, 1.8, 1.8, 1.8, 1.0, 1.0, 1.0, 1.0, 352.0, scl_slope, scl_inter, 0, b"\0", b"\x0a",
                      0.0, 0.0, 0.0, 0.0, 0, 0, b"deepvox fixture", b"", 0, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                      *sx, *sy, *sz, b"", b"n+1\0")
    payload = hdr + b"\0\0\0\0" + np.asfortranarray(data).tobytes(order="F")
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


def write_nifti2(path, data, affine):
    data = np.asarray(data)
    datatype, bitpix = NIFTI_CODES[data.dtype]
    dim = [data.ndim] + list(data.shape) + [1] * (7 - data.ndim)
    sx, sy, sz = _affine_rows(affine)
    fmt = "<i8shh8q3d8dq6d2q80s24sii6d4d4d4d3i16sc15s"
    assert struct.calcsize(fmt) == 540
    hdr = struct.pack(fmt, 540, b"n+2\0\r\n\x1a\n", datatype, bitpix, *dim, 0.0, 0.0, 0.0,
                      1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 544, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0,
                      b"deepvox fixture", b"", 0, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, *sx, *sy, *sz,
                      0, 10, 0, b"", b"\0", b"")
    payload = hdr + b"\0\0\0\0" + np.asfortranarray(data).tobytes(order="F")
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


def write_npy(path, array, version=None):
    """numpy's own writer (numpy.lib.format), with an explicit header version when asked."""
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version, allow_pickle=array.dtype == object)
