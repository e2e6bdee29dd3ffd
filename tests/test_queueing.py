"""The engine against queueing theory: M/D/1 at the device CPU, M/M/1 at the uplink."""
import numpy as np
import pytest
from helpers import write_profile, write_scenario

from sim.engine import RECORD_FIELDS, simulate
from sim.profile import load_profile
from sim.scenario import load_scenario

pytestmark = pytest.mark.slow  # tens of thousands of tasks, or a subprocess

TASKS = 60_000


def _mean_wait(sc, prof, scheme, column, seeds=(0, 1)):
    i = RECORD_FIELDS.index(column)
    waits = [np.mean([r[i] for r in simulate(sc, prof, scheme, s).records]) for s in seeds]
    return float(np.mean(waits))


def test_md1_mean_wait_at_device(tmp_path):
    d_ms, lam = 10.0, 60.0  # service 10 ms, 60 tasks/s: rho = 0.6
    p = write_profile(tmp_path / "p", stages={"full": {"hw": {1: d_ms}}},
                      schemes={"local": ("local", ["full"], [])},
                      columns={"label": np.zeros(5), "local_bytes": np.zeros(5), "local_correct": np.ones(5)})
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", p, schemes=["local"],
                                      tasks={"arrival": {"process": "poisson", "rate_per_s": lam},
                                             "count": TASKS, "deadline_ms": 1000}))
    rho = lam * d_ms / 1e3
    expected = rho * d_ms / (2 * (1 - rho))  # Pollaczek-Khinchine for deterministic service, ms
    got = _mean_wait(sc, load_profile(p), "local", "device_wait_ms")
    assert abs(got - expected) / expected < 0.05, (got, expected)


def test_mm1_mean_wait_at_uplink(tmp_path):
    rng = np.random.default_rng(7)
    n = 50_000
    nbytes = np.maximum(1, np.round(rng.exponential(12_500, n)))  # mean 100 kbit
    p = write_profile(tmp_path / "p", stages={"head": {"hw": {1: 0.0}}, "tail": {"hw": {1: 0.0}}},
                      schemes={"split": ("split", ["head"], ["tail"])},
                      columns={"label": np.zeros(n), "split_bytes": nbytes, "split_correct": np.ones(n)})
    rate = 1e6  # bit/s: Shannon with efficiency 1 at 10 dB over bandwidth rate / log2(11)
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", p,
        tasks={"arrival": {"process": "poisson", "rate_per_s": 5.0}, "count": TASKS, "deadline_ms": 1e6},
        channel={"bandwidth_hz": float(rate / np.log2(11)), "snr_db": 10.0, "fading": {"model": "none"},
                 "rate": {"model": "shannon", "efficiency": 1.0}, "mtu_bytes": 10**9, "header_bytes": 0,
                 "propagation_ms": 0.0}))
    mean_s = nbytes.mean() * 8 / rate
    lam, mu = 5.0, 1 / mean_s
    expected = 1e3 * (lam / mu) / (mu - lam)  # M/M/1 mean wait in queue, ms
    got = _mean_wait(sc, load_profile(p), "split", "uplink_wait_ms")
    assert abs(got - expected) / expected < 0.05, (got, expected)
