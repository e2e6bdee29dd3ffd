"""Simulator benchmarks: every speed and memory target, each against its reference, measured in this run.

    python benchmarks/bench_sim.py [--only NAME ...] [--repeats 3] [--big-tasks 10000000]

  engine     engine tasks/s over a minimal three-stage SimPy tandem loop at the same load, on
             paper.yaml and multi-device.yaml (8 devices)                        target >= 1.0
  memory     peak memory of one run of --big-tasks tasks, records streamed         target < 1 GiB
  folder     size of multi-device.yaml's results folder                            target <= 126 MB
  demo       wall time of `make demo`'s sweep against the same command at --baseline (a git
             worktree of the commit where issue 7 was measured)                    target <= 0.5
  workers    2 workers against 1, the whole demo command                           target >= 1.8x
  coherence  Rayleigh at 0.1 ms coherence against 10 ms, same tasks                target <= 2x
  devices    tasks/s of 1024 devices against 8 under the same total load           target >= 0.9
             (with its setup and run split, and a control: 1024 devices of which 8 get every task)

Timings are wall clock: run it on an otherwise idle machine. Each ratio is the median of
--repeats runs of both sides taken in turn.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import schema  # noqa: E402
from sim.engine import Simulation, simulate  # noqa: E402
from sim.profile import load_profile  # noqa: E402
from sim.scenario import load_scenario, override  # noqa: E402

BASELINE = "e422496"  # the commit at which issue 7's figures were measured
SCHEME = "aecnn-k64b1"  # the feature scheme every timed run sends (351x, the profile's ~256x AECNN level)


def minimal_tandem(n: int, service_s: tuple[float, float, float], rate: float, seed: int = 0) -> float:
    """Tasks per second of wall time through three FIFO SimPy resources (the floor of any engine)."""
    env = simpy.Environment()
    res = [simpy.Resource(env, 1) for _ in range(3)]
    gaps = np.random.default_rng(seed).exponential(1 / rate, n)
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


def _n_tasks(sc, n: int):
    """``sc`` with ``n`` tasks in all, split over its devices (a count, no duration)."""
    return dataclasses.replace(sc, tasks=dataclasses.replace(sc.tasks, count=n // sc.devices.count, duration_s=None))


def engine_rate(sc, prof, scheme: str, n: int) -> tuple[float, tuple[float, float, float], float]:
    """(engine tasks/s, mean device/uplink/edge work in s, arrival rate) of ``n`` tasks of ``scheme``."""
    sc = _n_tasks(sc, n)
    t = time.perf_counter()
    res = simulate(sc, prof, scheme, 0)
    dt = time.perf_counter() - t
    recs = np.array([(r[8], r[10], r[12]) for r in res.records])
    return len(res.records) / dt, tuple(recs.mean(0) / 1e3), len(res.records) / max(res.horizon_s, 1e-9)


def _median_ratio(fn_a, fn_b, repeats: int) -> tuple[float, float, float]:
    """Median of a/b over ``repeats`` alternating runs, with the medians of a and b."""
    a, b = [], []
    for _ in range(repeats):
        gc.collect()  # neither side pays for the other's garbage
        a.append(fn_a())
        gc.collect()
        b.append(fn_b())
    ratios = [x / y for x, y in zip(a, b)]
    return statistics.median(ratios), statistics.median(a), statistics.median(b)


def bench_engine(args) -> None:
    for path, devices in (("scenarios/paper.yaml", None), ("scenarios/multi-device.yaml", 8)):
        sc = load_scenario(ROOT / path)
        if devices:
            sc = override(sc, {"devices.count": devices})
        prof = load_profile(sc.profile)
        scheme, holder = SCHEME, {}

        def eng(sc=sc, prof=prof, scheme=scheme, holder=holder):
            r, services, lam = engine_rate(sc, prof, scheme, args.tasks)
            holder["load"] = (services, lam)
            return r

        def loop(holder=holder):
            return minimal_tandem(args.tasks, *holder["load"])

        ratio, e, m = _median_ratio(eng, loop, args.repeats)
        print(f"engine {path} ({scheme}, {sc.tasks.on_deadline}): {e:,.0f} tasks/s, minimal tandem {m:,.0f}: "
              f"ratio {ratio:.2f} (target >= 1.0); {events_per_task(sc, prof, scheme, args.tasks):.2f} "
              "SimPy events per task")


def events_per_task(sc, prof, scheme: str, n: int) -> float:
    """Events SimPy steps through per task of ``n`` tasks of ``scheme`` (an untimed run)."""
    sim = Simulation(_n_tasks(sc, n), prof, scheme, 0)
    steps, step = [0], sim.env.step

    def counted():
        steps[0] += 1
        step()

    sim.env.step = counted
    sim.run()
    return (steps[0] - 1) / len(sim.records)  # (the last step finds the schedule empty)


def bench_memory(args) -> None:
    code = f"""
import resource, sys, tempfile, dataclasses
from pathlib import Path
sys.path.insert(0, {str(ROOT)!r})
from sim.scenario import load_scenario, override
from sim.runner import run_all
sc = load_scenario({str(ROOT / 'scenarios/paper.yaml')!r})
sc = override(sc, {{"tasks.count": {args.big_tasks}, "tasks.arrival.period_ms": 100.0, "tasks.arrival.jitter_ms": 10.0,
                    "seeds": [0], "schemes": [{SCHEME!r}]}})
sc = dataclasses.replace(sc, sweep=dataclasses.replace(sc.sweep, grid={{}}))
out = Path(tempfile.mkdtemp())
run_all(sc, out, progress=False, sweep=False, force=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak = int(res.stdout.strip().splitlines()[-1]) * 1024
    print(f"memory: one run of {args.big_tasks:,} tasks (paper.yaml, {SCHEME}) peaked at {peak / 2**30:.2f} GiB "
          f"in {time.perf_counter() - t:.0f} s (target < 1 GiB)")


def _sweep_cmd(root: Path, scenario: Path, out: Path, workers: int, plot: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "sim.cli", "sweep", str(scenario), "--out", str(out), "--workers", str(workers)]
    return cmd if plot else cmd + ["--no-plot"]


def _timed(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(cwd)})
    return time.perf_counter() - t


def bench_folder(args) -> None:
    out = Path(tempfile.mkdtemp(prefix="bench-md-"))
    t = _timed(_sweep_cmd(ROOT, ROOT / "scenarios/multi-device.yaml", out, 2, plot=False), ROOT)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p.stat().st_nlink == 1) + \
        sum(p.stat().st_size for p in (out / "points").glob("*") if p.is_file() and p.stat().st_nlink > 1)
    print(f"folder: multi-device.yaml's results folder holds {size / 1e6:.0f} MB (hard links counted once), "
          f"swept in {t:.0f} s with 2 workers (target <= 126 MB, a fifth of 630 MB)")
    shutil.rmtree(out)


def _baseline_tree(rev: str) -> Path:
    tree = Path(tempfile.gettempdir()) / f"aecnn-sim-baseline-{rev}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], cwd=ROOT, check=True,
                       capture_output=True)
    return tree


def bench_demo(args) -> None:
    base = _baseline_tree(args.baseline)

    def run(tree: Path, workers: int) -> float:
        out = Path(tempfile.mkdtemp(prefix="bench-demo-"))
        try:
            return _timed(_sweep_cmd(tree, tree / "scenarios/paper.yaml", out, workers), tree)
        finally:
            shutil.rmtree(out)

    ratio, now, then = _median_ratio(lambda: run(ROOT, 2), lambda: run(base, 2), args.repeats)
    print(f"demo: `aecnn-sim sweep scenarios/paper.yaml --workers 2` (make demo) {now:.1f} s, at {args.baseline} "
          f"{then:.1f} s: ratio {ratio:.2f} (target <= 0.5)")
    if "workers" in args.only:
        ratio, one, two = _median_ratio(lambda: run(ROOT, 1), lambda: run(ROOT, 2), args.repeats)
        print(f"workers: the demo command with 1 worker {one:.1f} s, with 2 {two:.1f} s: speed-up {ratio:.2f}x "
              "(target >= 1.8x)")


def bench_coherence(args) -> None:
    sc = load_scenario(ROOT / "scenarios/paper.yaml")
    prof = load_profile(sc.profile)

    def cost(coherence_ms: float) -> float:
        s = override(sc, {"channel.fading.coherence_ms": coherence_ms, "tasks.count": args.tasks // 4})
        t = time.perf_counter()
        simulate(s, prof, SCHEME, 0)
        return time.perf_counter() - t

    ratio, fine, coarse = _median_ratio(lambda: cost(0.1), lambda: cost(10.0), args.repeats)
    print(f"coherence: {args.tasks // 4:,} tasks of paper.yaml at 0.1 ms coherence {fine:.2f} s, at 10 ms "
          f"{coarse:.2f} s: {ratio:.2f}x (target <= 2x)")


def bench_devices(args) -> None:
    sc = load_scenario(ROOT / "scenarios/multi-device.yaml")
    prof = load_profile(sc.profile)
    span = {"tasks.duration_s": args.tasks / 32.0}  # about args.tasks tasks at 32 tasks/s in all

    def scenario(devices: int, busy: int | None = None):
        s = override(sc, {**span, "devices.count": devices, "tasks.arrival.rate_per_s": 32.0 / (busy or devices)})
        if busy is not None:  # the same devices, tasks on the first `busy` only (the rest idle)
            group = schema.to_dict(s)["devices"]
            idle = {**group, "count": devices - busy, "name": "idle",
                    "arrival": {"process": "poisson", "rate_per_s": 1e-12}}
            s = override(s, {"devices": [{**group, "count": busy, "name": "busy"}, idle]})
        return s

    def timed(s, parts: dict | None = None) -> float:
        t = time.perf_counter()
        sim = Simulation(s, prof, SCHEME, 0)
        sim.start()
        t1 = time.perf_counter()
        sim.env.run()
        n = len(sim.result().records)
        t2 = time.perf_counter()
        if parts is not None:
            parts.setdefault("setup", []).append(t1 - t)
            parts.setdefault("run", []).append(t2 - t1)
        return n / (t2 - t)

    many, few, busy8 = scenario(1024), scenario(8), scenario(1024, busy=8)
    split: dict[int, dict] = {1024: {}, 8: {}}
    ratio, fast_many, fast_few = _median_ratio(lambda: timed(many, split[1024]), lambda: timed(few, split[8]),
                                               args.repeats)
    med = {d: {k: statistics.median(v) for k, v in split[d].items()} for d in split}
    print(f"devices: multi-device.yaml (round robin, drop), 32 tasks/s in all: 1024 devices {fast_many:,.0f} "
          f"tasks/s, 8 devices {fast_few:,.0f}: {ratio:.2f} (target >= 0.9); setup (nodes, streams, "
          f"arrivals) {med[1024]['setup'] * 1e3:.0f} against {med[8]['setup'] * 1e3:.0f} ms, run "
          f"{med[1024]['run']:.3f} against {med[8]['run']:.3f} s")
    ratio, _, _ = _median_ratio(lambda: timed(busy8), lambda: timed(few), args.repeats)
    print(f"devices, control: 1024 devices of which 8 get every task against 8 devices: {ratio:.2f} "
          "(per-device state touched by each task is what 1024 busy devices pay for)")


BENCHES = {"engine": bench_engine, "memory": bench_memory, "folder": bench_folder, "demo": bench_demo,
           "coherence": bench_coherence, "devices": bench_devices}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", default=[*BENCHES, "workers"], choices=[*BENCHES, "workers"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tasks", type=int, default=20000, help="tasks per timed engine run")
    p.add_argument("--big-tasks", type=int, default=10_000_000, help="tasks of the memory run")
    p.add_argument("--baseline", default=BASELINE, help="git revision of the reference demo")
    args = p.parse_args(argv)
    if "workers" in args.only and "demo" not in args.only:
        args.only.append("demo")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"python {platform.python_version()}, simpy {simpy.__version__}; "
          f"command: python benchmarks/bench_sim.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    for name, fn in BENCHES.items():
        if name in args.only:
            fn(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
