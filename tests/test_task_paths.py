"""A task runs as a chain of callbacks (engine._Task) wherever every queue has a callback form, and
as a SimPy process (Simulation._task) otherwise and in the reference runs (lindley=False). The
two must give the same records, resource use and observations, on every path a task can take."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.engine import RECORD_FIELDS, Simulation
from sim.profile import load_profile
from sim.scenario import load_scenario, override

BASE = {"tasks.duration_s": 6.0, "seeds": [0]}
CASES = {
    # eight devices on a round robin uplink, a batching edge, drops: uplink and edge queues grow
    "round-robin-drop": {"devices.count": 8, "tasks.arrival.rate_per_s": 14.0, "tasks.deadline_ms": 60},
    # the same with edge failures and an uplink outage window: jobs lost, flows stalled
    "round-robin-faults": {"devices.count": 6, "tasks.arrival.rate_per_s": 12.0, "tasks.deadline_ms": 80,
                           "faults.edge.mtbf_s": 1.0, "faults.edge.mttr_s": 0.3,
                           "faults.uplink.windows_s": [[2.0, 2.4]]},
    # HARQ gives packets up (a block error rate of 0.3, no retransmission): lost tasks, both uplinks
    "round-robin-lost": {"devices.count": 4, "tasks.arrival.rate_per_s": 10.0, "channel.rate.bler": 0.3,
                         "channel.rate.max_harq": 0},
    "fifo-finish-lost": {"devices.count": 4, "tasks.arrival.rate_per_s": 10.0, "channel.rate.bler": 0.3,
                         "channel.rate.max_harq": 0, "channel.sharing": "fifo", "tasks.on_deadline": "finish"},
    # FIFO uplink without early leavers (Lindley's recursion), batching edge, energy on
    "fifo-finish-energy": {"devices.count": 4, "tasks.arrival.rate_per_s": 10.0, "tasks.on_deadline": "finish",
                           "channel.sharing": "fifo", "devices.power": "rpi4"},
    # FIFO without batching: Lindley's edge too, with edge failures
    "fifo-finish-lindley-edge": {"devices.count": 3, "tasks.arrival.rate_per_s": 15.0,
                                 "tasks.on_deadline": "finish", "channel.sharing": "fifo",
                                 "edge.batching.max_batch": 1, "faults.edge.mtbf_s": 1.5,
                                 "faults.edge.mttr_s": 0.2},
}


def _scenario(case: str):
    from pathlib import Path
    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "multi-device.yaml")
    return override(sc, {**BASE, **CASES[case]})


class _Watcher:
    """A policy that chooses among schemes by a hash of the task and keeps all it was shown,
    the loads of the uplink and the edge included (learnt at once: the strictest timing)."""

    wants_load = True

    def __init__(self, options):
        self.options, self.ctx, self.seen = options, None, []

    def choose(self, obs):
        self.seen.append((obs.device, obs.task, round(obs.queue_s, 12), obs.uplink_load, obs.edge_load,
                          round(obs.snr_db, 9)))
        return self.options[(obs.task * 7 + obs.device * 3 + obs.task // 5) % len(self.options)]

    def observe(self, record):
        self.seen.append(("rec", record["device"], record["task"], record["status"]))


def _run(sc, prof, arm, lindley):
    sim = Simulation(sc, prof, arm, 0, lindley=lindley)
    res = sim.run()
    rec = pd.DataFrame(res.records, columns=RECORD_FIELDS).sort_values(["device", "task"], ignore_index=True)
    return sim, rec, res


@pytest.mark.parametrize("case", sorted(CASES))
def test_callback_tasks_give_the_process_tasks_records(case):
    sc = _scenario(case)
    prof = load_profile(sc.profile)
    options = ("local", "full-offload", "aecnn-k64b1", "bottlenet-k1s2")
    runs = {}
    for lindley in (None, False):
        policy = _Watcher(options)
        sim, rec, res = _run(sc, prof, policy, lindley)
        runs[lindley] = (sim, rec, res, policy.seen)
    (fast_sim, fast, fast_res, fast_seen), (slow_sim, slow, slow_res, slow_seen) = runs[None], runs[False]
    assert fast_sim.callbacks and not slow_sim.callbacks
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12, atol=1e-9)
    assert sorted(fast_seen, key=repr) == sorted(slow_seen, key=repr)
    for k in fast_res.busy_s:
        assert fast_res.busy_s[k] == pytest.approx(slow_res.busy_s[k], rel=1e-12, abs=1e-12)
    assert fast_res.horizon_s == pytest.approx(slow_res.horizon_s, rel=1e-12)
    # the case reaches the paths it is meant to
    statuses = set(fast["status"])
    assert "done" in statuses and len(fast) > 200
    if sc.tasks.on_deadline == "drop":
        dropped = fast[fast["status"] == "dropped"]
        assert (dropped["uplink_ms"] > 0).any() and (dropped["edge_wait_ms"] > 0).any()
    if sc.channel.rate.max_harq == 0:
        assert "lost" in statuses
    if sc.faults.edge.mtbf_s is not None:
        assert "edge-fault" in statuses
    if sc.faults.uplink.windows_s:
        assert (fast["fault"] == "uplink").any()
    if "devices.power" in CASES[case]:
        assert np.isfinite(fast["energy_j"]).all()


def test_a_device_timeout_runs_tasks_as_processes():
    # the timeout withdraws a remote stage from a running task: that path stays a SimPy process
    sc = override(_scenario("round-robin-faults"), {"faults.timeout_ms": 40, "faults.fallback": "local"})
    assert not Simulation(sc, load_profile(sc.profile), "aecnn-k64b1", 0).callbacks
