"""Strong and weak scaling plots from the CSV written by jobs/scaling.sh (one row per run).

Columns: stage, mode (strong|weak), ranks, threads, work, repeat, wall_s, phase_<name>_s (per-phase time
on rank 0), rss_max_mb, rss_ranks_mb (';'-separated, one per rank), cpu_s (all ranks), host, cpus,
load_before (the 1-minute load average when the run started).
Runs with more ranks than cpus are oversubscribed: they show correctness, not speed, and are shaded."""
import csv
import os
from collections import defaultdict

import numpy as np

from common import Figure, plt


def read_scaling_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return []
    missing = {"stage", "mode", "ranks", "wall_s"} - set(rows[0])
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)} (expected jobs/scaling.sh output)")
    for r in rows:
        r["ranks"] = int(r["ranks"])
        r["wall_s"] = float(r["wall_s"])
    return rows


def _median_by_ranks(rows, key):
    groups = defaultdict(list)
    for r in rows:
        value = r.get(key, "")
        if value not in ("", None):
            groups[r["ranks"]].append(float(value))
    ranks = sorted(groups)
    med = np.array([np.median(groups[n]) for n in ranks])
    lo = np.array([np.min(groups[n]) for n in ranks])
    hi = np.array([np.max(groups[n]) for n in ranks])
    return np.array(ranks), med, lo, hi


def _shade_oversubscribed(ax, cpus, max_ranks):
    if cpus and max_ranks > cpus:
        ax.axvspan(cpus * 1.15, max_ranks * 1.3, color="0.9", zorder=0)
        ax.text(cpus * 1.2, ax.get_ylim()[1], "oversubscribed", fontsize=7, va="top", color="0.4")


def _rank_axis(ax, ticks, cpus, max_ranks, log_y=False):
    ax.set_xscale("log", base=2)
    if log_y:
        ax.set_yscale("log")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("MPI ranks")
    _shade_oversubscribed(ax, cpus, max_ranks)


def _wall_panel(ax, subset, mode):
    n, t, lo, hi = _median_by_ranks(subset, "wall_s")
    ax.errorbar(n, t, yerr=[t - lo, hi - t], marker="o", capsize=3, label="measured")
    if mode == "strong":
        ax.plot(n, t[0] * n[0] / n, ls="--", color="grey", label="ideal (t1 / ranks)")
        ax.set_title(f"strong scaling: {subset[0].get('work', '')} items in total", fontsize=9)
    else:
        ax.plot(n, np.full(len(n), t[0]), ls="--", color="grey", label="ideal (constant)")
        per_rank = int(float(subset[0].get("work") or 0) / max(1, subset[0]["ranks"]))
        ax.set_title(f"weak scaling: {per_rank} items per rank", fontsize=9)
        ax.set_ylim(0, max(hi) * 1.2)
    ax.set_ylabel("wall time (s)")
    ax.legend(fontsize=8)


def scaling_figure(ctx, rows, stage, out_name):
    """One figure for one stage: strong and weak wall time with ideal lines, per-phase time, CPU seconds
    per item (flat when no work is duplicated, whatever else runs on the machine), peak memory per rank."""
    strong = [r for r in rows if r["stage"] == stage and r["mode"] == "strong"]
    weak = [r for r in rows if r["stage"] == stage and r["mode"] == "weak"]
    if not strong and not weak:
        return None
    both = strong + weak
    cpus = max((int(r.get("cpus") or 0) for r in both), default=0)
    host = next((r.get("host", "") for r in both if r.get("host")), "")
    # This stage's phases (a CSV may hold several stages), "other" (startup, reading, commit) on top.
    phases = [k for k in both[0] if k.startswith("phase_") and k.endswith("_s")
              and any(r.get(k) not in ("", None) for r in strong)]
    phases.sort(key=lambda k: k == "phase_other_s")
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    max_ranks = max(r["ranks"] for r in both)
    ticks = sorted({r["ranks"] for r in both})

    for ax, subset, mode in ((axes[0][0], strong, "strong"), (axes[1][0], weak, "weak")):
        if subset:
            _wall_panel(ax, subset, mode)
        else:
            ax.text(0.5, 0.5, f"no {mode}-scaling runs in this CSV", ha="center", va="center",
                    transform=ax.transAxes, fontsize=9, color="grey")
        _rank_axis(ax, ticks, cpus, max_ranks, log_y=mode == "strong" and bool(subset))

    ax = axes[0][1]
    if strong and phases:
        labels = [str(x) for x in sorted({r["ranks"] for r in strong})]
        bottom = np.zeros(len(labels))
        for p in phases:
            n, t, _, _ = _median_by_ranks(strong, p)
            if len(t) == len(bottom):
                ax.bar(labels, t, bottom=bottom, label=p[len("phase_"):-2].replace("_", " "))
                bottom += t
        ax.legend(fontsize=7)
    ax.set_xlabel("MPI ranks (strong scaling)")
    ax.set_ylabel("time per phase on rank 0 (s)")
    ax.set_title("where the time goes", fontsize=9)

    ax = axes[1][1]
    for mode, subset in (("strong", strong), ("weak", weak)):
        with_cpu = [dict(r, cpu_per_item=float(r["cpu_s"]) / float(r["work"])) for r in subset
                    if r.get("cpu_s") not in ("", None) and float(r.get("work") or 0) > 0]
        if with_cpu:
            n, c, _, _ = _median_by_ranks(with_cpu, "cpu_per_item")
            ax.plot(n, c, marker="o", label=mode)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("CPU seconds of all ranks per item")
    ax.set_title("total CPU per item (ideal: flat)", fontsize=9)
    if ax.lines:
        ax.legend(fontsize=8)
    _rank_axis(ax, ticks, cpus, max_ranks)

    ax = axes[0][2]
    for mode, subset in (("strong", strong), ("weak", weak)):
        if subset and any(r.get("rss_max_mb") for r in subset):
            n, m, _, _ = _median_by_ranks(subset, "rss_max_mb")
            ax.plot(n, m, marker="o", label=f"{mode}: largest rank")
            per_rank = defaultdict(list)
            for r in subset:
                for v in str(r.get("rss_ranks_mb", "")).split(";"):
                    if v:
                        per_rank[r["ranks"]].append(float(v))
            if per_rank:
                xs = sorted(per_rank)
                ax.plot(xs, [np.median(per_rank[x]) for x in xs], marker=".", ls=":",
                        label=f"{mode}: median rank")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("peak RSS per rank (MiB)")
    ax.set_title("memory", fontsize=9)
    if ax.lines:
        ax.legend(fontsize=7)
    _rank_axis(ax, ticks, cpus, max_ranks)

    ax = axes[1][2]
    ax.axis("off")
    threads = next((r.get("threads") for r in both if r.get("threads")), "?")
    loads = [float(r["load_before"]) for r in both if r.get("load_before") not in ("", None)]
    notes = [f"machine: {host}, {cpus} CPUs", f"{threads} thread(s) per rank",
             f"ranks > {cpus}: oversubscribed (shaded):", "  they check results, not speed"]
    if loads:
        notes.append(f"1-min load before the runs: {min(loads):.1f} to {max(loads):.1f}")
        if max(loads) > cpus:
            notes += ["  (other work shared the CPUs:", "   wall times are inflated;",
                      "   CPU seconds are not)"]
    ax.text(0, 1, "\n".join(notes), va="top", fontsize=9, family="monospace")

    fig.suptitle(f"deepvox {stage}: strong and weak scaling on {host} ({cpus} CPUs)", fontsize=11)
    fig.tight_layout()
    return ctx.save(fig, out_name)


def scaling_figures(ctx):
    csvs = list(ctx.scaling_csvs)
    default = os.path.join(ctx.run_dir, "scaling.csv")
    if not csvs and os.path.isfile(default):
        csvs = [default]
    figures = []
    for path in csvs:
        rows = read_scaling_csv(path)
        for stage in sorted({r["stage"] for r in rows}):
            name = scaling_figure(ctx, rows, stage, f"scaling_{stage}.png")
            if name:
                cpus = max(int(r.get("cpus") or 0) for r in rows if r["stage"] == stage)
                figures.append(Figure("Scaling", f"Scaling of {stage}", name,
                                      f"From {os.path.basename(path)}. Dashed: ideal. "
                                      f"Runs beyond {cpus} ranks "
                                      "share cores (oversubscribed): they check results, not speed."))
    return figures
