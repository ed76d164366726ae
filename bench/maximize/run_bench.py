#!/usr/bin/python3
"""Benchmark: `deepvox maximize` against the same objective in PyTorch-Python, side by side on one CPU.

Both sides load one TorchScript tap model (export_tap_model.py: torchvision Inception V3 at 299 px by default,
seeded random weights) and optimize the same targets with the same settings and batching (targets_per_pass
targets x restarts images per forward/backward pass). Python runs eagerly (the nn.Module rebuilt from the
TorchScript weights) and eagerly with channels_last; deepvox runs its default and with
maximize.channels_last. Reported: wall seconds of the optimization loops (model loading and validation
excluded), image-iterations per second (one image through one forward and backward step) and seconds per
target, and the ratios (decisions.md "Speed against the same kernels").

Every contender gets the same cores (--threads): PyTorch as intra-op threads, deepvox as --ranks MPI
ranks x (threads / ranks) threads, the targets spread over the ranks.

  /usr/bin/python3 bench/maximize/run_bench.py --deepvox build/deepvox --work runs/bench_maximize [--steps 10]
      [--threads 2 --ranks 2]
"""
import argparse
import json
import os
import subprocess
import sys

import h5py
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tap_models  # noqa: E402

LAYERS = {"inception_v3": ["Conv2d_4a_3x3", "Mixed_5d", "Mixed_6e", "Mixed_7c"],
          "alexnet": ["relu1", "relu2", "relu3", "relu5"]}


def run(cmd, env=None):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def make_inputs(a, work):
    """Model, images, responses.h5 (deepvox extract writes features.h5), model.h5 with random ridge weights."""
    os.makedirs(os.path.join(work, "images"), exist_ok=True)
    net = os.path.join(work, a.model + ".pt")
    if not os.path.exists(net):
        run([sys.executable, os.path.join(HERE, "export_tap_model.py"), "--model", a.model, "--output", net])
    size = tap_models.INPUT_SIZE[a.model]
    rng = np.random.default_rng(0)
    ids = []
    with open(os.path.join(work, "images", "manifest.csv"), "w") as m:
        m.write("stimulus_id,path\n")
        for i in range(a.images):
            # Smooth random colour fields (upsampled noise): natural-ish 1/f-like content.
            small = rng.random((8, 8, 3))
            img = Image.fromarray((small * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)
            name = f"img_{i:03d}"
            img.save(os.path.join(work, "images", name + ".png"))
            m.write(f"{name},{name}.png\n")
            ids.append(name)
    n_vox, rois = 400, ["V1", "V2", "V4", "LOC"]  # N_TARGETS
    with h5py.File(os.path.join(work, "responses.h5"), "w") as f:
        f["stimulus_ids"] = np.array([s.encode() for s in ids])
        f["responses"] = rng.standard_normal((len(ids), n_vox)).astype(np.float32)
        f["split/train"] = np.arange(len(ids) - 8, dtype=np.int64)
        f["split/test"] = np.arange(len(ids) - 8, len(ids), dtype=np.int64)
        for k, name in enumerate(rois):
            mask = np.zeros(n_vox, np.uint8)
            mask[k * 100:(k + 1) * 100] = 1
            f["rois/" + name] = mask
    layers = "[" + ", ".join(LAYERS[a.model]) + "]"
    run([a.deepvox, "extract", "--set", f"run_dir={work}", "--set", "threads=1", "--set", "progress=never",
         "--set", f"extract.images={work}/images/manifest.csv", "--set", "extract.network=torchscript",
         "--set", f"extract.weights={net}", "--set", f"extract.input_size={size}", "--set", f"extract.layers={layers}",
         "--set", f"extract.max_features={a.max_features}", "--set", "extract.normalization=imagenet"])
    with h5py.File(os.path.join(work, "features.h5"), "r") as f:
        feats = [f["features/" + l][()] for l in LAYERS[a.model]]
    x = np.concatenate(feats, 1).astype(np.float64)
    dims = [g.shape[1] for g in feats]
    with h5py.File(os.path.join(work, "model.h5"), "w") as f:
        f["weights"] = (rng.standard_normal((x.shape[1], n_vox)) / np.sqrt(x.shape[1])).astype(np.float32)
        f["intercept"] = np.zeros(n_vox, np.float32)
        f["features/mean"] = x.mean(0).astype(np.float32)
        sd = x.std(0)
        f["features/scale"] = np.where(sd > 0, sd, 1).astype(np.float32)
        f["layers/names"] = np.array([l.encode() for l in LAYERS[a.model]])
        f["layers/offset"] = np.concatenate([[0], np.cumsum(dims)]).astype(np.int64)
        f["voxels/test_r"] = rng.random(n_vox).astype(np.float32)


N_TARGETS = 4  # the four ROIs of make_inputs, each one target


def settings(a):
    return dict(steps=a.steps, restarts=a.restarts, image_size=a.image_size, targets_per_pass=a.targets_per_pass)


def timing(a, seconds):
    """Wall seconds of the optimization, as image-iterations per second (one image through one forward
    and backward step, whatever the batching) and seconds per target."""
    return {"seconds": seconds, "image_steps_per_second": N_TARGETS * a.restarts * a.steps / seconds,
            "seconds_per_target": seconds / N_TARGETS}


def run_deepvox(a, work, channels_last):
    """deepvox on the same cores as Python: --ranks MPI ranks x (--threads / --ranks) threads. With several
    ranks the targets are spread over them (ceil(4 / ranks) per pass), and the figure is the slowest rank's
    time in its optimization loops (maximize.h5 optimize_loop_seconds): like Python's, it leaves out the
    clean re-scoring of each finished chunk and the chunk's HDF5 write, which the stage's
    optimize_wall_seconds includes."""
    s = settings(a)
    threads = max(1, a.threads // a.ranks)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if a.ranks > 1:
        s["targets_per_pass"] = -(-N_TARGETS // a.ranks)
    launch = ["mpirun", "-n", str(a.ranks), "--bind-to", "none", "--oversubscribe"] if a.ranks > 1 else []
    run(launch + [a.deepvox, "maximize", "--set", f"run_dir={work}", "--set", f"threads={threads}", "--set", "progress=never",
         "--set", "maximize.targets=[rois]", "--set", f"maximize.steps={s['steps']}",
         "--set", f"maximize.restarts={s['restarts']}", "--set", f"maximize.image_size={s['image_size']}",
         "--set", f"maximize.targets_per_pass={s['targets_per_pass']}", "--set", "maximize.grid=false",
         "--set", f"maximize.channels_last={'true' if channels_last else 'false'}"], env=env)
    with h5py.File(os.path.join(work, "maximize.h5"), "r") as f:
        return timing(a, float(f.attrs["optimize_loop_seconds"]))


def run_python(a, work, channels_last):
    s = settings(a)
    out = os.path.join(work, "python.h5")
    cmd = [sys.executable, os.path.join(HERE, "maximize_torch.py"), "--run-dir", work, "--output", out, "--eager",
           "--targets", "rois", "--steps", str(s["steps"]), "--restarts", str(s["restarts"]),
           "--image-size", str(s["image_size"]), "--targets-per-pass", str(s["targets_per_pass"]),
           "--threads", str(a.threads)]
    if channels_last:
        cmd.append("--channels-last")
    run(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
    with h5py.File(out, "r") as f:
        return timing(a, float(f.attrs["optimize_seconds"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deepvox", default="build/deepvox")
    ap.add_argument("--work", default="runs/bench_maximize")
    ap.add_argument("--model", default="inception_v3", choices=sorted(tap_models.ARCHITECTURES))
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--max-features", type=int, default=4000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--restarts", type=int, default=2)
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--targets-per-pass", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="cores per contender (PyTorch intra-op threads)")
    ap.add_argument("--ranks", type=int, default=1, help="deepvox MPI ranks sharing those cores")
    ap.add_argument("--repeats", type=int, default=2, help="runs per configuration; the fastest counts")
    ap.add_argument("--json", default="", help="also write the results here")
    a = ap.parse_args()
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    if not os.path.exists(os.path.join(work, "model.h5")):
        make_inputs(a, work)
    configs = [("pytorch eager", run_python, False), ("pytorch channels_last", run_python, True),
               ("deepvox", run_deepvox, False), ("deepvox channels_last", run_deepvox, True)]
    results, repeats = {}, {name: [] for name, _, _ in configs}
    for _ in range(a.repeats):  # interleaved, so load changes hit every configuration alike
        for name, fn, cl in configs:
            r = fn(a, work, cl)
            repeats[name].append(r["seconds"])
            if name not in results or r["seconds"] < results[name]["seconds"]:
                results[name] = r
    for name, r in results.items():
        r["all_seconds"] = repeats[name]
    best_deepvox = min(results["deepvox"]["seconds"], results["deepvox channels_last"]["seconds"])
    print(f"\n{a.model}, {a.image_size} px images -> {tap_models.INPUT_SIZE[a.model]} px, {N_TARGETS} targets x "
          f"{a.restarts} restarts, {a.steps} steps, {a.targets_per_pass} targets per pass, {a.threads} core(s); "
          f"deepvox {a.ranks} rank(s) x {max(1, a.threads // a.ranks)} thread(s)\n")
    print("| implementation | wall s (fastest) | every repeat | image-iterations/s | s/target | deepvox (best) speed-up |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        every = ", ".join(f"{t:.1f}" for t in r["all_seconds"])
        print(f"| {name} | {r['seconds']:.2f} | {every} | {r['image_steps_per_second']:.3f} | "
              f"{r['seconds_per_target']:.2f} | {r['seconds'] / best_deepvox:.2f}x |")
    ratios = {"vs_eager": results["pytorch eager"]["seconds"] / best_deepvox,
              "vs_channels_last": results["pytorch channels_last"]["seconds"] / best_deepvox}
    median = {name: float(np.median(t)) for name, t in repeats.items()}
    best_median = min(median["deepvox"], median["deepvox channels_last"])
    ratios["median_vs_eager"] = median["pytorch eager"] / best_median
    ratios["median_vs_channels_last"] = median["pytorch channels_last"] / best_median
    print(f"\nratio vs eager PyTorch: {ratios['vs_eager']:.2f}x; vs channels_last PyTorch: {ratios['vs_channels_last']:.2f}x "
          f"(fastest repeats; medians: {ratios['median_vs_eager']:.2f}x and {ratios['median_vs_channels_last']:.2f}x)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"settings": vars(a), "results": results, "ratios": ratios}, f, indent=1)


if __name__ == "__main__":
    main()
