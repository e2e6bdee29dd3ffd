"""Records streamed in row groups: the file holds every record, the tally equals one-batch figures."""
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import simple_profile, write_scenario

from sim.channel import _mix, uniform
from sim.engine import simulate
from sim.profile import load_profile
from sim.records import RECORD_FIELDS, ParquetSink, Tally, open_writer
from sim.results import records_frame, summarize
from sim.scenario import load_scenario


def _scenario(tmp_path):
    prof = simple_profile(tmp_path / "p", payload=3000, n=20)
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof, schemes=["split"],
        tasks={"arrival": {"process": "poisson", "rate_per_s": 60}, "count": 500, "deadline_ms": 20,
               "on_deadline": "drop"},
        channel={"fading": {"model": "rayleigh", "coherence_ms": 5}, "snr_db": 3}))
    return sc, load_profile(prof)


def test_streamed_records_and_tally_equal_the_in_memory_run(tmp_path):
    sc, prof = _scenario(tmp_path)
    mem = simulate(sc, prof, "split", 1)
    path = tmp_path / "r.parquet"
    writer = open_writer(path)
    sink = ParquetSink(writer, "split", 1, batch=37)  # many row groups
    streamed = simulate(sc, prof, "split", 1, sink=sink)
    sink.flush()
    writer.close()
    f = pq.ParquetFile(path)
    assert f.metadata.num_row_groups == math.ceil(500 / 37)
    assert f.metadata.row_group(0).column(RECORD_FIELDS.index("status") + 2).compression == "ZSTD"
    table = f.read().to_pandas()
    assert set(table["scheme"]) == {"split"} and set(table["seed"]) == {1}
    expect = records_frame(mem)
    pd.testing.assert_frame_equal(table[list(RECORD_FIELDS)], expect, check_dtype=False)
    assert set(expect["status"]) >= {"done", "dropped"}  # both kinds of task in the batches
    one, many = summarize(expect, mem), summarize(sink.tally, streamed)
    assert one.keys() == many.keys()
    for k, v in one.items():
        assert (math.isnan(v) and math.isnan(many[k])) or many[k] == pytest.approx(v, rel=1e-12), k


def test_tally_adds_batches():
    t = Tally()
    cols = {"met": [True, False], "correct": [True, True], "status": ["done", "dropped"], "air_bytes": [10, 5],
            "bytes": [10, 10], "batch": [2, 0], "latency_ms": [3.0, np.nan],
            **{c: [1.0, 9.0] for c in ("device_wait_ms", "device_ms", "uplink_wait_ms", "uplink_ms", "edge_wait_ms",
                                       "edge_ms", "downlink_ms", "propagation_ms")}}
    t.add(cols)
    t.add({**cols, "latency_ms": [5.0, np.nan], "status": ["done", "lost"], "met": [False, False]})
    row = t.row()
    assert (row["tasks"], row["status_done"], row["status_dropped"], row["status_lost"]) == (4, 2, 1, 1)
    assert row["hit_rate"] == 0.25 and row["acc_within_deadline"] == 0.25 and row["accuracy"] == 1.0
    assert row["bytes_sent"] == 30 and row["mean_payload_bytes"] == 10 and row["mean_batch"] == 2
    assert row["mean_latency_ms"] == 4.0 and row["p50_latency_ms"] == 4.0 and row["mean_device_ms"] == 1.0
    # the fault figures add up over batches too
    t = Tally()
    for fault, fallback in ((["edge", ""], [False, True]), (["", "uplink"], [True, True])):
        t.add({**cols, "fault": fault, "fallback": fallback})
    row = t.row(faults=True)
    assert row["fault_rate"] == 0.5 and row["fallback_rate"] == 0.75


def test_a_tally_without_completed_tasks_gives_nan_figures_without_warnings():
    import warnings

    t = Tally()
    stages = ("device_wait_ms", "device_ms", "uplink_wait_ms", "uplink_ms", "edge_wait_ms", "edge_ms",
              "downlink_ms", "propagation_ms")
    t.add({"met": [False], "correct": [True], "status": ["dropped"], "air_bytes": [0], "bytes": [10], "batch": [0],
           "latency_ms": [np.nan], **{c: [0.0] for c in stages}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice"
        row = t.row()
    assert row["tasks"] == 1 and row["completed_rate"] == 0.0
    assert all(math.isnan(row[k]) for k in ("mean_latency_ms", "p95_latency_ms", "accuracy", "mean_device_ms"))


def test_splitmix64_against_its_reference_outputs():
    # splitmix64 seeded with 0 (Vigna's reference code): the first outputs of the generator
    state, outs = 0, []
    for _ in range(3):
        outs.append(_mix(state))
        state = (state + 0x9E3779B97F4A7C15) & ((1 << 64) - 1)
    assert outs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    u = [uniform(12345, j) for j in range(20000)]
    assert 0 < min(u) and max(u) <= 1 and np.mean(u) == pytest.approx(0.5, abs=0.01)
