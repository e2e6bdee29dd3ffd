"""``aecnn-sim``: run a scenario, sweep it, plot results.

  aecnn-sim run SCENARIO [--out DIR]             one point (the scenario as written), all its seeds
  aecnn-sim sweep SCENARIO [--workers N]         the sweep grid x seeds, in parallel, resumable
  aecnn-sim sweep SCENARIO --scheduler ADDRESS   the same on an existing Dask cluster
  aecnn-sim validate SCENARIO [--set K=V ...]    every check, nothing simulated; grid size, time and memory
  aecnn-sim info PROFILE                         a profile's schemes, hardware keys and stages
  aecnn-sim plot RESULTS [--x KEY] [--schemes ..] figures (PNG, SVG, PDF) under RESULTS/figures
  aecnn-sim export RESULTS [--csv FILE]          the records (Parquet dataset RESULTS/records) as one CSV
  aecnn-sim compare RESULTS RESULTS... [--csv F]  shared points side by side, differences with 95% intervals
  aecnn-sim report RESULTS                       RESULTS/report.md and report.html: scenario, tables, figures
  aecnn-sim schema [--markdown]                  the scenario's JSON Schema (for editors), or its key table
  aecnn-sim presets [--file F]                   the power presets: every figure with its source and status

Bad input (YAML, keys, values, profile, traces, results folder) ends with one line naming file,
key and value, and exit status 2, before any simulation starts. Ctrl-C exits 130 and SIGTERM 143;
finished points are kept either way and a rerun resumes.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sim import __version__
from sim.errors import ConfigError
from sim.scenario import parse_overrides


def setup_args() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aecnn-sim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"aecnn-sim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (("run", "simulate the scenario as written, for each of its seeds"),
                           ("sweep", "simulate every point of the scenario's sweep grid, for each seed"),
                           ("validate", "check a scenario as a sweep would, simulate nothing; print the resolved "
                                        "scenario, the grid's size and an estimate of run time and memory")):
        c = sub.add_parser(name, help=helptext, description=helptext)
        c.add_argument("scenario", type=Path, help="scenario YAML file")
        c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                       help="override a scenario key (dotted; VALUE read as YAML), e.g. --set channel.snr_db=5 "
                            "--set seeds=[0,1]; repeatable")
        c.add_argument("--workers", type=int, default=1,
                       help="parallel processes for the points and for writing the figures (default 1)")
        if name == "validate":
            continue
        c.add_argument("--out", type=Path, default=None, help="results folder (default results/<name>)")
        c.add_argument("--no-plot", action="store_true", help="do not draw figures at the end")
        c.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="send the points to the Dask cluster whose scheduler is at ADDRESS "
                            "(tcp://host:8786); its workers must see RESULTS at the same path")
        c.add_argument("--force", action="store_true",
                       help="run even where the estimate of memory or events exceeds this machine")
    pl = sub.add_parser("plot", help="draw figures from a results folder",
                        description="draw the figures of a results folder into RESULTS/figures")
    pl.add_argument("results", type=Path, help="results folder written by run or sweep")
    pl.add_argument("--workers", type=int, default=1, help="processes that write the figures (default 1)")
    pl.add_argument("--x", default=None, metavar="KEY",
                    help="swept key on the x axis (default channel.snr_db where swept, else the first swept key)")
    pl.add_argument("--schemes", nargs="+", default=None, metavar="NAME",
                    help="schemes and policies to draw, names or shell patterns (default all)")
    pl.add_argument("--formats", default="png,svg,pdf", help="comma-separated, among png, svg, pdf (default all)")
    inf = sub.add_parser("info", help="a profile's schemes, hardware keys and stages",
                         description="a profile's schemes (kind, accuracy, mean bytes, compression ratio), its "
                                     "hardware keys and its stages (FLOPs, latency per hardware and batch size)")
    inf.add_argument("profile", type=Path, help="profile folder")
    inf.add_argument("--plot", type=Path, default=None, metavar="FILE",
                     help="also draw edge time per item against batch size (what batching buys) to FILE")
    ex = sub.add_parser("export", help="write a results folder's records as one CSV",
                        description="write the records dataset (RESULTS/records, Parquet) as one CSV file")
    ex.add_argument("results", type=Path, help="results folder written by run or sweep")
    ex.add_argument("--csv", type=Path, default=None, help="file to write (default RESULTS/records.csv)")
    cmp = sub.add_parser("compare", help="the points several results folders share, side by side",
                         description="the (point, scheme) pairs that several results folders share: each folder's "
                                     "mean, and each later folder's difference to the first with its 95%% interval "
                                     "(paired by seed where both ran the same seeds)")
    cmp.add_argument("results", type=Path, nargs="+", help="results folders (the first is the reference)")
    cmp.add_argument("--figures", nargs="+", default=None, metavar="COLUMN",
                     help="summary columns to compare (default acc_within_deadline hit_rate mean_latency_ms "
                          "p95_latency_ms bytes_sent)")
    cmp.add_argument("--csv", type=Path, default=None, help="also write the table to this CSV file")
    sch = sub.add_parser("schema", help="the scenario's JSON Schema (for editors), or its key table",
                         description="print the JSON Schema of a scenario file, generated from the scenario's "
                                     "dataclasses (point an editor's YAML validation at it), or with --markdown "
                                     "the table of every key with its type, default and allowed values")
    sch.add_argument("--markdown", action="store_true", help="the key table (as in the README) instead")
    pre = sub.add_parser("presets", help="the power presets, every figure with its source and status",
                         description="the power presets of sim/power.yaml (and of --file): each device's and "
                                     "radio's figures with their source and whether each was checked in it, "
                                     "recalled from it, or is an assumption; as a Markdown table")
    pre.add_argument("--file", type=Path, default=None, help="a presets file of your own (as energy.presets)")
    rep = sub.add_parser("report", help="a Markdown and HTML report of a results folder",
                         description="write RESULTS/report.md and RESULTS/report.html (figures embedded): the "
                                     "scenario, the summary tables and the figures")
    rep.add_argument("results", type=Path, help="results folder written by run or sweep")
    return p


def pd_options():
    import pandas as pd
    return pd.option_context("display.width", 200, "display.max_columns", 50)


def main(argv: list[str] | None = None) -> int:
    from sim.runner import Interrupted, stop_signals

    args = setup_args().parse_args(argv)
    try:
        with stop_signals(keep_ignoring=argv is None):
            return _main(args)
    except ConfigError as e:
        print(f"aecnn-sim: error: {e}", file=sys.stderr)
        return 2
    except (Interrupted, KeyboardInterrupt):
        return _stopped(sys.exc_info()[1])
    except BrokenPipeError:  # output piped into a reader that stopped early (| head): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _stopped(e: BaseException) -> int:
    from sim.runner import Interrupted

    if isinstance(e, Interrupted):
        print(f"aecnn-sim: stopped by {e.signal_name}: {e.kept} of {e.total} points x seeds are finished "
              f"and kept in {e.out}; rerun to resume", file=sys.stderr)
        return e.exit_code
    # outside the sweep (loading, assembling, plotting): nothing finished is lost
    name = "SIGTERM" if type(e).__name__ == "Terminated" else "SIGINT"
    print(f"aecnn-sim: stopped by {name}; finished points are kept, rerun to resume", file=sys.stderr)
    return 143 if name == "SIGTERM" else 130


def _main(args: argparse.Namespace) -> int:
    from sim import plot

    if args.command == "info":
        from sim.inspect import profile_info

        print(profile_info(args.profile))
        if args.plot:
            from sim.inspect import plot_batching

            print(f"figure written to {plot_batching(args.profile, args.plot)}")
        return 0
    if args.command == "export":
        from sim.results import export_csv

        if not (args.results / "records" / "_partitions.json").is_file():
            raise ConfigError(args.results / "records", "(results folder)", str(args.results),
                              "holds no records dataset; run 'aecnn-sim run' or 'sweep' first")
        print(f"records written to {export_csv(args.results, args.csv)}")
        return 0
    if args.command == "compare":
        from sim.reports import METRICS, compare

        table = compare(args.results, tuple(args.figures or METRICS))
        with pd_options():
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if args.csv:
            from sim.store import write_atomic
            write_atomic(args.csv, table.to_csv(index=False), what="--csv")
            print(f"written to {args.csv}")
        return 0
    if args.command == "schema":
        import json

        from sim.scenario import Scenario
        from sim.schema import json_schema, markdown_key_table

        print(markdown_key_table(Scenario) if args.markdown else json.dumps(json_schema(Scenario), indent=1))
        return 0
    if args.command == "presets":
        from sim.power import markdown_table, presets

        presets(str(args.file) if args.file else None)  # checks the file whole
        print(markdown_table(str(args.file) if args.file else None))
        return 0
    if args.command == "report":
        from sim.reports import report

        md, page = report(args.results)
        print(f"report written to {md} and {page}")
        return 0
    if args.command == "plot":
        if args.workers < 1:
            raise ConfigError("(command line)", "--workers", args.workers, "must be >= 1")
        figs = plot.plot_results(args.results, x=args.x, schemes=args.schemes,
                                 formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
                                 workers=args.workers)
        print(f"{len(figs)} figures in {args.results / 'figures'}")
        return 0
    from sim.runner import run_all
    from sim.scenario import load_scenario

    if args.workers < 1:
        raise ConfigError("(command line)", "--workers", args.workers, "must be >= 1")
    sc = load_scenario(args.scenario, parse_overrides(args.overrides))
    if args.command == "validate":
        from sim.inspect import validate

        print(validate(sc, args.workers))
        return 0
    out = args.out or Path("results") / sc.name
    started = time.monotonic()
    summary = run_all(sc, out, workers=args.workers, sweep=args.command == "sweep", force=args.force,
                      scheduler=args.scheduler)
    cols = [c for c in ("scheme", "hit_rate", "acc_within_deadline", "mean_latency_ms", "p95_latency_ms")]
    keys = list(sc.sweep.grid) if args.command == "sweep" else []
    table = summary.groupby(keys + ["scheme"], sort=False)[cols[1:]].mean()
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    empty = int((summary["tasks"] == 0).sum())
    if empty:
        print(f"note: no task arrived in {empty} of {len(summary)} (point, scheme, seed) runs; their figures are NaN")
    print(f"results in {out}")
    if not args.no_plot:
        from sim.progress import worth_a_line

        if worth_a_line(started):  # (batch jobs too, once the run is long enough to show progress)
            print(f"{sc.name}: drawing figures", file=sys.stderr, flush=True)
        figs = plot.plot_results(out, workers=args.workers)
        print(f"{len(figs)} figures in {out / 'figures'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
