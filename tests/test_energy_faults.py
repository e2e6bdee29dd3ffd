"""Energy per task and faults, against timelines worked by hand.

The channel of these tests is static: 1 MHz at 10 dB with Shannon's rate at efficiency 1, so
R = 1e6 log2(11) bit/s; one packet of 1000 + 40 header bytes takes T = 8320 / R = 2.405 ms. The
device runs the split's head in 5 ms, propagation is 1 ms each way, the edge runs the tail in 2 ms,
the 8-byte result takes 0.0064 ms at 10 Mbit/s: a lone task's latency is 5 + T + 1 + 2 + 0.0064 + 1.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import recording_policies, simple_profile, write_scenario

from sim.cli import main
from sim.engine import simulate
from sim.errors import ConfigError
from sim.faults import Outages
from sim.power import presets
from sim.profile import load_profile
from sim.records import RECORD_FIELDS
from sim.results import records_frame, summarize
from sim.scenario import load_scenario, override

R = 1e6 * math.log2(11)
T = 8320 / R  # seconds on the air of one task's payload
BITS = 8320
DOWN = 8 * 8 / 10e6

PRESETS = {
    "sources": {"test": "made up for a test"},
    "radios": {"r": {k: {"value": v, "source": "test", "status": "assumption"} for k, v in
                     {"uplink_mw_per_mbps": 400.0, "base_mw": 1000.0, "tail_mw": 500.0, "tail_s": 0.5,
                      "promotion_mw": 800.0, "promotion_s": 0.1}.items()}},
    "devices": {"d": {"active_w": {"value": 4.0, "source": "test", "status": "assumption"},
                      "idle_w": {"value": 2.0, "source": "test", "status": "assumption"}, "radio": "r"}},
}


@pytest.fixture
def prof(tmp_path):
    return simple_profile(tmp_path / "p", n=10)


def _scenario(tmp_path, prof, period_ms=200, count=2, **sections):
    (tmp_path / "power.yaml").write_text(yaml.safe_dump(PRESETS))
    sections.setdefault("energy", {"presets": "power.yaml"})
    sections.setdefault("devices", {"count": 1, "hardware": "hw", "power": "d"})
    sections.setdefault("tasks", {"arrival": {"process": "periodic", "period_ms": period_ms}, "count": count,
                                  "deadline_ms": 100})
    return load_scenario(write_scenario(tmp_path / "s.yaml", prof, **sections))


def _run(sc, arm="split", seed=0, lindley=None):
    res = simulate(sc, load_profile(sc.profile), arm, seed, lindley)
    return records_frame(res).sort_values(["device", "task"]).reset_index(drop=True), res


# -- energy ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lindley", [True, False])
def test_energy_of_two_tasks_within_the_tail_worked_by_hand(tmp_path, prof, lindley):
    rec, _ = _run(_scenario(tmp_path, prof, period_ms=200), lindley=lindley)
    compute = 4.0 * 0.005
    radio = (400 * BITS / 1e6 + 1000 * T) / 1e3
    promotion = 800 * 0.1 / 1e3
    idle = 2.0 * (T + 0.001 + 0.002 + DOWN + 0.001)  # from the end of its stages to its result
    # task 0: promoted (the radio was idle); its tail runs from the end of its transmission (5 ms
    # + T) until task 1 transmits (205 ms). Task 1: no promotion (200 - T ms < 500 ms of tail);
    # its tail runs the full 0.5 s
    expect = [(compute, radio + promotion, 0.5 * (0.2 - T), idle), (compute, radio, 0.5 * 0.5, idle)]
    for (_, r), e in zip(rec.iterrows(), expect):
        got = (r.energy_compute_j, r.energy_radio_j, r.energy_tail_j, r.energy_idle_j)
        assert got == pytest.approx(e, rel=1e-9)
        assert r.energy_j == pytest.approx(sum(e), rel=1e-12)


def test_a_gap_longer_than_the_tail_promotes_the_radio_again(tmp_path, prof):
    rec, _ = _run(_scenario(tmp_path, prof, period_ms=1000))
    radio = (400 * BITS / 1e6 + 1000 * T) / 1e3
    assert rec.energy_radio_j.tolist() == pytest.approx([radio + 0.08, radio + 0.08], rel=1e-9)
    assert rec.energy_tail_j.tolist() == pytest.approx([0.25, 0.25], rel=1e-9)


def test_local_tasks_spend_compute_energy_only_and_harq_resends_cost_radio_energy(tmp_path, prof):
    rec, _ = _run(_scenario(tmp_path, prof), arm="local")
    assert rec.energy_j.tolist() == pytest.approx([4.0 * 0.020] * 2)
    assert (rec[["energy_radio_j", "energy_tail_j", "energy_idle_j"]] == 0).all().all()
    # CQI with resends: the radio energy follows the bits that went on the air, resends included
    sc = _scenario(tmp_path, prof, count=40, channel={"rate": {"model": "cqi", "bler": 0.5, "max_harq": 3}})
    rec, _ = _run(sc)
    tx = rec.energy_radio_j - np.where(rec.task == 0, 0.08, 0.0)
    on_air_s = rec.uplink_ms / 1e3
    assert np.allclose(tx, (400 * rec.air_bytes * 8 / 1e6 + 1000 * on_air_s) / 1e3, rtol=1e-9, atol=1e-12)
    assert rec.air_bytes.nunique() > 1  # some tasks were resent


def test_no_power_model_gives_nan_energy_and_no_energy_figures(tmp_path, prof):
    sc = _scenario(tmp_path, prof, devices={"count": 1, "hardware": "hw"})
    rec, res = _run(sc)
    assert rec[[c for c in RECORD_FIELDS if c.startswith("energy")]].isna().all().all()
    assert "energy_per_task_j" not in summarize(rec, res)


def test_energy_summary_per_task_and_per_on_time_correct_inference(tmp_path, prof):
    rec, res = _run(_scenario(tmp_path, prof, count=10, period_ms=100))
    row = summarize(rec, res)
    assert row["energy_per_task_j"] == pytest.approx(rec.energy_j.mean())
    ok = rec.met & rec.correct
    assert 0 < ok.sum() < len(rec)  # the split is right on every other image
    assert row["energy_per_ontime_correct_j"] == pytest.approx(rec.energy_j.sum() / ok.sum())


def test_the_builtin_presets_are_whole_and_every_figure_has_a_source_and_status():
    radios, devices = presets()
    assert {"rpi4", "jetson-nano", "phone"} <= set(devices)
    assert {"lte-huang2012", "wifi-huang2012"} <= set(radios)
    # Huang et al.'s LTE uplink: P = 438.39 mW/Mbps x throughput + 1288.04 mW
    assert radios["lte-huang2012"].transmit_j(1e6, 1.0) == pytest.approx((438.39 + 1288.04) / 1e3)


# -- faults ---------------------------------------------------------------------------------------

def _edge_window(tmp_path, prof, **faults):
    return _scenario(tmp_path, prof, period_ms=10, count=6, devices={"count": 1, "hardware": "hw"},
                     faults={"edge": {"windows_s": [[0.020, 0.035]]}, **faults})


@pytest.mark.parametrize("lindley", [True, False])
def test_an_edge_outage_window_worked_by_hand(tmp_path, prof, lindley):
    # task k reaches the edge at 10k + 5 + T + 1 = 10k + 8.405 ms and would be done 2 ms later.
    # task 1 runs from 18.405 and is cut at 20 (the outage starts); task 2 arrives at 28.405, in
    # the outage, and is refused; task 3 (38.405) finds the edge up again.
    rec, res = _run(_edge_window(tmp_path, prof), lindley=lindley)
    assert rec.status.tolist() == ["done", "edge-fault", "edge-fault", "done", "done", "done"]
    assert rec.fault.tolist() == ["", "edge", "edge", "", "", ""]
    lone = (5e-3 + T + 1e-3 + 2e-3 + DOWN + 1e-3) * 1e3
    assert rec.latency_ms[rec.status == "done"].tolist() == pytest.approx([lone] * 4)
    assert rec.edge_ms.tolist()[:3] == pytest.approx([2.0, 20 - (10 + 1e3 * (5e-3 + T + 1e-3)), 0.0])
    row = summarize(rec, res)
    horizon = res.horizon_s
    assert row["edge_availability"] == pytest.approx(1 - 0.015 / horizon)
    assert row["lost_to_faults_rate"] == pytest.approx(2 / 6) and row["fault_rate"] == pytest.approx(2 / 6)


def test_a_batching_edge_loses_its_queue_and_its_running_batch(tmp_path, prof):
    sc = override(_edge_window(tmp_path, prof), {"edge.batching.max_batch": 4, "edge.batching.max_wait_ms": 0.0})
    rec, _ = _run(sc)
    assert rec.status.tolist() == ["done", "edge-fault", "edge-fault", "done", "done", "done"]


def test_a_timeout_falls_back_to_the_local_scheme_worked_by_hand(tmp_path, prof):
    # task 1 arrives at 100 ms, its stages end at 105, the edge (down from 100 to 200 ms) refuses
    # it at 108.405; no message tells the device, whose 20 ms timeout expires at 125: it runs the
    # local scheme (20 ms) and is done at 145, 45 ms after arrival, with the local scheme's answer.
    sc = _scenario(tmp_path, prof, period_ms=100, count=3, devices={"count": 1, "hardware": "hw"},
                   faults={"edge": {"windows_s": [[0.1, 0.2]]}, "timeout_ms": 20})
    rec, _ = _run(sc)
    assert rec.status.tolist() == ["done"] * 3
    assert rec.fallback.tolist() == [False, True, False]
    assert rec.fault.tolist() == ["", "edge", ""]
    assert rec.latency_ms[1] == pytest.approx(45.0)
    assert rec.device_ms[1] == pytest.approx(25.0)  # its head, then the fallback's full model
    assert bool(rec.correct[1])  # the local scheme is right on every image (the split is not on image...)
    lone = (5e-3 + T + 1e-3 + 2e-3 + DOWN + 1e-3) * 1e3
    assert rec.latency_ms[[0, 2]].tolist() == pytest.approx([lone, lone])
    drop, res = _run(override(sc, {"faults.fallback": "drop"}))
    assert drop.status.tolist() == ["done", "timeout", "done"]
    assert drop.completion_ms.isna().tolist() == [False, True, False]
    row = summarize(drop, res)  # lost to faults: the timeout, though no task has the status edge-fault
    assert row["lost_to_faults_rate"] == pytest.approx(1 / 3) and row["fault_rate"] == pytest.approx(1 / 3)


def test_a_timeout_shorter_than_the_work_falls_back_even_without_faults(tmp_path, prof):
    sc = _scenario(tmp_path, prof, period_ms=100, count=2, devices={"count": 1, "hardware": "hw"},
                   faults={"timeout_ms": 3})
    rec, res = _run(sc)
    # no result 3 ms after the stages (it needs T + 1 + 2 + ...): each task runs locally, done at
    # 5 + 3 + 20 = 28 ms; the flow it gave up left the uplink, so nothing waits behind it
    assert rec.fallback.all() and rec.latency_ms.tolist() == pytest.approx([28.0, 28.0])
    assert rec.fault.tolist() == ["", ""]
    assert summarize(rec, res)["fallback_rate"] == 1.0


@pytest.mark.parametrize("lindley", [None, False])
def test_an_uplink_outage_window_stalls_the_transfer_worked_by_hand(tmp_path, prof, lindley):
    # task 1's upload starts at 105 ms; at 106 the uplink goes down until 110; the remaining
    # T - 1 ms goes after it: the task is 4 ms later than a lone task.
    sc = _scenario(tmp_path, prof, period_ms=100, count=3, devices={"count": 1, "hardware": "hw"},
                   faults={"uplink": {"windows_s": [[0.106, 0.110]]}})
    for sharing in ("fifo", "round-robin"):
        rec, _ = _run(override(sc, {"channel.sharing": sharing}), lindley=lindley)
        lone = (5e-3 + T + 1e-3 + 2e-3 + DOWN + 1e-3) * 1e3
        assert rec.latency_ms.tolist() == pytest.approx([lone, lone + 4.0, lone])
        assert rec.uplink_ms[1] == pytest.approx(T * 1e3 + 4.0)
        assert rec.fault.tolist() == ["", "uplink", ""]


def test_random_edge_failures_have_the_availability_of_mtbf_and_mttr_and_are_common_to_schemes(tmp_path, prof):
    out = Outages(mtbf_s=1.0, mttr_s=0.25, seed=3)
    down = out.down_time(0.0, 4000.0)
    assert 1 - down / 4000 == pytest.approx(0.8, abs=0.02)  # MTBF / (MTBF + MTTR)
    starts = np.array(out.starts[:3000])
    assert np.mean(np.diff(starts)) == pytest.approx(1.25, rel=0.05)  # start to start: up + down
    sc = _scenario(tmp_path, prof, period_ms=50, count=400, devices={"count": 1, "hardware": "hw"},
                   faults={"edge": {"mtbf_s": 2.0, "mttr_s": 0.5}, "timeout_ms": 30})
    a, b = _run(sc, seed=5)[0], _run(sc, seed=5)[0]
    pd.testing.assert_frame_equal(a, b)  # one seed, the same faults and energy, to the bit
    assert 0 < (a.fault == "edge").sum() < len(a)
    other = _run(sc, seed=6)[0]
    assert not a.fault.equals(other.fault)


@pytest.mark.parametrize("key,value", [
    ("faults.timeout_ms", -1), ("faults.timeout_ms", "soon"), ("faults.fallback", "retry"),
    ("faults.edge.windows_s", [[0.5, 0.2]]), ("faults.edge.windows_s", [[1.0]]), ("faults.edge.mtbf_s", 0),
    ("faults.edge.mttr_s", -2), ("faults.uplink.windows_s", "always"), ("devices.power", "toaster"),
    ("devices.radio", "5g"), ("energy.presets", "missing.yaml"), ("faults.fallback_scheme", "local"),
])
def test_every_new_key_refuses_bad_values_in_one_line_with_exit_2(tmp_path, prof, capsys, key, value):
    path = write_scenario(tmp_path / "s.yaml", prof)
    assert main(["run", str(path), "--set", f"{key}={yaml.safe_dump(value).strip()}", "--no-plot",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and key.split(".")[-1] in err, err


def test_a_fallback_scheme_that_is_not_local_is_refused(tmp_path, prof):
    sc = _scenario(tmp_path, prof, faults={"timeout_ms": 10, "fallback_scheme": "split"})
    with pytest.raises(ConfigError, match="fallback_scheme.*local"):
        _run(sc)


def test_a_presets_file_with_a_bad_figure_is_named_in_the_error(tmp_path, prof):
    bad = yaml.safe_load(yaml.safe_dump(PRESETS))
    bad["radios"]["r"]["tail_s"]["value"] = -1
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"radios\.r\.tail_s\.value"):
        _scenario(tmp_path, prof, energy={"presets": "bad.yaml"})


# -- energy as the estimate policy's objective ------------------------------------------------------

@pytest.mark.parametrize("period_ms,pick", [(200, "local"), (20, "split")])
def test_the_estimate_policy_minimises_energy_subject_to_the_deadline(tmp_path, prof, period_ms, pick):
    # local: 20 ms at 4 W = 0.08 J. split: 5 ms at 4 W, T on the air (~0.012 J with its bits),
    # the tail until the next task (0.5 W x min(0.5 s, period)), 2 W while it waits (~6.4 ms):
    # 0.145 J with tasks 200 ms apart, 0.055 J with tasks 20 ms apart. Both are on time; the
    # split is faster, so the accuracy objective (tolerance 100: accuracy aside) takes it always.
    sc = _scenario(tmp_path, prof, period_ms=period_ms, count=20)
    energy = {"policy": "estimate", "name": "e", "objective": "energy", "tolerance_pct": 100}
    fastest = {"policy": "estimate", "name": "f", "tolerance_pct": 100}
    rec_e, _ = _run(sc, arm=load_scenario(write_scenario(tmp_path / "e.yaml", prof, schemes=[energy])).arms[0])
    rec_f, _ = _run(sc, arm=load_scenario(write_scenario(tmp_path / "f.yaml", prof, schemes=[fastest])).arms[0])
    assert set(rec_e.choice) == {pick} and set(rec_f.choice) == {"split"}
    assert rec_e.energy_j.sum() <= rec_f.energy_j.sum() + 1e-12
    assert rec_e.met.all()


def test_the_energy_objective_needs_a_power_model(tmp_path, prof, capsys):
    path = write_scenario(tmp_path / "s.yaml", prof, schemes=[{"policy": "estimate", "objective": "energy"}])
    assert main(["validate", str(path)]) == 2
    assert "power model" in capsys.readouterr().err


def test_the_energy_objective_needs_a_power_model_also_from_python(tmp_path, prof):
    # simulate() runs no preflight: the engine checks the objective itself as it builds the policy
    from sim.errors import ConfigError
    from sim.scenario import PolicySpec

    sc = _scenario(tmp_path, prof, devices={"count": 1, "hardware": "hw"})
    spec = PolicySpec(policy="estimate", objective="energy")
    with pytest.raises(ConfigError, match="power model") as err:
        simulate(sc, load_profile(prof), spec, 0)
    assert err.value.key == "objective"
    _run(_scenario(tmp_path, prof), spec)  # with one, it runs


@pytest.mark.parametrize("lindley", [None, False])
def test_a_task_queued_behind_a_stalled_transfer_is_marked_as_hit_by_the_outage(tmp_path, prof, lindley):
    # device 0's upload (from 105 ms) stalls from 106 to 110 and ends at 105 + T + 4 ms; device 1
    # (stages over at 105.5) waits behind it and sends for T after it, past the window: the outage
    # hit it all the same. It reaches the edge 1 ms later, after device 0's job is done there.
    (tmp_path / "arrivals.csv").write_text("time_s,device\n0.100,0\n0.1005,1\n")
    sc = _scenario(tmp_path, prof, devices={"count": 2, "hardware": "hw"},
                   tasks={"arrival": {"process": "trace", "trace": "arrivals.csv"}, "count": 1, "deadline_ms": 100},
                   faults={"uplink": {"windows_s": [[0.106, 0.110]]}})
    rec, _ = _run(sc, lindley=lindley)
    assert rec.fault.tolist() == ["uplink", "uplink"]
    end0 = 0.105 + T + 0.004
    end1 = end0 + T
    assert rec.uplink_wait_ms[1] == pytest.approx((end0 - 0.1055) * 1e3)
    assert rec.latency_ms[1] == pytest.approx((end1 + 0.001 + 0.002 + DOWN + 0.001 - 0.1005) * 1e3)


def test_a_timeout_mid_transfer_records_what_went_on_the_air(tmp_path, prof):
    # the device gives up 1 ms into its 2.405 ms upload: the record shows 1 ms on the uplink and
    # the bytes sent by then, and the radio energy of that millisecond
    sc = _scenario(tmp_path, prof, period_ms=100, count=1, faults={"timeout_ms": 1, "fallback": "drop"})
    rec, _ = _run(sc)
    assert rec.status[0] == "timeout" and rec.uplink_ms[0] == pytest.approx(1.0)
    assert rec.air_bytes[0] == int(R * 1e-3 // 8)
    assert rec.energy_radio_j[0] == pytest.approx((400 * R * 1e-3 / 1e6 + 1000 * 1e-3) / 1e3 + 0.08)


def test_pareto_front_keeps_the_points_nothing_beats_in_both():
    from sim.plot import pareto_front

    pts = [(10, 5), (12, 4), (11, 6), (20, 1), (15, 4), (9, 9)]
    # (9, 9) fastest; (10, 5) less energy; (12, 4) less; (20, 1) least; (11, 6) and (15, 4) beaten
    assert pareto_front(pts) == [(9, 9), (10, 5), (12, 4), (20, 1)]


@pytest.mark.slow
def test_a_sweep_with_energy_and_faults_draws_their_figures(tmp_path, prof):
    path = write_scenario(tmp_path / "s.yaml", prof, schemes=["local", "split"], seeds=[0, 1],
                          devices={"count": 1, "hardware": "hw", "power": "rpi4"},
                          tasks={"arrival": {"process": "periodic", "period_ms": 50}, "count": 40,
                                 "deadline_ms": 60},
                          faults={"edge": {"mtbf_s": 0.5, "mttr_s": 0.2}, "timeout_ms": 20},
                          sweep={"grid": {"channel.snr_db": [0, 10]}})
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 0
    names = {p.stem for p in (out / "figures").glob("*.png")}
    assert {"energy", "energy_latency", "faults", "hit_rate"} <= names
    ci = pd.read_csv(out / "summary_ci.csv")
    assert ci["energy_per_task_j"].notna().all() and (ci["fallback_rate"][ci.scheme == "split"] > 0).all()


def test_a_profile_can_name_its_own_presets_and_the_scenario_s_win(tmp_path, prof):
    import dataclasses

    mine = yaml.safe_load(yaml.safe_dump(PRESETS))
    (prof / "board.yaml").write_text(yaml.safe_dump(mine))
    meta = yaml.safe_load((prof / "profile.yaml").read_text())
    meta["power_presets"] = "board.yaml"
    (prof / "profile.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, devices={"count": 1, "hardware": "hw", "power": "d"}))
    from sim.scenario import power_models

    assert power_models(sc)[0].active_w == 4.0  # the profile's preset d
    mine["devices"]["d"]["active_w"]["value"] = 7.0  # the scenario's file names d too: it wins
    (tmp_path / "over.yaml").write_text(yaml.safe_dump(mine))
    sc2 = dataclasses.replace(sc, energy=dataclasses.replace(sc.energy, presets=str(tmp_path / "over.yaml")))
    assert power_models(sc2)[0].active_w == 7.0


@pytest.mark.parametrize("lindley", [True, False])
def test_an_outage_loses_queued_jobs_too_and_a_second_window_cuts_again(tmp_path, lindley):
    # The edge runs the tail in 8 ms on one GPU; a task every 5 ms reaches it at 5k + 8.405 ms.
    # Window 20-35 ms: task 1 (queued at 13.405, running from 16.405) is cut at 20; task 2, queued
    # since 18.405, is lost from the queue at 20; tasks 3-5 are refused. Task 6 (38.405) is done.
    # Window 50-60 ms: task 7 (queued 43.405, running from 46.405) is cut at 50; task 8 (queued
    # 48.405) is lost from the queue; tasks 9 and 10 are refused; task 11 (63.405) is done.
    prof = simple_profile(tmp_path / "p8", n=10, edge_ms=8.0)
    sc = _scenario(tmp_path, prof, period_ms=5, count=12, devices={"count": 1, "hardware": "hw"},
                   faults={"edge": {"windows_s": [[0.020, 0.035], [0.050, 0.060]]}})
    rec, _ = _run(sc, lindley=lindley)
    fault = "edge-fault"
    assert rec.status.tolist() == ["done", fault, fault, fault, fault, fault, "done", fault, fault, fault, fault,
                                   "done"]
    arrive = [5 * k + 1e3 * (5e-3 + T + 1e-3) for k in range(12)]
    # work on the GPU (cut short by an outage), and the wait in the queue before it
    start1, start7 = arrive[0] + 8, arrive[6] + 8
    assert rec.edge_ms.tolist() == pytest.approx([8, 20 - start1, 0, 0, 0, 0, 8, 50 - start7, 0, 0, 0, 8])
    assert rec.edge_wait_ms.tolist() == pytest.approx(
        [0, start1 - arrive[1], 20 - arrive[2], 0, 0, 0, 0, start7 - arrive[7], 50 - arrive[8], 0, 0, 0], abs=1e-9)
    lone = (5e-3 + T + 1e-3 + 8e-3 + DOWN + 1e-3) * 1e3
    assert rec.latency_ms[rec.status == "done"].tolist() == pytest.approx([lone] * 3)


def test_a_fallback_that_waits_for_the_cpu_worked_by_hand(tmp_path, prof):
    # The edge is down for the whole run; the timeout is 20 ms after the offload. Task 0: head
    # 0-5 ms, offload at 5, timeout at 25, but task 1 (arrived at 22) holds the CPU for its head
    # until 27: the fallback waits 2 ms, runs 27-47. Task 1: offload at 27, timeout at 47, fallback
    # 47-67. Energy (device active 4 W, idle 2 W): compute 4 W x (5 + 20) ms, idle 2 W x 20 ms.
    sc = _scenario(tmp_path, prof, period_ms=22, count=2, faults={"edge": {"windows_s": [[0.0, 1.0]]},
                                                                  "timeout_ms": 20})
    rec, _ = _run(sc)
    assert rec.status.tolist() == ["done", "done"] and rec.fallback.all()
    assert rec.latency_ms.tolist() == pytest.approx([47.0, 45.0])
    assert rec.device_wait_ms.tolist() == pytest.approx([2.0, 0.0])
    assert rec.device_ms.tolist() == pytest.approx([25.0, 25.0])
    assert rec.batch.tolist() == [0, 0]
    assert rec.downlink_ms.tolist() == [0.0, 0.0] and rec.propagation_ms.tolist() == [0.0, 0.0]
    assert rec.energy_compute_j.tolist() == pytest.approx([4 * 0.025] * 2)
    assert rec.energy_idle_j.tolist() == pytest.approx([2 * 0.020] * 2)
    drop = _run(override(sc, {"faults.fallback": "drop"}))[0]
    assert drop.status.tolist() == ["timeout", "timeout"]
    assert drop.batch.tolist() == [0, 0] and drop.downlink_ms.tolist() == [0.0, 0.0]
    assert drop.propagation_ms.tolist() == [0.0, 0.0]
    assert drop.energy_idle_j.tolist() == pytest.approx([2 * 0.020] * 2)
    assert drop.energy_compute_j.tolist() == pytest.approx([4 * 0.005] * 2)


def test_a_timeout_that_never_fires_changes_nothing(tmp_path, prof):
    # HARQ draws are keyed by (seed, device, task): the timeout's path must pass the same task index
    sc = _scenario(tmp_path, prof, period_ms=7, count=40, devices={"count": 2, "hardware": "hw"},
                   channel={"bandwidth_hz": 1e6, "snr_db": 10.0, "fading": {"model": "none"},
                            "rate": {"model": "cqi", "bler": 0.4, "max_harq": 2}})
    plain, _ = _run(sc)
    guarded, _ = _run(override(sc, {"faults.timeout_ms": 10_000}))
    assert (plain.status == "lost").any()  # the draws matter
    pd.testing.assert_frame_equal(plain, guarded)


@pytest.mark.parametrize("sharing", ["fifo", "round-robin"])
def test_radio_energy_adds_up_every_packet_of_a_task(tmp_path, sharing):
    # 2000 bytes = two packets (1000 + 1000, 40 header bytes each): both go on the air, one after
    # the other; the radio's energy is alpha x all bits + beta x all seconds on the air
    n = 10
    prof = tmp_path / "p2"
    from helpers import write_profile

    write_profile(prof, stages={"head": {"hw": {1: 5.0}}, "tail": {"hw": {1: 2.0}}},
                  schemes={"split": ("split", ["head"], ["tail"])},
                  columns={"label": np.zeros(n), "split_bytes": np.full(n, 2000), "split_correct": np.ones(n)})
    sc = _scenario(tmp_path, prof, period_ms=200, channel={"sharing": sharing, "mtu_bytes": 1040})
    rec, _ = _run(sc)
    bits = 8 * (2000 + 2 * 40)
    radio = (400 * bits / 1e6 + 1000 * bits / R) / 1e3
    assert rec.energy_radio_j.tolist() == pytest.approx([radio + 0.08, radio], rel=1e-9)


def test_a_learning_policy_sees_the_tail_energy_as_unknown_until_the_radio_s_tail_ends(tmp_path, prof, monkeypatch):
    # at each task's completion its radio tail is still running (it ends when the next task
    # transmits, or 0.5 s later): the policy's feedback has the compute energy, and NaN for the
    # tail and the total; the records written later have both
    fb = recording_policies(tmp_path, monkeypatch, "fbpolicies",
                            "class Fb(Policy):\n"
                            "    def choose(self, obs):\n"
                            "        return 'split'\n"
                            "    def observe(self, record):\n"
                            "        SEEN.append((record['energy_compute_j'], record['energy_tail_j'],\n"
                            "                     record['energy_j']))\n")
    sc = _scenario(tmp_path, prof, period_ms=200, schemes=[{"policy": "fbpolicies:Fb", "options": ["split"]}])
    rec, _ = _run(sc, sc.arms[0])
    assert [s[0] for s in fb.SEEN] == pytest.approx([4.0 * 0.005] * 2)
    assert all(math.isnan(s[1]) and math.isnan(s[2]) for s in fb.SEEN)
    assert rec.energy_tail_j.tolist() == pytest.approx([0.5 * (0.2 - T), 0.5 * 0.5])


@pytest.mark.parametrize("lindley", [True, False])
def test_a_job_cut_by_an_outage_ends_its_wait_at_the_failure(tmp_path, prof, lindley):
    # task 1 (10 ms) offloads at 15, reaches the edge at 18.405 and is cut when it fails at 20:
    # its device waited for a result from 15 to 20 ms (2 W idle), and the task ended then
    sc = _scenario(tmp_path, prof, period_ms=10, count=3, faults={"edge": {"windows_s": [[0.020, 0.035]]}})
    rec, _ = _run(sc, lindley=lindley)
    assert rec.status[1] == "edge-fault"
    assert rec.energy_idle_j[1] == pytest.approx(2.0 * 0.005)
