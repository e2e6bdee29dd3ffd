"""Every column of a task's record, worked by hand; outage; HARQ draws keyed by seed, device and task."""
import math

import numpy as np
import pytest
from helpers import write_profile, write_scenario

from sim.engine import simulate
from sim.profile import load_profile
from sim.results import records_frame
from sim.scenario import load_scenario


def _run(tmp_path, scheme="split", payload=960, local_bytes=0, seeds=(0,), lindley=None, **sections):
    n = 4
    prof = write_profile(tmp_path / "p", stages={"full": {"hw": {1: 30.0}}, "head": {"hw": {1: 4.0}},
                                                 "tail": {"hw": {1: 6.0}}},
                         schemes={"local": ("local", ["full"], []), "split": ("split", ["head"], ["tail"])},
                         columns={"label": np.arange(n) % 3, "local_bytes": np.full(n, local_bytes),
                                  "local_correct": np.ones(n), "split_bytes": np.full(n, payload),
                                  "split_correct": np.arange(n) % 2})
    base = {"tasks": {"arrival": {"process": "periodic", "period_ms": 1000}, "count": 1, "deadline_ms": 100},
            "channel": {"bandwidth_hz": 1e6, "snr_db": 0.0, "fading": {"model": "none"},
                        "rate": {"model": "shannon", "efficiency": 1.0}, "mtu_bytes": 1000, "header_bytes": 40,
                        "propagation_ms": 2.0, "downlink": {"result_bytes": 125, "rate_bps": 1e6}}}
    for k, v in sections.items():
        base[k] = {**base.get(k, {}), **v}
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, schemes=[scheme], **base))
    return [records_frame(simulate(sc, load_profile(prof), scheme, s, lindley)) for s in seeds]


def test_split_task_record_by_hand(tmp_path):
    (r,) = _run(tmp_path)
    row = r.iloc[0]
    # 960 B = one packet of 960 + 40 B at 1 Mbit/s: 8 ms; result 125 B at 1 Mbit/s: 1 ms; 2 x 2 ms
    expect = {"device": 0, "task": 0, "arrival_ms": 0.0, "bytes": 960, "air_bytes": 1000, "device_wait_ms": 0.0,
              "device_ms": 4.0, "uplink_wait_ms": 0.0, "uplink_ms": 8.0, "edge_wait_ms": 0.0, "edge_ms": 6.0,
              "batch": 1, "downlink_ms": 1.0, "propagation_ms": 4.0, "completion_ms": 23.0, "latency_ms": 23.0,
              "deadline_ms": 100.0, "status": "done", "met": True}
    for k, v in expect.items():
        assert row[k] == pytest.approx(v), k
    assert row["label"] == row["image"] % 3 and row["correct"] == (row["image"] % 2 == 1)


@pytest.mark.parametrize("lindley", [None, False])  # a task as callbacks, and as a process
def test_local_task_sends_nothing_whatever_its_bytes_column(tmp_path, lindley):
    (r,) = _run(tmp_path, scheme="local", local_bytes=5, lindley=lindley)
    row = r.iloc[0]
    assert (row["bytes"], row["air_bytes"], row["batch"]) == (0, 0, 0)
    assert (row["uplink_ms"], row["edge_ms"], row["downlink_ms"], row["propagation_ms"]) == (0, 0, 0, 0)
    assert row["latency_ms"] == pytest.approx(30.0) and row["status"] == "done"


def test_late_task_is_done_but_not_met(tmp_path):
    (r,) = _run(tmp_path, tasks={"deadline_ms": 20.0})
    assert r.iloc[0]["status"] == "done" and not r.iloc[0]["met"] and r.iloc[0]["latency_ms"] == pytest.approx(23.0)


@pytest.mark.parametrize("sharing", ["fifo", "round-robin"])
@pytest.mark.parametrize("on_deadline", ["finish", "drop"])
def test_outage_task_record(tmp_path, sharing, on_deadline):
    (r,) = _run(tmp_path, channel={"snr_db": -20.0, "rate": {"model": "cqi", "bler": 0.0}, "sharing": sharing},
                tasks={"on_deadline": on_deadline})
    row = r.iloc[0]
    assert row["status"] == "outage" and not row["met"] and math.isnan(row["latency_ms"])
    assert row["air_bytes"] == 0 and row["uplink_ms"] == 0 and row["device_ms"] == pytest.approx(4.0)
    assert math.isnan(row["completion_ms"]) and row["batch"] == 0


def test_harq_draws_differ_across_seeds_devices_and_tasks(tmp_path):
    runs = _run(tmp_path, payload=20_000, seeds=(0, 1),
                tasks={"count": 30}, devices={"count": 2, "hardware": "hw", "speed": 1.0},
                channel={"snr_db": 20.0, "rate": {"model": "cqi", "bler": 0.5, "max_harq": 3}})
    a, b = runs
    air_a = a.pivot(index="task", columns="device", values="air_bytes")
    assert air_a[0].nunique() > 5  # tasks of one device draw afresh
    assert not air_a[0].equals(air_a[1])  # devices draw apart
    assert not a["air_bytes"].equals(b["air_bytes"])  # seeds draw apart
    again = _run(tmp_path, payload=20_000, seeds=(0,), tasks={"count": 30},
                 devices={"count": 2, "hardware": "hw", "speed": 1.0},
                 channel={"snr_db": 20.0, "rate": {"model": "cqi", "bler": 0.5, "max_harq": 3}})[0]
    assert again["air_bytes"].equals(a["air_bytes"])  # and one seed gives the same draws again


def test_uplink_utilisation_of_one_task(tmp_path):
    (r,) = _run(tmp_path)  # device 4 ms, uplink 8 ms, edge 6 ms, downlink 1 ms, 2 x 2 ms: ends at 23 ms
    assert r.iloc[0]["completion_ms"] == pytest.approx(23.0)
    res = simulate(load_scenario(tmp_path / "s.yaml"), load_profile(tmp_path / "p"), "split", 0)
    u = res.utilization()
    assert u["uplink"] == pytest.approx(8 / 23) and u["edge"] == pytest.approx(6 / 23)
    assert u["device"] == pytest.approx(4 / 23)


def test_a_trace_arrival_at_the_end_of_the_duration_is_left_out(tmp_path):
    (tmp_path / "a.csv").write_text("time_s\n0.1\n0.5\n")
    (r,) = _run(tmp_path, tasks={"arrival": {"process": "trace", "trace": "a.csv"}, "count": None,
                                 "duration_s": 0.5})
    assert list(r["arrival_ms"]) == [100.0]  # arrivals before duration_s, not at it


def test_images_and_phases_differ_across_seeds_and_devices(tmp_path):
    runs = _run(tmp_path, seeds=(0, 1), tasks={"count": 50, "arrival": {"process": "periodic", "period_ms": 100}},
                devices={"count": 2, "hardware": "hw", "speed": 1.0})
    a, b = runs
    img = a.pivot(index="task", columns="device", values="image")
    assert not img[0].equals(img[1])  # each device draws its own images
    assert not a["image"].equals(b["image"])  # and each seed
    first = a.groupby("device")["arrival_ms"].min()
    assert first[0] == 0.0 and 0.0 < first[1] < 100.0  # device 0 starts at 0, the others at a random phase
