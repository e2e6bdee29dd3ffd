"""The figures the simulator publishes, pinned against small cases worked by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from helpers import simple_profile, write_profile, write_scenario

from sim.channel import BlockFading, Link, RateModel, TraceSnr, rng_for
from sim.engine import RECORD_FIELDS, Result, arrival_times, simulate
from sim.profile import load_profile
from sim.results import records_frame, summarize, with_ci
from sim.scenario import Arrival, Rate, load_scenario, override


def _record(status, latency, met, correct, air=0, batch=0, nbytes=100):
    base = dict.fromkeys(RECORD_FIELDS, 0.0)
    base.update(status=status, latency_ms=latency, met=met, correct=correct, air_bytes=air, bytes=nbytes,
                batch=batch, device_ms=1.0, uplink_ms=latency / 2, edge_wait_ms=3.0 if status == "done" else 7.0)
    return tuple(base[f] for f in RECORD_FIELDS)


def test_summary_of_six_tasks_by_hand():
    records = [_record("done", 10.0, True, True, 140, 1), _record("done", 20.0, True, False, 140, 2),
               _record("done", 30.0, False, True, 140, 2), _record("done", 40.0, False, True, 140, 1),
               _record("dropped", math.nan, False, True, 70), _record("lost", math.nan, False, False, 420, nbytes=700)]
    res = Result(records, 0.1, {"device": 0.05, "uplink": 0.02, "edge": 0.03}, {"device": 2, "uplink": 1, "edge": 3})
    row = summarize(records_frame(res), res)
    assert row["tasks"] == 6
    assert (row["status_done"], row["status_dropped"], row["status_lost"], row["status_outage"]) == (4, 1, 1, 0)
    assert row["hit_rate"] == pytest.approx(2 / 6)
    assert row["acc_within_deadline"] == pytest.approx(1 / 6)  # met and correct: the first task only
    assert row["accuracy"] == pytest.approx(3 / 4)  # done tasks that are correct
    assert row["completed_rate"] == pytest.approx(4 / 6)
    assert row["mean_latency_ms"] == pytest.approx(25.0)
    # linear interpolation between order statistics 10, 20, 30, 40 at rank q/100 x 3
    assert row["p50_latency_ms"] == pytest.approx(25.0)
    assert row["p95_latency_ms"] == pytest.approx(38.5)
    assert row["p99_latency_ms"] == pytest.approx(39.7)
    assert row["bytes_sent"] == 140 * 4 + 70 + 420
    assert row["mean_batch"] == pytest.approx(1.5)
    assert row["mean_payload_bytes"] == pytest.approx((5 * 100 + 700) / 6)  # over all tasks
    # stage means over done tasks only
    assert row["mean_uplink_ms"] == pytest.approx(12.5) and row["mean_edge_wait_ms"] == pytest.approx(3.0)
    assert row["mean_device_ms"] == pytest.approx(1.0) and row["mean_downlink_ms"] == 0.0
    assert row["utilization_device"] == pytest.approx(0.05 / (2 * 0.1))
    assert row["utilization_uplink"] == pytest.approx(0.2)
    assert row["utilization_edge"] == pytest.approx(0.1)


def test_intervals_across_seeds_by_hand():
    summary = pd.DataFrame({"snr": [5] * 5, "scheme": ["b"] * 2 + ["a"] * 3, "seed": [0, 1, 0, 1, 2],
                            "hit_rate": [0.2, 0.4, 0.5, 0.7, 0.9],
                            "mean_latency_ms": [1.0, 1.0, 10.0, math.nan, 14.0]})
    ci = with_ci(summary, ["snr", "scheme"])
    assert list(ci["scheme"]) == ["b", "a"]  # in the order the schemes were given
    assert "snr_ci95" not in ci.columns and "seed" not in ci.columns and "seed_ci95" not in ci.columns
    ci = ci.set_index("scheme")
    assert ci.loc["a", "seeds"] == 3
    assert ci.loc["a", "hit_rate"] == pytest.approx(0.7)
    assert ci.loc["a", "hit_rate_ci95"] == pytest.approx(4.303 * 0.2 / math.sqrt(3))
    # a NaN seed is left out: two values, 1 degree of freedom, sd = 2.828
    assert ci.loc["a", "mean_latency_ms"] == pytest.approx(12.0)
    assert ci.loc["a", "mean_latency_ms_ci95"] == pytest.approx(12.706 * math.sqrt(8) / math.sqrt(2))
    assert ci.loc["b", "hit_rate_ci95"] == pytest.approx(12.706 * math.sqrt(0.02) / math.sqrt(2))
    assert ci.loc["b", "mean_latency_ms_ci95"] == pytest.approx(0.0)


def test_one_seed_has_no_interval_and_a_missing_key_is_a_group_of_its_own():
    import warnings

    summary = pd.DataFrame({"coherence": [1.0, 1.0, None], "scheme": ["a", "a", "a"], "seed": [0, 1, 0],
                            "hit_rate": [0.2, 0.4, 0.9], "mean_latency_ms": [math.nan, math.nan, 3.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one value: NaN, without numpy's degrees-of-freedom warning
        ci = with_ci(summary, ["coherence", "scheme"])
    assert ci["seeds"].tolist() == [2, 1]  # the point whose key is missing keeps its row
    assert ci["hit_rate"].tolist() == pytest.approx([0.3, 0.9])
    assert ci["hit_rate_ci95"].iloc[0] == pytest.approx(12.706 * math.sqrt(0.02) / math.sqrt(2))
    assert math.isnan(ci["hit_rate_ci95"].iloc[1])
    assert math.isnan(ci["mean_latency_ms"].iloc[0]) and ci["mean_latency_ms"].iloc[1] == 3.0  # no seed had one


@pytest.mark.parametrize("n,quantile", [(2, 12.706), (31, 2.042), (41, 2.021), (101, 1.984), (1001, 1.962)])
def test_interval_uses_the_t_quantile_of_the_seed_count(n, quantile):
    x = np.resize([0.0, 1.0], n)
    ci = with_ci(pd.DataFrame({"scheme": ["a"] * n, "seed": range(n), "hit_rate": x}), ["scheme"])
    assert ci.loc[0, "hit_rate_ci95"] == pytest.approx(quantile * x.std(ddof=1) / math.sqrt(n), rel=2e-3)


def test_utilization_of_a_run_by_hand(tmp_path):
    prof = simple_profile(tmp_path / "p", device_ms=5.0)  # local runs the full model: 20 ms
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, schemes=["local"],
                                      tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 3}))
    res = simulate(sc, load_profile(prof), "local", 0)
    # arrivals at 0, 100, 200 ms; each 20 ms on the CPU; the last ends at 220 ms
    assert res.horizon_s == pytest.approx(0.220)
    assert res.utilization()["device"] == pytest.approx(60 / 220)
    assert res.utilization()["uplink"] == 0.0
    # split: each task holds the edge 2 ms (the FIFO edge without batching), 6 ms in all
    res = simulate(override(sc, {"schemes": ["split"]}), load_profile(prof), "split", 0)
    assert res.busy_s["edge"] == pytest.approx(0.006)
    assert res.utilization()["edge"] == pytest.approx(0.006 / res.horizon_s)


def test_harq_loss_and_air_bytes_against_probability(tmp_path):
    # bler 0.5, max_harq 1: a packet is sent once (p 0.5) or twice, and fails for good with p 0.25.
    # 2000-byte payload = 2 packets (1460 + 540, 40 header each): a task is lost with p 1 - 0.75^2.
    n = 10
    prof = write_profile(tmp_path / "p", stages={"head": {"hw": {1: 0.0}}, "tail": {"hw": {1: 0.0}}},
                         schemes={"split": ("split", ["head"], ["tail"])},
                         columns={"label": np.zeros(n), "split_bytes": np.full(n, 2000),
                                  "split_correct": np.ones(n)})
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof, tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 20000},
        channel={"bandwidth_hz": 1e7, "snr_db": 20.0, "fading": {"model": "none"},
                 "rate": {"model": "cqi", "bler": 0.5, "max_harq": 1}}))
    r = records_frame(simulate(sc, load_profile(prof), "split", 0))
    lost = (r["status"] == "lost").mean()
    assert lost == pytest.approx(1 - 0.75**2, abs=4 * math.sqrt(0.4375 * 0.5625 / 20000))
    # each packet goes out 1.5 times on average: 1.5 x 2080 bytes per task
    assert r["air_bytes"].mean() == pytest.approx(1.5 * 2080, rel=0.02)
    assert set(r["status"]) == {"done", "lost"}
    gone = r[r["status"] == "lost"]  # lost on the air: never reached the edge, nothing came back
    assert (gone[["propagation_ms", "downlink_ms", "edge_ms", "batch"]] == 0).all().all()
    assert gone["completion_ms"].isna().all() and not gone["met"].any()
    bler0 = Rate(model="cqi", bler=0.0)
    tries, ok = RateModel(bler0, 1e6).attempts(5, 0, 0, 0)
    assert ok and list(tries) == [1] * 5
    # tries per packet: P(tries > t) = bler^t, cut at max_harq + 1 = 3
    many = [RateModel(Rate(model="cqi", bler=0.4, max_harq=2), 1e6).attempts(50, 7, d, k)[0]
            for d in range(20) for k in range(100)]
    t = np.array(many).ravel()
    assert set(t) == {1, 2, 3}
    for k, p in ((1, 0.6), (2, 0.4 * 0.6), (3, 0.4**2)):
        assert (t == k).mean() == pytest.approx(p, abs=0.01)


@pytest.mark.parametrize("k,second_moment", [(None, 2.0), (3.0, (2 + 4 * 3 + 9) / 16), (0.0, 2.0)])
def test_block_fading_moments(k, second_moment):
    # |h|^2 has mean 1 and E|h|^4 = (2 + 4K + K^2) / (K + 1)^2 (Rayleigh: K = 0, 2)
    fad = BlockFading(0.0, 1e-3, (7,), k_factor=k)
    lin = np.array([10 ** (fad.segment(i * 1e-3 + 1e-4)[0] / 10) for i in range(40000)])
    assert lin.mean() == pytest.approx(1.0, abs=0.02)
    assert (lin**2).mean() == pytest.approx(second_moment, rel=0.05)
    assert fad.segment(0.0105) == (fad.segment(0.0101)[0], pytest.approx(0.011))


def test_trace_fading_transfer_by_hand(tmp_path):
    path = tmp_path / "snr.csv"
    path.write_text("time_s,snr_db\n0.002,10\n0.005,0\n0.010,20\n")
    snr = TraceSnr(path)
    assert snr.segment(0.0) == (10.0, 0.005)  # before the first row: the first value
    assert snr.segment(0.007) == (0.0, 0.010)
    assert snr.segment(5.0) == (20.0, math.inf)  # held after the last row
    link = Link(snr, RateModel(Rate(model="shannon", efficiency=1.0), 1e6))
    r10, r0, r20 = (1e6 * math.log2(1 + 10 ** (s / 10)) for s in (10, 0, 20))
    bits = r10 * 0.001 + r0 * 0.005 + r20 * 0.002  # from 4 ms: 1 ms at 10 dB, 5 ms at 0 dB, 2 ms at 20 dB
    assert link.transfer_time(0.004, bits) == pytest.approx(0.008)
    assert link.bits_between(0.004, 0.012) == pytest.approx(bits)


def test_periodic_arrivals_with_jitter():
    arr = Arrival(process="periodic", period_ms=100.0, jitter_ms=20.0)
    t0 = arrival_times(arr, 20000, None, seed=3, device=0)
    off = t0 - 0.1 * np.arange(20000)
    assert np.array_equal(t0, 0.1 * np.arange(20000) + rng_for(3, 2, 0).uniform(0, 0.020, 20000))  # device 0: no phase
    assert off.min() >= 0 and off.max() < 0.020
    assert off.mean() == pytest.approx(0.010, abs=0.0003)  # uniform on [0, 20 ms)
    assert off.var() == pytest.approx(0.020**2 / 12, rel=0.05)
    t1 = arrival_times(arr, 200, None, seed=3, device=1)  # other devices: a random phase in [0, period)
    phase = (t1 - 0.1 * np.arange(200)).min()
    assert 0 <= phase < 0.1 + 0.02 and not np.allclose(t1[:200], t0[:200])
    plain = arrival_times(Arrival(process="periodic", period_ms=10.0), 5, None, 0, 0)
    assert np.diff(plain) == pytest.approx([0.01] * 4)
    # by duration: every period start before the end, jittered ones included
    timed = arrival_times(Arrival(process="periodic", period_ms=10.0, jitter_ms=5.0), None, 1.0, 0, 0)
    assert len(timed) == 100 and timed.max() < 1.0


def test_poisson_arrivals_by_duration_are_independent_per_device():
    arr = Arrival(process="poisson", rate_per_s=50.0)
    a, b = (arrival_times(arr, None, 200.0, seed=1, device=d) for d in (0, 1))
    for t in (a, b):  # 10,000 expected: within 4 standard deviations
        assert abs(len(t) - 10_000) < 4 * 100 and t.max() < 200.0
    n = min(len(a), len(b)) - 1
    r = np.corrcoef(np.diff(a)[:n], np.diff(b)[:n])[0, 1]
    assert abs(r) < 4 / math.sqrt(n)  # the gaps of two devices are uncorrelated
    assert not np.array_equal(a[:100], b[:100])
    again = arrival_times(arr, None, 200.0, seed=1, device=1)
    assert np.array_equal(again, b)  # one seed, one stream
    short = arrival_times(Arrival(process="poisson", rate_per_s=2.0), None, 1.0, seed=0, device=0)
    assert len(short) == 0 or short.max() < 1.0  # a duration shorter than a few gaps


def test_poisson_times_are_one_stream_of_gaps_whatever_the_chunk():
    from sim.engine import poisson_times

    one = np.cumsum(np.random.default_rng(5).exponential(1 / 50, 4000))
    for chunk in (7, 64, 3000):
        t = poisson_times(np.random.default_rng(5), 50.0, 10.0, chunk)
        assert t[-1] >= 10.0 and (len(t) == chunk or t[-chunk - 1] < 10.0)  # extended only as far as needed
        assert np.allclose(t, one[:len(t)], rtol=1e-12, atol=0)


def test_batch_time_interpolation_and_extrapolation(tmp_path):
    prof = write_profile(tmp_path / "p", stages={"t": {"hw": {1: 10.0, 4: 16.0, 8: 20.0}},
                                                 "one": {"hw": {2: 6.0}}, "two": {"hw": {4: 16.0, 8: 20.0}},
                                                 "noisy": {"hw": {1: 10.0, 2: 8.0}}},
                         schemes={"s": ("split", ["one"], ["t"])},
                         columns={"label": np.zeros(2), "s_bytes": np.ones(2), "s_correct": np.ones(2)})
    p = load_profile(prof)
    assert p.latency_ms("t", "hw", 4) == 16.0  # measured
    assert p.latency_ms("t", "hw", 2) == pytest.approx(12.0)  # between 1 and 4
    assert p.latency_ms("t", "hw", 6) == pytest.approx(18.0)  # between 4 and 8
    assert p.latency_ms("t", "hw", 16) == pytest.approx(28.0)  # beyond 8: slope 1 ms per item
    assert p.latency_ms("one", "hw", 5) == pytest.approx(15.0)  # one size measured: one after another
    assert p.latency_ms("two", "hw", 1) == 16.0  # below the smallest of several: the smallest's time
    assert p.latency_ms("noisy", "hw", 6) == 8.0  # a falling last segment does not extrapolate below itself
    assert p.stage_time_ms(("one", "t"), "hw", 2) == pytest.approx(6.0 + 12.0)


def test_student_t_quantiles_at_the_end_of_the_table_and_past_it():
    # two-sided 95% quantiles: t(30) = 2.0423 from the table; t(31) = 2.0395 and t(120) = 1.9799
    # (Student's t tables) from the tail formula, within 0.1%
    from sim.results import t95

    assert t95(1) == 12.706 and t95(30) == 2.042
    assert t95(31) == pytest.approx(2.0395, rel=1e-3) and t95(31) == 1.959964 + 2.5 / 31
    assert t95(120) == pytest.approx(1.9799, rel=1e-3)
