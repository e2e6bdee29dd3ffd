"""Sweeps on an existing Dask cluster: a scheduler and two workers, separate processes on loopback."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import simple_profile, write_scenario

from sim.cli import main

pytestmark = pytest.mark.slow  # starts a scheduler and workers
distributed = pytest.importorskip("distributed") if not os.environ.get("CI") else __import__("distributed")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cluster(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    sched_file = tmp_path / "scheduler.json"
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("scheduler", "w1", "w2")]
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
                              cwd=tmp_path, env=env, stdout=logs[0], stderr=subprocess.STDOUT)]
    deadline = time.time() + 60
    while not sched_file.exists() and time.time() < deadline:
        time.sleep(0.1)
    address = json.loads(sched_file.read_text())["address"]
    for log in logs[1:]:
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                       "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                                       "--local-directory", str(tmp_path / "dask")],
                                      cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT))
    with distributed.Client(address, timeout="30s") as c:
        c.wait_for_workers(2, timeout=60)
    try:
        yield address, procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()


def _scenario(tmp_path, count):
    prof = simple_profile(tmp_path / "p", payload=4000, n=30)
    return write_scenario(tmp_path / "s.yaml", prof, schemes=["local", "split"], seeds=[0, 1],
                          tasks={"arrival": {"process": "poisson", "rate_per_s": 20}, "count": count,
                                 "deadline_ms": 30},
                          channel={"fading": {"model": "rayleigh", "coherence_ms": 5}},
                          sweep={"grid": {"channel.snr_db": [-5, 0, 5, 10, 15, 20]}})


def _files(out):
    return {p.name: p.read_bytes() for p in sorted((out / "points").iterdir()) if not p.name.startswith(".")}


def test_cluster_sweep_equals_local_byte_for_byte(tmp_path, cluster):
    address, _ = cluster
    sc = _scenario(tmp_path, 200)
    assert main(["sweep", str(sc), "--out", str(tmp_path / "local"), "--no-plot"]) == 0
    assert main(["sweep", str(sc), "--out", str(tmp_path / "dask"), "--no-plot", "--scheduler", address]) == 0
    assert _files(tmp_path / "dask") == _files(tmp_path / "local")
    for name in ("summary.csv", "summary_ci.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    # a sweep started locally resumes on the cluster: add a seed, only its points are new
    data = yaml.safe_load(sc.read_text())
    sc2 = tmp_path / "s2.yaml"
    sc2.write_text(yaml.safe_dump({**data, "seeds": [0, 1, 2]}))
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "local" / "points").glob("*.json")}
    assert main(["sweep", str(sc2), "--out", str(tmp_path / "local"), "--no-plot", "--scheduler", address]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "local" / "points").glob("*.json")}
    assert len(after) == 18 and all(after[k] == v for k, v in before.items())


def test_killed_worker_has_its_points_recomputed_elsewhere(tmp_path, cluster):
    address, procs = cluster
    sc = _scenario(tmp_path, 4000)
    out = tmp_path / "dask"
    sweep = subprocess.Popen([sys.executable, "-m", "sim.cli", "sweep", str(sc), "--out", str(out), "--no-plot",
                              "--scheduler", address], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "points").glob("*.json")):
        time.sleep(0.05)
    os.kill(procs[1].pid, signal.SIGKILL)  # a worker dies mid-sweep
    assert sweep.wait(timeout=300) == 0, sweep.stderr.read().decode()[-2000:]
    assert main(["sweep", str(sc), "--out", str(tmp_path / "local"), "--no-plot"]) == 0
    assert _files(out) == _files(tmp_path / "local")
