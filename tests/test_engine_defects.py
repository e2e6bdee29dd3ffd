"""Four engine defects found by independent checks, each pinned by a case worked by hand."""
import tracemalloc

import numpy as np
import pytest
from helpers import write_profile, write_scenario

from sim.channel import GilbertElliott
from sim.engine import simulate
from sim.profile import load_profile
from sim.results import records_frame
from sim.scenario import load_scenario

RATE = 1e6 * np.log2(11)  # bit/s at 10 dB over 1 MHz, efficiency 1


def _setup(tmp_path, times, payload=0, device_ms=0.0, tail=None, bandwidth=1e12, **sections):
    n = 4
    prof = write_profile(tmp_path / "p", stages={"head": {"hw": {1: device_ms}}, "tail": {"hw": tail or {1: 10.0}}},
                         schemes={"split": ("split", ["head"], ["tail"])},
                         columns={"label": np.zeros(n), "split_bytes": np.full(n, payload),
                                  "split_correct": np.ones(n)})
    (tmp_path / "arrivals.csv").write_text("time_s\n" + "\n".join(str(t) for t in times) + "\n")
    base = {"tasks": {"arrival": {"process": "trace", "trace": "arrivals.csv"}, "count": len(times),
                      "deadline_ms": 1e4},
            "channel": {"bandwidth_hz": bandwidth, "snr_db": 10.0, "fading": {"model": "none"},
                        "rate": {"model": "shannon", "efficiency": 1.0}, "mtu_bytes": 1500, "header_bytes": 40,
                        "propagation_ms": 0.0, "downlink": {"result_bytes": 0}}}
    for k, v in sections.items():
        base[k] = {**base.get(k, {}), **v}
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, **base))
    res = simulate(sc, load_profile(prof), "split", 0)
    return records_frame(res).sort_values("task").reset_index(drop=True), res


def test_batching_waits_for_the_oldest_job_still_queued(tmp_path):
    # jobs reach the edge at 0, 1 and 1.9 ms; 2 GPUs, batches of up to 2, wait up to 2 ms.
    # GPU 1 runs A and B together at 1 ms (the batch is full). C is then the oldest job queued:
    # it must wait its own 2 ms (to 3.9 ms), not the 2 ms window that A opened (to 2 ms).
    r, _ = _setup(tmp_path, [0.0, 0.001, 0.0019], tail={1: 10.0, 2: 12.0},
                  edge={"hardware": "hw", "speed": 1.0, "gpus": 2, "batching": {"max_batch": 2, "max_wait_ms": 2.0}})
    np.testing.assert_allclose(r["edge_wait_ms"], [1.0, 0.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(r["batch"], [2, 2, 1])
    np.testing.assert_allclose(r["latency_ms"], [13.0, 12.0, 12.0], atol=1e-6)


def test_task_dropped_on_the_device_sends_nothing(tmp_path):
    r, _ = _setup(tmp_path, [0.0], payload=10_000, device_ms=50.0,
                  tasks={"deadline_ms": 20.0, "on_deadline": "drop"})
    assert r.loc[0, "status"] == "dropped" and r.loc[0, "air_bytes"] == 0 and r.loc[0, "bytes"] == 10_000


@pytest.mark.parametrize("sharing", ["fifo", "round-robin"])
def test_task_dropped_during_upload_counts_only_what_went_out(tmp_path, sharing):
    # 10,000 bytes in 7 packets (6 x 1460 + 1240 payload, 40 header each) = 10,280 bytes on the air
    # at 3.459 Mbit/s would take 23.8 ms; the deadline cuts it at 10 ms.
    r, _ = _setup(tmp_path, [0.0], payload=10_000, bandwidth=1e6,
                  tasks={"deadline_ms": 10.0, "on_deadline": "drop"}, channel={"sharing": sharing})
    assert r.loc[0, "status"] == "dropped"
    if sharing == "fifo":  # a FIFO transfer is a stream: what the rate carried in 10 ms
        assert r.loc[0, "air_bytes"] == int(RATE * 0.010 / 8)
    else:  # packets of 3.469 ms: two sent, the third under way at 10 ms goes out whole
        assert r.loc[0, "air_bytes"] == 3 * 1500


def test_gilbert_elliott_lookup_does_not_copy_its_history():
    ge = GilbertElliott(0.0, -20.0, 1e-3, 1e-3, np.random.default_rng(0))
    ge.segment(100.0)  # about 100,000 sojourns of history
    assert len(ge.starts) > 50_000
    rng = np.random.default_rng(1)
    queries = rng.uniform(0, 100, 200)
    tracemalloc.start()
    got = [ge.segment(t) for t in queries]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024  # a copy of the history would be 8 bytes per sojourn per lookup
    starts = np.array(ge.starts)
    for t, (snr, end) in zip(queries, got):  # and the answers are right
        i = np.searchsorted(starts, t, side="right") - 1
        assert snr == ge.snr_db[ge.states[i]] and end == starts[i + 1]


def test_batch_whose_tasks_were_all_dropped_frees_the_gpu_at_the_deadline(tmp_path):
    # Task 0: device 15 ms, edge 15..65 ms, deadline 60 ms: dropped at 60, its batch stopped then.
    # Task 1 arrives at 47 ms, reaches the edge at 62 ms and finds the GPU free (not busy until 65).
    r, res = _setup(tmp_path, [0.0, 0.047], device_ms=15.0, tail={1: 50.0},
                    tasks={"deadline_ms": 60.0, "on_deadline": "drop"})
    assert list(r["status"]) == ["dropped", "dropped"]
    assert r.loc[1, "edge_wait_ms"] == pytest.approx(0.0, abs=1e-6)
    # busy: 45 ms of task 0's batch and 45 ms of task 1's (62 to 107 ms)
    assert res.busy_s["edge"] * 1e3 == pytest.approx(90.0, abs=1e-6)
