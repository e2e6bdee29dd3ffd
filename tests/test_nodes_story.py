"""Each node on its own env, as short stories: start processes, run, compare times worked by hand.

The link carries exactly 1 Mbit/s (Shannon, efficiency 1, 1 MHz at 0 dB), so 1000 bits take 1 ms.
"""
import math

import pytest
import simpy

from sim.channel import Link, RateModel, StaticSnr
from sim.nodes import Cpu, EdgeServer, FifoUplink, RoundRobinUplink
from sim.scenario import Rate

MS = 1e-3


def _link(snr_db=0.0, model="shannon"):
    rate = Rate(model=model, efficiency=1.0) if model == "shannon" else Rate(model="cqi")
    return Link(StaticSnr(snr_db), RateModel(rate, 1e6))


def _ms(x):
    return round(x * 1e3, 9)


def _start(env, at_s, gen, log, name, times, result=None):
    def proc():
        if at_s:
            yield env.timeout(at_s)
        try:
            out = yield from gen(times)
            log.append((name, _ms(env.now), out))
        except simpy.Interrupt:
            log.append((name, _ms(env.now), "dropped"))
    return env.process(proc())


def _drop_at(env, proc, at_s):
    def dropper():
        yield env.timeout(at_s)
        if proc.is_alive:
            proc.interrupt("deadline")
    env.process(dropper())


@pytest.mark.parametrize("lindley", [True, False])
def test_cpu_serves_in_order_of_arrival(lindley):
    env, log = simpy.Environment(), []
    cpu = Cpu(env, lindley)
    times = {n: {} for n in "abc"}
    for name, at in (("a", 0), ("b", 0), ("c", 5 * MS)):
        _start(env, at, lambda t: cpu.compute(10 * MS, t), log, name, times[name])
    env.run()
    assert [(n, t) for n, t, _ in log] == [("a", 10.0), ("b", 20.0), ("c", 30.0)]
    assert [_ms(times[n]["device_wait"]) for n in "abc"] == [0.0, 10.0, 15.0]
    assert all(_ms(times[n]["device_work"]) == 10.0 for n in "abc")
    assert _ms(cpu.busy_s) == 30.0


def test_cpu_task_dropped_while_working_frees_the_cpu_at_once():
    env, log = simpy.Environment(), []
    cpu = Cpu(env, lindley=False)
    ta, tb = {}, {}
    a = _start(env, 0, lambda t: cpu.compute(10 * MS, t), log, "a", ta)
    _start(env, 0, lambda t: cpu.compute(10 * MS, t), log, "b", tb)
    _drop_at(env, a, 4 * MS)
    env.run()
    assert [(n, t) for n, t, _ in log] == [("a", 4.0), ("b", 14.0)]
    assert _ms(ta["device_work"]) == 4.0 and _ms(tb["device_wait"]) == 4.0
    assert _ms(cpu.busy_s) == 14.0


def test_lindley_cpu_keeps_only_the_droppable_tasks_not_yet_ended():
    # tasks of 10 ms asked every 4 ms, each dropped 25 ms after it asks: by hand, at the n-th ask
    # (t = 4n ms) the queue holds the tasks whose end (start 10k, or their drop 4k + 25) lies after
    # t; the ended ones are forgotten as each task asks, so memory holds the queue, not the history
    env = simpy.Environment()
    cpu = Cpu(env, lindley=True)
    held = []

    def asks():
        for _ in range(60):
            cpu.reserve(10 * MS, {}, env.now + 25 * MS)
            held.append(len(cpu.jobs))
            yield env.timeout(4 * MS)

    env.process(asks())
    env.run()
    ends, free = [], 0.0
    for n in range(60):
        start = max(4 * n, free)
        end = min(start + 10, 4 * n + 25)
        free = end if start < 4 * n + 25 else free
        ends.append(end)
    expected = [sum(1 for k in range(n + 1) if ends[k] > 4 * n) for n in range(60)]
    assert held == expected and max(held) <= 8


@pytest.mark.parametrize("lindley", [True, False])
def test_fifo_uplink_one_payload_at_a_time(lindley):
    env, log = simpy.Environment(), []
    up = FifoUplink(env, [_link()] * 3, lindley)
    ta, tb = {}, {}
    _start(env, 0, lambda t: up.transmit(0, [1000.0, 1000.0], t), log, "a", ta)
    _start(env, 1 * MS, lambda t: up.transmit(1, [500.0], t), log, "b", tb)
    env.run()
    assert log == [("a", 2.0, True), ("b", 2.5, True)]
    assert (_ms(ta["uplink_wait"]), _ms(ta["uplink_work"]), ta["uplink_bits"]) == (0.0, 2.0, 2000.0)
    assert (_ms(tb["uplink_wait"]), _ms(tb["uplink_work"]), tb["uplink_bits"]) == (1.0, 0.5, 500.0)
    assert _ms(up.busy_s) == 2.5


def test_fifo_uplink_dropped_mid_transfer_counts_what_went_out():
    env, log = simpy.Environment(), []
    up = FifoUplink(env, [_link()] * 3, lindley=False)
    ta, tb = {}, {}
    a = _start(env, 0, lambda t: up.transmit(0, [2000.0], t), log, "a", ta)
    _start(env, 0, lambda t: up.transmit(1, [1000.0], t), log, "b", tb)
    _drop_at(env, a, 1.5 * MS)
    env.run()
    assert log == [("a", 1.5, "dropped"), ("b", 2.5, True)]
    assert ta["uplink_bits"] == pytest.approx(1500.0) and _ms(ta["uplink_work"]) == 1.5
    assert _ms(tb["uplink_wait"]) == 1.5 and _ms(up.busy_s) == 2.5


@pytest.mark.parametrize("lindley", [True, False])
def test_fifo_uplink_outage_gives_up_at_once(lindley):
    env, log = simpy.Environment(), []
    up = FifoUplink(env, [_link(-20.0, "cqi")] * 3, lindley)  # below CQI 1: rate 0 for good
    t = {}
    _start(env, 2 * MS, lambda tt: up.transmit(0, [1000.0], tt), log, "a", t)
    env.run()
    assert log == [("a", 2.0, False)]
    assert t == {"uplink_bits": 0.0, "uplink_wait": 0.0, "uplink_work": 0.0} and up.busy_s == 0.0


def test_round_robin_takes_one_packet_per_device_in_turn():
    env, log = simpy.Environment(), []
    up = RoundRobinUplink(env, [_link()] * 3)
    t = [{}, {}, {}]
    for d, n in ((0, 3), (1, 1), (2, 2)):
        _start(env, 0, lambda tt, d=d, n=n: up.transmit(d, [1000.0] * n, tt), log, f"d{d}", t[d])
    env.run()
    # packets: d0 0-1, d1 1-2, d2 2-3, d0 3-4, d2 4-5, d0 5-6
    assert log == [("d1", 2.0, True), ("d2", 5.0, True), ("d0", 6.0, True)]
    assert [_ms(x["uplink_wait"]) for x in t] == [0.0, 1.0, 2.0]
    assert [_ms(x["uplink_work"]) for x in t] == [6.0, 1.0, 3.0]
    assert [x["uplink_bits"] for x in t] == [3000.0, 1000.0, 2000.0]
    assert _ms(up.busy_s) == 6.0


def test_round_robin_dropped_flow_sends_no_more_packets():
    env, log = simpy.Environment(), []
    up = RoundRobinUplink(env, [_link()] * 3)
    t = [{}, {}, {}]
    procs = [_start(env, 0, lambda tt, d=d, n=n: up.transmit(d, [1000.0] * n, tt), log, f"d{d}", t[d])
             for d, n in ((0, 3), (1, 1), (2, 2))]
    _drop_at(env, procs[0], 2.5 * MS)  # while d2's first packet is on the air
    _drop_at(env, procs[1], 0.5 * MS)  # before its first packet: d1 never sends
    env.run()
    # packets: d0 0-1, (d1 dropped) d2 1-2, d0 2-3 (under way at 2.5: sent whole), d2 3-4
    assert log == [("d1", 0.5, "dropped"), ("d0", 2.5, "dropped"), ("d2", 4.0, True)]
    assert [x["uplink_bits"] for x in t] == [2000.0, 0.0, 2000.0]
    assert _ms(t[1]["uplink_wait"]) == 0.5 and _ms(t[1]["uplink_work"]) == 0.0
    assert _ms(t[2]["uplink_wait"]) == 1.0 and _ms(up.busy_s) == 4.0


def test_round_robin_outage_fails_the_flow_and_serves_the_rest():
    env, log = simpy.Environment(), []
    up = RoundRobinUplink(env, [_link(-20.0, "cqi")] * 2)
    t = {}
    _start(env, 0, lambda tt: up.transmit(0, [1000.0, 1000.0], tt), log, "d0", t)
    env.run()
    assert log == [("d0", 0.0, False)] and t["uplink_bits"] == 0.0 and up.busy_s == 0.0


def _edge(env, max_batch, max_wait_ms, gpus=1):
    return EdgeServer(env, gpus, max_batch, max_wait_ms * MS, lambda n, kind=None: (10 + n) * MS)


def test_edge_batching_window_and_queue():
    env, log = simpy.Environment(), []
    edge = _edge(env, 3, 2.0)
    t = {n: {} for n in "abc"}
    for name, at in (("a", 0), ("b", 1 * MS), ("c", 3 * MS)):
        _start(env, at, edge.infer, log, name, t[name])
    env.run()
    # a and b: window of a closes at 2 ms, batch of 2 runs 12 ms; c waited past its window: runs alone
    assert log == [("a", 14.0, 2), ("b", 14.0, 2), ("c", 25.0, 1)]
    assert [_ms(t[n]["edge_wait"]) for n in "abc"] == [2.0, 1.0, 11.0]
    assert [_ms(t[n]["edge_work"]) for n in "abc"] == [12.0, 12.0, 11.0]
    assert _ms(edge.busy_s) == 23.0


def test_edge_job_dropped_in_the_queue_leaves_the_batch_count():
    env, log = simpy.Environment(), []
    edge = _edge(env, 3, 2.0)
    t = {n: {} for n in "abc"}
    _start(env, 0, edge.infer, log, "a", t["a"])
    b = _start(env, 0.5 * MS, edge.infer, log, "b", t["b"])
    _start(env, 1.5 * MS, edge.infer, log, "c", t["c"])
    _drop_at(env, b, 1 * MS)
    env.run()
    # with b gone, a and c make 2 of 3: the batch waits for a's window (2 ms), not c's arrival
    assert log == [("b", 1.0, "dropped"), ("a", 14.0, 2), ("c", 14.0, 2)]
    assert edge.live == {None: 0} and not edge.queues[None]


def test_edge_batch_stops_when_all_its_jobs_are_dropped_and_not_before():
    env, log = simpy.Environment(), []
    edge = _edge(env, 2, 0.0)
    t = {n: {} for n in "abcd"}
    a = _start(env, 0, edge.infer, log, "a", t["a"])
    b = _start(env, 0, edge.infer, log, "b", t["b"])
    _start(env, 1 * MS, edge.infer, log, "c", t["c"])
    _drop_at(env, a, 3 * MS)
    _drop_at(env, b, 5 * MS)  # the batch of a and b (12 ms) stops at 5 ms, when both are gone
    env.run()
    assert log == [("a", 3.0, "dropped"), ("b", 5.0, "dropped"), ("c", 16.0, 1)]
    assert _ms(t["c"]["edge_wait"]) == 4.0 and _ms(edge.busy_s) == 16.0


def test_edge_partly_dropped_batch_runs_to_its_end():
    env, log = simpy.Environment(), []
    edge = _edge(env, 2, 0.0)
    t = {n: {} for n in "abc"}
    a = _start(env, 0, edge.infer, log, "a", t["a"])
    _start(env, 0, edge.infer, log, "b", t["b"])
    _start(env, 1 * MS, edge.infer, log, "c", t["c"])
    _drop_at(env, a, 3 * MS)
    env.run()
    assert log == [("a", 3.0, "dropped"), ("b", 12.0, 2), ("c", 23.0, 1)]
    assert _ms(edge.busy_s) == 23.0


def test_edge_two_gpus_share_one_queue():
    env, log = simpy.Environment(), []
    edge = _edge(env, 1, 0.0, gpus=2)
    t = {n: {} for n in "abc"}
    for name in "abc":
        _start(env, 0, edge.infer, log, name, t[name])
    env.run()
    assert log == [("a", 11.0, 1), ("b", 11.0, 1), ("c", 22.0, 1)]
    assert _ms(edge.busy_s) == 33.0 and math.isclose(t["c"]["edge_wait"], 11 * MS)
