#!/usr/bin/python3
"""The `deepvox maximize` objective written in PyTorch-Python: the benchmark baseline and the test reference.

It reads the same run_dir files (features.h5, model.h5, responses.h5), rebuilds the same image -> pooled
features -> folded ridge readout map, and runs the same optimization: Fourier (1/f) or pixel
parameterization with decorrelated colour (Olah et al. 2017, "Feature Visualization", Distill; Lucid's
recipe), the same seeded robustness views (affine_grid + grid_sample, with the same SplitMix64 streams),
torch.optim.Adam with the same learning-rate schedule, the same penalties, and targets cut into the same
chunks (targets_per_pass targets x restarts images per forward/backward pass). Given the same settings it
reproduces deepvox's trajectories to float rounding (tests/maximize checks it).

  /usr/bin/python3 bench/maximize/maximize_torch.py --run-dir runs/bench --output py.h5 --targets rois \
      --steps 20 [--channels-last] [--eager]

--eager rebuilds the network as an eager nn.Module (bench/maximize/tap_models.py) from the TorchScript
file's weights, when the file was written by bench/maximize/export_tap_model.py; otherwise the TorchScript
module runs as loaded. Needs Debian's python3-torch and python3-h5py (run with /usr/bin/python3).
"""
import argparse
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

M64 = (1 << 64) - 1
COLOUR_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
FOURIER_DIVISOR = 4.0
GREY = 0.5


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def stream_seed(seed, target, restart, step=-1):
    h = splitmix64((seed ^ 0x6D6178696D697A65) & M64)
    h = splitmix64(h ^ (target & M64))
    h = splitmix64(h ^ (restart & M64))
    return splitmix64(h ^ ((step + 1) & M64))


def uniform01(stream, draw):
    return (splitmix64(stream ^ splitmix64(draw)) >> 11) * 2.0 ** -53


def strings(ds):
    return [s.decode() if isinstance(s, bytes) else str(s) for s in ds[()]]


# ---------------------------------------------------------------- targets (maximize/targets.cpp)
def expand_targets(specs, roi_names, roi_masks, valid, test_r, contrast_weight):
    n_vox = len(valid)

    def roi_voxels(name):
        if name not in roi_names:
            raise SystemExit(f"unknown ROI {name!r}")
        mask = roi_masks[roi_names.index(name)]
        return [v for v in range(n_vox) if mask[v] and valid[v]]

    out = []
    for spec in specs:
        parts = spec.split(":")
        kind = parts[0]
        if kind == "rois":
            for name in roi_names:
                vox = roi_voxels(name)
                out.append((f"roi:{name}", {v: 1.0 / len(vox) for v in vox}))
        elif kind == "roi":
            vox = roi_voxels(parts[1])
            out.append((spec, {v: 1.0 / len(vox) for v in vox}))
        elif kind == "weighted":
            vox = [v for v in roi_voxels(parts[1]) if np.isfinite(test_r[v]) and test_r[v] > 0]
            total = sum(float(test_r[v]) for v in vox)
            out.append((spec, {v: float(test_r[v]) / total for v in vox}))
        elif kind == "voxel":
            out.append((spec, {int(parts[1]): 1.0}))
        elif kind == "top":
            vox = [v for v in roi_voxels(parts[1]) if np.isfinite(test_r[v])]
            vox = sorted(vox, key=lambda v: -float(test_r[v]))  # stable: ties keep index order
            for k in range(int(parts[2])):
                out.append((f"{parts[1]} #{k + 1} (voxel {vox[k]})", {vox[k]: 1.0}))
        elif kind == "contrast":
            a, b = roi_voxels(parts[1]), roi_voxels(parts[2])
            c = {}
            for v in a:
                c[v] = c.get(v, 0.0) + 1.0 / len(a)
            for v in b:
                c[v] = c.get(v, 0.0) - contrast_weight / len(b)
            out.append((f"contrast:{parts[1]}-{parts[2]}", dict(sorted(c.items()))))
        else:
            raise SystemExit(f"bad target {spec!r}")
    return out


# ---------------------------------------------------------------- readout (maximize/readout.cpp)
def fold_model(model_path, targets):
    with h5py.File(model_path, "r") as f:
        layers = strings(f["layers/names"])
        offset = f["layers/offset"][()]
        w = f["weights"][()]
        intercept = f["intercept"][()].astype(np.float64)
        mean = f["features/mean"][()].astype(np.float64)
        scale = f["features/scale"][()].astype(np.float64)
    T = len(targets)
    a = np.zeros((w.shape[0], T))
    bias = np.zeros(T)
    for t, (_, coef) in enumerate(targets):
        vox = np.array(sorted(coef), dtype=np.int64)
        c = np.array([coef[v] for v in vox])
        acc = w[:, vox].astype(np.float64) @ c
        a[:, t] = np.where(scale != 0, acc / np.where(scale != 0, scale, 1), 0.0)
    a32 = a.astype(np.float32)
    for t, (_, coef) in enumerate(targets):
        vox = np.array(sorted(coef), dtype=np.int64)
        bias[t] = intercept[vox] @ np.array([coef[v] for v in vox]) - mean @ a32[:, t].astype(np.float64)
    return layers, list(np.diff(offset)), a32, bias


# ---------------------------------------------------------------- network and pooling (extract/*)
class FeatureModel:
    def __init__(self, features_path, layers, eager, channels_last):
        with h5py.File(features_path, "r") as f:
            network = f.attrs["network"]
            network = network.decode() if isinstance(network, bytes) else str(network)
            weights = f.attrs["weights"]
            weights = weights.decode() if isinstance(weights, bytes) else str(weights)
            self.input_size = int(f.attrs["input_size"])
            norm = f.attrs["normalization"]
            self.norm = norm.decode() if isinstance(norm, bytes) else str(norm)
            self.plans = []
            for layer in layers:
                d = f["features/" + layer]
                pooling = d.attrs["pooling"]
                pooling = pooling.decode() if isinstance(pooling, bytes) else str(pooling)
                if "projection" in pooling:
                    raise SystemExit(f"layer {layer}: random projections are not reimplemented here")
                self.plans.append((layer, pooling, [int(s) for s in d.attrs["pooled_shape"]]))
        if network != "torchscript":
            raise SystemExit(f"network {network}: only torchscript models are shared with Python")
        scripted = torch.jit.load(weights)
        self.net = scripted
        if eager:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import tap_models
            self.net = tap_models.eager_from_scripted(scripted)
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        self.std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def normalize(self, rgb255):
        if self.norm == "keras":
            return rgb255 / 127.5 - 1.0
        if self.norm == "raw":
            return rgb255 / 255.0
        return (rgb255 / 255.0 - self.mean) / self.std

    def features(self, x):
        taps = self.net(x)
        parts = []
        for layer, pooling, shape in self.plans:
            a = taps[layer]
            if pooling.startswith("adaptive_avg"):
                a = F.adaptive_avg_pool2d(a, (shape[1], shape[2]))
            elif pooling.startswith("adaptive_max"):
                a = F.adaptive_max_pool2d(a, (shape[1], shape[2]))
            parts.append(a.contiguous().reshape(a.shape[0], -1).float())
        return torch.cat(parts, 1)


# ---------------------------------------------------------------- image parameterization
class ImageParam:
    def __init__(self, kind, decorrelate, decay_power, size):
        self.kind, self.decorrelate, self.size = kind, decorrelate, size
        fy = np.fft.fftfreq(size)[:, None]
        fx = np.fft.fftfreq(size)[: size // 2 + 1].copy()
        if size % 2 == 0:
            fx[-1] = 0.5
        freq = np.sqrt(fx[None, :] ** 2 + fy ** 2)
        scale = 1.0 / np.maximum(freq, 1.0 / size) ** decay_power
        self.scale = torch.tensor(scale.astype(np.float32)).view(size, size // 2 + 1, 1)
        cs = COLOUR_SQRT.astype(np.float64)
        max_norm = np.max(np.sqrt((cs ** 2).sum(0)))
        self.colour = torch.tensor((cs / max_norm).astype(np.float32))

    def shape(self, n):
        if self.kind == "fourier":
            return (n, 3, self.size, self.size // 2 + 1, 2)
        return (n, 3, self.size, self.size)

    def noise(self, seeds, sd):
        return torch.cat([torch.randn(self.shape(1), generator=torch.Generator().manual_seed(s)) * sd for s in seeds])

    def to_rgb(self, p):
        if self.kind == "fourier":
            t = torch.fft.irfft2(torch.view_as_complex(p * self.scale), s=(self.size, self.size), dim=(-2, -1),
                                 norm="ortho") / FOURIER_DIVISOR
        else:
            t = p
        if self.decorrelate:
            t = torch.einsum("ij,bjhw->bihw", self.colour, t)
        return torch.sigmoid(t)


def resize_to(x, out):
    s = x.shape[-1]
    if s == out:
        return x
    if s < out:
        return F.interpolate(x, size=(out, out), mode="bilinear", align_corners=False)
    return F.interpolate(x, size=(out, out), mode="bilinear", align_corners=False, antialias=True)


def draw_view(a, stream):
    if not a.transforms:
        return (1.0, 0.0, 0.0, 0.0)
    scale = a.scale_low + (a.scale_high - a.scale_low) * uniform01(stream, 0)
    angle = (2 * uniform01(stream, 1) - 1) * a.rotate * math.pi / 180.0
    dx = (2 * uniform01(stream, 2) - 1) * a.jitter
    dy = (2 * uniform01(stream, 3) - 1) * a.jitter
    return (scale, angle, dx, dy)


def apply_views(rgb, views, pad, out):
    b, s = rgb.shape[0], rgb.shape[-1]
    span = (s + 2 * pad) / s
    theta = []
    for scale, angle, dx, dy in views:
        k = span / scale
        c, sn = math.cos(angle) * k, math.sin(angle) * k
        theta += [c, -sn, 2 * dx / s, sn, c, 2 * dy / s]
    theta = torch.tensor(theta, dtype=torch.float32).view(b, 2, 3)
    sample = out if s <= out else s
    grid = F.affine_grid(theta, [b, 3, sample, sample], align_corners=False)
    seen = F.grid_sample(rgb - GREY, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + GREY
    return resize_to(seen, out)


def learning_rate(a, step):
    t = step / (a.steps - 1) if a.steps > 1 else 0.0
    if a.lr_schedule == "constant":
        return a.lr
    if a.lr_schedule == "cosine":
        return a.lr * (a.lr_final + (1 - a.lr_final) * 0.5 * (1 + math.cos(math.pi * t)))
    return a.lr * a.lr_final if 3 * step >= 2 * a.steps else a.lr


def total_variation(x):
    return (x[:, :, 1:] - x[:, :, :-1]).abs().mean((1, 2, 3)) + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean((1, 2, 3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--targets", nargs="+", default=["rois"])
    ap.add_argument("--restarts", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--parameterization", default="fourier", choices=["fourier", "pixel"])
    ap.add_argument("--no-decorrelate", dest="decorrelate", action="store_false")
    ap.add_argument("--decay-power", type=float, default=1.0)
    ap.add_argument("--init", default="noise", choices=["noise", "grey"])
    ap.add_argument("--init-sd", type=float, default=0.01)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--lr-schedule", default="cosine", choices=["constant", "cosine", "step"])
    ap.add_argument("--lr-final", type=float, default=0.1)
    ap.add_argument("--no-transforms", dest="transforms", action="store_false")
    ap.add_argument("--pad", type=int, default=12)
    ap.add_argument("--jitter", type=int, default=8)
    ap.add_argument("--scale-low", type=float, default=0.9)
    ap.add_argument("--scale-high", type=float, default=1.1)
    ap.add_argument("--rotate", type=float, default=10.0)
    ap.add_argument("--tv", type=float, default=0.0)
    ap.add_argument("--l2", type=float, default=0.0)
    ap.add_argument("--contrast-weight", type=float, default=1.0)
    ap.add_argument("--targets-per-pass", type=int, default=4)
    ap.add_argument("--record-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--eager", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    rd = a.run_dir
    with h5py.File(os.path.join(rd, "responses.h5"), "r") as f:
        roi_names = [n for n in f["rois"].keys()] if "rois" in f else []
        roi_masks = [f["rois/" + n][()] for n in roi_names]
        n_vox = len(roi_masks[0]) if roi_masks else 0
        valid = f["voxels/valid"][()] if "voxels/valid" in f else np.ones(n_vox, np.uint8)
    with h5py.File(os.path.join(rd, "model.h5"), "r") as f:
        test_r = f["voxels/test_r"][()] if "voxels/test_r" in f else np.full(len(valid), np.nan)
    targets = expand_targets(a.targets, roi_names, roi_masks, valid, test_r, a.contrast_weight)
    layers, dims, readout, bias = fold_model(os.path.join(rd, "model.h5"), targets)
    model = FeatureModel(os.path.join(rd, "features.h5"), layers, a.eager, a.channels_last)
    readout_t = torch.tensor(readout)
    bias_t = torch.tensor(bias.astype(np.float32))
    param = ImageParam(a.parameterization, a.decorrelate, a.decay_power, a.image_size)
    recorded = list(range(0, a.steps, a.record_every))
    if recorded[-1] != a.steps - 1:
        recorded.append(a.steps - 1)

    T, R, S = len(targets), a.restarts, a.image_size
    images = np.zeros((T, R, S, S, 3), np.uint8)
    traj = np.zeros((T, R, len(recorded)), np.float32)
    seconds, passes = 0.0, 0
    for first in range(0, T, a.targets_per_pass):
        start = time.perf_counter()
        k = min(a.targets_per_pass, T - first)
        b = k * R
        tgt = [first + i // R for i in range(b)]
        rst = [i % R for i in range(b)]
        if a.init == "grey":
            p = torch.zeros(param.shape(b))
        else:
            p = param.noise([stream_seed(a.seed, tgt[i], rst[i]) for i in range(b)], a.init_sd)
        p = p.contiguous().requires_grad_(True)
        opt = torch.optim.Adam([p], lr=a.lr)
        local = torch.div(torch.arange(b), R, rounding_mode="floor")
        w = readout_t[:, first:first + k]
        bb = bias_t[first:first + k]
        for step in range(a.steps):
            for g in opt.param_groups:
                g["lr"] = learning_rate(a, step)
            rgb = param.to_rgb(p)
            if a.transforms:
                views = [draw_view(a, stream_seed(a.seed, tgt[i], rst[i], step)) for i in range(b)]
                seen = apply_views(rgb, views, a.pad, model.input_size)
            else:
                seen = resize_to(rgb, model.input_size)
            if a.channels_last:
                seen = seen.contiguous(memory_format=torch.channels_last)
            feats = model.features(model.normalize(seen * 255.0))
            obj = (feats @ w + bb).gather(1, local.view(-1, 1)).view(-1)
            loss = -obj.sum()
            if a.tv > 0:
                loss = loss + a.tv * total_variation(rgb).sum()
            if a.l2 > 0:
                loss = loss + a.l2 * (rgb - GREY).pow(2).mean((1, 2, 3)).sum()
            loss.backward()
            if step in recorded:
                values = obj.detach().numpy()
                for i in range(b):
                    traj[tgt[i], rst[i], recorded.index(step)] = values[i]
            opt.step()
            opt.zero_grad()
        with torch.no_grad():
            q = (param.to_rgb(p) * 255.0).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        images[first:first + k] = q.reshape(k, R, S, S, 3)
        seconds += time.perf_counter() - start
        passes += a.steps

    with h5py.File(a.output, "w") as f:
        f["images"] = images
        f["trajectories"] = traj
        f["targets"] = np.array([t[0].encode() for t in targets])
        f.attrs["optimize_seconds"] = seconds
        f.attrs["passes"] = passes
        f.attrs["seconds_per_target"] = seconds / T
        f.attrs["passes_per_second"] = passes / seconds
        f.attrs["mode"] = ("eager" if a.eager else "torchscript") + (" channels_last" if a.channels_last else "")
    print(f"maximize_torch: {T} targets x {R} restarts, {a.steps} steps: {seconds:.2f} s, "
          f"{passes / seconds:.3f} passes/s, {seconds / T:.3f} s/target ({f'{a.threads} threads'})")


if __name__ == "__main__":
    main()
