"""Run a scenario's points (sweep grid x seeds x schemes) in parallel processes, resumably.

Each finished (point, seed) is written atomically to ``points/<id>.json`` with its task records
in ``points/<id>.records.csv``; a rerun skips the points already there, so an interrupted sweep
resumes where it stopped. When all are done, ``summary.csv``, ``summary_ci.csv`` and
``records.csv`` are assembled from them.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim import results, schema
from sim.engine import simulate
from sim.errors import ConfigError
from sim.profile import load_profile
from sim.scenario import Scenario, override


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def grid_points(sc: Scenario) -> list[dict[str, Any]]:
    """Every combination of the sweep grid's values (one empty point when there is no grid)."""
    keys = list(sc.sweep.grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(sc.sweep.grid[k] for k in keys))]


def point_id(values: dict[str, Any], seed: int) -> str:
    text = ",".join(f"{k}={values[k]}" for k in values) or "base"
    h = hashlib.sha1(json.dumps([values, seed], sort_keys=True, default=str).encode()).hexdigest()[:8]
    safe = "".join(c if c.isalnum() or c in "=.-_," else "_" for c in text)[:80]
    return f"{safe}__seed{seed}__{h}"


def run_point(sc: Scenario, values: dict[str, Any], seed: int, out: Path) -> str:
    """Simulate every scheme at one point and seed; write its summary and records atomically."""
    point = override(sc, values) if values else sc
    profile = load_profile(point.profile)
    pid = point_id(values, seed)
    rows, recs = [], []
    for scheme in point.schemes:
        res = simulate(point, profile, scheme, seed)
        rec = results.records_frame(res)
        rows.append({**values, "scheme": scheme, "seed": seed, **results.summarize(rec, res)})
        rec.insert(0, "seed", seed)
        rec.insert(0, "scheme", scheme)
        for k in reversed(list(values)):
            rec.insert(0, k, values[k])
        recs.append(rec)
    atomic_write(out / "points" / f"{pid}.records.csv", pd.concat(recs).to_csv(index=False))
    atomic_write(out / "points" / f"{pid}.json", json.dumps({"values": values, "seed": seed, "rows": rows},
                                                              default=float))
    return pid


def _prepare(sc: Scenario, out: Path, sweep: bool) -> str:
    """Write (or check) the resolved scenario beside the results."""
    resolved = schema.to_dict(sc)
    if not sweep:
        resolved["sweep"] = {"grid": {}}
    text = yaml.safe_dump(resolved, sort_keys=False)
    path = out / "scenario.resolved.yaml"
    if path.exists() and path.read_text() != text:
        raise ConfigError(path, "(results folder)", str(out),
                          "holds results of a different scenario; pass another --out or remove it")
    atomic_write(path, text)
    return text


def run_all(sc: Scenario, out: Path, workers: int = 1, sweep: bool = True, progress: bool = True) -> pd.DataFrame:
    """Run all (point, seed) pairs not yet done, in ``workers`` processes; assemble the tables."""
    from tqdm import tqdm

    _prepare(sc, out, sweep)
    points = grid_points(sc) if sweep else [{}]
    todo = [(v, s) for v in points for s in sc.seeds
            if not (out / "points" / f"{point_id(v, s)}.json").exists()]
    bar = tqdm(total=len(points) * len(sc.seeds), initial=len(points) * len(sc.seeds) - len(todo),
               desc=f"{sc.name}: points x seeds", disable=None if progress else True, unit="pt")
    if workers <= 1:
        for v, s in todo:
            run_point(sc, v, s, out)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = [pool.submit(run_point, sc, v, s, out) for v, s in todo]
            for f in as_completed(futs):
                f.result()
                bar.update()
    bar.close()
    return assemble(out, points, sc.seeds, list(sc.sweep.grid) if sweep else [])


def assemble(out: Path, points: list[dict], seeds: list[int], keys: list[str]) -> pd.DataFrame:
    """Build summary.csv, summary_ci.csv and records.csv from the finished points."""
    rows, recs = [], []
    for v in points:
        for s in seeds:
            pid = point_id(v, s)
            rows.extend(json.loads((out / "points" / f"{pid}.json").read_text())["rows"])
            recs.append(pd.read_csv(out / "points" / f"{pid}.records.csv"))
    summary = pd.DataFrame(rows)
    atomic_write(out / "summary.csv", summary.to_csv(index=False))
    atomic_write(out / "summary_ci.csv", results.with_ci(summary, keys + ["scheme"]).to_csv(index=False))
    atomic_write(out / "records.csv", pd.concat(recs).to_csv(index=False))
    return summary
