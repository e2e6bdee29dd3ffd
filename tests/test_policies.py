"""Per-task decisions: device groups, per-device channels, the policy seam, the oracle's bound.

Hand-worked numbers use helpers.simple_profile: ``local`` runs a 20 ms model on the device and is
always correct; ``split`` runs a 5 ms head, sends 1000 bytes (one 1040-byte packet, 8320 bits)
and a 2 ms tail on the edge, and is correct on even images only. With a 1 MHz channel, Shannon
at efficiency 1 and 10 dB, the upload takes 8320 / (1e6 log2 11) s = 2.405 ms; propagation is
1 ms each way and the 8-byte result takes 0.0064 ms at 10 Mbit/s.
"""
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import simpy
from helpers import edge_log, recording_policies, simple_profile, write_profile, write_scenario

from sim.channel import make_snr_process
from sim.cli import main
from sim.engine import Simulation, simulate
from sim.errors import ConfigError
from sim.nodes import Cpu, LoadReport
from sim.policies import Observation, predict_s
from sim.profile import load_profile
from sim.records import RECORD_FIELDS
from sim.results import records_frame, summarize
from sim.scenario import PolicySpec, load_scenario, override

SPLIT_MS = 5 + 8320 / (1e6 * math.log2(11)) * 1e3 + 1 + 2 + 8 * 8 / 10e6 * 1e3 + 1  # alone, at 10 dB
ESTIMATE = {"policy": "estimate", "options": ["local", "split"]}
ORACLE = {"policy": "oracle", "options": ["local", "split"]}


@pytest.fixture
def prof(tmp_path):
    return simple_profile(tmp_path / "p", n=40)


def _scenario(tmp_path, prof, **sections):
    sections.setdefault("tasks", {"arrival": {"process": "periodic", "period_ms": 1000}, "count": 40,
                                  "deadline_ms": 25})
    return load_scenario(write_scenario(tmp_path / "s.yaml", prof, **sections))


def _run(sc, arm, seed=0):
    res = simulate(sc, load_profile(sc.profile), arm, seed)
    return records_frame(res), res


# -- the channel of each device -----------------------------------------------------------------

def test_two_devices_fade_independently_and_shared_fading_is_one_realisation(tmp_path, prof):
    sc = _scenario(tmp_path, prof, channel={"fading": {"model": "rayleigh", "coherence_ms": 1}})
    n = 8192
    a, b = (np.array([10 ** (make_snr_process(sc.channel, 7, d).segment(i * 1e-3 + 5e-4)[0] / 10)
                      for i in range(n)]) for d in (0, 1))
    r = np.corrcoef(a, b)[0, 1]
    assert abs(r) < 4 / math.sqrt(n), r  # independent: |r| within 4 standard errors of 0
    assert abs(a.mean() / 10 - 1) < 0.05 and abs(b.mean() / 10 - 1) < 0.05  # each with the mean SNR (10 dB)
    shared = override(sc, {"channel.fading.shared": True})
    c = [make_snr_process(shared.channel, 7, d).segment(0.0123)[0] for d in (0, 1, 5)]
    assert c[0] == c[1] == c[2]
    # device 0 keeps the stream a single-device scenario always had
    assert make_snr_process(sc.channel, 7, 0).segment(0.0123)[0] == c[0]


def test_one_seed_meets_the_same_channel_arrivals_and_images_under_every_policy(tmp_path, prof):
    sc = _scenario(tmp_path, prof, devices=[{"count": 2, "hardware": "hw", "name": "near"},
                                            {"count": 2, "hardware": "hw", "speed": 0.5, "snr_offset_db": -8}],
                   tasks={"arrival": {"process": "poisson", "rate_per_s": 40}, "count": 60, "deadline_ms": 25},
                   channel={"fading": {"model": "rayleigh", "coherence_ms": 2}})
    profile = load_profile(sc.profile)
    probes = np.linspace(0, 1.5, 301)
    seen = []
    for arm in ("split", "local", PolicySpec(**ESTIMATE), PolicySpec(**ORACLE),
                PolicySpec(policy="snr-threshold", thresholds=[_row(-100, "local"), _row(3, "split")])):
        sim = Simulation(sc, profile, arm, 3)
        res = sim.run()
        df = records_frame(res).sort_values(["device", "task"])
        channel = [[sim.links[d].snr.segment(t)[0] for t in probes] for d in range(4)]
        seen.append((df[["device", "task", "arrival_ms", "image"]].to_numpy().tolist(), channel))
    for other in seen[1:]:
        assert other[0] == seen[0][0]
        assert other[1] == seen[0][1]
    assert seen[0][1][0] != seen[0][1][1]  # and the devices' channels differ


def _row(db, scheme):
    from sim.scenario import Threshold
    return Threshold(from_db=db, scheme=scheme)


# -- device groups ------------------------------------------------------------------------------

def test_device_groups_have_their_own_speed_mean_snr_and_label(tmp_path, prof):
    sc = _scenario(tmp_path, prof, devices=[{"count": 1, "hardware": "hw"},
                                            {"count": 2, "hardware": "hw", "speed": 0.5, "snr_offset_db": -10,
                                             "name": "far"}])
    df, _ = _run(sc, "split")
    g0, g1 = df[df.device == 0], df[df.device > 0]
    assert set(g0.group) == {"g0"} and set(g1.group) == {"far"}
    assert np.allclose(g0.device_ms, 5.0) and np.allclose(g1.device_ms, 10.0)
    assert np.allclose(g0.uplink_ms, 8320 / (1e6 * math.log2(11)) * 1e3)
    assert np.allclose(g1.uplink_ms, 8320 / 1e6 * 1e3)  # 0 dB: log2(2) = 1 bit/s/Hz
    assert sc.n_devices == 3 and [sc.group_of(d) for d in range(3)] == [0, 1, 1]


def test_distance_gives_the_log_distance_path_loss(tmp_path, prof):
    sc = _scenario(tmp_path, prof, devices=[{"count": 1, "hardware": "hw", "distance_m": 200}],
                   channel={"snr_db": 10, "path_loss": {"exponent": 3.0, "reference_m": 100}})
    assert sc.mean_snr_db(0) == pytest.approx(10 - 30 * math.log10(2))
    df, _ = _run(sc, "split")
    rate = 1e6 * math.log2(1 + 10 ** (sc.mean_snr_db(0) / 10))
    assert np.allclose(df.uplink_ms, 8320 / rate * 1e3)


def test_an_arrival_trace_with_a_device_column_gives_each_device_its_times(tmp_path, prof):
    trace = tmp_path / "arrivals.csv"
    trace.write_text("time_s,device\n0.0,1\n0.1,0\n0.2,1\n0.35,0\n")
    sc = _scenario(tmp_path, prof, devices={"count": 2, "hardware": "hw"},
                   tasks={"arrival": {"process": "trace", "trace": str(trace)}, "count": 10, "deadline_ms": 25})
    df, _ = _run(sc, "local")
    got = {d: sorted(g.arrival_ms.round(6)) for d, g in df.groupby("device")}
    assert got == {0: [100.0, 350.0], 1: [0.0, 200.0]}
    trace.write_text("time_s,device\n0.3,1\n0.1,0\n0.2,1\n")
    with pytest.raises(ConfigError, match="within device 1"):
        _run(_scenario(tmp_path, prof, devices={"count": 2, "hardware": "hw"},
                       tasks={"arrival": {"process": "trace", "trace": str(trace)}, "count": 10}), "local")


# -- policies by hand ---------------------------------------------------------------------------

def test_snr_threshold_takes_the_row_of_the_observed_snr(tmp_path, prof):
    rows = [{"from_db": -100, "scheme": "local"}, {"from_db": 5, "scheme": "split"}]
    for snr, want in ((10, "split"), (5, "split"), (4.9, "local")):
        sc = _scenario(tmp_path, prof, channel={"snr_db": snr},
                       schemes=[{"policy": "snr-threshold", "thresholds": rows}])
        df, _ = _run(sc, sc.arms[0])
        assert set(df.choice) == {want}, snr


def test_estimate_predicts_by_hand_and_picks_the_most_accurate_option_on_time(tmp_path, prof):
    sc = _scenario(tmp_path, prof, schemes=[ESTIMATE])
    sim = Simulation(sc, load_profile(sc.profile), sc.arms[0], 0)
    ctx = sim.policy.ctx
    obs = Observation(0.0, 0, 0, 0, 0.025, 0.003, 10.0, 0.0, 10.0)
    assert predict_s(ctx, "local", obs) * 1e3 == pytest.approx(3 + 20)
    assert predict_s(ctx, "split", obs) * 1e3 == pytest.approx(3 + SPLIT_MS)
    # a fade seen now counts; a peak above the mean does not
    assert predict_s(ctx, "split", Observation(0.0, 0, 0, 0, 0.025, 0.0, 30.0, 0.0, 10.0)) * 1e3 == \
        pytest.approx(SPLIT_MS)
    assert ctx.info["split"].accuracy == 0.5 and ctx.info["local"].accuracy == 1.0
    for deadline, want in ((25, "local"), (15, "split"), (8, "split")):  # 8: none on time, the fastest
        s = override(sc, {"tasks.deadline_ms": deadline})
        df, _ = _run(s, s.arms[0])
        assert set(df.choice) == {want}, deadline


def test_estimate_counts_accuracies_within_its_tolerance_as_equal(tmp_path, prof):
    # 'split' correct on 39 of 40 images (97.5%) against local's 100%: 2.5 points apart
    import pandas as pd
    samples = pd.read_csv(prof / "samples.csv")
    samples["split_correct"] = [1] * 39 + [0]
    samples.to_csv(prof / "samples.csv", index=False)
    for tol, want in ((1.0, "local"), (3.0, "split")):
        sc = _scenario(tmp_path, prof, schemes=[{**ESTIMATE, "tolerance_pct": tol}])
        df, _ = _run(sc, sc.arms[0])
        assert set(df.choice) == {want}, tol


def test_oracle_bound_by_hand_and_its_choice(tmp_path, prof):
    # deadline 25: local (20 ms, always right) is on time for every task: bound 1, oracle picks local
    sc = _scenario(tmp_path, prof, schemes=[ORACLE])
    df, res = _run(sc, sc.arms[0])
    row = summarize(df, res)
    assert row["acc_bound"] == 1.0 and row["hit_bound"] == 1.0
    assert set(df.choice) == {"local"} and row["acc_within_deadline"] == 1.0
    # deadline 15: only split (11.4 ms) is on time, right on even images only
    sc = override(sc, {"tasks.deadline_ms": 15})
    df, res = _run(sc, sc.arms[0])
    row = summarize(df, res)
    assert row["hit_bound"] == 1.0
    assert row["acc_bound"] == pytest.approx((df.image % 2 == 0).mean())
    assert set(df.choice) == {"split"}
    # deadline exactly local's 20 ms: a task done at its deadline meets it, so local still counts
    sc20 = override(sc, {"tasks.deadline_ms": 20})
    df, res = _run(sc20, sc20.arms[0])
    row = summarize(df, res)
    assert row["acc_bound"] == 1.0 and row["hit_rate"] == 1.0
    # deadline 11: split alone needs 11.4 (its 2 ms at the edge included): nothing is on time,
    # also where the profile measured the tail at one batch size only (t(n) = n t(1))
    one = write_profile(tmp_path / "one", stages={"full": {"hw": {1: 20.0}}, "head": {"hw": {1: 5.0}},
                                                  "tail": {"hw": {1: 2.0}}},
                        schemes={"local": ("local", ["full"], []), "split": ("split", ["head"], ["tail"])},
                        columns={"label": np.zeros(40), "local_bytes": np.zeros(40), "local_correct": np.ones(40),
                                 "split_bytes": np.full(40, 1000), "split_correct": np.ones(40)})
    for sc11 in (override(sc, {"tasks.deadline_ms": 11}), override(sc, {"tasks.deadline_ms": 11, "profile": str(one)})):
        row = summarize(*_run(sc11, sc11.arms[0]))
        assert row["hit_bound"] == 0.0 and row["acc_bound"] == 0.0
    # deadline just below split's latency alone: nothing can be on time
    sc = override(sc, {"tasks.deadline_ms": SPLIT_MS - 1e-3})
    row = summarize(*_run(sc, sc.arms[0]))
    assert row["hit_bound"] == 0.0 and row["acc_bound"] == 0.0


@pytest.mark.parametrize("variant", [
    {},
    {"channel": {"sharing": "round-robin", "fading": {"model": "rayleigh", "coherence_ms": 1}, "snr_db": 3}},
    {"tasks": {"arrival": {"process": "poisson", "rate_per_s": 150}, "count": 60, "deadline_ms": 14,
               "on_deadline": "drop"}, "edge": {"hardware": "hw", "batching": {"max_batch": 4, "max_wait_ms": 1}}},
    {"channel": {"rate": {"model": "cqi", "bler": 0.3, "max_harq": 1}, "snr_db": 12,
                 "fading": {"model": "gilbert-elliott", "bad_offset_db": -20}}},
])
def test_no_policy_or_scheme_beats_the_oracle_bound(tmp_path, prof, variant):
    sections = {"devices": {"count": 3, "hardware": "hw", "speed": 1.0},
                "tasks": {"arrival": {"process": "poisson", "rate_per_s": 80}, "count": 60, "deadline_ms": 16},
                "channel": {"fading": {"model": "rayleigh", "coherence_ms": 2}, "snr_db": 6}}
    for k, v in variant.items():
        sections[k] = {**sections.get(k, {}), **v}
    sc = _scenario(tmp_path, prof, **sections)
    arms = ["local", "split", PolicySpec(**ESTIMATE), PolicySpec(**ORACLE),
            PolicySpec(policy="snr-threshold", thresholds=[_row(-100, "split"), _row(8, "local")])]
    for seed in (0, 1):
        rows = {str(a): summarize(*_run(sc, a, seed)) for a in arms}
        bound = rows[str(arms[3])]
        assert 0 < bound["acc_bound"] <= 1
        for name, r in rows.items():
            assert r["acc_within_deadline"] <= bound["acc_bound"] + 1e-12, name
            assert r["hit_rate"] <= bound["hit_bound"] + 1e-12, name


# -- the seam itself ----------------------------------------------------------------------------

def test_a_users_policy_that_always_picks_one_scheme_gives_the_fixed_schemes_records(tmp_path, prof, monkeypatch):
    (tmp_path / "mypolicies.py").write_text(
        "from sim.policies import Policy\n"
        "class Always(Policy):\n"
        "    def choose(self, obs):\n"
        "        assert obs.truth is None and obs.time_s >= 0\n"
        "        return self.ctx.params['scheme']\n"
        "class Wrong(Policy):\n"
        "    def choose(self, obs):\n"
        "        return 'teleport'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sections = {"devices": {"count": 3, "hardware": "hw"}, "channel": {"fading": {"model": "rayleigh"}},
                "tasks": {"arrival": {"process": "poisson", "rate_per_s": 60}, "count": 50, "deadline_ms": 20,
                          "on_deadline": "drop"}}
    sc = _scenario(tmp_path, prof, schemes=["split", {"policy": "mypolicies:Always", "name": "mine",
                                                      "params": {"scheme": "split"}, "snr_error_db": 3,
                                                      "load_delay_ms": 5}], **sections)
    assert sc.labels == ("split", "mine")
    fixed, _ = _run(sc, sc.arms[0], 4)
    mine, _ = _run(sc, sc.arms[1], 4)
    assert fixed.equals(mine)
    bad = _scenario(tmp_path, prof, schemes=[{"policy": "mypolicies:Wrong", "options": ["split"]}], **sections)
    with pytest.raises(ConfigError, match="teleport") as err:
        _run(bad, bad.arms[0])
    assert err.value.file == str(bad.source) and err.value.key == "schemes"  # the scenario's file and key


def test_the_edge_batches_only_jobs_of_one_kind():
    log = edge_log(1, 2, 5, [("a1", "a", 0), ("b1", "b", 0), ("a2", "a", 1)])
    # a1 waits for a partner; a2 makes kind a full at 1 ms: batch (a1, a2) runs 12 ms; b1 then alone
    assert log == [("a1", 13.0, 2, 1.0), ("a2", 13.0, 2, 0.0), ("b1", 24.0, 1, 13.0)]


def test_load_report_and_device_backlog_by_hand():
    rep = LoadReport()
    for t, d in ((0, 1), (5, -1), (2, 1), (3, -1)):
        rep.change(t, d)
    assert [rep.at(t) for t in (1, 2.5, 4, 6)] == [1, 2, 1, 0]
    env = simpy.Environment()
    cpu = Cpu(env, lindley=False)
    procs = [env.process(_task(cpu)) for _ in range(2)]
    seen = []
    env.process(_watch(env, cpu, seen, procs[1]))
    env.run()
    assert seen == [20.0, 15.0, 5.0, 0.0]


def _task(cpu):
    try:
        yield from cpu.compute(10.0, {})
    except simpy.Interrupt:
        pass


def _watch(env, cpu, seen, victim):
    yield env.timeout(0)
    seen.append(cpu.backlog_s())
    yield env.timeout(5)
    seen.append(cpu.backlog_s())
    victim.interrupt("deadline")
    yield env.timeout(0)
    seen.append(cpu.backlog_s())
    yield env.timeout(10)
    seen.append(cpu.backlog_s())


# -- the Gymnasium environment ------------------------------------------------------------------

def test_gymnasium_environment_passes_the_checker_and_replays_a_fixed_scheme(tmp_path, prof):
    gym = pytest.importorskip("gymnasium") if not _ci() else __import__("gymnasium")
    from gymnasium.utils.env_checker import check_env

    from sim.gym_env import CoInferenceEnv
    sc = _scenario(tmp_path, prof, devices={"count": 2, "hardware": "hw"},
                   channel={"fading": {"model": "rayleigh", "coherence_ms": 1}, "snr_db": 5},
                   tasks={"arrival": {"process": "poisson", "rate_per_s": 50}, "count": 30, "deadline_ms": 15})
    env = CoInferenceEnv(sc, options=["local", "split"])
    check_env(env, skip_render_check=True)
    assert isinstance(env.action_space, gym.spaces.Discrete)
    env.reset(seed=2)
    total, steps, done, credited = 0.0, 0, False, 0
    while not done:
        _, r, done, _, info = env.step(1)
        total, steps, credited = total + r, steps + 1, credited + len(info["finished"])
    fixed, _ = _run(sc, "split", 2)
    assert steps == len(fixed) == credited
    got = pd.DataFrame.from_records(env.sim.records, columns=list(RECORD_FIELDS))
    pd.testing.assert_frame_equal(got, fixed[list(RECORD_FIELDS)].reset_index(drop=True))
    assert total == float((fixed.met & fixed.correct).sum())


def _ci():
    import os
    return bool(os.environ.get("CI"))


# -- bad input ----------------------------------------------------------------------------------

BAD = [
    ({"schemes": [{"policy": "bogus"}]}, "schemes[0].policy", "bogus"),
    ({"schemes": [{"policy": "fixed"}]}, "schemes[0].scheme", "None"),
    ({"schemes": [{"policy": "estimate", "scheme": "split"}]}, "schemes[0].scheme", "split"),
    ({"schemes": [{"policy": "snr-threshold"}]}, "schemes[0].thresholds", "None"),
    ({"schemes": [{"policy": "snr-threshold", "thresholds": [{"from_db": 5, "scheme": "split"},
                                                            {"from_db": 1, "scheme": "local"}]}]},
     "schemes[0].thresholds", "[5.0, 1.0]"),
    ({"schemes": [{"policy": "snr-threshold", "thresholds": [{"from_db": 5, "scheme": "warp"}]}]},
     "schemes[0].thresholds[0].scheme", "warp"),
    ({"schemes": [{"policy": "estimate", "options": ["sp*", "nothing-*"]}]}, "schemes[0].options[1]", "nothing-*"),
    ({"schemes": [{"policy": "estimate", "snr_error_db": -1}]}, "schemes[0].snr_error_db", "-1"),
    ({"schemes": [{"policy": "oracle", "tolerance_pct": 2}]}, "schemes[0].tolerance_pct", "2"),
    ({"schemes": [{"policy": "estimate", "objective": "energy"}]}, "schemes[0].objective", "energy"),
    ({"schemes": ["split", {"policy": "fixed", "scheme": "split"}]}, "schemes", "split"),
    ({"schemes": [{"policy": "no_such_module_xyz:Thing"}]}, "schemes[0].policy", "no_such_module_xyz:Thing"),
    ({"schemes": [{"policy": "sim.policies:Nothing"}]}, "schemes[0].policy", "sim.policies:Nothing"),
    ({"schemes": [{"policy": "sim.policies:Policy"}]}, "schemes[0].policy", "does not implement choose"),
    # 10 dB - 10 x 8 x log10(1e7 / 100) = -390 dB at 10,000 km with exponent 8
    ({"devices": [{"count": 1, "hardware": "hw", "distance_m": 1e7}], "channel": {"path_loss": {"exponent": 8}}},
     "devices[0].distance_m", "mean SNR of -390 dB"),
    ({"devices": {"count": 1, "hardware": "hw", "snr_offset_db": -95}, "channel": {"snr_db": -10}},
     "devices.snr_offset_db", "mean SNR of -105 dB"),
    ({"devices": []}, "devices", "[]"),
    ({"devices": [{"count": 1, "hardware": "hw", "distance_m": 10, "snr_offset_db": 3}]},
     "devices[0].snr_offset_db", "3"),
    ({"devices": [{"count": 1, "hardware": "hw", "distance_m": -10}]}, "devices[0].distance_m", "-10"),
    ({"devices": [{"count": 1, "hardware": "hw"}, {"count": 1, "hardware": "tpu"}]}, "devices[1].hardware", "tpu"),
    ({"channel": {"path_loss": {"exponent": 0.5}}}, "channel.path_loss.exponent", "0.5"),
]


@pytest.mark.parametrize("sections,key,value", BAD, ids=[f"{c[1]}={c[2]}" for c in BAD])
def test_bad_policy_and_group_keys_exit_2_in_one_line(tmp_path, prof, capsys, sections, key, value):
    path = write_scenario(tmp_path / "bad.yaml", prof, **sections)
    code = main(["validate", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert str(path) in err and key in err and value in err, err


def test_policy_entries_sweep_and_report_choices(tmp_path, prof):
    path = write_scenario(tmp_path / "s.yaml", prof, schemes=["local", "split", ESTIMATE, ORACLE],
                          devices={"count": 2, "hardware": "hw"},
                          tasks={"arrival": {"process": "poisson", "rate_per_s": 30}, "count": 20, "deadline_ms": 15},
                          sweep={"grid": {"channel.snr_db": [-5, 20]}})
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--no-plot"]) == 0
    import pandas as pd
    s = pd.read_csv(out / "summary.csv")
    assert set(s.scheme) == {"local", "split", "estimate", "oracle"}
    shares = s[["share_local", "share_split"]]
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert (s[s.scheme == "local"].share_local == 1).all() and (s[s.scheme == "split"].share_split == 1).all()
    assert s[s.scheme == "oracle"].acc_bound.notna().all() and s[s.scheme != "oracle"].acc_bound.isna().all()
    assert main(["plot", str(out)]) == 0
    assert (out / "figures" / "choices.png").is_file()



def test_a_group_key_is_swept_and_set_by_its_index(tmp_path, prof, capsys):
    groups = [{"count": 1, "hardware": "hw", "name": "near"}, {"count": 1, "hardware": "hw", "name": "far"}]
    path = write_scenario(tmp_path / "s.yaml", prof, devices=groups, sweep={"grid": {"devices.1.count": [1, 3]}})
    sc = load_scenario(path)
    from sim.runner import points_of
    assert [p.n_devices for _, p in points_of(sc)] == [2, 4]
    assert load_scenario(path, {"devices.0.snr_offset_db": -4}).mean_snr_db(0) == 10 - 4
    bad = write_scenario(tmp_path / "bad.yaml", prof, devices=groups, sweep={"grid": {"devices.count": [1, 3]}})
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "devices.0.count" in err and len(err.strip().splitlines()) == 1


def test_air_bytes_is_packets_for_every_payload():
    from sim.channel import air_bytes, packets
    from sim.scenario import Channel
    ch = Channel(mtu_bytes=100, header_bytes=20)
    payload = np.arange(0, 1000)
    assert list(air_bytes(payload, ch)) == [packets(int(b), ch)[1] for b in payload]


@pytest.mark.parametrize("delay_ms,seen", [(0, [(0, 0), (0, 1), (0, 1), (0, 1)]), (1, [(0, 0)] * 4),
                                            (2, [(0, 0), (1, 0), (1, 0), (1, 0)])])
def test_the_load_a_policy_observes_by_hand(tmp_path, prof, monkeypatch, delay_ms, seen):
    # split alone, a task every 9 ms: task k's head runs 9k to 9k+5, its upload to 9k+7.405, it
    # reaches the edge at 9k+8.405 and leaves it at 9k+10.405. At task k's arrival (k >= 1) the
    # uplink is empty again (task k-1 left it at 9k-1.595: a flow leaves the uplink when its last
    # bit is out, not when it arrives) and task k-1 is at the edge. Learnt 1 ms late: the load at
    # 9k-1, task k-1 between the two; 2 ms late: at 9k-2, task k-1 still on the uplink
    spy = recording_policies(tmp_path, monkeypatch, "spypolicies",
                             "class Spy(Policy):\n"
                             "    def choose(self, obs):\n"
                             "        SEEN.append((obs.uplink_load, obs.edge_load))\n"
                             "        return 'split'\n")
    sc = _scenario(tmp_path, prof, schemes=[{"policy": "spypolicies:Spy", "options": ["split"],
                                             "load_delay_ms": delay_ms}],
                   tasks={"arrival": {"process": "periodic", "period_ms": 9}, "count": 4, "deadline_ms": 25})
    df, _ = _run(sc, sc.arms[0])
    assert df.latency_ms.tolist() == pytest.approx([SPLIT_MS] * 4)
    assert spy.SEEN == seen


def test_policy_objects_through_the_python_api(tmp_path, prof):
    from sim.policies import Policy

    class Mine(Policy):
        def choose(self, obs):
            return "split"

    sc = _scenario(tmp_path, prof, tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 3,
                                          "deadline_ms": 25})
    # an object without a context gets one built, with its own spec if it has one
    plain, named = Mine(), Mine()
    named.spec = PolicySpec(policy="mine", name="named", tolerance_pct=7.0)
    for obj in (plain, named):
        df, _ = _run(sc, obj)
        assert set(df.choice) == {"split"} and obj.ctx.options == ("local", "split")
    assert plain.ctx.spec.policy == "Mine" and named.ctx.spec is named.spec
    # an object may name its options
    narrow = Mine()
    narrow.options = ("split",)
    _run(sc, narrow)
    assert narrow.ctx.options == ("split",)
    # an object built with a context keeps it: its options are the ones the engine offers
    given = Mine(dataclasses.replace(plain.ctx, options=("split",)))
    _run(sc, given)
    assert given.ctx.options == ("split",)
    # a spec naming a module that is not there: one error naming the scenario file
    with pytest.raises(ConfigError, match="nosuchmodule") as err:
        _run(sc, PolicySpec(policy="nosuchmodule:Thing"))
    assert err.value.file == str(sc.source)


def test_the_context_a_policy_is_built_with_by_hand(tmp_path, prof):
    from sim.policies import Policy

    class Mine(Policy):
        def choose(self, obs):
            return "local"

    sc = _scenario(tmp_path, prof, channel={"rate": {"model": "cqi", "bler": 0.1, "max_harq": 3}})
    obj = Mine()
    _run(sc, obj)
    ctx = obj.ctx
    assert ctx.mean_tries == pytest.approx(1 + 0.1 + 0.01 + 0.001)  # min(geometric, 4) transmissions
    local, split = ctx.info["local"], ctx.info["split"]
    assert (local.edge_s, local.air_bits, local.mean_bytes) == (0.0, 0.0, 0.0)
    assert local.device_s == pytest.approx((0.020,)) and local.accuracy == 1.0
    assert split.edge_s == pytest.approx(0.002) and split.air_bits == 8 * 1040 and split.mean_bytes == 1000
    assert ctx.deadline_s == 0.025 and ctx.propagation_s == pytest.approx(0.001)
    assert ctx.interarrival_s == (1.0,)
    poisson = override(sc, {"tasks.arrival": {"process": "poisson", "rate_per_s": 4.0}})
    obj = Mine()
    _run(poisson, obj)
    assert obj.ctx.interarrival_s == (0.25,)


def test_devices_on_a_shared_fading_channel_meet_the_same_snr_at_the_same_time(tmp_path, prof):
    # one device with tasks at 100 and 300 ms, and two devices sharing one fading channel with
    # one task each at those times: the uploads (far apart, no queue) meet the same SNR
    fading = {"model": "rayleigh", "coherence_ms": 1, "shared": True}
    (tmp_path / "one.csv").write_text("time_s\n0.1\n0.3\n")
    (tmp_path / "two.csv").write_text("time_s,device\n0.1,0\n0.3,1\n")
    one = _scenario(tmp_path, prof, channel={"fading": fading, "snr_db": 3},
                    tasks={"arrival": {"process": "trace", "trace": "one.csv"}, "count": 2, "deadline_ms": 100})
    two = override(one, {"devices.count": 2, "tasks.arrival.trace": str(tmp_path / "two.csv"), "tasks.count": 1})
    a, _ = _run(one, "split")
    b, _ = _run(two, "split")
    assert b.device.tolist() == [0, 1]
    assert b.uplink_ms.tolist() == a.uplink_ms.tolist()
    assert a.uplink_ms[0] != a.uplink_ms[1]  # the channel did change between the two
    apart = _run(override(two, {"channel.fading.shared": False}), "split")[0]
    assert apart.uplink_ms[1] != a.uplink_ms[1]  # independent channels: device 1 meets another SNR


def test_a_policy_class_that_does_not_subclass_policy(tmp_path, prof, monkeypatch):
    # only a constructor taking the context and choose(obs): no observe, no flags (the defaults)
    (tmp_path / "duckpolicies.py").write_text(
        "class Duck:\n"
        "    def __init__(self, ctx):\n"
        "        self.ctx = ctx\n"
        "    def choose(self, obs):\n"
        "        assert obs.truth is None and obs.uplink_load is None\n"
        "        return 'split'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sc = _scenario(tmp_path, prof, schemes=["split", {"policy": "duckpolicies:Duck", "options": ["split"]}])
    fixed, _ = _run(sc, sc.arms[0])
    duck, _ = _run(sc, sc.arms[1])
    assert duck.drop(columns="choice").equals(fixed.drop(columns="choice"))
