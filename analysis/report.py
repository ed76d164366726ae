#!/usr/bin/python3
"""Turns a deepvox run directory into PNG figures and one HTML report.

Usage:
  /usr/bin/python3 analysis/report.py RUN_DIR [--out DIR] [--scaling scaling.csv ...]

Runs on Debian's python3-h5py and python3-matplotlib (the python3 on PATH may lack them). Each figure is
drawn only when its input files exist, so the report grows with the pipeline: encoding scores and maps
(model.h5 + responses.h5), synthetic repetitions, decoders, maximization, reconstruction, explanations and
scaling (RUN_DIR/scaling.csv or --scaling). The default output folder is RUN_DIR/report.
"""
import argparse
import datetime
import html
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h5py  # noqa: E402

from common import Context, attr_string  # noqa: E402
from encoding_figures import encoding_figures  # noqa: E402
from scaling_figures import scaling_figures  # noqa: E402
from stage_figures import stage_figures  # noqa: E402

STAGE_FILES = ["responses.h5", "features.h5", "model.h5", "synthetic.h5", "decoding.h5", "maximize.h5",
               "reconstruct.h5", "explain.h5"]


def provenance_rows(run_dir):
    """(file, stage, version, ranks, created) of each finished stage file, from its root attributes."""
    rows = []
    for name in STAGE_FILES:
        path = os.path.join(run_dir, name)
        if not os.path.isfile(path):
            continue
        with h5py.File(path, "r") as f:
            ranks = f.attrs.get("mpi_ranks", "")
            rows.append((name, attr_string(f, "stage"), attr_string(f, "deepvox_version"),
                         str(int(ranks)) if ranks != "" else "", attr_string(f, "created_utc")))
    return rows


def write_html(ctx, figures, provenance):
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>deepvox report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "img{max-width:100%;border:1px solid #ddd}"
        "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}figure{margin:1.5em 0}"
        "figcaption{color:#444;font-size:0.9em}</style></head><body>",
        f"<h1>deepvox report: {esc(os.path.abspath(ctx.run_dir))}</h1>",
        f"<p>Generated {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')}.</p>",
    ]
    if provenance:
        parts.append("<h2>Stage files</h2><table><tr><th>file</th><th>stage</th><th>version</th>"
                     "<th>ranks</th><th>created</th></tr>")
        for row in provenance:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    if not figures:
        parts.append("<p>No figures: the run directory holds none of the files they need.</p>")
    section = None
    for fig in figures:
        if fig.section != section:
            section = fig.section
            parts.append(f"<h2>{esc(section)}</h2>")
        if fig.kind == "png":
            parts.append(f"<figure><h3>{esc(fig.title)}</h3>"
                         f"<img src='{esc(fig.path)}' alt='{esc(fig.title)}'>"
                         f"<figcaption>{esc(fig.caption)}</figcaption>{fig.html}</figure>")
        else:
            parts.append(f"<p><a href='{esc(fig.path)}'>{esc(fig.path)}</a>: {esc(fig.caption)}</p>")
    parts.append("</body></html>")
    path = os.path.join(ctx.out_dir, "report.html")
    with open(path, "w") as fh:
        fh.write("\n".join(parts))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="the run directory (run_dir of the config)")
    parser.add_argument("--out", help="output folder (default: RUN_DIR/report)")
    parser.add_argument("--scaling", nargs="*", default=[], help="scaling CSV files from jobs/scaling.sh")
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args(argv)
    if not os.path.isdir(args.run_dir):
        parser.error(f"run directory {args.run_dir} does not exist")
    for path in args.scaling:
        if not os.path.isfile(path):
            parser.error(f"scaling CSV {path} does not exist")
    out_dir = args.out or os.path.join(args.run_dir, "report")
    os.makedirs(out_dir, exist_ok=True)
    ctx = Context(run_dir=args.run_dir, out_dir=out_dir, scaling_csvs=args.scaling, dpi=args.dpi)
    figures = encoding_figures(ctx) + stage_figures(ctx) + scaling_figures(ctx)
    path = write_html(ctx, figures, provenance_rows(args.run_dir))
    pngs = sum(1 for f in figures if f.kind == "png")
    print(f"report: {pngs} figures, {len(figures) - pngs} files -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
