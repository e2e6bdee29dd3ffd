"""One task on a static channel: latency equals the sum computed by hand."""
import math

import pytest
from helpers import simple_profile, write_scenario

from sim.engine import RECORD_FIELDS, simulate
from sim.profile import load_profile
from sim.scenario import load_scenario


def test_one_task_static_channel_latency_by_hand(tmp_path):
    prof = simple_profile(tmp_path / "p", payload=3000, device_ms=5.0, edge_ms=2.0)
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof,
        devices={"count": 1, "hardware": "hw", "speed": 0.5},
        channel={"bandwidth_hz": 2e6, "snr_db": 10.0, "fading": {"model": "none"},
                 "rate": {"model": "shannon", "efficiency": 0.8}, "mtu_bytes": 1500, "header_bytes": 40,
                 "downlink": {"result_bytes": 100, "rate_bps": 1e6}, "propagation_ms": 3.0},
        edge={"hardware": "hw", "speed": 4.0}))
    rec = simulate(sc, load_profile(prof), "split", seed=0).records
    assert len(rec) == 1
    # by hand: device 5 ms / 0.5; 3000 B in 3 packets of <=1460 B payload + 40 B header each;
    # Shannon rate 0.8 * 2 MHz * log2(1 + 10); edge 2 ms / 4; downlink 800 bit at 1 Mbit/s; 2 x 3 ms.
    rate = 0.8 * 2e6 * math.log2(1 + 10 ** (10 / 10))
    expected_ms = 5.0 / 0.5 + (3000 + 3 * 40) * 8 / rate * 1e3 + 2.0 / 4.0 + 800 / 1e6 * 1e3 + 2 * 3.0
    latency = rec[0][RECORD_FIELDS.index("latency_ms")]
    assert abs(latency - expected_ms) < 1e-9, (latency, expected_ms)


def test_local_scheme_uses_device_only(tmp_path):
    prof = simple_profile(tmp_path / "p", device_ms=5.0)
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, schemes=["local"]))
    rec = simulate(sc, load_profile(prof), "local", seed=0).records
    assert abs(rec[0][RECORD_FIELDS.index("latency_ms")] - 20.0) < 1e-9  # the full model: 4 x 5 ms, nothing sent
    assert rec[0][RECORD_FIELDS.index("air_bytes")] == 0


def test_simultaneous_arrivals_of_many_devices_queue_in_device_order(tmp_path):
    # three devices replay one trace (0, 0, 1 s): tasks arrive at once on all three; one source takes
    # them in order of time, ties to the lower device index, and the uplink serves them so
    import numpy as np
    import pandas as pd

    trace = tmp_path / "arrivals.csv"
    pd.DataFrame({"time_s": [0.0, 0.0, 1.0]}).to_csv(trace, index=False)
    prof = simple_profile(tmp_path / "p", payload=1000, device_ms=5.0, edge_ms=2.0)
    s = 1040 * 8 / (1e6 * math.log2(11)) * 1e3  # one 1040-byte packet, in ms (2.41)
    # device CPUs: task 0 on [0, 5] ms, task 1 on [5, 10]; uplink asked at 5 ms by devices 0, 1, 2,
    # at 10 ms by their second tasks (the first three end at 5 + 3s), at 1005 ms by the third ones
    expected = {(0, 0): 0.0, (1, 0): s, (2, 0): 2 * s, (0, 1): 3 * s - 5, (1, 1): 4 * s - 5, (2, 1): 5 * s - 5,
                (0, 2): 0.0, (1, 2): s, (2, 2): 2 * s}
    for sharing in ("fifo", "round-robin"):
        sc = load_scenario(write_scenario(
            tmp_path / "s.yaml", prof, devices={"count": 3, "hardware": "hw", "speed": 1.0},
            tasks={"arrival": {"process": "trace", "trace": str(trace)}, "count": None, "duration_s": 2.0,
                   "deadline_ms": 1000},
            channel={"bandwidth_hz": 1e6, "snr_db": 10, "fading": {"model": "none"}, "sharing": sharing,
                     "rate": {"model": "shannon", "efficiency": 1.0}, "mtu_bytes": 1500, "header_bytes": 40}))
        rec = pd.DataFrame(simulate(sc, load_profile(prof), "split", 0).records, columns=RECORD_FIELDS)
        got = dict(zip(zip(rec["device"], rec["task"]), rec["uplink_wait_ms"]))
        assert got.keys() == expected.keys()
        np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), atol=1e-9, err_msg=sharing)


class _QueueWatcher:
    """Chooses by a hash of the task and keeps every queue it was told (the Python policy API)."""

    options = ("local", "split")

    def __init__(self):
        self.ctx, self.seen = None, []

    def choose(self, obs):
        self.seen.append(round(obs.queue_s, 12))
        return self.options[(obs.task * 7 + obs.task // 3) % 2]

    def observe(self, record):
        pass


@pytest.mark.parametrize("faults", [None, {"timeout_ms": 6, "fallback": "local"}])
def test_device_queue_with_drops_by_lindley_equals_the_simpy_resource(tmp_path, faults):
    # an overloaded device (local 20 ms, split 5 ms, a task every 10 +- 4 ms) drops at 30 ms: tasks
    # leave its queue while they run; with a timeout (the edge takes 200 ms) the fallback's late
    # request, with an earlier deadline, is also dropped while queued. The recursion that knows
    # each drop time as the task asks must give the resource's records and the queue a policy sees
    import numpy as np
    import pandas as pd

    prof = simple_profile(tmp_path / "p", payload=1000, device_ms=5.0, edge_ms=2.0)
    extra = {} if faults is None else {"faults": faults, "edge": {"hardware": "hw", "speed": 0.01}}
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof,
        tasks={"arrival": {"process": "periodic", "period_ms": 10, "jitter_ms": 8}, "count": 400,
               "deadline_ms": 30, "on_deadline": "drop"}, **extra))
    runs = {}
    for lindley in (None, False):
        policy = _QueueWatcher()
        res = simulate(sc, load_profile(prof), policy, 0, lindley=lindley)
        runs[lindley] = (pd.DataFrame(res.records, columns=RECORD_FIELDS), policy.seen, res.busy_s["device"])
    (fast, seen_fast, busy_fast), (slow, seen_slow, busy_slow) = runs[None], runs[False]
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12, atol=1e-9)
    assert seen_fast == seen_slow and max(seen_fast) > 0.02  # a queue of more than one task's work
    assert abs(busy_fast - busy_slow) < 1e-9
    dropped = fast[fast["status"] == "dropped"]
    assert ((dropped["device_ms"] > 0) & (dropped["device_ms"] < 20 - 1e-9)).sum() > 5  # while running
    if faults:  # fallbacks dropped before they ran: the task's own stages only
        own = dropped["choice"].map({"local": 20.0, "split": 5.0})
        assert (dropped["fallback"] | (dropped["device_ms"] <= own + 1e-9)).all()
        # timed out (wait + 5 + 6 ms) well before the drop at 30 ms, yet no fallback work: its
        # request waited behind a later task's until its deadline
        queued = (dropped["choice"] == "split") & np.isclose(dropped["device_ms"], 5.0) \
            & (dropped["device_wait_ms"] + 5 + 6 < 30 - 1e-6)
        assert queued.sum() > 5


@pytest.mark.parametrize("lindley", [None, False])
def test_stage_times_of_tasks_dropped_on_the_device_by_hand(tmp_path, lindley):
    # local: 20 ms on the CPU; deadline 15 ms, drop. Tasks at 0, 0 and 1 ms (a trace). Task 0 runs
    # 0-15 and is dropped; task 1 waits from 0 and is dropped at 15 from the queue: no stage
    # served it, so its stage times are 0; task 2 waits 1-15, runs 15-16 and is dropped
    prof = simple_profile(tmp_path / "p", device_ms=5.0)
    (tmp_path / "t.csv").write_text("time_s\n0.0\n0.0\n0.001\n")
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, schemes=["local"], tasks={
        "arrival": {"process": "trace", "trace": str(tmp_path / "t.csv")}, "count": 3, "deadline_ms": 15,
        "on_deadline": "drop"}))
    res = simulate(sc, load_profile(prof), "local", 0, lindley=lindley)
    rec = sorted((dict(zip(RECORD_FIELDS, r)) for r in res.records), key=lambda r: r["task"])
    assert [r["status"] for r in rec] == ["dropped"] * 3
    assert [r["device_wait_ms"] for r in rec] == pytest.approx([0, 0, 14])
    assert [r["device_ms"] for r in rec] == pytest.approx([15, 0, 1])
    assert res.busy_s["device"] == pytest.approx(0.016)
    rest = ("uplink_wait_ms", "uplink_ms", "edge_wait_ms", "edge_ms", "batch", "downlink_ms", "propagation_ms")
    assert all(r[c] == 0 for r in rec for c in rest)  # local: no stage past the device


@pytest.mark.parametrize("batching", [None, {"max_batch": 2, "max_wait_ms": 0}])
def test_a_task_dropped_on_the_way_back_ran_in_its_batch(tmp_path, batching):
    # split alone: head 0-5 ms, upload T = 2.405 ms, 1 ms to the edge, tail 8.405-10.405 ms; its
    # result would arrive at 11.41 ms, past the 11 ms deadline: dropped after its batch ran
    prof = simple_profile(tmp_path / "p")
    edge = {"hardware": "hw", "speed": 1.0, **({"batching": batching} if batching else {})}
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, edge=edge, tasks={
        "arrival": {"process": "periodic", "period_ms": 100}, "count": 2, "deadline_ms": 11, "on_deadline": "drop"}))
    res = simulate(sc, load_profile(prof), "split", 0)
    rec = [dict(zip(RECORD_FIELDS, r)) for r in res.records]
    assert [r["status"] for r in rec] == ["dropped", "dropped"]
    assert [r["batch"] for r in rec] == [1, 1] and [r["edge_ms"] for r in rec] == pytest.approx([2.0, 2.0])
    assert [r["uplink_ms"] for r in rec] == pytest.approx([8320 / (1e6 * math.log2(11)) * 1e3] * 2)
    assert res.busy_s["edge"] == pytest.approx(0.004)


@pytest.mark.parametrize("devices", [1, 3])
def test_arrivals_come_in_order_with_their_task_index_across_blocks(devices):
    # the source reads arrivals a block at a time: a block of 4 over 10 tasks a device must give
    # every task its own index, in time order, ties to the lower device
    import numpy as np

    from sim.engine import _arrivals

    times = [np.arange(10) * 0.01 + 0.001 * d for d in range(devices)]
    images = [np.arange(10) + 100 * d for d in range(devices)]
    got = list(_arrivals(times, images, block=4))
    want = sorted(((float(t), d, k, 100 * d + k) for d in range(devices) for k, t in enumerate(times[d])),
                  key=lambda a: (a[0], a[1]))
    assert got == want
