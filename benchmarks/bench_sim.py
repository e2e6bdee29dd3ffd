"""Simulator speed: tasks per second of the paper scenario next to a minimal SimPy tandem loop,
both timed in this run, and the speed-up of a 2-worker sweep over 1 worker.

    python benchmarks/bench_sim.py [--scenario scenarios/paper.yaml] [--tasks 20000]

Targets (issue 2): engine >= 0.5 x the minimal loop's tasks/s; 2 workers >= 1.8 x one worker.
Run it on an otherwise idle machine: both figures are wall-clock.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.engine import simulate  # noqa: E402
from sim.profile import load_profile  # noqa: E402
from sim.runner import run_all  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402


def minimal_tandem(n: int, service_s: tuple[float, float, float], rate: float, seed: int = 0) -> float:
    """Tasks per second of wall time through three FIFO SimPy resources (the floor of any engine)."""
    env = simpy.Environment()
    res = [simpy.Resource(env, 1) for _ in range(3)]
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / rate, n)
    done = []

    def task(t0):
        for r, s in zip(res, service_s):
            with r.request() as req:
                yield req
                yield env.timeout(s)
        done.append(env.now - t0)

    def source():
        for g in gaps:
            yield env.timeout(g)
            env.process(task(env.now))

    env.process(source())
    t = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - t)


def engine_rate(sc, prof, scheme: str, n: int) -> tuple[float, tuple[float, float, float], float]:
    tasks = dataclasses.replace(sc.tasks, count=n, duration_s=None)
    sc = dataclasses.replace(sc, tasks=tasks)
    t = time.perf_counter()
    res = simulate(sc, prof, scheme, 0)
    dt = time.perf_counter() - t
    recs = np.array([(r[8], r[10], r[12]) for r in res.records])  # device, uplink, edge work (ms)
    return len(res.records) / dt, tuple(recs.mean(0) / 1e3), len(res.records) / max(res.horizon_s, 1e-9)


def sweep_speedup(path: Path) -> tuple[float, float, float]:
    sc = load_scenario(path)
    times = []
    for workers in (1, 2):
        out = Path(tempfile.mkdtemp(prefix=f"bench-w{workers}-"))
        t = time.perf_counter()
        run_all(sc, out, workers=workers, sweep=True, progress=False)
        times.append(time.perf_counter() - t)
        shutil.rmtree(out)
    return times[0], times[1], times[0] / times[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", type=Path, default=Path("scenarios/paper.yaml"))
    p.add_argument("--tasks", type=int, default=20000)
    p.add_argument("--scheme", default=None, help="scheme to time (default: the scenario's first split scheme)")
    p.add_argument("--no-sweep", action="store_true")
    args = p.parse_args(argv)
    sc = load_scenario(args.scenario)
    prof = load_profile(sc.profile)
    scheme = args.scheme or next((s for s in sc.schemes if prof.schemes[s].kind == "split"), sc.schemes[0])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, simpy {simpy.__version__}")
    eng, services, lam = engine_rate(sc, prof, scheme, args.tasks)
    loop = minimal_tandem(args.tasks, services, lam)
    print(f"engine, {sc.name} / {scheme}: {eng:,.0f} tasks/s")
    print(f"minimal 3-stage SimPy tandem, same load: {loop:,.0f} tasks/s")
    print(f"ratio: {eng / loop:.2f} (target >= 0.5)")
    if not args.no_sweep:
        t1, t2, s = sweep_speedup(args.scenario)
        print(f"sweep of {sc.name}: 1 worker {t1:.2f} s, 2 workers {t2:.2f} s, speed-up {s:.2f}x (target >= 1.8x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
