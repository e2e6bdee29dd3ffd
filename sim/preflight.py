"""Everything a run will need, checked before the first simulation starts.

For every point of the sweep: the profile loads and holds the scenario's schemes with latencies
for the device and edge hardware keys; arrival and SNR traces read cleanly; and the work fits this
machine: an estimate of the events and memory the point needs (tasks x devices, simulated time
over the coherence time, Gilbert-Elliott sojourns) refuses, naming the key to change, what would
exhaust memory or run for hours. ``force=True`` (``--force``) runs it anyway.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sim import tables
from sim.errors import ConfigError
from sim.profile import Profile, load_profile
from sim.scenario import Scenario

# What one simulated task and one channel segment cost, measured on this project's machine
# (python 3.11): a task's records and SimPy events; a stored Gilbert-Elliott sojourn (fading blocks
# are drawn where a transfer spans them and never stored: work, no memory).
BYTES_PER_TASK = 2_500
BYTES_PER_SEGMENT = 64
EVENTS_PER_TASK = 20
MAX_EVENTS = 5e9  # about five hours of simulation at the engine's speed


@dataclass(frozen=True)
class Estimate:
    """The work of one (point, scheme, seed) simulation."""

    tasks: float
    horizon_s: float
    segments: float  # channel segments a simulation may draw (at most)
    kept: float = 0.0  # of which held in memory

    @property
    def memory_bytes(self) -> float:
        return self.tasks * BYTES_PER_TASK + self.kept * BYTES_PER_SEGMENT

    @property
    def events(self) -> float:
        return self.tasks * EVENTS_PER_TASK + self.segments


def estimate(sc: Scenario) -> Estimate:
    """Tasks, simulated time and channel segments of one simulation of ``sc`` (every device group)."""
    t, tasks, horizon = sc.tasks, 0.0, 0.0
    for gi, g in enumerate(sc.groups):
        arr = sc.arrival_of(gi)
        if arr.process == "trace":
            devs = tables.arrival_trace_devices(arr.trace)
            first = sum(g2.count for g2 in sc.groups[:gi])
            counts = []
            for d in range(first, first + g.count) if devs is not None else [None]:
                times = tables.read_arrival_trace(arr.trace, device=d)
                n = len(times) if t.count is None else min(t.count, len(times))
                h = float(times[n - 1]) if n else 0.0
                horizon = max(horizon, min(h, t.duration_s) if t.duration_s is not None else h)
                counts.append(n)
            tasks += sum(counts) if devs is not None else counts[0] * g.count
        else:
            rate = 1e3 / arr.period_ms if arr.process == "periodic" else arr.rate_per_s
            per_device = t.count if t.count is not None else t.duration_s * rate
            tasks += per_device * g.count
            horizon = max(horizon, t.duration_s if t.duration_s is not None else per_device / rate)
    horizon += t.deadline_ms / 1e3
    f = sc.channel.fading
    channels = 1 if f.shared else sc.n_devices
    if f.model in ("rayleigh", "rician"):  # at most the blocks the uplink's busy time spans, none kept
        return Estimate(tasks, horizon, horizon / (f.coherence_ms / 1e3))
    if f.model == "gilbert-elliott":
        segments = 2 * horizon / ((f.good_mean_ms + f.bad_mean_ms) / 1e3) * channels
        return Estimate(tasks, horizon, segments, segments)
    return Estimate(tasks, horizon, 0.0)


def memory_limit_bytes(workers: int = 1) -> float:
    """Half of this machine's physical memory, shared by the worker processes."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return total / 2 / max(workers, 1)


def check_budget(sc: Scenario, workers: int = 1) -> Estimate:
    """Refuse a simulation that would not finish on this machine, naming the key to change."""
    est = estimate(sc)
    limit = memory_limit_bytes(workers)
    if est.memory_bytes > limit or est.events > MAX_EVENTS:
        channel = est.kept * BYTES_PER_SEGMENT > est.tasks * BYTES_PER_TASK or \
            est.segments > est.tasks * EVENTS_PER_TASK
        f = sc.channel.fading
        if channel:
            key = "channel.fading.coherence_ms" if f.model in ("rayleigh", "rician") \
                else "channel.fading.good_mean_ms"
            value = getattr(f, key.rsplit(".", 1)[1])
        elif sc.n_devices > 1 and (est.tasks / sc.n_devices) * BYTES_PER_TASK <= limit \
                and (est.tasks / sc.n_devices) * EVENTS_PER_TASK <= MAX_EVENTS:
            key, value = "devices.count", sc.n_devices  # one device's tasks would fit: the devices are too many
        else:
            key = "tasks.count" if sc.tasks.count is not None else "tasks.duration_s"
            value = getattr(sc.tasks, key.rsplit(".", 1)[1])
        raise ConfigError(sc.source, key, value,
                          f"needs about {est.memory_bytes / 2**30:.3g} GiB and {est.events:.3g} events per "
                          f"simulation ({est.tasks:.3g} tasks, {est.segments:.3g} channel segments); this "
                          f"machine allows {limit / 2**30:.3g} GiB and {MAX_EVENTS:.0e} events; change it "
                          "or pass --force")
    return est


def check_point(sc: Scenario, force: bool = False, workers: int = 1) -> Profile:
    """Check one point: its profile, schemes and policies, hardware keys, traces and (unless
    ``force``) its size."""
    profile = load_profile(sc.profile)
    names = []
    for i, arm in enumerate(sc.arms):
        names += [n for n in (arm.scheme, *arm.options, *(r.scheme for r in arm.thresholds)) if n]
        if arm.objective == "energy":
            from sim.scenario import power_models

            check_energy_objective(sc, power_models(sc), f"schemes[{i}].objective")
        if arm.policy not in ("fixed", "snr-threshold", "estimate", "oracle"):
            from sim.policies import policy_class
            policy_class(arm, sc.source, f"schemes[{i}]")
    check_schemes(sc, profile, tuple(dict.fromkeys(names)))
    if sc.faults.timeout_ms is not None and sc.faults.fallback == "local":
        fallback_scheme(sc, profile)
    for gi in range(len(sc.groups)):
        arr = sc.arrival_of(gi)
        if arr.process == "trace":
            tables.read_arrival_trace(arr.trace)
    if sc.channel.fading.model == "trace":
        tables.read_snr_trace(sc.channel.fading.trace)
    if not force:
        check_budget(sc, workers)
    return profile


def check_energy_objective(sc: Scenario, power: list, key: str) -> None:
    """``objective: energy`` needs a power model (``power``, per group) for every device group."""
    if None in power:
        g = power.index(None)
        raise ConfigError(sc.source, key, "energy", f"needs a power model for every device group; group {g} "
                          f"(hardware {sc.groups[g].hardware}) has none: give it devices.power")


def fallback_scheme(sc: Scenario, profile: Profile) -> str:
    """The scheme a device runs when its timeout expires: ``faults.fallback_scheme``, or the
    profile's first local scheme; it must be local and timed on every group's hardware."""
    key = "faults.fallback_scheme"
    name = sc.faults.fallback_scheme or next((n for n, s in profile.schemes.items() if s.kind == "local"), None)
    if name is None:
        raise ConfigError(sc.source, key, None, "the profile has no local scheme: name the scheme to run")
    if name not in profile.schemes:
        raise ConfigError(sc.source, key, name, f"is not a scheme of the profile ({', '.join(profile.schemes)})")
    if profile.schemes[name].kind != "local":
        raise ConfigError(sc.source, key, name, "must be a local scheme (all its stages on the device)")
    check_schemes(sc, profile, (name,))
    return name


def check_schemes(sc: Scenario, profile: Profile, schemes: tuple[str, ...]) -> None:
    """Each scheme is the profile's, with latencies for every device group's hardware and the edge's."""
    many = isinstance(sc.devices, tuple)
    for scheme in schemes:
        spec = profile.schemes.get(scheme)
        if spec is None:
            raise ConfigError(sc.source, "schemes", scheme,
                              f"not a scheme of profile {sc.profile} (it has: {', '.join(profile.schemes)})")
        needs = [(f"devices[{i}].hardware" if many else "devices.hardware", g.hardware, spec.device_stages)
                 for i, g in enumerate(sc.groups)] + [("edge.hardware", sc.edge.hardware, spec.edge_stages)]
        for key, hw, stages in needs:
            for s in stages:
                if hw not in profile.stages[s]["latency_ms"]:
                    raise ConfigError(sc.source, key, hw,
                                      f"stage {s} of profile {profile.name} has no latency for it; "
                                      f"known: {', '.join(sorted(profile.stages[s]['latency_ms']))}")


def check_all(points: list[Scenario], force: bool = False, workers: int = 1) -> None:
    """Check every point before any simulation starts (each distinct profile and trace is read once)."""
    seen: set[tuple] = set()
    for sc in points:
        sig = (sc.profile, sc.schemes, sc.devices, sc.edge.hardware, sc.tasks, sc.channel.fading)
        if sig in seen:
            continue
        seen.add(sig)
        check_point(sc, force, workers)


def describe(est: Estimate) -> str:
    """One line: the estimate in words."""
    return (f"{est.tasks:,.0f} tasks over {est.horizon_s:,.3g} s simulated, {est.segments:,.0f} channel "
            f"segments; about {est.memory_bytes / 2**20:,.0f} MiB and {est.events:,.3g} events"
            + ("" if math.isfinite(est.events) else " (unbounded)"))
