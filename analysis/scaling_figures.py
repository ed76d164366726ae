"""Strong and weak scaling plots from the CSV written by jobs/scaling.sh (one row per run).

Columns: stage, mode (strong|weak), ranks, threads, work, repeat, wall_s, phase_<name>_s (per-phase time,
rank 0 or the maximum over ranks), rss_max_mb, rss_ranks_mb (';'-separated, one per rank), host, cpus.
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


def scaling_figure(ctx, rows, stage, out_name):
    """One figure for one stage: strong wall time, strong phases, weak wall time, peak memory per rank."""
    strong = [r for r in rows if r["stage"] == stage and r["mode"] == "strong"]
    weak = [r for r in rows if r["stage"] == stage and r["mode"] == "weak"]
    if not strong and not weak:
        return None
    cpus = max((int(r.get("cpus") or 0) for r in strong + weak), default=0)
    host = next((r.get("host", "") for r in strong + weak if r.get("host")), "")
    # This stage's phases (a CSV may hold several stages), "other" (startup, reading, commit) on top.
    phases = [k for k in (strong + weak)[0] if k.startswith("phase_") and k.endswith("_s")
              and any(r.get(k) not in ("", None) for r in strong)]
    phases.sort(key=lambda k: k == "phase_other_s")
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    max_ranks = max(r["ranks"] for r in strong + weak)
    ticks = sorted({r["ranks"] for r in strong + weak})

    ax = axes[0][0]
    if strong:
        n, t, lo, hi = _median_by_ranks(strong, "wall_s")
        ax.errorbar(n, t, yerr=[t - lo, hi - t], marker="o", capsize=3, label="measured")
        base = t[0] * n[0]
        ax.plot(n, base / n, ls="--", color="grey", label="ideal (t1 / ranks)")
        work = strong[0].get("work", "")
        ax.set_title(f"strong scaling: {work} items in total", fontsize=9)
        ax.legend(fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("MPI ranks")
    ax.set_ylabel("wall time (s)")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    _shade_oversubscribed(ax, cpus, max_ranks)

    ax = axes[0][1]
    if strong and phases:
        bottom = np.zeros(len(set(r["ranks"] for r in strong)))
        for p in phases:
            n, t, _, _ = _median_by_ranks(strong, p)
            if len(t) != len(bottom):
                continue
            ax.bar([str(x) for x in n], t, bottom=bottom, label=p[len("phase_"):-2].replace("_", " "))
            bottom += t
        ax.legend(fontsize=7)
    ax.set_xlabel("MPI ranks (strong scaling)")
    ax.set_ylabel("time per phase (s, slowest rank)")
    ax.set_title("where the time goes", fontsize=9)

    ax = axes[1][0]
    if weak:
        n, t, lo, hi = _median_by_ranks(weak, "wall_s")
        ax.errorbar(n, t, yerr=[t - lo, hi - t], marker="o", capsize=3, label="measured")
        ax.plot(n, np.full(len(n), t[0]), ls="--", color="grey", label="ideal (constant)")
        per_rank = int(float(weak[0].get("work") or 0) / max(1, weak[0]["ranks"]))
        ax.set_title(f"weak scaling: {per_rank} items per rank", fontsize=9)
        ax.legend(fontsize=8)
        ax.set_ylim(0, max(hi) * 1.2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("MPI ranks")
    ax.set_ylabel("wall time (s)")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    _shade_oversubscribed(ax, cpus, max_ranks)

    ax = axes[1][1]
    for mode, subset in (("strong", strong), ("weak", weak)):
        if subset and any(r.get("rss_max_mb") for r in subset):
            n, m, lo, hi = _median_by_ranks(subset, "rss_max_mb")
            ax.plot(n, m, marker="o", label=f"{mode}: largest rank")
            per_rank = defaultdict(list)
            for r in subset:
                for v in str(r.get("rss_ranks_mb", "")).split(";"):
                    if v:
                        per_rank[r["ranks"]].append(float(v))
            if per_rank:
                xs = sorted(per_rank)
                ax.plot(xs, [np.median(per_rank[x]) for x in xs], marker=".", ls=":", label=f"{mode}: median rank")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("MPI ranks")
    ax.set_ylabel("peak RSS per rank (MiB)")
    ax.set_title("memory", fontsize=9)
    ax.legend(fontsize=7)
    _shade_oversubscribed(ax, cpus, max_ranks)

    threads = next((r.get("threads") for r in strong + weak if r.get("threads")), "?")
    fig.suptitle(f"deepvox {stage}: scaling on {host} ({cpus} CPUs, {threads} thread(s) per rank)", fontsize=11)
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
                                      f"From {os.path.basename(path)}. Dashed: ideal. Runs beyond {cpus} ranks "
                                      "share cores (oversubscribed): they check results, not speed."))
    return figures
