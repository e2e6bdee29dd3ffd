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
CI_METRICS = ("hit_rate", "acc_within_deadline", "mean_latency_ms", "p95_latency_ms")

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
    for c in STAGE_COLUMNS:
        row[f"mean_{c}"] = float(done[c].mean()) if len(done) else math.nan
    for k, v in result.utilization().items():
        row[f"utilization_{k}"] = v
    row["horizon_s"] = result.horizon_s
    return row


def with_ci(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean across seeds with 95% Student-t half-widths, per point and scheme."""
    rows = []
    for group, g in summary.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, group if isinstance(group, tuple) else (group,)))
        row["seeds"] = len(g)
        for m in CI_METRICS:
            x = g[m].dropna().to_numpy()
            row[m] = float(x.mean()) if len(x) else math.nan
            if len(x) > 1:
                t = _T95[min(len(x) - 1, 30) - 1]
                row[f"{m}_ci95"] = float(t * x.std(ddof=1) / math.sqrt(len(x)))
            else:
                row[f"{m}_ci95"] = math.nan
        rows.append(row)
    return pd.DataFrame(rows)
