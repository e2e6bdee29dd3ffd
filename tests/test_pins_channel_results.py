"""Channel and results figures pinned by hand, where the mutation run found nothing watching them."""
import math

import numpy as np
import pandas as pd
import pytest
from helpers import simple_profile, write_scenario

from sim.channel import GilbertElliott, TraceSnr, _mix, uniform
from sim.engine import simulate
from sim.policies import Policy
from sim.profile import load_profile
from sim.results import export_csv, records_frame, summarize
from sim.scenario import load_scenario


def test_splitmix64_matches_the_reference_vectors_and_uniform_uses_53_bits():
    # splitmix64 from state 1234567 (the reference implementation's test vector): the first two outputs
    golden = 0x9E3779B97F4A7C15
    assert _mix(1234567) == 6457827717110365317
    assert _mix((1234567 + golden) % 2**64) == 3203168211198807973
    # (0, 1]: the top 53 bits plus one, over 2^53, exactly
    assert uniform(1234567, 0) == ((6457827717110365317 >> 11) + 1) / 2**53
    assert uniform(1234560, 7) == uniform(1234567, 0)  # key XOR counter: 1234560 ^ 7 == 1234567


def test_gilbert_elliott_levels_and_stationary_start_by_hand():
    # mean 10 (linear), bad 10 dB below good, good 3 s, bad 1 s: share good 0.75;
    # good = 10 / (0.75 + 0.25 x 0.1) = 12.903 (11.107 dB), bad 1.107 dB
    ge = GilbertElliott(10.0, -10.0, 3.0, 1.0, np.random.default_rng(0))
    assert ge.snr_db[True] == pytest.approx(10 * math.log10(10 / 0.775), abs=1e-9)
    assert ge.snr_db[False] == pytest.approx(10 * math.log10(10 / 0.775) - 10, abs=1e-9)
    starts = [GilbertElliott(10.0, -10.0, 3.0, 1.0, np.random.default_rng(s)).states[0] for s in range(4000)]
    assert np.mean(starts) == pytest.approx(0.75, abs=0.025)  # 4 standard errors


def test_share_good_of_a_known_path():
    ge = GilbertElliott(10.0, -10.0, 3.0, 1.0, np.random.default_rng(0))
    ge.starts, ge.states = [0.0, 2.0, 3.0, 7.0], [True, False, True, False]
    assert ge.share_good(5.0) == pytest.approx((2 + 2) / 5)  # good on [0, 2) and [3, 5)
    assert ge.share_good(2.5) == pytest.approx(2 / 2.5)


def test_trace_offset_is_added_to_every_value(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time_s,snr_db\n0,5\n1,-2\n")
    plain, shifted = TraceSnr(path), TraceSnr(path, offset_db=3.0)
    for t in (0.0, 0.5, 1.0, 9.0):
        assert shifted.segment(t) == (plain.segment(t)[0] + 3.0, plain.segment(t)[1])
    assert shifted.segment(0.2)[0] == 8.0 and shifted.segment(1.2)[0] == 1.0


def test_summary_carries_the_horizon_and_export_writes_where_asked(tmp_path):
    prof = simple_profile(tmp_path / "p", device_ms=5.0)
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, schemes=["local"],
                                      tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 3}))
    res = simulate(sc, load_profile(prof), "local", 0)
    assert summarize(records_frame(res), res)["horizon_s"] == pytest.approx(0.220)

    from sim.cli import main

    out = tmp_path / "res"
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(out), "--no-plot"]) == 0
    target = tmp_path / "elsewhere" / "r.csv"
    target.parent.mkdir()
    assert export_csv(out, target) == target and not (out / "records.csv").exists()
    assert len(pd.read_csv(target)) == 3
    assert export_csv(out) == out / "records.csv" and (out / "records.csv").exists()


def test_oracle_bound_of_a_run_without_tasks_is_nan(tmp_path):
    prof = simple_profile(tmp_path / "p")
    (tmp_path / "late.csv").write_text("time_s\n50\n")
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof, schemes=[{"policy": "oracle", "options": ["local", "split"]}],
        tasks={"arrival": {"process": "trace", "trace": "late.csv"}, "count": None, "duration_s": 1.0,
               "deadline_ms": 100}))
    res = simulate(sc, load_profile(prof), sc.arms[0], 0)
    row = summarize(records_frame(res), res)
    assert row["tasks"] == 0 and math.isnan(row["hit_bound"]) and math.isnan(row["acc_bound"])


def test_load_report_applies_every_change_up_to_the_time_asked():
    from sim.nodes import LoadReport

    r = LoadReport()
    for t, d in ((1.0, +1), (2.0, +1), (2.0, -1), (3.0, -1), (0.5, +1)):
        r.change(t, d)
    assert [r.at(t) for t in (0.0, 0.5, 0.99, 1.0, 2.0, 2.5, 3.0, 9.0)] == [0, 1, 1, 2, 2, 2, 1, 1]
    r.change(9.5, +1)  # a change after the last time asked still counts later
    assert r.at(9.5) == 2 and not r.changes


SEEN: list = []


class Recording(Policy):
    """A policy (the scenario names it ``test_pins_channel_results:Recording``) that keeps what it is shown."""

    def choose(self, obs):
        SEEN.append(obs)
        return "split"


def _observations(tmp_path, seed=0, **spec):
    """What a policy is shown at each arrival: 40 tasks every 10 ms, 2 devices, an SNR trace."""
    SEEN.clear()
    tmp_path.mkdir(parents=True, exist_ok=True)
    prof = simple_profile(tmp_path / "p", n=10)
    (tmp_path / "snr.csv").write_text("time_s,snr_db\n0,5\n0.1,20\n0.2,-3\n")
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof, schemes=[{"policy": "test_pins_channel_results:Recording", "options": ["split"],
                                             **spec}],
        devices={"count": 2, "hardware": "hw"},
        channel={"fading": {"model": "trace", "trace": "snr.csv"}, "snr_db": 10.0},
        tasks={"arrival": {"process": "periodic", "period_ms": 10}, "count": 40, "deadline_ms": 100}))
    simulate(sc, load_profile(prof), sc.arms[0], seed)
    return list(SEEN)


def test_a_policy_sees_the_snr_as_old_as_its_snr_age(tmp_path):
    seen = _observations(tmp_path, snr_age_ms=30)
    trace = {0.0: 5.0, 0.1: 20.0, 0.2: -3.0}
    for obs in seen:
        when = max(0.0, obs.time_s - 0.030)
        assert obs.snr_time_s == pytest.approx(when, abs=1e-12)
        level = trace[max(t for t in trace if t <= when + 1e-12)]
        assert obs.snr_db == pytest.approx(level)
    assert {round(o.snr_db) for o in seen} == {5, 20, -3}


def test_snr_errors_are_gaussian_and_independent_across_tasks_devices_and_seeds(tmp_path):
    base = {(o.device, o.task): o.snr_db for o in _observations(tmp_path, snr_age_ms=0)}
    noisy = _observations(tmp_path / "n", snr_error_db=2.0)
    err = np.array([o.snr_db - base[(o.device, o.task)] for o in noisy])
    assert len(err) == 80 and len(set(np.round(err, 12))) == 80  # one independent draw per task and device
    assert abs(err.mean()) < 3 * 2.0 / math.sqrt(80) and 0.7 * 2.0 < err.std() < 1.3 * 2.0
    # both tails (Box-Muller from one uniform instead of two would give nothing below -1.2 sigma;
    # a normal puts 6.7% of 80 draws below -1.5 sigma)
    assert err.min() < -1.5 * 2.0 and err.max() > 1.5 * 2.0
    other = [o.snr_db for o in _observations(tmp_path / "s2", seed=2, snr_error_db=2.0)]
    again = [o.snr_db for o in _observations(tmp_path / "s0", seed=0, snr_error_db=2.0)]
    assert again == [o.snr_db for o in noisy]  # common random numbers: one seed, one error per task
    assert sum(a != b for a, b in zip(other, again)) == 80  # another seed, other errors


@pytest.mark.parametrize("sharing", ["fifo", "round-robin"])
def test_two_devices_share_the_uplink_packet_by_packet_worked_by_hand(tmp_path, sharing):
    # Both devices' tasks arrive at 0 and finish their heads at 5 ms; each sends 2 packets of
    # T = 8320 / (1e6 log2 11) s. FIFO: device 0's two packets, then device 1's. Round robin:
    # d0, d1, d0, d1. Then 1 ms propagation, 2 ms at the edge (never queued), the 8-byte result
    # (6.4 us) and 1 ms back.
    prof = simple_profile(tmp_path / "p", n=10, payload=2000)
    (tmp_path / "arr.csv").write_text("time_s\n0\n")
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof, schemes=["split"], devices={"count": 2, "hardware": "hw"},
        channel={"bandwidth_hz": 1e6, "snr_db": 10.0, "fading": {"model": "none"}, "sharing": sharing,
                 "mtu_bytes": 1040},
        tasks={"arrival": {"process": "trace", "trace": "arr.csv"}, "count": None, "duration_s": 1.0,
               "deadline_ms": 100}))
    r = records_frame(simulate(sc, load_profile(prof), "split", 0)).sort_values("device")
    t = 1e3 * 8320 / (1e6 * math.log2(11))
    after = 1 + 2 + 1e3 * 64 / 10e6 + 1
    wait, up, ends = {"fifo": ([0, 2 * t], [2 * t, 2 * t], [2 * t, 4 * t]),
                      "round-robin": ([0, t], [3 * t, 3 * t], [3 * t, 4 * t])}[sharing]
    assert r.uplink_wait_ms.tolist() == pytest.approx(wait, abs=1e-9)
    assert r.uplink_ms.tolist() == pytest.approx(up)
    assert r.latency_ms.tolist() == pytest.approx([5 + e + after for e in ends])


TRUTHS: list = []


class TellingTruth(Policy):
    """A clairvoyant policy that keeps what the oracle would be told, and sends everything split."""

    clairvoyant = True

    def choose(self, obs):
        t = obs.truth
        TRUTHS.append({f"{f}_{o}": 1e3 * getattr(t, f)(o) for f in ("alone_s", "completion_s", "shared_s")
                       for o in ("split", "local")})
        return "split"


def test_what_the_oracle_is_told_worked_by_hand(tmp_path):
    # Heads of 0.5 ms (the local model 2 ms); tasks at 0 and 1 ms on one device. Task 0 uploads
    # from 0.5 to 0.5 + T and holds the edge from 1.5 + T for 2 ms. Task 1, alone, would upload
    # from 1.5; as things are it waits for the uplink until 0.5 + T, reaches the edge at
    # 1.5 + 2T (after task 0 has left it), then 2 ms, the result and 1 ms back.
    TRUTHS.clear()
    prof = simple_profile(tmp_path / "p", n=10, device_ms=0.5)
    (tmp_path / "arr.csv").write_text("time_s\n0\n0.001\n")
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof, schemes=[{"policy": "test_pins_channel_results:TellingTruth",
                                             "options": ["split", "local"]}],
        channel={"bandwidth_hz": 1e6, "snr_db": 10.0, "fading": {"model": "none"}},
        tasks={"arrival": {"process": "trace", "trace": "arr.csv"}, "count": None, "duration_s": 1.0,
               "deadline_ms": 100}))
    simulate(sc, load_profile(prof), sc.arms[0], 0)
    t = 1e3 * 8320 / (1e6 * math.log2(11))
    back = 1e3 * 64 / 10e6 + 1
    lone = 0.5 + t + 1 + 2 + back
    first, second = TRUTHS
    assert first == pytest.approx({"alone_s_split": lone, "completion_s_split": lone, "shared_s_split": t + 2,
                                   "alone_s_local": 2.0, "completion_s_local": 2.0, "shared_s_local": 0.0})
    assert second == pytest.approx({"alone_s_split": lone, "completion_s_split": 0.5 + 2 * t + 1 + 2 + back - 1,
                                    "shared_s_split": t + 2, "alone_s_local": 2.0, "completion_s_local": 2.0,
                                    "shared_s_local": 0.0})
