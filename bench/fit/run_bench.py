#!/usr/bin/python3
"""Fit benchmark (a script, not a test): times the whole `mpirun -n R deepvox fit` process, reading and
writing included, against (a) scikit-learn Ridge per fold and lambda and (b) the strongest numpy (Gram +
one eigh per fold, in memory), on the seeded problem of make_problem.py. Prints wall time, CPU time,
voxels/s, peak memory, both ratios, lambda agreement, and the achieved GFLOP/s of deepvox's products
against a plain sgemm measured in the same run.

usage: run_bench.py --exe build/deepvox [--data DIR] [--work DIR] [--ranks 1,2] [--threads 2]
                    [--threads-per-rank T] [--skip-sklearn]
(--exe may also be build/tests/fit/fit_driver, which runs the same stage code.)
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LAMBDAS = [10.0 ** k for k in range(0, 9)]  # 9 lambdas, 1 ... 1e8


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, env):
    c0, t0 = child_cpu(), time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - t0, child_cpu() - c0
    if p.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return wall, cpu, p.stdout + p.stderr


def sgemm_rate(threads, n=4096, reps=3):
    """Plain sgemm (numpy's matmul on the same OpenBLAS) in a child with `threads` threads."""
    code = ("import numpy as np, time\n"
            "a = np.random.default_rng(0).standard_normal((%d, %d), dtype=np.float32); b = a.copy()\n"
            "a @ b\nbest = 1e9\n"
            "for _ in range(%d):\n t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)\n"
            "print(2 * %d ** 3 / best / 1e9)\n") % (n, n, reps, n)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                check=True).stdout)


def run_deepvox(exe, data, work, ranks, threads_per_rank):
    run_dir = os.path.join(work, "deepvox_np%d" % ranks)
    os.makedirs(run_dir, exist_ok=True)
    for name in ("features.h5", "responses.h5"):
        dst = os.path.join(run_dir, name)
        if not os.path.exists(dst):
            os.symlink(os.path.abspath(os.path.join(data, name)), dst)
    stage = ["fit"] if os.path.basename(exe) == "deepvox" else []
    cmd = ["mpirun", "-n", str(ranks), "--bind-to", "none", "--oversubscribe", "--allow-run-as-root", exe] + stage + [
        "--set", "run_dir=" + run_dir, "--set", "threads=%d" % threads_per_rank, "--set", "progress=never",
        "--set", "fit.lambdas=[" + ",".join(repr(v) for v in LAMBDAS) + "]", "--set", "fit.folds=5"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    wall, cpu, log = timed(cmd, env)
    info = {"wall_s": wall, "cpu_s": cpu}
    m = re.search(r"BLAS products ([\d.]+) GFLOP in ([\d.]+) s = ([\d.]+) GFLOP/s \(gemm ([\d.]+) GFLOP/s", log)
    if m:
        info.update(gflop=float(m.group(1)), blas_s=float(m.group(2)), blas_gflops=float(m.group(3)),
                    gemm_gflops=float(m.group(4)))
    m = re.search(r"peak RSS per rank (\d+) MiB", log)
    if m:
        info["peak_rss_mib_per_rank"] = float(m.group(1))
    for key, pat in (("cv_s", r"cross-validation ([\d.]+) s"), ("refit_s", r"refit and weights ([\d.]+) s"),
                     ("edge", r"grid edge for ([\d.]+)%")):
        m = re.search(pat, log)
        if m:
            info[key] = float(m.group(1))
    with h5py.File(os.path.join(run_dir, "model.h5"), "r") as f:
        info["lambda_index"] = f["voxels/lambda_index"][()]
        info["test_r"] = f["voxels/test_r"][()]
    return info


def run_baseline(mode, data, work, threads):
    out = os.path.join(work, mode + ".npz")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    wall, cpu, log = timed([sys.executable, os.path.join(HERE, "baselines.py"), mode, data, "--lambdas",
                            ",".join(repr(v) for v in LAMBDAS), "--out", out], env)
    info = json.loads(log.strip().splitlines()[-1])
    info.update(wall_s=wall, cpu_s=cpu)
    z = np.load(out)
    info["lambda_index"], info["test_r"] = z["lambda_index"], z["test_r"]
    return info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exe", required=True)
    ap.add_argument("--data", default="/tmp/deepvox_fit_bench/data")
    ap.add_argument("--work", default="/tmp/deepvox_fit_bench")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--threads", type=int, default=2, help="cores used by every contender")
    ap.add_argument("--threads-per-rank", type=int, default=0,
                    help="deepvox threads per rank (default: --threads divided by the ranks); 1 for rank scaling")
    ap.add_argument("--skip-sklearn", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.data, "responses.h5")):
        subprocess.run([sys.executable, os.path.join(HERE, "make_problem.py"), a.data], check=True)
    with h5py.File(os.path.join(a.data, "responses.h5"), "r") as f:
        n_vox = f["responses"].shape[1]
    print("load average before: %s" % open("/proc/loadavg").read().split()[:3])

    def per_rank(ranks):
        return a.threads_per_rank if a.threads_per_rank > 0 else max(1, a.threads // ranks)

    results = {}
    for r in [int(v) for v in a.ranks.split(",")]:
        results["deepvox np%d" % r] = run_deepvox(a.exe, a.data, a.work, r, per_rank(r))
    results["numpy (strongest)"] = run_baseline("numpy", a.data, a.work, a.threads)
    if not a.skip_sklearn:
        results["sklearn (straightforward)"] = run_baseline("sklearn", a.data, a.work, a.threads)
    ranks = [int(v) for v in a.ranks.split(",")]
    rate = {t: sgemm_rate(t) for t in sorted({1, a.threads} | {per_rank(r) for r in ranks})}
    print("load average after: %s" % open("/proc/loadavg").read().split()[:3])

    ref = results["deepvox np1"] if "deepvox np1" in results else next(iter(results.values()))
    print("\n%-26s %9s %9s %10s %9s %12s %10s" % ("contender", "wall s", "cpu s", "voxels/s", "peak MiB",
                                                 "same lambda", "mean r"))
    for name, v in results.items():
        peak = v.get("peak_rss_mib_per_rank", v.get("peak_rss_mib", float("nan")))
        same = np.mean(v["lambda_index"] == ref["lambda_index"])
        print("%-26s %9.2f %9.2f %10.0f %9.0f %11.2f%% %10.4f" % (name, v["wall_s"], v["cpu_s"], n_vox / v["wall_s"],
                                                                 peak, 100 * same, np.nanmean(v["test_r"])))
    print()
    for name, v in results.items():
        if not name.startswith("deepvox"):
            continue
        line = "%s:" % name
        for base in ("numpy (strongest)", "sklearn (straightforward)"):
            if base in results:
                b = results[base]
                line += "  %.2fx vs %s (%.2fx vs its compute alone)" % (b["wall_s"] / v["wall_s"], base,
                                                                       b["compute_s"] / v["wall_s"])
        print(line)
        if "blas_gflops" in v:
            threads = per_rank(int(name[len("deepvox np"):]))
            print("  products: %.0f GFLOP at %.1f GFLOP/s per rank (gemm %.1f) = %.0f%% of plain sgemm %.1f GFLOP/s "
                  "at %d thread(s); lambda on grid edge for %.1f%% of voxels; CV %.2f s, refit+weights %.2f s" %
                  (v["gflop"], v["blas_gflops"], v["gemm_gflops"], 100 * v["blas_gflops"] / rate[threads],
                   rate[threads], threads, v.get("edge", float("nan")), v.get("cv_s", 0), v.get("refit_s", 0)))
    print("plain sgemm 4096^3: " + ", ".join("%.1f GFLOP/s at %d thread(s)" % (g, t) for t, g in rate.items()))


if __name__ == "__main__":
    main()
