"""Task records: their Parquet layout, a streaming writer, and the running sums a summary needs.

A simulation appends one tuple per task (``RECORD_FIELDS`` order). In memory (tests, the Python
API) that is a list; in a sweep it is a :class:`ParquetSink`, which writes a row group every
``batch`` tasks and keeps only the figures a summary needs (:class:`Tally`): counts, sums and the
latencies of completed tasks. Memory therefore stays bounded however many tasks a run has.
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

RECORD_FIELDS = (
    "device", "task", "arrival_ms", "image", "label", "bytes", "air_bytes", "device_wait_ms",
    "device_ms", "uplink_wait_ms", "uplink_ms", "edge_wait_ms", "edge_ms", "batch", "downlink_ms",
    "propagation_ms", "completion_ms", "latency_ms", "deadline_ms", "status", "met", "correct",
    "group", "choice", "fault", "fallback", "energy_compute_j", "energy_radio_j", "energy_tail_j",
    "energy_idle_j", "energy_j",
)
ENERGY_COLUMNS = ("energy_compute_j", "energy_radio_j", "energy_tail_j", "energy_idle_j", "energy_j")
STAGE_COLUMNS = ("device_wait_ms", "device_ms", "uplink_wait_ms", "uplink_ms", "edge_wait_ms",
                 "edge_ms", "downlink_ms", "propagation_ms")
# every value a record's status can take (docs/results.md)
STATUSES = ("done", "dropped", "lost", "outage", "edge-fault", "timeout")

_INT = {"device", "task", "image", "label", "bytes", "air_bytes", "batch"}
_BOOL = {"met", "correct", "fallback"}
_STR = {"status", "group", "choice", "fault"}
SCHEMA = pa.schema(
    [("scheme", pa.string()), ("seed", pa.int64())]
    + [(f, pa.int64() if f in _INT else pa.bool_() if f in _BOOL else pa.string() if f in _STR
        else pa.float64()) for f in RECORD_FIELDS])


class Tally:
    """What a summary row needs from a run's records, accumulated batch by batch."""

    def __init__(self) -> None:
        self.n = self.met = self.met_correct = self.done = self.done_correct = 0
        self.air_bytes = self.payload_bytes = self.batch_sum = 0
        self.stage_sums = dict.fromkeys(STAGE_COLUMNS, 0.0)
        self.status = dict.fromkeys(STATUSES, 0)
        self.choices: dict[str, int] = {}
        self.energy = dict.fromkeys(ENERGY_COLUMNS, 0.0)
        self.energy_n = 0  # tasks with an energy figure (their device group has a power model)
        self.faulted = self.fallbacks = 0
        self._latencies: list[np.ndarray] = []

    def add(self, cols: Mapping) -> None:
        """Add a batch of records: a DataFrame or a mapping of column name to array."""
        met = np.asarray(cols["met"], dtype=bool)
        correct = np.asarray(cols["correct"], dtype=bool)
        status = np.asarray(cols["status"]).astype(str)
        done = status == "done"
        self.n += len(met)
        self.met += int(met.sum())
        self.met_correct += int((met & correct).sum())
        self.done += int(done.sum())
        self.done_correct += int((done & correct).sum())
        self.air_bytes += int(np.asarray(cols["air_bytes"], dtype=np.int64).sum())
        self.payload_bytes += int(np.asarray(cols["bytes"], dtype=np.int64).sum())
        self.batch_sum += int(np.asarray(cols["batch"], dtype=np.int64)[done].sum())
        for c in STAGE_COLUMNS:
            self.stage_sums[c] += float(np.asarray(cols[c], dtype=float)[done].sum())
        values, counts = np.unique(status, return_counts=True)
        for v, k in zip(values, counts):
            self.status[str(v)] = self.status.get(str(v), 0) + int(k)
        if "choice" in cols:
            values, counts = np.unique(np.asarray(cols["choice"]).astype(str), return_counts=True)
            for v, k in zip(values, counts):
                self.choices[str(v)] = self.choices.get(str(v), 0) + int(k)
        self._latencies.append(np.asarray(cols["latency_ms"], dtype=float)[done])
        if "energy_j" in cols:
            total = np.asarray(cols["energy_j"], dtype=float)
            known = ~np.isnan(total)
            self.energy_n += int(known.sum())
            for c in ENERGY_COLUMNS:
                self.energy[c] += float(np.asarray(cols[c], dtype=float)[known].sum())
        if "fault" in cols:
            self.faulted += int((np.asarray(cols["fault"]).astype(str) != "").sum())
            self.fallbacks += int(np.asarray(cols["fallback"], dtype=bool).sum())

    def latencies(self) -> np.ndarray:
        if len(self._latencies) != 1:
            self._latencies = [np.concatenate(self._latencies) if self._latencies else np.empty(0)]
        return self._latencies[0]

    def row(self, faults: bool = False) -> dict:
        """The per-task figures of a summary row (docs/results.md); ``faults``: with the fault figures."""
        n, d, lat = self.n, self.done, self.latencies()

        def rate(k: int, of: int) -> float:
            return k / of if of else math.nan

        def pct(q: float) -> float:
            return float(np.percentile(lat, q)) if len(lat) else math.nan

        row = {
            "tasks": n, "hit_rate": rate(self.met, n), "acc_within_deadline": rate(self.met_correct, n),
            "accuracy": rate(self.done_correct, d), "completed_rate": rate(d, n),
            "mean_latency_ms": float(lat.mean()) if len(lat) else math.nan,
            "p50_latency_ms": pct(50), "p95_latency_ms": pct(95), "p99_latency_ms": pct(99),
            "bytes_sent": self.air_bytes, "mean_payload_bytes": rate(self.payload_bytes, n),
            "mean_batch": rate(self.batch_sum, d),
        }
        for c in STAGE_COLUMNS:
            row[f"mean_{c}"] = rate(self.stage_sums[c], d)
        for st in STATUSES:
            row[f"status_{st}"] = self.status[st]
        for name, k in sorted(self.choices.items()):
            row[f"share_{name}"] = k / n
        if self.energy_n:  # per task, and per task that met its deadline with a correct result
            for c in ENERGY_COLUMNS:
                row[f"{c[:-2]}_per_task_j"] = self.energy[c] / self.energy_n
            row["energy_per_ontime_correct_j"] = self.energy["energy_j"] / self.met_correct \
                if self.met_correct and self.energy_n == n else math.nan
        if faults:
            row["fault_rate"] = rate(self.faulted, n)
            row["fallback_rate"] = rate(self.fallbacks, n)
            row["lost_to_faults_rate"] = rate(self.status["edge-fault"] + self.status["timeout"], n)
        return row


class ParquetSink:
    """A list-like sink for one (scheme, seed): appended records go to ``writer`` in row groups."""

    def __init__(self, writer: pq.ParquetWriter, scheme: str, seed: int, batch: int = 65_536) -> None:
        self.writer, self.scheme, self.seed, self.batch = writer, scheme, seed, batch
        self.tally = Tally()
        self._buf: list[tuple] = []

    def append(self, record: tuple) -> None:
        self._buf.append(record)
        if len(self._buf) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        cols = dict(zip(RECORD_FIELDS, map(list, zip(*self._buf))))
        n = len(self._buf)
        arrays = [pa.array([self.scheme] * n, pa.string()), pa.array([self.seed] * n, pa.int64())]
        arrays += [pa.array(cols[f], SCHEMA.field(f).type) for f in RECORD_FIELDS]
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=SCHEMA))
        self.tally.add({f: np.asarray(cols[f]) for f in ("met", "correct", "status", "air_bytes", "bytes", "batch",
                                                          "latency_ms", "choice", "fault", "fallback",
                                                          *STAGE_COLUMNS, *ENERGY_COLUMNS)})
        self._buf = []


def open_writer(path) -> pq.ParquetWriter:
    """A Parquet writer for records (zstd, dictionary-encoded strings)."""
    return pq.ParquetWriter(path, SCHEMA, compression="zstd",
                            use_dictionary=["scheme", "status", "group", "choice", "fault"])
