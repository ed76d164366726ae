#!/usr/bin/python3
"""Synth and decode benchmarks, side by side with the Python baselines (baselines.py). Prints a table.

  synth:  `mpirun -n R deepvox synth --set synth.features=DATA/synth/features.h5 --set synth.model=...`
          (whole process: reading, prediction, collective writes) at 1 and 2 ranks, against torch + h5py.
  decode: bench_decode_fits (the decoder search of `deepvox decode`, LibTorch L-BFGS) against
          scikit-learn's LogisticRegression (lbfgs, warm starts along the same C grid), fits per second.

usage: run_bench.py BUILD_DIR [--data DIR] [--images N] [--features P] [--voxels V] [--ranks 1,2]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return p.stdout, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--data", default="/tmp/deepvox_bench_synth")
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--features", type=int, default=20000)
    ap.add_argument("--voxels", type=int, default=5000)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--deepvox", help="the deepvox binary (default BUILD_DIR/deepvox)")
    a = ap.parse_args()
    py = "/usr/bin/python3"
    if not os.path.exists(os.path.join(a.data, "decode.h5")):
        run([py, os.path.join(HERE, "make_problem.py"), a.data, "--images", str(a.images), "--features",
             str(a.features), "--voxels", str(a.voxels)])
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    rows = []

    out, _ = run([py, os.path.join(HERE, "baselines.py"), "synth", a.data, os.path.join(a.data, "baseline.h5")], env)
    base = json.loads(out)
    rows.append(("synth", "torch+h5py, 1 thread", base["seconds"], f"{base['images_per_s']:.1f} images/s", ""))
    deepvox = a.deepvox or os.path.join(a.build, "deepvox")
    for r in [int(x) for x in a.ranks.split(",")]:
        run_dir = os.path.join(a.data, f"run_np{r}")
        _, seconds = run(["mpirun", "-n", str(r), "--bind-to", "none", "--oversubscribe", deepvox, "synth",
                          "--set", f"run_dir={run_dir}", "--set", "threads=1", "--set", "progress=never",
                          "--set", f"synth.features={a.data}/synth/features.h5",
                          "--set", f"synth.model={a.data}/synth/model.h5"], env)
        rows.append(("synth", f"deepvox, {r} rank(s) x 1 thread", seconds, f"{a.images / seconds:.1f} images/s",
                     f"{base['seconds'] / seconds:.2f}x"))

    out, _ = run([py, os.path.join(HERE, "baselines.py"), "decode", a.data], env)
    sk = json.loads(out)
    rows.append(("decode", "scikit-learn, 1 thread", sk["seconds"], f"{sk['fits_per_s']:.2f} fits/s", ""))
    out, _ = run([os.path.join(a.build, "bench_decode_fits"), a.data], env)
    dv = json.loads(out)
    rows.append(("decode", "deepvox L-BFGS, 1 thread", dv["seconds"], f"{dv['fits_per_s']:.2f} fits/s",
                 f"{sk['seconds'] / dv['seconds']:.2f}x"))
    print(f"{'bench':8} {'tool':32} {'seconds':>9} {'rate':>18} {'speed-up':>9}")
    for b, tool, s, rate, ratio in rows:
        print(f"{b:8} {tool:32} {s:9.2f} {rate:>18} {ratio:>9}")
    print(f"decode: best C deepvox {dv['best_C']} vs scikit-learn {sk['best_C']}; CV accuracy deepvox "
          f"{dv['cv_accuracy']} vs scikit-learn {[round(x, 4) for x in sk['cv_accuracy']]}")


if __name__ == "__main__":
    main()
