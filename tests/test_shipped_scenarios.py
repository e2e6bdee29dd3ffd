"""The scenarios in scenarios/ load against the embedded profile and run (shortened)."""
import dataclasses
from pathlib import Path

import pytest

from sim.engine import simulate
from sim.profile import load_profile
from sim.runner import grid_points
from sim.scenario import load_scenario, override

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_loads_and_runs(path):
    sc = load_scenario(path)
    prof = load_profile(sc.profile)
    assert any(s.startswith("aecnn-") for s in sc.labels) and "full-offload" in sc.labels
    points = grid_points(sc)
    assert len(points) >= 3
    short = dataclasses.replace(sc, tasks=dataclasses.replace(sc.tasks, count=20, duration_s=None))
    for values in (points[0], points[-1]):
        point = override(short, values)
        for arm in sc.arms:
            res = simulate(point, prof, arm, sc.seeds[0])
            assert len(res.records) == 20 * point.n_devices
