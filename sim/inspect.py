"""Looking before running: ``aecnn-sim validate`` (a scenario) and ``aecnn-sim info`` (a profile)."""
from __future__ import annotations

from pathlib import Path

import yaml

from sim import preflight, schema
from sim.profile import load_profile
from sim.scenario import Scenario

# The engine's speed on this project's 2-core machine (make bench, 2026-11-24): about 20,000 to
# 48,000 tasks/s per worker; the estimate takes the slower figure.
TASKS_PER_S = 20_000


def validate(sc: Scenario, workers: int = 1) -> str:
    """Every check a sweep makes before simulating; the resolved scenario, grid size and estimates."""
    from sim.runner import points_of

    points = points_of(sc, sweep=True)
    preflight.check_all([p for _, p in points], force=False, workers=workers)
    ests = [preflight.estimate(p) for _, p in points]
    sims = len(points) * len(sc.seeds) * len(sc.schemes)
    tasks = sum(e.tasks for e in ests) * len(sc.seeds) * len(sc.schemes)
    peak = max(e.memory_bytes for e in ests)
    seconds = tasks / TASKS_PER_S / max(workers, 1)
    lines = [yaml.safe_dump(schema.to_dict(sc), sort_keys=False).rstrip(), "",
             f"{sc.source}: valid",
             f"grid: {len(points)} points x {len(sc.seeds)} seeds x {len(sc.schemes)} schemes = {sims} simulations",
             f"estimate: {tasks:,.0f} tasks; about {seconds:,.0f} s with {workers} worker(s) at {TASKS_PER_S:,} "
             f"tasks/s each; the largest simulation needs about {peak / 2**20:,.0f} MiB"]
    return "\n".join(lines)


def profile_info(folder: Path) -> str:
    """A profile's schemes, hardware keys and stages, as text tables."""
    p = load_profile(folder)
    f32 = (p.meta.get("feature") or {}).get("float32_bytes")
    out = [f"profile {p.name} ({p.folder}): {p.n_samples} test samples", "",
           f"{'scheme':<18} {'kind':<8} {'accuracy %':>10} {'mean bytes':>11} {'ratio':>8}"]
    for name, spec in p.schemes.items():
        mean = float(spec.payload_bytes.mean())
        ratio = f"{f32 / mean:,.0f}x" if f32 and spec.kind == "split" and mean > 0 else ""
        out.append(f"{name:<18} {spec.kind:<8} {100 * spec.accuracy:>10.2f} {mean:>11.1f} {ratio:>8}")
    out += ["", "hardware:"]
    described = p.meta.get("hardware") or {}
    for hw in sorted(p.hardware_keys()):
        what = described.get(hw, "")
        if isinstance(what, dict):
            what = ", ".join(f"{k} {v}" for k, v in what.items() if k in ("device", "precision", "torch", "weights"))
        out.append(f"  {hw}: {what}")
    out += ["", f"{'stage':<26} {'GFLOPs':>8}  latency ms (hardware: batch=ms)"]
    for name, st in p.stages.items():
        lat = "; ".join(f"{hw}: " + ", ".join(f"{b}={ms:g}" for b, ms in table.items())
                        for hw, table in st["latency_ms"].items())
        out.append(f"{name:<26} {float(st.get('flops') or 0) / 1e9:>8.3f}  {lat}")
    return "\n".join(out)
