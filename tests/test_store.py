"""The sweep store: points identified by what determines them, checksummed, claimed, interruptible."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import simple_profile, write_scenario

from sim import store
from sim.cli import main
from sim.runner import Terminated, check_stop, stop_signals

ROOT = Path(__file__).resolve().parents[1]


def _scenario(tmp_path, seeds=(0, 1), snrs=(-5, 15), count=40, name="s.yaml"):
    prof = tmp_path / "p"
    if not prof.exists():
        simple_profile(prof, payload=4000, n=30)
    return write_scenario(
        tmp_path / name, prof, schemes=["local", "split"], seeds=list(seeds),
        tasks={"arrival": {"process": "poisson", "rate_per_s": 20}, "count": count, "deadline_ms": 30},
        sweep={"grid": {"channel.snr_db": list(snrs)}})


def _mtimes(out):
    return {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.json")}


def _sweep(sc, out, *extra):
    return main(["sweep", str(sc), "--out", str(out), "--no-plot", *extra])


def test_adding_seeds_and_grid_values_extends_a_finished_sweep(tmp_path):
    out = tmp_path / "r"
    assert _sweep(_scenario(tmp_path), out) == 0
    before = _mtimes(out)
    assert len(before) == 4
    assert _sweep(_scenario(tmp_path, seeds=(0, 1, 2), snrs=(-5, 5, 15)), out) == 0
    after = _mtimes(out)
    assert len(after) == 9
    assert all(after[k] == v for k, v in before.items())  # nothing finished was recomputed
    fresh = tmp_path / "fresh"
    assert _sweep(_scenario(tmp_path, seeds=(0, 1, 2), snrs=(-5, 5, 15)), fresh) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), pd.read_csv(fresh / "summary.csv"))


def test_run_then_sweep_share_points_and_paths_spelled_otherwise_resume(tmp_path, monkeypatch):
    out = tmp_path / "r"
    sc = _scenario(tmp_path, snrs=(10, 20))  # the base scenario's SNR (10) is a grid value
    assert main(["run", str(sc), "--out", str(out), "--no-plot"]) == 0
    ran = _mtimes(out)
    assert _sweep(sc, out) == 0
    assert all(_mtimes(out)[k] == v for k, v in ran.items()) and len(_mtimes(out)) == 4
    done = _mtimes(out)
    monkeypatch.chdir(tmp_path / "p")  # another directory, another spelling of both paths
    assert main(["sweep", "../s.yaml", "--out", "../p/../r", "--no-plot"]) == 0
    assert _mtimes(out) == done


def test_a_changed_profile_is_a_different_point(tmp_path):
    out = tmp_path / "r"
    sc = _scenario(tmp_path, seeds=(0,), snrs=(5,))
    assert _sweep(sc, out) == 0
    samples = tmp_path / "p" / "samples.csv"
    samples.write_text(samples.read_text().replace(",4000,", ",4001,"))
    assert _sweep(sc, out) == 0
    assert len(_mtimes(out)) == 2


@pytest.mark.parametrize("damage", ["truncate-json", "flip-json", "truncate-records", "delete-records"])
def test_damaged_point_is_reported_and_recomputed(tmp_path, capsys, damage):
    out = tmp_path / "r"
    sc = _scenario(tmp_path)
    assert _sweep(sc, out) == 0
    good = pd.read_csv(out / "summary.csv")
    victim = sorted((out / "points").glob("*.json"))[1]
    rec = victim.with_name(victim.name[: -len(".json")] + store.RECORDS)
    if damage == "truncate-json":
        victim.write_text(victim.read_text()[:40])
    elif damage == "flip-json":
        victim.write_text(victim.read_text().replace('"tasks": 40', '"tasks": 41'))
    elif damage == "truncate-records":
        rec.write_bytes(rec.read_bytes()[:100])
    else:
        rec.unlink()
    capsys.readouterr()
    assert _sweep(sc, out) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if "damaged point" in line and victim.name in line]
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), good)


@pytest.mark.slow
def test_a_claimed_point_is_not_computed_twice(tmp_path):
    """A second sweep waits for the point another holds, then takes its result instead of recomputing."""
    sc = _scenario(tmp_path, seeds=(0,), snrs=(5,))
    ref, out = tmp_path / "ref", tmp_path / "r"
    assert _sweep(sc, ref) == 0
    (pid,) = [p.name[: -len(".json")] for p in (ref / "points").glob("*.json")]
    store.check_out(out)
    with store.claim(out, pid):
        proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(sc), "--out", str(out),
                                 "--no-plot"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.5)
        assert proc.poll() is None  # it waits on our claim
        for p in (ref / "points").glob(f"{pid}*"):  # "our" sweep finishes the point
            (out / "points" / p.name).write_bytes(p.read_bytes())
        mtime = (out / "points" / f"{pid}.json").stat().st_mtime_ns
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert (out / "points" / f"{pid}.json").stat().st_mtime_ns == mtime  # taken, not recomputed


@pytest.mark.slow
def test_two_sweeps_on_one_folder_at_once(tmp_path):
    out = tmp_path / "r"
    sc = _scenario(tmp_path, seeds=(0, 1, 2), snrs=(-5, 0, 5, 10), count=300)
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(sc), "--out", str(out), "--no-plot", "--workers", "2"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert _sweep(sc, tmp_path / "alone") == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "summary.csv"), pd.read_csv(tmp_path / "alone" / "summary.csv"))
    assert len(_mtimes(out)) == 12 and not list((out / "points").glob(".*.tmp"))


def _children(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_keeps_finished_points_and_stops_workers(tmp_path, sig, code):
    out = tmp_path / "r"
    sc = _scenario(tmp_path, seeds=list(range(6)), snrs=(-5, 0, 5, 10, 15), count=6000)
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(sc), "--out", str(out), "--no-plot",
                             "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / "points").glob("*.json"))) < 2:
        time.sleep(0.05)
    assert len(list((out / "points").glob("*.json"))) >= 2
    for _ in range(3):  # pressing Ctrl-C (or sending SIGTERM) again must not print a traceback
        os.killpg(proc.pid, sig)
        time.sleep(0.05)
    t0 = time.time()
    assert proc.wait(timeout=10) == code
    assert time.time() - t0 < 3
    err = proc.stderr.read().decode().strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    kept = len(list((out / "points").glob("*.json")))
    assert f"{kept} of 30" in err
    time.sleep(0.5)
    assert not _children(proc.pid)  # no orphan workers
    assert not list((out / "points").glob(".*.tmp"))  # nor what the stopped workers were writing
    assert main(["sweep", str(sc), "--out", str(out), "--no-plot", "--workers", "2"]) == 0
    assert len(list((out / "points").glob("*.json"))) == 30


class _SignalsItselfWhenFinalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(10_000))  # the handler runs here, inside the finalizer


def test_a_stop_that_comes_inside_a_finalizer_is_raised_at_the_next_check():
    # raised inside __del__, the stop would be printed as "Exception ignored" and lost
    ran_on = False
    with pytest.raises(Terminated):
        with stop_signals():
            obj = _SignalsItselfWhenFinalized()
            del obj
            ran_on = True
            check_stop()
    assert ran_on
    check_stop()  # raised once, not again
