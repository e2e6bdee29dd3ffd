"""Summaries derived from task records, and confidence intervals across seeds.

Per-task metrics (latency, hit rate, accuracy within the deadline) come from records; time-weighted
ones (utilisation) come from the simulation's busy times and are kept apart.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.engine import RECORD_FIELDS, Result

STAGE_COLUMNS = ("device_wait_ms", "device_ms", "uplink_wait_ms", "uplink_ms", "edge_wait_ms",
                 "edge_ms", "downlink_ms", "propagation_ms")
STATUSES = ("done", "dropped", "lost", "outage")  # every value a record's status can take (docs/results.md)

# two-sided 95% Student t quantiles for 1..30 degrees of freedom
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)


def records_frame(result: Result) -> pd.DataFrame:
    return pd.DataFrame.from_records(result.records, columns=list(RECORD_FIELDS))


def summarize(rec: pd.DataFrame, result: Result) -> dict:
    """One summary row of a (point, scheme, seed) run."""
    n = len(rec)
    done = rec[rec["status"] == "done"]
    lat = done["latency_ms"].to_numpy()

    def pct(q: float) -> float:
        return float(np.percentile(lat, q)) if len(lat) else math.nan

    row = {
        "tasks": n,
        "hit_rate": float(rec["met"].mean()) if n else math.nan,
        "acc_within_deadline": float((rec["met"] & rec["correct"]).mean()) if n else math.nan,
        "accuracy": float(done["correct"].mean()) if len(done) else math.nan,
        "completed_rate": len(done) / n if n else math.nan,
        "mean_latency_ms": float(lat.mean()) if len(lat) else math.nan,
        "p50_latency_ms": pct(50), "p95_latency_ms": pct(95), "p99_latency_ms": pct(99),
        "bytes_sent": int(rec["air_bytes"].sum()),
        "mean_payload_bytes": float(rec["bytes"].mean()) if n else math.nan,
        "mean_batch": float(done["batch"].mean()) if len(done) else math.nan,
    }
    counts = rec["status"].value_counts()
    for st in STATUSES:
        row[f"status_{st}"] = int(counts.get(st, 0))
    for c in STAGE_COLUMNS:
        row[f"mean_{c}"] = float(done[c].mean()) if len(done) else math.nan
    for k, v in result.utilization().items():
        row[f"utilization_{k}"] = v
    row["horizon_s"] = result.horizon_s
    return row


def with_ci(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean across seeds of every numeric summary figure, with its 95% Student-t half-width.

    Per point and scheme (``keys``); ``seeds`` counts the seeds, ``<figure>_ci95`` is NaN with one
    seed or where a figure is NaN for all but one (figures that are NaN for a seed, such as the
    latency of a run where no task completed, are left out of that figure's mean).
    """
    figures = [c for c in summary.columns
               if c not in keys and c != "seed" and pd.api.types.is_numeric_dtype(summary[c])]
    rows = []
    for group, g in summary.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, group if isinstance(group, tuple) else (group,)))
        row["seeds"] = len(g)
        for m in figures:
            x = g[m].dropna().to_numpy(dtype=float)
            row[m] = float(x.mean()) if len(x) else math.nan
            row[f"{m}_ci95"] = t95(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def t95(dof: int) -> float:
    """Two-sided 95% quantile of Student's t with ``dof`` degrees of freedom (normal beyond 30)."""
    return _T95[dof - 1] if dof <= 30 else 1.959964 + 2.5 / dof  # within 0.1% of the exact quantile past 30
