"""Summaries derived from task records, and confidence intervals across seeds.

Per-task metrics (latency, hit rate, accuracy within the deadline) come from records; time-weighted
ones (utilisation) come from the simulation's busy times and are kept apart.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.engine import Result
from sim.errors import ConfigError
from sim.records import RECORD_FIELDS, STAGE_COLUMNS, STATUSES, Tally  # noqa: F401

# two-sided 95% Student t quantiles for 1..30 degrees of freedom
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)


def records_frame(result: Result) -> pd.DataFrame:
    return pd.DataFrame.from_records(result.records, columns=list(RECORD_FIELDS))


def summarize(rec, result: Result) -> dict:
    """One summary row of a (point, scheme, seed) run: per-task figures from its records (a
    DataFrame, or the Tally a ParquetSink kept), time-weighted ones from the simulation."""
    tally = rec if isinstance(rec, Tally) else Tally()
    if not isinstance(rec, Tally):
        tally.add(rec)
    row = tally.row(faults="edge_availability" in result.extra)
    if "edge_availability" in result.extra:  # the share of the run's time the edge was up
        row["edge_availability"] = result.extra["edge_availability"]
    for k, v in result.utilization().items():
        row[f"utilization_{k}"] = v
    row["horizon_s"] = result.horizon_s
    if "bound_hits" in result.extra:  # the oracle's bound: no policy's rate can exceed these
        n = row["tasks"]
        row["hit_bound"] = result.extra["bound_hits"] / n if n else math.nan
        row["acc_bound"] = result.extra["bound_correct"] / n if n else math.nan
    return row


def with_ci(summary: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean across seeds of every numeric summary figure, with its 95% Student-t half-width.

    Per point and scheme (``keys``); ``seeds`` counts the seeds, ``<figure>_ci95`` is NaN with one
    seed or where a figure is NaN for all but one (figures that are NaN for a seed, such as the
    latency of a run where no task completed, are left out of that figure's mean).
    """
    figures = [c for c in summary.columns
               if c not in keys and c != "seed" and pd.api.types.is_numeric_dtype(summary[c])]
    # one float array, a figure per row, so that each figure of a group is one contiguous slice:
    # the same values in the same order as the group's column, so the same mean to the last bit
    values = np.ascontiguousarray(summary[figures].to_numpy(dtype=float).T)
    rows = []
    for group, at in summary.groupby(keys, sort=False, dropna=False).indices.items():
        row = dict(zip(keys, group if isinstance(group, tuple) else (group,)))
        row["seeds"] = len(at)
        block = values[:, at]
        for m, x in zip(figures, block):
            if np.isnan(x).any():
                x = x[~np.isnan(x)]
            row[m] = float(x.mean()) if len(x) else math.nan
            row[f"{m}_ci95"] = half_width95(x)
        rows.append(row)
    return pd.DataFrame(rows)


def half_width95(x) -> float:
    """Half-width of the 95% Student-t interval of the mean of ``x`` (NaN with fewer than 2 values)."""
    x = np.asarray(x, dtype=float)
    return t95(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else math.nan


def t95(dof: int) -> float:
    """Two-sided 95% quantile of Student's t with ``dof`` degrees of freedom (normal beyond 30)."""
    return _T95[dof - 1] if dof <= 30 else 1.959964 + 2.5 / dof  # within 0.1% of the exact quantile past 30


def _partition_type(values: list) -> pa.DataType:
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()


def _segment(v: object) -> str:
    return urllib.parse.quote(str(v) if not isinstance(v, float) else repr(v), safe="")


def link_records(out: Path, points: list[tuple[dict, str]], keys: list[str]) -> None:
    """Rebuild ``out/records`` as hive partitions of hard links to the store's records files."""
    from sim import store

    final, tmp = out / "records", out / f".records.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for values, pid in points:
        folder = tmp.joinpath(*(f"{k}={_segment(values[k])}" for k in keys))
        folder.mkdir(parents=True, exist_ok=True)
        src, dst = out / "points" / f"{pid}{store.RECORDS}", folder / f"{pid}.parquet"
        try:
            os.link(src, dst)
        except OSError:  # a file system without hard links: copy
            shutil.copyfile(src, dst)
    schema = {k: [v[k] for v, _ in points] for k in keys}
    (tmp / "_partitions.json").write_text(json.dumps({k: str(_partition_type(v)) for k, v in schema.items()}))
    old = out / f".records.old.{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


_TYPES = {"bool": pa.bool_(), "int64": pa.int64(), "double": pa.float64(), "string": pa.string()}


def records_dataset(out: str | Path):
    """The records of a results folder as a pyarrow dataset, swept keys as typed columns, and those keys."""
    import pyarrow.dataset as ds

    folder = Path(out) / "records"
    parts = json.loads((folder / "_partitions.json").read_text())
    part = ds.partitioning(pa.schema([(k, _TYPES[t]) for k, t in parts.items()]), flavor="hive") if parts else None
    return ds.dataset(folder, format="parquet", partitioning=part, ignore_prefixes=[".", "_"]), list(parts)


def read_records(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The records of a results folder (only ``columns`` if given), swept keys as columns."""
    dataset, _ = records_dataset(out)
    cols = None if columns is None else [c for c in columns if c in dataset.schema.names]
    return dataset.to_table(columns=cols).to_pandas()


def export_csv(out: str | Path, path: str | Path | None = None) -> Path:
    """Write the records dataset as one CSV (batch by batch), by default ``out/records.csv``."""
    import pyarrow.csv as pacsv

    out = Path(out)
    path = Path(path) if path else out / "records.csv"
    dataset, keys = records_dataset(out)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    names = keys + [n for n in dataset.schema.names if n not in keys]
    if path.is_dir():
        raise ConfigError("(command line)", "--csv", str(path), "is a folder; give a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # (a parent that is a file fails here, with its reason)
        with pacsv.CSVWriter(tmp, pa.schema([dataset.schema.field(n) for n in names])) as w:
            for batch in dataset.to_batches(columns=names):
                w.write_batch(batch)
        os.replace(tmp, path)
    except OSError as e:  # a folder, a missing or unwritable folder, a full disk
        raise ConfigError("(command line)", "--csv", str(path), f"cannot be written: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(OSError):  # gone already once renamed
            tmp.unlink()
    return path
