"""The policy seam against the code it replaced: the same records for fixed schemes.

Sweeps each shipped scenario twice, with the engine of this checkout and with the engine of
REV (default 71419a5, the last commit before per-task decisions; run from a git worktree), and
compares every record column the old engine wrote, row by row, exactly (NaN equal to NaN).

  python benchmarks/seam_equivalence.py [--rev REV] [--scenario paper fading multi-device]

Both sides run on the profile REV knew, profiles/fashion-mnist-resnet50 (the scenarios now name
the profile of every codec, whose framed payloads and scheme names REV predates); the scenarios'
patterns ``aecnn-k*`` and ``bottlenet-k*`` pick that profile's AECNN and BottleNet++ levels.
multi-device.yaml's devices fade together in the old engine; the new one gives each device its
own fading, so that scenario runs here with ``channel.fading.shared: true`` (the old model).
Its 30 s of arrivals are cut to 5 s on both sides (--full keeps them) to bound the run time.
Exit status 0 when every scenario matches, 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
from bench_sim import _baseline_tree  # the same worktree of REV the speed benchmarks use

ROOT = Path(__file__).resolve().parents[1]
OLD_ONLY = {"choice", "group"}
OLD_PROFILE = ROOT / "profiles" / "fashion-mnist-resnet50"


def _sweep(tree: Path, scenario: str, out: Path, sets: list[str]) -> float:
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(ROOT / "scenarios" / f"{scenario}.yaml"), "--out", str(out),
           "--workers", "2", "--no-plot"]
    for s in sets:
        cmd += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t = time.perf_counter()
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def _records(folder: Path, keys: list[str] | None = None):
    """The records of a sweep, sorted by ``keys`` (default: the identifying columns it has)."""
    table = ds.dataset(folder / "records", format="parquet", partitioning="hive").to_table()
    df = table.to_pandas()
    if keys is None:
        keys = sorted({c for c in df.columns if df[c].dtype != float
                       and c not in ("status", "met", "correct", "choice", "group")} | {"device", "task"})
    return df.sort_values(keys, kind="stable").reset_index(drop=True), keys


def compare(old, new) -> list[str]:
    problems = []
    if len(old) != len(new):
        return [f"{len(old)} records against {len(new)}"]
    for c in old.columns:
        if c in OLD_ONLY:
            continue
        if c not in new.columns:
            problems.append(f"column {c} missing")
            continue
        a, b = old[c].to_numpy(), new[c].to_numpy()
        if a.dtype.kind == "f":
            same = (a == b) | (np.isnan(a) & np.isnan(b))
        else:
            same = a == b
        if not np.all(same):
            i = int(np.flatnonzero(~same)[0])
            problems.append(f"column {c}: {int((~same).sum())} rows differ, first row {i}: {a[i]!r} against {b[i]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rev", default="71419a5")
    ap.add_argument("--scenario", nargs="+", default=["paper", "fading", "multi-device"])
    ap.add_argument("--full", action="store_true", help="multi-device.yaml's full 30 s")
    args = ap.parse_args(argv)
    old_tree, bad = _baseline_tree(args.rev), 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.scenario:
            both = [f"profile={OLD_PROFILE}"] + ([] if args.full or name != "multi-device" else ["tasks.duration_s=5"])
            new_only = ["channel.fading.shared=true"] if name == "multi-device" else []
            t_old = _sweep(old_tree, name, Path(tmp, f"{name}-old"), both)
            t_new = _sweep(ROOT, name, Path(tmp, f"{name}-new"), both + new_only)
            old, keys = _records(Path(tmp, f"{name}-old"))
            new, _ = _records(Path(tmp, f"{name}-new"), keys)  # sorted alike: by the old engine's columns
            problems = compare(old, new)
            word = "identical" if not problems else "DIFFERENT"
            print(f"{name:13s} {len(old):>9,} records  {word}  ({args.rev} {t_old:.1f} s, this checkout {t_new:.1f} s)"
                  f"{' with ' + ', '.join(both + new_only) if both + new_only else ''}")
            for p in problems:
                print("   ", p)
            bad += bool(problems)
    subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT, capture_output=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
