"""Uplink sharing and edge batching, against orderings worked out by hand."""
import numpy as np
import pytest
from helpers import edge_log, write_profile, write_scenario

from sim.engine import simulate
from sim.profile import load_profile
from sim.results import records_frame
from sim.scenario import load_scenario


def _profile(tmp_path, payload):
    n = 4
    return write_profile(tmp_path / "p", stages={"head": {"hw": {1: 0.0}},
                                                 "tail": {"hw": {1: 10.0, 2: 12.0, 4: 16.0}}},
                         schemes={"split": ("split", ["head"], ["tail"])},
                         columns={"label": np.zeros(n), "split_bytes": np.full(n, payload),
                                  "split_correct": np.ones(n)})


def _scenario(tmp_path, prof, devices, sharing, batching=None, times=(0.0,)):
    trace = tmp_path / "arrivals.csv"
    trace.write_text("time_s\n" + "\n".join(str(t) for t in times) + "\n")
    return load_scenario(write_scenario(
        tmp_path / "s.yaml", prof,
        tasks={"arrival": {"process": "trace", "trace": str(trace)}, "count": len(times), "deadline_ms": 1e4},
        devices={"count": devices, "hardware": "hw", "speed": 1.0},
        channel={"bandwidth_hz": 1e6, "snr_db": 10.0, "fading": {"model": "none"}, "sharing": sharing,
                 "rate": {"model": "shannon", "efficiency": 1.0}, "mtu_bytes": 1040, "header_bytes": 40,
                 "propagation_ms": 0.0, "downlink": {"result_bytes": 0}},
        edge={"hardware": "hw", "speed": 1.0, "batching": batching or {"max_batch": 1, "max_wait_ms": 0}}))


def test_round_robin_interleaves_packets_fifo_does_not(tmp_path):
    prof = _profile(tmp_path, payload=2000)  # two packets of 1000 + 40 bytes
    t_pkt = 1040 * 8 / (1e6 * np.log2(11)) * 1e3
    rr = records_frame(simulate(_scenario(tmp_path, prof, 2, "round-robin"), load_profile(prof), "split", 0))
    ff = records_frame(simulate(_scenario(tmp_path, prof, 2, "fifo"), load_profile(prof), "split", 0))
    up = lambda r: sorted(r["uplink_wait_ms"] + r["uplink_ms"])  # noqa: E731
    np.testing.assert_allclose(up(rr), [3 * t_pkt, 4 * t_pkt])
    np.testing.assert_allclose(up(ff), [2 * t_pkt, 4 * t_pkt])


def test_dynamic_batching_waits_then_runs_one_batch(tmp_path):
    prof = _profile(tmp_path, payload=10)  # one small packet each
    t_pkt = 50 * 8 / (1e6 * np.log2(11)) * 1e3
    # 3 devices send at once (FIFO uplink): jobs reach the edge at 1, 2, 3 packet times
    sc = _scenario(tmp_path, prof, 3, "fifo", batching={"max_batch": 4, "max_wait_ms": 5.0})
    r = records_frame(simulate(sc, load_profile(prof), "split", 0))
    assert (r["batch"] == 3).all()  # the wait window caught all three
    # the batch starts when the first job has waited 5 ms, and 3 items take 14 ms (interpolated 2 -> 4)
    np.testing.assert_allclose(sorted(r["latency_ms"]), [t_pkt + 5.0 + 14.0] * 3)
    sc1 = _scenario(tmp_path, prof, 3, "fifo", batching={"max_batch": 1, "max_wait_ms": 0})
    r1 = records_frame(simulate(sc1, load_profile(prof), "split", 0))
    np.testing.assert_allclose(sorted(r1["latency_ms"]), [t_pkt + 10, t_pkt + 20, t_pkt + 30])


def test_a_free_gpu_takes_the_oldest_job_whatever_its_kind():
    # one GPU, no batching (10 + n ms per batch of n): a1 runs 0-11; b1 (1 ms) and a2 (2 ms) wait;
    # b1 came first, so it runs 11-22 although kind a's queue is older; a2 runs 22-33
    log = edge_log(1, 1, 0.0, [("a1", "a", 0), ("b1", "b", 1), ("a2", "a", 2)])
    assert log == [("a1", 11.0, 1, 0.0), ("b1", 22.0, 1, 10.0), ("a2", 33.0, 1, 20.0)]


def test_a_job_that_leaves_the_queue_no_longer_counts_toward_a_full_batch():
    # batches of up to 4, the oldest job waits at most 20 ms for partners; 10 + n ms per batch.
    # z (0 ms) waits 20 ms alone and runs 20-31. a1..a5 queue at 21..25 ms; a1 leaves at 26 (its
    # deadline). At 31 kind a holds 4 live jobs, a full batch: a2..a5 run at once, 31-45.
    log = edge_log(1, 4, 20.0, [("z", "z", 0)] + [(f"a{i}", "a", 20 + i) for i in range(1, 6)], leave={"a1": 26})
    assert log == [("a1", 26.0, "left"), ("z", 31.0, 1, 20.0)] + [(f"a{i}", 45.0, 4, 31.0 - 20 - i)
                                                                   for i in range(2, 6)]


def test_a_batch_that_ends_as_the_edge_fails_is_done_and_the_queue_is_lost():
    # unit 2^-10 s: every sum exact. The failure at 23 was due since a arrived (0), so it comes
    # before b's batch ends at 23 in the same instant: b is done all the same; c, queued behind
    # it, is lost; d arrives after the repair and runs alone
    log = edge_log(1, 1, 0.0, [("a", "k", 0), ("b", "k", 12), ("c", "k", 13), ("d", "k", 40)],
                   outages=[(23, 30)], ms=2.0**-10)
    assert log == [("a", 11.0, 1, 0.0), ("c", 23.0, None, 10.0), ("b", 23.0, 1, 0.0), ("d", 51.0, 1, 0.0)]


def test_after_an_outage_a_full_batch_starts_at_once():
    # a waits its 5-unit window and is lost when the edge fails at 2; the count of live jobs
    # restarts from nothing: c (6) waits, d (7) fills the batch of 2, which starts at once
    log = edge_log(1, 2, 5.0, [("a", "k", 0), ("c", "k", 6), ("d", "k", 7)], outages=[(2, 4)], ms=2.0**-10)
    assert log == [("a", 2.0, None, 2.0), ("c", 19.0, 2, 1.0), ("d", 19.0, 2, 0.0)]


def test_lindley_edge_done_as_it_fails_and_cut_just_before():
    import simpy

    from sim.faults import Outages
    from sim.nodes import FifoEdge

    u = 2.0**-10
    for gap, want in ((0, (1, 11 * u)), (1, (0, 10 * u))):  # the job ends at 11; the outage at 11 or at 10
        env = simpy.Environment()
        edge = FifoEdge(env, 1, lambda n, kind: 11 * u, Outages([((11 - gap) * u, 30 * u)]))
        times = {}
        assert edge.schedule(times) == want
        assert times["edge_work"] == (11 - gap) * u


def test_a_full_batch_goes_before_an_older_job_and_the_oldest_full_kind_first():
    # batches of up to 2, no window; 10 + n ms per batch. z runs 0-11. Meanwhile a1 (0.5), c1 (1),
    # b1 (2), b2 (3), c2 (4) queue. At 11 kinds b and c are full and c's head (c1) is older than
    # b's: c runs 11-23, then b 23-35; a1, the oldest job, waits for the full batches: 35-46
    log = edge_log(1, 2, 0.0, [("z", "z", 0), ("a1", "a", 0.5), ("c1", "c", 1), ("b1", "b", 2),
                               ("b2", "b", 3), ("c2", "c", 4)])
    assert log == [("z", 11.0, 1, 0.0), ("c1", 23.0, 2, 10.0), ("c2", 23.0, 2, 7.0),
                   ("b1", 35.0, 2, 21.0), ("b2", 35.0, 2, 20.0), ("a1", 46.0, 1, 34.5)]


def test_a_kind_filling_its_batch_wakes_a_gpu_waiting_out_an_older_job_s_window():
    # batches of up to 2, the oldest job waits at most 20 ms. a1 (0) opens a window; b1 (1) and
    # b2 (2) fill kind b's batch: the GPU runs it at once, 2-14; a1 then runs when its window ends
    log = edge_log(1, 2, 20.0, [("a1", "a", 0), ("b1", "b", 1), ("b2", "b", 2)])
    assert log == [("b1", 14.0, 2, 1.0), ("b2", 14.0, 2, 0.0), ("a1", 31.0, 1, 20.0)]


def test_a_full_batch_wakes_a_waiting_gpu_before_the_rest_of_its_instant():
    # batches of up to 2, windows of 10 ms. a1 (0) opens a window; b1 (1); at 3 b2 fills kind b's
    # batch, and a2, due at the same instant just after, would fill kind a's (whose head a1 is
    # older). The waiting GPU is woken as a process would be interrupted, before a2 comes: it runs
    # b1 b2, 3-15, then a1 a2, 15-27
    log = edge_log(1, 2, 10.0, [("a1", "a", 0), ("b1", "b", 1), ("b2", "b", 3), ("a2", "a", 3)])
    assert log == [("b1", 15.0, 2, 2.0), ("b2", 15.0, 2, 0.0), ("a1", 27.0, 2, 15.0), ("a2", 27.0, 2, 12.0)]


def test_an_outage_cuts_a_running_batch_with_nothing_queued_behind_it():
    # a runs 0-11 alone, nothing waits; the edge fails at 5: a is lost then. b arrives as the
    # edge comes back (8), runs alone from 8 and is cut by the next outage at 12; c (16) runs 16-27
    log = edge_log(1, 1, 0.0, [("a", "k", 0), ("b", "k", 8), ("c", "k", 16)], outages=[(5, 8), (12, 15)],
                   ms=2.0**-10)
    assert log == [("a", 5.0, None, 0.0), ("b", 12.0, None, 0.0), ("c", 27.0, 1, 0.0)]


def test_a_million_gpus_serve_as_many_would_and_all_come_back_idle():
    # batches of up to 2, a 5 ms window, 10 + n ms a batch. a1, a2, a3 (0) and b1 (1). At 0 kind a is
    # full: one GPU runs a1 a2, 0-12; the next waits out a3's window (all the others with it). At 5
    # a3 runs alone, 5-16, and the next GPU waits out b1's window (1 + 5): b1 runs 6-17
    import simpy

    from sim.nodes import EdgeServer

    env, ms, log = simpy.Environment(), 1e-3, []
    edge = EdgeServer(env, 10**6, 2, 5 * ms, lambda n, kind: (10 + n) * ms)

    def job(name, kind, at):
        yield env.timeout(at * ms)
        times = {}
        n = yield from edge.infer(times, kind)
        log.append((name, round(env.now / ms, 6), n, round(times["edge_wait"] / ms, 6)))

    for name, kind, at in [("a1", "a", 0), ("a2", "a", 0), ("a3", "a", 0), ("b1", "b", 1)]:
        env.process(job(name, kind, at))
    env.run()
    assert log == [("a1", 12.0, 2, 0.0), ("a2", 12.0, 2, 0.0), ("a3", 16.0, 1, 5.0), ("b1", 17.0, 1, 5.0)]
    assert edge.idle == 10**6 and not edge.windowed and not edge.runs  # every GPU counted back
    # a GPU object for each of the three that ran and one that looked after b1 started and found
    # nothing; none for the other 999,996
    assert len(edge._spare) == 4


def test_jobs_queued_at_one_instant_after_the_gpus_first_look_batch_together():
    # two GPUs, batches of up to 2, no window, 10 + n ms a batch. At t = 0, in this order of steps:
    # a1 and a2 queue (the idle GPUs look once, after both: one GPU runs a1 a2), then a3 and a4 queue
    # in two later steps of the same instant: the free GPU looks once, after both, and runs a3 a4 as
    # one batch (one look per instant where jobs queue: a second look scheduled by a2 would have
    # started a3 alone, before a4 joined)
    import simpy

    from sim.nodes import EdgeServer

    env, ms, log, jobs = simpy.Environment(), 1e-3, [], {}
    edge = EdgeServer(env, 2, 2, 0.0, lambda n, kind: (10 + n) * ms)

    def queue(name):
        jobs[name] = edge.submit({}, "k", lambda: log.append((name, round(env.now / ms, 6), jobs[name].batch)))

    def first():
        queue("a1")
        yield env.timeout(0)  # a step after the idle GPUs' look (set as a1 queued)
        queue("a3")

    def second():
        queue("a2")
        yield env.timeout(0)  # a step after a look a2 might have set, before a look a3 sets
        queue("a4")

    env.process(first())
    env.process(second())
    env.run()
    assert sorted(log) == [("a1", 12.0, 2), ("a2", 12.0, 2), ("a3", 12.0, 2), ("a4", 12.0, 2)]


def test_a_flow_alone_at_its_instant_goes_on_the_air_at_once_and_one_not_alone_waits_its_turn():
    # a caller whose step ends with submit(last=True) may start the packet at once only if no other
    # event is due at that instant: device 1 asks at t = 1 alone (on the air at once, no event
    # between); at t = 2 device 1 asks first, but device 0's request is due at the same instant:
    # the pick waits for it, and the round robin's turn (device 0, after device 1 at t = 1) decides
    import simpy

    from sim.channel import Link, RateModel, StaticSnr
    from sim.nodes import RoundRobinUplink, call_later
    from sim.scenario import Rate

    env, sent = simpy.Environment(), []
    links = [Link(StaticSnr(10.0), RateModel(Rate(model="shannon", efficiency=1.0), 1e6)) for _ in range(2)]
    up = RoundRobinUplink(env, links)
    bit_s = 1 / (1e6 * np.log2(11))

    def ask(device, bits):
        flow = up.submit(device, [bits], {}, lambda: (sent.append((device, round(env.now / bit_s))), up.close(flow)),
                         last=True)
        return flow

    call_later(env, lambda _ev: (ask(1, 1000), sent.append(("on air", up.current is not None))), 1.0)
    call_later(env, lambda _ev: ask(1, 500), 2.0)
    call_later(env, lambda _ev: ask(0, 300), 2.0)
    env.run()
    assert sent[0] == ("on air", True)
    assert sent[1:] == [(1, round(1 / bit_s) + 1000), (0, round(2 / bit_s) + 300), (1, round(2 / bit_s) + 800)]


def test_an_idle_gpu_looks_at_once_only_when_no_other_job_can_come_at_that_instant():
    # batches of up to 2, no window, 10 + n ms a batch. At t = 0 a1 is queued by a step that ends
    # there (last=True), but a2's step is due at the same instant: the idle GPU looks after both and
    # runs them as one batch. At t = 1 s, b is queued alone: the GPU looks at once (running already
    # as submit returns)
    import simpy

    from sim.nodes import EdgeServer, call_later

    env, ms, log, jobs = simpy.Environment(), 1e-3, [], {}
    edge = EdgeServer(env, 1, 2, 0.0, lambda n, kind: (10 + n) * ms)

    def queue(name):
        jobs[name] = edge.submit({}, "k", lambda: log.append((name, round(env.now / ms, 6), jobs[name].batch)),
                                 last=True)
        log.append((name, "running" if edge.runs else "queued"))

    for name, t in (("a1", 0.0), ("a2", 0.0), ("b", 1.0)):
        call_later(env, lambda _ev, name=name: queue(name), t)
    env.run()
    assert log == [("a1", "queued"), ("a2", "queued"), ("a1", 12.0, 2), ("a2", 12.0, 2), ("b", "running"),
                   ("b", 1011.0, 1)]


def test_queueing_without_last_waits_for_the_rest_of_the_step():
    # one step queues two payloads (device 1, then device 0), a later one two jobs, each by a plain
    # submit (last=False: more may follow in the step, though no other event is due at that
    # instant): the round robin picks device 0 first (its turn), the idle GPU runs both jobs as one
    # batch
    import simpy

    from sim.channel import Link, RateModel, StaticSnr
    from sim.nodes import EdgeServer, RoundRobinUplink, call_later
    from sim.scenario import Rate

    env, log = simpy.Environment(), []
    up = RoundRobinUplink(env, [Link(StaticSnr(10.0), RateModel(Rate(model="shannon"), 1e6)) for _ in range(2)])
    edge = EdgeServer(env, 1, 2, 0.0, lambda n, kind: (10 + n) * 1e-3)
    flows, jobs = {}, {}

    def sent(device):
        log.append(("sent", device))
        up.close(flows[device])

    def send(_ev):
        for device in (1, 0):
            flows[device] = up.submit(device, [1000.0], {}, lambda d=device: sent(d))

    def infer(_ev):
        for name in ("a1", "a2"):
            jobs[name] = edge.submit({}, "k", lambda name=name: log.append((name, jobs[name].batch)))

    call_later(env, send, 1.0)
    call_later(env, infer, 2.0)
    env.run()
    assert log == [("sent", 0), ("sent", 1), ("a1", 2), ("a2", 2)]


@pytest.mark.parametrize("batching", [True, False])
def test_a_job_the_edge_refuses_has_no_wait_and_no_work(batching):
    # the edge is down on [1, 2) s: a job offered at 1.5 s is refused, and its times say it neither
    # waited nor ran there, on the batching edge (submit: None) and Lindley's (schedule: batch 0)
    import simpy

    from sim.faults import Outages
    from sim.nodes import EdgeServer, FifoEdge, call_later

    env, got, times = simpy.Environment(), [], {}
    if batching:
        edge = EdgeServer(env, 1, 2, 0.0, lambda n, kind: 0.01, Outages([(1.0, 2.0)]))
        call_later(env, lambda _ev: got.append(edge.submit(times, "k", lambda: None)), 1.5)
    else:
        edge = FifoEdge(env, 1, lambda n, kind: 0.01, Outages([(1.0, 2.0)]))
        call_later(env, lambda _ev: got.append(edge.schedule(times, "k")), 1.5)
    env.run(until=3.0)
    assert got == ([None] if batching else [(0, 0.0)])
    assert times == {"edge_wait": 0.0, "edge_work": 0.0}
