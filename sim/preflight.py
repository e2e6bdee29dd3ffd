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

import numpy as np

from sim import tables
from sim.channel import RateModel, packets
from sim.errors import ConfigError
from sim.profile import Profile, load_profile
from sim.scenario import Scenario

# What one simulated task and one channel segment cost, measured on this project's machine
# (python 3.11): a task's records and SimPy events; a stored Gilbert-Elliott sojourn (fading blocks
# are drawn where a transfer spans them and never stored: work, no memory).
BYTES_PER_TASK = 2_500
BYTES_PER_SEGMENT = 64
BYTES_PER_OUTAGE = 250  # a random edge outage: its (start, end) and its place in the merged schedule
EVENTS_PER_TASK = 20
MAX_EVENTS = 5e9  # about five hours of simulation at the engine's speed
# Simulated seconds are float64: beyond 2^52 us they resolve less than a microsecond (and fading
# blocks of a microsecond could no longer be told apart)
MAX_HORIZON_S = 2.0**52 * 1e-6


@dataclass(frozen=True)
class Estimate:
    """The work of one (point, scheme, seed) simulation."""

    tasks: float
    horizon_s: float
    segments: float  # channel segments a simulation may draw (at most)
    kept: float = 0.0  # of which held in memory
    outages: float = 0.0  # random edge failures drawn (and held) over the simulated time
    arrivals_s: float = 0.0  # the arrivals' span (horizon_s without the work or the deadline)

    @property
    def memory_bytes(self) -> float:
        return self.tasks * BYTES_PER_TASK + self.kept * BYTES_PER_SEGMENT + self.outages * BYTES_PER_OUTAGE

    @property
    def events(self) -> float:
        return self.tasks * EVENTS_PER_TASK + self.segments + self.outages


def _tasks_per_device(sc: Scenario) -> tuple[list[float], float]:
    """Tasks of one device of each group (their mean over a trace's devices), and the arrivals' span."""
    t, per, horizon = sc.tasks, [], 0.0
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
            per.append(sum(counts) / g.count if devs is not None else counts[0])
        else:
            rate = 1e3 / arr.period_ms if arr.process == "periodic" else arr.rate_per_s
            per_device = t.count if t.count is not None else t.duration_s * rate
            per.append(per_device)
            horizon = max(horizon, t.duration_s if t.duration_s is not None else per_device / rate)
    return per, horizon


@dataclass(frozen=True)
class Bottleneck:
    """The busiest resource of one simulation: its busy time (every task served back to back)."""

    seconds: float
    key: str
    value: object
    what: str
    uplink_s: float = 0.0  # the uplink's busy time (the largest over the schemes)


def _ergodic_rate(sc: Scenario, snr_db: float) -> float:
    """The uplink's mean rate at a mean SNR: over Rayleigh gains for block fading (a quadrature of
    64 quantiles; Rician taken as Rayleigh), at the mean otherwise."""
    rm = RateModel(sc.channel.rate, sc.channel.bandwidth_hz)
    lin = 10 ** (snr_db / 10)
    if sc.channel.fading.model in ("rayleigh", "rician"):
        q = (np.arange(64) + 0.5) / 64
        return float(np.mean(rm.rates_of_linear(-np.log1p(-q) * lin)))
    return rm.rate_of_linear(lin)


def bottleneck(sc: Scenario, profile: Profile, schemes: tuple[str, ...] = ()) -> Bottleneck:
    """The resource that keeps a simulation of ``sc`` longest, over the schemes it may run
    (``schemes``, default every scheme of the profile): a device's CPU (its tasks times the device
    stages' time), the shared uplink (every task's bytes on the air at the mean rate) or the edge
    (every task's edge stages, batch 1, over its GPUs). Arrivals do not count here (see estimate)."""
    per, _ = _tasks_per_device(sc)
    many = isinstance(sc.devices, tuple)
    ch, e = sc.channel, sc.edge
    best, uplink = Bottleneck(0.0, "tasks.count", sc.tasks.count, ""), 0.0
    for name in schemes or tuple(profile.schemes):
        spec = profile.schemes[name]
        up = edge = 0.0
        for gi, g in enumerate(sc.groups):
            n = per[gi]
            dev = n * profile.stage_time_ms(spec.device_stages, g.hardware) / g.speed / 1e3
            key = f"devices[{gi}].speed" if many else "devices.speed"
            if dev > best.seconds:
                best = Bottleneck(dev, key, g.speed, f"{name} keeps a device's CPU {dev:.3g} s")
            if spec.kind != "local":
                _, air = packets(int(spec.payload_bytes.mean()), ch)
                snr = sc.mean_snr_db(gi)
                rate = _ergodic_rate(sc, snr)
                up += n * g.count * 8 * air / rate if rate > 0 else 0.0  # no rate: each upload fails at once
            edge += n * g.count * profile.stage_time_ms(spec.edge_stages, e.hardware) / e.speed / e.gpus / 1e3
        uplink = max(uplink, up)
        if up > best.seconds:
            # the spectral efficiency tells a hopeless SNR (below about -32 dB) from too narrow a band
            low_snr = min(_ergodic_rate(sc, sc.mean_snr_db(gi)) / ch.bandwidth_hz
                          for gi in range(len(sc.groups))) < 1e-3
            key, value = ("channel.snr_db", ch.snr_db) if low_snr else ("channel.bandwidth_hz", ch.bandwidth_hz)
            best = Bottleneck(up, key, value, f"{name} keeps the uplink {up:.3g} s (bandwidth "
                              f"{ch.bandwidth_hz:g} Hz, mean SNR {ch.snr_db:g} dB)")
        if edge > best.seconds:
            best = Bottleneck(edge, "edge.speed", e.speed, f"{name} keeps the edge {edge:.3g} s")
    return Bottleneck(best.seconds, best.key, best.value, best.what, uplink)


def estimate(sc: Scenario, busiest: Bottleneck | None = None) -> Estimate:
    """Tasks, simulated time and channel segments of one simulation of ``sc`` (every device group).

    The simulated time is the arrivals' span, or the busiest resource's busy time where that is
    longer (``busiest``, from :func:`bottleneck`, where the profile is at hand), plus the deadline."""
    per, arrivals = _tasks_per_device(sc)
    tasks = sum(n * g.count for n, g in zip(per, sc.groups))
    horizon, uplink = arrivals, math.inf
    if busiest is not None:
        horizon, uplink = max(arrivals, busiest.seconds), busiest.uplink_s
    horizon += sc.tasks.deadline_ms / 1e3
    f, e = sc.channel.fading, sc.faults.edge
    channels = 1 if f.shared else sc.n_devices
    outages = 2 * horizon / (e.mtbf_s + e.mttr_s) if e.mtbf_s else 0.0  # drawn up to twice the time asked
    if f.model in ("rayleigh", "rician"):  # at most the blocks transfers span (a first one each), none kept
        tc = f.coherence_ms / 1e3
        return Estimate(tasks, horizon, min(horizon / tc, uplink / tc + tasks), 0.0, outages, arrivals)
    if f.model == "gilbert-elliott":
        segments = 2 * horizon / ((f.good_mean_ms + f.bad_mean_ms) / 1e3) * channels
        return Estimate(tasks, horizon, segments, segments, outages, arrivals)
    return Estimate(tasks, horizon, 0.0, 0.0, outages, arrivals)


def memory_limit_bytes(workers: int = 1) -> float:
    """Half of this machine's physical memory, shared by the worker processes."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return total / 2 / max(workers, 1)


def check_budget(sc: Scenario, workers: int = 1, profile: Profile | None = None,
                 schemes: tuple[str, ...] = ()) -> Estimate:
    """Refuse a simulation that would not finish on this machine, or whose simulated time would
    outrun the clock's resolution, naming the key to change."""
    b = bottleneck(sc, profile, schemes) if profile is not None else None
    est = estimate(sc, b)
    limit = memory_limit_bytes(workers)
    if est.memory_bytes > limit or est.events > MAX_EVENTS:
        channel = est.kept * BYTES_PER_SEGMENT > est.tasks * BYTES_PER_TASK or \
            est.segments > est.tasks * EVENTS_PER_TASK
        f = sc.channel.fading
        # the tasks alone beyond this machine: their number must change, whatever else does
        tasks_alone = est.tasks * BYTES_PER_TASK > limit or est.tasks * EVENTS_PER_TASK > MAX_EVENTS
        if tasks_alone:
            key, value = _tasks_key(sc, est.tasks, limit)
        elif est.outages * BYTES_PER_OUTAGE > max(est.tasks * BYTES_PER_TASK, est.kept * BYTES_PER_SEGMENT) or \
                est.outages > max(est.tasks * EVENTS_PER_TASK, est.segments):
            key, value = "faults.edge.mtbf_s", sc.faults.edge.mtbf_s  # failures and repairs come too often
        elif channel and b is not None and b.seconds > est.arrivals_s:  # the work, not the arrivals, spans the time
            key, value = b.key, b.value
        elif channel:
            key = "channel.fading.coherence_ms" if f.model in ("rayleigh", "rician") \
                else "channel.fading.good_mean_ms"
            value = getattr(f, key.rsplit(".", 1)[1])
        else:
            key, value = _tasks_key(sc, est.tasks, limit)
        raise ConfigError(sc.source, key, value,
                          f"needs about {est.memory_bytes / 2**30:.3g} GiB and {est.events:.3g} events per "
                          f"simulation ({est.tasks:.3g} tasks, {est.segments:.3g} channel segments, "
                          f"{est.outages:.3g} edge outages over "
                          f"{est.horizon_s:.3g} s simulated); this machine allows {limit / 2**30:.3g} GiB and "
                          f"{MAX_EVENTS:.0e} events; change it or pass --force")
    if b is not None and b.seconds > MAX_HORIZON_S:
        raise ConfigError(sc.source, b.key, b.value,
                          f"{b.what}: simulated time would reach about {b.seconds:.3g} s, beyond "
                          f"{MAX_HORIZON_S:.3g} s where float64 seconds resolve less than a microsecond; "
                          "change it or pass --force")
    return est


def _tasks_key(sc: Scenario, tasks: float, limit: float) -> tuple[str, object]:
    """The key that sets how many tasks there are: the device count where one device's tasks would
    fit, else the task count or duration."""
    one = tasks / sc.n_devices
    if sc.n_devices > 1 and one * BYTES_PER_TASK <= limit and one * EVENTS_PER_TASK <= MAX_EVENTS:
        return "devices.count", sc.n_devices  # the devices are too many
    key = "tasks.count" if sc.tasks.count is not None else "tasks.duration_s"
    return key, getattr(sc.tasks, key.rsplit(".", 1)[1])


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
        check_budget(sc, workers, profile, tuple(dict.fromkeys(names)))
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
        sig = (sc.profile, sc.schemes, sc.devices, sc.edge, sc.tasks, sc.channel)
        if sig in seen:
            continue
        seen.add(sig)
        check_point(sc, force, workers)


def describe(est: Estimate) -> str:
    """One line: the estimate in words."""
    return (f"{est.tasks:,.0f} tasks over {est.horizon_s:,.3g} s simulated, {est.segments:,.0f} channel "
            f"segments; about {est.memory_bytes / 2**20:,.0f} MiB and {est.events:,.3g} events"
            + ("" if math.isfinite(est.events) else " (unbounded)"))
