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
    w = max([6, *map(len, p.schemes)])  # the columns fit the longest name
    out = [f"profile {p.name} ({p.folder}): {p.n_samples} test samples", "",
           f"{'scheme':<{w}} {'kind':<8} {'accuracy %':>10} {'mean bytes':>11} {'ratio':>8}"]
    for name, spec in p.schemes.items():
        mean = float(spec.payload_bytes.mean())
        ratio = f"{f32 / mean:,.0f}x" if f32 and spec.kind == "split" and mean > 0 else ""
        out.append(f"{name:<{w}} {spec.kind:<8} {100 * spec.accuracy:>10.2f} {mean:>11.1f} {ratio:>8}")
    out += ["", "hardware:"]
    described = p.meta.get("hardware") or {}
    for hw in sorted(p.hardware_keys()):
        what = described.get(hw, "")
        if isinstance(what, dict):
            what = ", ".join(f"{k} {v}" for k, v in what.items() if k in ("device", "precision", "torch", "weights"))
        out.append(f"  {hw}: {what}")
    w = max([5, *map(len, p.stages)])
    out += ["", f"{'stage':<{w}} {'GFLOPs':>8}  latency ms (hardware: batch=ms)"]
    for name, st in p.stages.items():
        lat = "; ".join(f"{hw}: " + ", ".join(f"{b}={ms:g}" for b, ms in table.items())
                        for hw, table in st["latency_ms"].items())
        out.append(f"{name:<{w}} {float(st.get('flops') or 0) / 1e9:>8.3f}  {lat}")
    return "\n".join(out)


def plot_batching(folder: Path, path: Path) -> Path:
    """Edge time per item against batch size, per scheme and hardware key: what batching buys."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    p = load_profile(folder)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = ["-", "--", ":", "-."]
    for i, hw in enumerate(sorted(p.hardware_keys())):
        for j, (name, spec) in enumerate((n, s) for n, s in p.schemes.items() if s.edge_stages):
            if not all(hw in p.stages[s]["latency_ms"] for s in spec.edge_stages):
                continue
            sizes = sorted({b for s in spec.edge_stages for b in p.stages[s]["latency_ms"][hw]})
            if len(sizes) < 2:
                continue
            per_item = [p.stage_time_ms(spec.edge_stages, hw, b) / b for b in sizes]
            ax.plot(sizes, per_item, marker="o", ms=3, ls=styles[i % len(styles)], color=f"C{j % 10}",
                    label=f"{name} on {hw}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("batch size")
    ax.set_ylabel("edge time per item (ms)")
    ax.set_title(f"{p.name}: edge stages per item against batch size", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path
