#!/usr/bin/env python3
"""Writes a Keras HDF5 weight file, in the layout of keras.applications' published files
(e.g. inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5), from a TF.js layers model.

  write_keras_h5.py MODEL_DIR OUT.h5

Layout (Keras 2 hdf5_format.save_weights_to_hdf5_group): root attrs layer_names (byte strings), backend,
keras_version; one group per layer with attr weight_names (byte strings, an empty float array for layers
without weights) and datasets <layer>/<layer>/<param>:0 in Keras layout. Only the convolutional base is
written (no Dense head), as in a *_notop.h5 file. Tensors are the TF.js ones, dequantized (q*scale+min).
"""
import json
import os
import sys

import h5py
import numpy as np

BYTES = {"uint8": 1, "uint16": 2, "float16": 2, "float32": 4, "int32": 4}
HEAD = {"Dense", "Dropout", "Flatten"}
# Keras's per-layer weight order.
ORDER = ["kernel", "depthwise_kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"]


def read_tfjs(model_dir):
    with open(os.path.join(model_dir, "model.json")) as f:
        model = json.load(f)
    tensors = {}
    for group in model["weightsManifest"]:
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            n = int(np.prod(spec["shape"]))
            q = spec.get("quantization")
            dtype = q["dtype"] if q else spec["dtype"]
            raw = np.frombuffer(buf, dtype=np.dtype(dtype).newbyteorder("<"), count=n, offset=offset)
            offset += n * BYTES[dtype]
            if q and dtype != "float16":
                values = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                values = raw.astype(np.float32)
            tensors[spec["name"]] = values.reshape(spec["shape"])
    return model["modelTopology"], tensors


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    topology, tensors = read_tfjs(model_dir)
    config = topology["model_config"]["config"] if "model_config" in topology else topology["config"]
    layers = [l for l in config["layers"] if l["class_name"] not in HEAD]
    with h5py.File(out, "w") as f:
        # Keras stores name lists as fixed-length byte strings (numpy "S"); the reader takes vlen ones too.
        f.attrs["layer_names"] = np.array([l["name"].encode("utf8") for l in layers], dtype="S")
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in layers:
            name = layer["name"]
            params = sorted((k.split("/", 1)[1] for k in tensors if k.split("/", 1)[0] == name), key=ORDER.index)
            g = f.create_group(name)
            weight_names = [f"{name}/{p}:0".encode("utf8") for p in params]
            g.attrs["weight_names"] = np.array(weight_names, dtype="S") if weight_names else np.zeros((0,))
            for p, wn in zip(params, weight_names):
                g.create_dataset(wn.decode(), data=tensors[f"{name}/{p}"])
    print(f"{out}: {len(layers)} layers, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
