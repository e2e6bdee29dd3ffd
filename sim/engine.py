"""One simulation: a scenario, a profile, a scheme and a seed give one record per task.

Common random numbers: arrival times, the image each task draws, HARQ outcomes and the channel
come from random streams keyed by (seed, purpose, device[, task]) and never by scheme, so all
schemes of one seed see the same arrivals, images and channel.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.core import URGENT

from sim.channel import Link, RateModel, _mix, air_bytes, make_snr_process, normal, packet_counts, rng_for, rng_streams
from sim.errors import ConfigError
from sim.faults import FaultyLink, Outages
from sim.nodes import Cpu, EdgeServer, FifoEdge, FifoUplink, LoadReport, RoundRobinUplink, call_later
from sim.policies import Context, Fixed, Observation, Option, Policy, policy_class
from sim.power import RadioMeter
from sim.preflight import check_energy_objective, check_schemes, fallback_scheme
from sim.profile import Profile
from sim.records import RECORD_FIELDS  # (re-exported: the record layout)
from sim.scenario import Arrival, PolicySpec, Scenario, power_models
from sim.tables import read_arrival_trace


def arrival_times(arr: Arrival, count: int | None, duration_s: float | None, seed: int, device: int,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Arrival times in seconds of one device's tasks (``rng``: its stream, ``rng_for(seed, 2, device)``,
    if already made)."""
    rng = rng_for(seed, 2, device) if rng is None else rng
    limit = count if count is not None else math.inf
    if arr.process == "trace":
        t = read_arrival_trace(arr.trace, device=device)
    else:
        n = count
        if arr.process == "periodic":
            p = arr.period_ms / 1e3
            n = n if n is not None else int(duration_s / p) + 2
            phase = rng.uniform(0, p) if device > 0 else 0.0
            t = phase + p * np.arange(n) + rng.uniform(0, arr.jitter_ms / 1e3, n)
        elif n is not None:
            t = rng.exponential(1 / arr.rate_per_s, n).cumsum()
        else:
            t = poisson_times(rng, arr.rate_per_s, duration_s, int(duration_s * arr.rate_per_s * 1.5 + 50))
    if duration_s is not None:
        t = t[t < duration_s]
    return t[: int(min(limit, len(t)))]


def poisson_times(rng: np.random.Generator, rate: float, duration_s: float, chunk: int) -> np.ndarray:
    """Poisson arrival times at ``rate`` covering ``duration_s`` (the last one at or past it),
    gaps drawn ``chunk`` at a time: the same times whatever the chunk (one stream of gaps)."""
    t = rng.exponential(1 / rate, chunk).cumsum()
    while t[-1] < duration_s:
        t = np.concatenate([t, t[-1] + rng.exponential(1 / rate, chunk).cumsum()])
    return t


def _arrivals(times: list[np.ndarray], images: list[np.ndarray], block: int = 65_536):
    """(time, device, task index, image) of every device's tasks in order of arrival.

    Each device's times are in order (traces are checked when read; jitter stays below the
    period); ties between devices go to the lower device index. Python objects are made a block
    at a time, so memory stays near the arrays'.
    """
    if len(times) == 1:
        t, img = times[0], images[0]
        for a in range(0, len(t), block):
            yield from zip(t[a:a + block].tolist(), [0] * len(t[a:a + block]), range(a, a + block),
                           img[a:a + block].tolist())
        return
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")  # devices concatenated in index order: ties keep it
    device = np.repeat(np.arange(len(times), dtype=np.int64), [len(x) for x in times])[order]
    k = np.concatenate([np.arange(len(x), dtype=np.int64) for x in times])[order]
    img = np.concatenate(images)[order]
    t = t[order]
    del order
    for a in range(0, len(t), block):
        yield from zip(t[a:a + block].tolist(), device[a:a + block].tolist(), k[a:a + block].tolist(),
                       img[a:a + block].tolist())


_NO_ENERGY = (math.nan,) * 5  # the energy columns of a task without a power model


@dataclass
class Result:
    """What one simulation returns: task records and time-weighted resource use."""

    records: list[tuple]  # or a records.ParquetSink, which keeps only its Tally in memory
    horizon_s: float
    busy_s: dict[str, float]
    capacity: dict[str, int]
    extra: dict[str, int] = dataclasses.field(default_factory=dict)  # the oracle's bound counts

    def utilization(self) -> dict[str, float]:
        h = max(self.horizon_s, 1e-12)
        return {k: self.busy_s[k] / (self.capacity[k] * h) for k in self.busy_s}


class _Scheme:
    """A scheme as one simulation runs it: its spec, times and batching kind."""

    def __init__(self, sim: Simulation, name: str) -> None:
        sc, profile = sim.sc, sim.profile
        self.name, self.spec = name, profile.schemes[name]
        self.local = self.spec.kind == "local"
        self.device_s = tuple(profile.stage_time_ms(self.spec.device_stages, g.hardware, 1) / 1e3 / g.speed
                              for g in sc.groups)
        self.kind = tuple(self.spec.edge_stages)  # the edge batches only jobs of one kind
        self.payload = self.spec.payload_bytes
        self.correct = self.spec.correct
        self.correct_of = [bool(c) for c in self.correct.tolist()]  # (Python bools: a record per task)
        self.channel = sc.channel
        self._sends: list[tuple[int, int]] | None = None  # per image, made at the first offload

    def sends(self, img: int) -> tuple[int, int]:
        """(payload bytes, packets) a task on image ``img`` sends: none for a local scheme,
        whatever its bytes column says."""
        if self.local:
            return 0, 0
        if self._sends is None:
            nbytes = np.asarray(self.payload, dtype=np.int64)
            self._sends = list(zip(nbytes.tolist(), packet_counts(nbytes, self.channel).tolist()))
        return self._sends[img]


class Simulation:
    """Builds the nodes of a scenario for one entry of ``schemes`` and one seed, and runs its tasks.

    ``arm`` is a scheme name (the fixed policy), a :class:`PolicySpec`, or a policy object (the
    Python API, the Gymnasium environment). Each task's scheme is chosen at its arrival.
    """

    def __init__(self, sc: Scenario, profile: Profile, arm: str | PolicySpec | Policy, seed: int,
                 lindley: bool | None = None, sink: list | None = None) -> None:
        self.sc, self.profile, self.seed = sc, profile, seed
        self.env = env = simpy.Environment()
        ch, n = sc.channel, sc.n_devices
        self.group = [i for i, g in enumerate(sc.groups) for _ in range(g.count)]  # device -> group index
        self.group_labels = [sc.groups[g].name or f"g{g}" for g in self.group]
        rate = RateModel(ch.rate, ch.bandwidth_hz)
        if ch.fading.shared:  # one realisation: one link per group (groups differ in mean SNR only)
            per_group = [Link(make_snr_process(ch, seed, 0, sc.mean_snr_db(g)), rate) for g in range(len(sc.groups))]
            self.links = [per_group[g] for g in self.group]
        else:
            self.links = [Link(make_snr_process(ch, seed, d, sc.mean_snr_db(self.group[d])), rate)
                          for d in range(n)]
        self.rate = rate
        f = sc.faults
        self.edge_outages = Outages(f.edge.windows_s, f.edge.mtbf_s, f.edge.mttr_s, seed)
        uplink_outages = Outages(f.uplink.windows_s)
        if uplink_outages:
            self.links = [FaultyLink(link, uplink_outages) for link in self.links]
        self.timeout_s = None if f.timeout_ms is None else f.timeout_ms / 1e3
        # energy: each device's power model and radio meter (None without a model)
        self.group_power = power_models(sc)  # per group
        self.power = [self.group_power[g] for g in self.group]  # per device
        self.meters = [RadioMeter(m.radio, self._tail) if m is not None else None for m in self.power]
        self._held: dict[int, tuple] = {}  # records waiting for their radio tail (by id of times)
        on_air = self._on_air if any(m is not None for m in self.meters) else None
        # Lindley's recursion replaces SimPy resources where no task leaves a queue early
        # (a device timeout withdraws remote stages: never Lindley's there, even when asked)
        fast = (sc.tasks.on_deadline == "finish" if lindley is None else lindley) and self.timeout_s is None
        # the device CPUs too, in every mode: a task's drop time is known as it asks (its deadline)
        self.cpus = [Cpu(env, lindley is not False) for _ in range(n)]
        self.drop_s = sc.tasks.deadline_ms / 1e3 if sc.tasks.on_deadline == "drop" else None
        self._deadlines: deque[tuple[float, simpy.Process]] = deque()  # (drop time, task) in order
        self._watching = False
        self.uplink = FifoUplink(env, self.links, fast, on_air) if ch.sharing == "fifo" else \
            RoundRobinUplink(env, self.links, on_air)
        e = sc.edge
        self._edge_cache: dict[tuple, float] = {}
        # without early leavers or batching, the edge queue is Lindley's too: one event per task there
        self.fast_edge = fast and e.batching.max_batch == 1
        self.edge = FifoEdge(env, e.gpus, self._edge_seconds, self.edge_outages) if self.fast_edge else \
            EdgeServer(env, e.gpus, e.batching.max_batch, e.batching.max_wait_ms / 1e3, self._edge_seconds,
                       self.edge_outages)
        self.downlink_s = ch.downlink.result_bytes * 8 / ch.downlink.rate_bps
        self.prop_s = ch.propagation_ms / 1e3
        self.records = [] if sink is None else sink
        self.labels = [int(x) for x in profile.labels.tolist()]
        self.last_activity = 0.0
        self._schemes: dict[str, _Scheme] = {}
        self.policy, self.arm = self._policy(arm)
        self.options = tuple(self.policy.ctx.options)
        self.wants_load = self.arm.load_delay_ms is not None or getattr(self.policy, "wants_load", False)
        self.load_delay_s = (self.arm.load_delay_ms or 0.0) / 1e3
        self.up_load = LoadReport() if self.wants_load else None
        self.edge_load = LoadReport() if self.wants_load else None
        self.bound_hits = self.bound_correct = 0  # the clairvoyant bound (oracle only)
        # a policy may subclass sim.policies.Policy or only have choose(obs) (and observe(record))
        self.feedback = getattr(type(self.policy), "observe", Policy.observe) is not Policy.observe
        self.external = getattr(self.policy, "external", False)  # decided outside (the Gymnasium environment)
        self.fallback = self._fallback_scheme() if self.timeout_s is not None and f.fallback == "local" else None
        # tasks as chains of callbacks (_Task) where every queue has a callback form: Lindley's CPUs,
        # the round robin or Lindley's FIFO uplink, either edge; no device timeout. Otherwise (and in
        # the tests' reference runs, lindley=False) each task is a SimPy process (_task), whose
        # queues are then SimPy's: the resource FIFO uplink, the batching edge.
        self.callbacks = (lindley is not False and self.timeout_s is None
                          and (ch.sharing != "fifo" or self.uplink.lindley))

    def _fallback_scheme(self) -> _Scheme:
        return self.scheme(fallback_scheme(self.sc, self.profile))

    # -- energy --------------------------------------------------------------------------------

    def _on_air(self, device: int, start: float, end: float, bits: float, times: dict) -> None:
        meter = self.meters[device]
        if meter is not None:
            times["energy_radio"] = times.get("energy_radio", 0.0) + meter.send(start, end, bits, times)

    def _tail(self, owner: dict, joules: float) -> None:
        owner["energy_tail"] = owner.get("energy_tail", 0.0) + joules
        held = self._held.pop(id(owner), None)
        if held is not None:
            self._emit(*held)

    # -- schemes and policies ------------------------------------------------------------------

    def timed_schemes(self) -> list[str]:
        """The profile's schemes with latencies for every device group's hardware and the edge's."""
        out = []
        for name, spec in self.profile.schemes.items():
            hws = [(g.hardware, spec.device_stages) for g in self.sc.groups]
            hws.append((self.sc.edge.hardware, spec.edge_stages))
            if all(hw in self.profile.stages[s]["latency_ms"] for hw, stages in hws for s in stages):
                out.append(name)
        return out

    def scheme(self, name: str) -> _Scheme:
        got = self._schemes.get(name)
        if got is None:
            got = self._schemes[name] = _Scheme(self, name)
        return got

    def _policy(self, arm) -> tuple[Policy, PolicySpec]:
        sc = self.sc
        if not isinstance(arm, (str, PolicySpec)):  # a policy object (the Python API, the Gymnasium environment)
            if getattr(arm, "ctx", None) is None:
                spec = getattr(arm, "spec", None) or PolicySpec(policy=type(arm).__name__)
                options = tuple(getattr(arm, "options", None) or self.timed_schemes())
                check_schemes(sc, self.profile, options)
                arm.ctx = self.context(spec, options)
            return arm, arm.ctx.spec
        spec = PolicySpec(policy="fixed", scheme=arm) if isinstance(arm, str) else arm
        options = tuple(spec.options) or (
            (spec.scheme,) if spec.policy == "fixed" else
            tuple(dict.fromkeys(r.scheme for r in spec.thresholds)) if spec.policy == "snr-threshold" else
            tuple(self.timed_schemes()))
        check_schemes(sc, self.profile, options)
        ctx = self.context(spec, options)
        return policy_class(spec, sc.source)(ctx), spec

    def context(self, spec: PolicySpec, options: tuple[str, ...]) -> Context:
        """What a policy is built with (see :class:`sim.policies.Context`)."""
        ch, info = self.sc.channel, {}
        for name in options:
            s, spec_ = self.scheme(name), self.profile.schemes[name]
            mean = float(np.mean(s.payload)) if len(s.payload) and not s.local else 0.0
            bits = 0.0 if s.local else 8.0 * float(np.mean(air_bytes(s.payload, ch)))
            info[name] = Option(name, spec_.kind, float(np.mean(s.correct)), mean, bits, s.device_s,
                                0.0 if s.local else self._edge_seconds(1, s.kind))
        r = ch.rate
        tries = 1.0
        if r.model == "cqi" and r.bler > 0:  # mean of min(geometric, max_harq + 1) transmissions
            tries = sum(r.bler ** i for i in range(r.max_harq + 1))
        groups = range(len(self.sc.groups))
        if spec.objective == "energy":
            check_energy_objective(self.sc, self.group_power, "objective")
        return Context(spec, options, info, self.sc.tasks.deadline_ms / 1e3, self.sc.edge.batching.max_batch,
                       self.downlink_s, self.prop_s, tries, self.rate.rate_bps, self.seed, tuple(self.group_power),
                       tuple(self._interarrival_s(g) for g in groups))

    def _interarrival_s(self, group: int) -> float:
        a = self.sc.arrival_of(group)
        if a.process == "periodic":
            return a.period_ms / 1e3
        if a.process == "poisson":
            return 1.0 / a.rate_per_s
        return math.inf  # a trace: unknown in advance

    def _edge_seconds(self, batch: int, kind: tuple = ()) -> float:
        t = self._edge_cache.get((batch, kind))
        if t is None:
            t = self.profile.stage_time_ms(kind, self.sc.edge.hardware, batch) / 1e3 / self.sc.edge.speed
            self._edge_cache[(batch, kind)] = t
        return t

    # -- running -------------------------------------------------------------------------------

    def run(self) -> Result:
        self.start()
        self.env.run()
        return self.result()

    def start(self) -> None:
        """Start the task source (``run`` does it; the Gymnasium environment steps)."""
        sc, t = self.sc, self.sc.tasks
        times, images = [], []
        n = sc.n_devices
        for d, r_time, r_image in zip(range(n), rng_streams(self.seed, 2, n), rng_streams(self.seed, 3, n)):
            times.append(arrival_times(sc.arrival_of(self.group[d]), t.count, t.duration_s, self.seed, d, r_time))
            images.append(r_image.integers(0, self.profile.n_samples, len(times[-1])))
        self._arrivals = _arrivals(times, images)
        self._coming = next(self._arrivals, None)
        self._fixed = self.scheme(self.policy.scheme) if isinstance(self.policy, Fixed) else None
        call_later(self.env, self._feed)  # (as a process would start: after what is due now)

    def result(self) -> Result:
        for meter in self.meters:  # the last tails: records held for them are written now
            if meter is not None:
                meter.close()
        sc = self.sc
        busy = {"device": sum(c.busy_s for c in self.cpus), "uplink": self.uplink.busy_s, "edge": self.edge.busy_s}
        cap = {"device": sc.n_devices, "uplink": 1, "edge": sc.edge.gpus}
        extra = {}
        if getattr(self.policy, "clairvoyant", False):
            extra = {"bound_hits": self.bound_hits, "bound_correct": self.bound_correct}
        if sc.faults.any:
            h = self.last_activity
            extra["edge_availability"] = 1.0 - self.edge_outages.down_time(0.0, h) / h if h > 0 else 1.0
        return Result(self.records, self.last_activity, busy, cap, extra)

    def observe(self, device: int, k: int, img: int) -> Observation:
        """What ``device`` knows as its task ``k`` arrives (see :class:`sim.policies.Observation`)."""
        now, arm = self.env._now, self.arm
        when = max(0.0, now - arm.snr_age_ms / 1e3)
        snr = self.links[device].snr.segment(when)[0]
        if arm.snr_error_db:
            key = _mix(_mix(_mix(self.seed ^ 0x534E_5245) ^ device) ^ k)  # "SNRE": the same error for every policy
            snr += arm.snr_error_db * normal(key)
        up = edge = None
        if self.wants_load:
            up, edge = self.up_load.at(now - self.load_delay_s), self.edge_load.at(now - self.load_delay_s)
        truth = _Truth(self, device, k, img) if getattr(self.policy, "clairvoyant", False) else None
        g = self.group[device]
        return Observation(now, device, g, k, self.sc.tasks.deadline_ms / 1e3, self.cpus[device].backlog_s(),
                           snr, when, self.sc.mean_snr_db(g), up, edge, truth)

    def _feed(self, _ev=None) -> None:
        """Start every device's tasks in order of arrival, as callbacks: one pending call, however
        many devices (SimPy's event heap holds the tasks in flight, not a source per device). An
        external policy's choice is waited for as an event; the tasks after it wait too."""
        env = self.env
        while self._coming is not None:
            ta, device, k, img = self._coming
            if ta > env._now:
                call_later(env, self._feed, ta - env._now)
                return
            self._coming = next(self._arrivals, None)
            if self._fixed is not None:
                self._launch(device, k, img, self._fixed)
                continue
            obs = self.observe(device, k, img)
            if self.external:
                ev = env.event()
                ev.callbacks.append(lambda ev, obs=obs, img=img: (self._chosen(obs, img, ev.value), self._feed()))
                self.policy.pending.append((obs, ev))
                return
            self._chosen(obs, img, self.policy.choose(obs))

    def _chosen(self, obs: Observation, img: int, choice: str) -> None:
        if choice not in self.options:
            raise ConfigError(self.sc.source, "schemes", self.arm.label,
                              f"policy chose {choice!r} for task {obs.task} of device {obs.device}, "
                              f"not one of its options ({', '.join(self.options)})")
        if obs.truth is not None:
            self._bound(obs.truth)
        self._launch(obs.device, obs.task, img, self.scheme(choice))

    def _launch(self, device: int, k: int, img: int, sch: _Scheme) -> None:
        if self.callbacks:
            task = _Task(self, device, k, img, sch)
        else:
            task = self.env.process(self._task(device, k, img, sch))
        if self.drop_s is not None:
            self._deadlines.append((self.env._now + self.drop_s, task))
            if not self._watching:
                self._watch(self.drop_s)

    def _watch(self, delay: float) -> None:
        """Check the deadlines ``delay`` from now. Tasks arrive in order and share one deadline,
        so their drop times come in order: one pending check serves them all, and a task done
        before its deadline costs no event (a timeout per task would). The check comes before
        anything else due at that instant, as a timeout set at the task's arrival would."""
        # (the delay is exact: from an arrival, or from a deadline within one deadline)
        call_later(self.env, self._check_deadlines, delay, URGENT)
        self._watching = True

    def _check_deadlines(self, _ev) -> None:
        dq, now = self._deadlines, self.env._now
        while dq:
            t, proc = dq[0]
            if not proc.is_alive:
                dq.popleft()
            elif t > now:
                self._watch(t - now)
                return
            else:
                dq.popleft()
                proc.interrupt()
        self._watching = False

    def _bound(self, truth: _Truth) -> None:
        dl = self.sc.tasks.deadline_ms / 1e3
        on_time = [n for n in self.timed if truth.alone_s(n) <= dl + 1e-12]
        self.bound_hits += bool(on_time)
        self.bound_correct += any(truth.correct(n) for n in on_time)

    @functools.cached_property
    def timed(self) -> list[str]:
        """:meth:`timed_schemes`, computed once (the oracle's bound asks per task)."""
        return self.timed_schemes()

    def _task(self, device: int, k: int, img: int, sch: _Scheme):
        env = self.env
        arrival, times, status = env._now, {}, "done"
        nbytes, n_pk = sch.sends(img)
        batch, down, prop, ran = 0, 0.0, 0.0, sch
        offload = None
        try:
            drop_at = None if self.drop_s is None else arrival + self.drop_s
            yield from self.cpus[device].compute(sch.device_s[self.group[device]], times, drop_at)
            if not sch.local:
                offload = env._now
                if self.timeout_s is None:
                    status, batch, down, prop = yield from self._remote(device, k, sch, nbytes, n_pk, times)
                else:
                    status, batch, down, prop, ran = yield from self._remote_or_fallback(
                        device, k, sch, nbytes, n_pk, times, offload, drop_at)
        except simpy.Interrupt:
            status = "dropped"
            batch = times.get("batch", 0)  # dropped after its batch ran (on the way back): it ran in one
        self._record(device, k, img, arrival, nbytes, offload, times, batch, down, prop, status, sch, ran)

    def _remote(self, device: int, k: int, sch: _Scheme, nbytes: int, n_pk: int, times: dict):
        """Upload, edge and result of an offloaded task: (status, batch, downlink s, propagation s)."""
        env = self.env
        status, batch, down, prop = "done", 0, 0.0, 0.0
        bits, ok = self.transmissions(nbytes, n_pk, device, k)
        if self.up_load is not None:
            self.up_load.change(env._now, 1)
        try:
            sent = yield from self.uplink.transmit(device, bits, times)
        finally:
            if self.up_load is not None:
                self.up_load.change(env._now, -1)
        if not sent:
            return "outage", batch, down, prop
        if not ok:
            return "lost", batch, down, prop
        yield env.timeout(self.prop_s)
        if self.edge_load is not None:
            self.edge_load.change(env._now, 1)
        try:
            batch = yield from self.edge.infer(times, sch.kind)
        finally:
            if self.edge_load is not None:
                self.edge_load.change(env._now, -1)
        if batch is None:
            return (yield from self._edge_lost(times))
        times["batch"] = batch
        yield env.timeout(self.downlink_s + self.prop_s)
        down, prop = self.downlink_s, 2 * self.prop_s
        return status, batch, down, prop

    def _edge_lost(self, times: dict):
        """The edge lost the job. No message says so: with a timeout the device waits for it (until
        interrupted); without one the task ends here, lost."""
        times["edge_fault"] = True
        if self.timeout_s is not None:
            yield self.env.event()  # never succeeds: the device's timeout ends the wait
        return "edge-fault", 0, 0.0, 0.0

    def _remote_or_fallback(self, device, k, sch, nbytes, n_pk, times, offload, drop_at):
        """:meth:`_remote` under the device's timeout; when it expires the device gives the edge up
        (its flow and job are withdrawn) and runs the fallback scheme, or drops the task."""
        env = self.env
        remote = env.process(self._guarded(self._remote(device, k, sch, nbytes, n_pk, times)))
        try:
            yield remote | env.timeout(offload + self.timeout_s - env._now)
        except simpy.Interrupt:  # the deadline drops the task: withdraw the offload too
            if remote.is_alive:
                remote.interrupt()
            raise
        if remote.triggered:
            return (*remote.value, sch)
        remote.interrupt()  # the timeout: give the edge up
        yield remote  # its flow and job are withdrawn now, at this instant, and what it sent is counted
        times["wait_result"] = env._now - offload
        if self.fallback is None:
            return "timeout", 0, 0.0, 0.0, sch
        fb = {}
        yield from self.cpus[device].compute(self.fallback.device_s[self.group[device]], fb, drop_at)
        times["fallback_wait"], times["fallback_work"] = fb["device_wait"], fb["device_work"]  # (it ran: not dropped)
        return "done", 0, 0.0, 0.0, self.fallback

    @staticmethod
    def _guarded(gen):
        try:
            return (yield from gen)
        except simpy.Interrupt:
            return None

    def transmissions(self, nbytes: int, n_pk: int, device: int, k: int) -> tuple[list[float], bool]:
        """Bits of every transmission of task ``k``'s payload (each packet with its header, resent
        as its HARQ draws say), and whether every packet got through."""
        ch = self.sc.channel
        per = ch.mtu_bytes - ch.header_bytes
        tries, ok = self.rate.attempts(n_pk, self.seed, device, k)
        if n_pk == 1:
            return [8.0 * (min(per, nbytes) + ch.header_bytes)] * tries[0], ok
        sizes = [min(per, nbytes - i * per) + ch.header_bytes for i in range(n_pk)]
        return [8.0 * s for s, n in zip(sizes, tries) for _ in range(n)], ok

    def _record(self, device, k, img, arrival, nbytes, offload, times, batch, down, prop, status, sch,
                ran=None) -> None:
        """Write task ``k``'s record as it ends now (``offload``: when it left the device, or None)."""
        env, dl = self.env, self.sc.tasks.deadline_ms
        if offload is not None and "wait_result" not in times:
            times["wait_result"] = env._now - offload
        air = int(times.get("uplink_bits", 0.0) // 8)  # bytes that went on the air, headers and resends included
        ran = ran or sch  # the scheme whose result the task got (the fallback's after a timeout)
        self.last_activity = max(self.last_activity, env._now)
        done = status == "done"
        latency = (env._now - arrival) * 1e3 if done else math.nan
        met = bool(done and latency <= dl + 1e-9)
        g = times.get
        up_fault, edge_fault = g("uplink_fault"), g("edge_fault")
        fault = ("uplink+edge" if edge_fault else "uplink") if up_fault else ("edge" if edge_fault else "")
        rec = (
            device, k, arrival * 1e3, img, self.labels[img], nbytes, air,
            g("device_wait", 0.0) * 1e3 + g("fallback_wait", 0.0) * 1e3,
            g("device_work", 0.0) * 1e3 + g("fallback_work", 0.0) * 1e3, g("uplink_wait", 0.0) * 1e3,
            g("uplink_work", 0.0) * 1e3, g("edge_wait", 0.0) * 1e3, g("edge_work", 0.0) * 1e3, batch,
            down * 1e3, prop * 1e3, env._now * 1e3 if done else math.nan, latency, dl, status, met,
            ran.correct_of[img], self.group_labels[device], sch.name, fault, ran is not sch,
        )
        meter = self.meters[device]
        held = meter is not None and meter.owner is times  # its radio tail is not known yet
        if self.feedback:
            self.policy.observe(dict(zip(RECORD_FIELDS, rec + self._energy(device, times, held))))
        if held:
            self._held[id(times)] = (device, rec, times)
        else:
            self._emit(device, rec, times)

    def _emit(self, device: int, rec: tuple, times: dict) -> None:
        self.records.append(rec + self._energy(device, times, False))

    def _energy(self, device: int, times: dict, tail_unknown: bool) -> tuple:
        """(compute, radio, tail, idle, total) joules of a task (NaN without a power model; the
        tail and total NaN while the tail is not known)."""
        m = self.power[device]
        if m is None:
            return _NO_ENERGY
        compute = m.active_w * (times.get("device_work", 0.0) + times.get("fallback_work", 0.0))
        radio = times.get("energy_radio", 0.0)
        idle = m.idle_w * times.get("wait_result", 0.0)
        if tail_unknown:
            return compute, radio, math.nan, idle, math.nan
        tail = times.get("energy_tail", 0.0)
        return compute, radio, tail, idle, compute + radio + tail + idle


class _Task:
    """One task as a chain of callbacks, one scheduled event per stage: the same steps as
    :meth:`Simulation._task` and :meth:`Simulation._remote` (the reference, which the tests hold
    equal to it) without a SimPy process's resumptions. A deadline ends it with :meth:`interrupt`,
    as it interrupts a process: the stage it is in is withdrawn at once and the task recorded."""

    __slots__ = ("sim", "device", "k", "img", "sch", "arrival", "times", "nbytes", "n_pk", "offload",
                 "is_alive", "flow", "job", "next")

    def __init__(self, sim: Simulation, device: int, k: int, img: int, sch: _Scheme) -> None:
        self.sim, self.device, self.k, self.img, self.sch = sim, device, k, img, sch
        env = sim.env
        self.arrival, self.times, self.is_alive = env._now, {}, True
        self.offload = self.flow = self.job = None
        self.nbytes, self.n_pk = sch.sends(img)
        drop_at = None if sim.drop_s is None else self.arrival + sim.drop_s
        end = sim.cpus[device].reserve(sch.device_s[sim.group[device]], self.times, drop_at)
        if end is not None:  # (None: dropped while queued, at its deadline)
            self._later(self._computed, end - self.arrival)

    def _computed(self) -> None:
        if self.sch.local:
            self._end("done")
            return
        sim, env = self.sim, self.sim.env
        self.offload = now = env._now
        bits, ok = sim.transmissions(self.nbytes, self.n_pk, self.device, self.k)
        load = sim.up_load
        if load is not None:
            load.change(now, 1)
        if isinstance(sim.uplink, RoundRobinUplink):
            self.flow = sim.uplink.submit(self.device, bits, self.times, functools.partial(self._sent, ok), True)
            return
        # Lindley's FIFO (no early leavers): the end is known now, and the propagation is taken in
        # the same event when the payload gets through
        end = sim.uplink.reserve(self.device, sum(bits), self.times)
        if load is not None:
            load.change(now if end is None else end, -1)
        if end is None:
            self._end("outage")
        elif ok:
            self._later(self._at_edge, end - now + sim.prop_s)
        else:
            self._later(functools.partial(self._end, "lost"), end - now)

    def _later(self, fn, delay: float) -> None:
        """Call ``fn()`` ``delay`` from now unless the task has ended meanwhile (a task has one
        such call pending at a time)."""
        self.next = fn
        call_later(self.sim.env, self._wake, delay)

    def _wake(self, _ev) -> None:
        if self.is_alive:
            self.next()

    def _sent(self, ok: bool) -> None:
        sim = self.sim
        sent = sim.uplink.close(self.flow)
        self.flow = None
        if sim.up_load is not None:
            sim.up_load.change(sim.env._now, -1)
        if not sent:  # the rate never allowed it
            self._end("outage")
        elif not ok:  # HARQ gave a packet up
            self._end("lost")
        else:
            self._later(self._at_edge, sim.prop_s)

    def _at_edge(self) -> None:
        sim, env, times = self.sim, self.sim.env, self.times
        if sim.edge_load is not None:
            sim.edge_load.change(env._now, 1)
        if sim.fast_edge:
            batch, edge_s = sim.edge.schedule(times, self.sch.kind)
            times["batch"] = batch
            if sim.edge_load is not None:
                sim.edge_load.change(env._now + edge_s, -1)
            if batch == 0:  # lost in an edge outage
                self._later(self._edge_lost, edge_s)
            else:
                self._later(self._returned, edge_s + sim.downlink_s + sim.prop_s)
            return
        self.job = sim.edge.submit(times, self.sch.kind, self._inferred, True)
        if self.job is None:  # refused: the edge is down
            if sim.edge_load is not None:
                sim.edge_load.change(env._now, -1)
            self._edge_lost()

    def _inferred(self) -> None:
        sim, job = self.sim, self.job
        sim.edge.leave(job)
        self.job = None
        if sim.edge_load is not None:
            sim.edge_load.change(sim.env._now, -1)
        if job.lost:
            self._edge_lost()
            return
        self.times["batch"] = job.batch
        self._later(self._returned, sim.downlink_s + sim.prop_s)

    def _edge_lost(self) -> None:
        self.times["edge_fault"] = True
        self._end("edge-fault")  # (no device timeout on this path: the task ends here, lost)

    def _returned(self) -> None:
        sim = self.sim
        self._end("done", self.times["batch"], sim.downlink_s, 2 * sim.prop_s)

    def interrupt(self) -> None:
        """The deadline drops the task: its flow or edge job is withdrawn now."""
        sim, now = self.sim, self.sim.env._now
        if self.flow is not None:
            sim.uplink.close(self.flow)
            if sim.up_load is not None:
                sim.up_load.change(now, -1)
        elif self.job is not None:
            sim.edge.leave(self.job)
            if sim.edge_load is not None:
                sim.edge_load.change(now, -1)
        self._end("dropped", self.times.get("batch", 0))

    def _end(self, status: str, batch: int = 0, down: float = 0.0, prop: float = 0.0) -> None:
        self.is_alive = False
        self.sim._record(self.device, self.k, self.img, self.arrival, self.nbytes, self.offload, self.times, batch,
                         down, prop, status, self.sch)


class _Truth:
    """What the oracle is told of one task (:class:`sim.policies.Truth`), from the simulation's state."""

    def __init__(self, sim: Simulation, device: int, k: int, img: int) -> None:
        self.sim, self.device, self.k, self.img = sim, device, k, img
        self._done: dict[str, float] = {}

    def correct(self, option: str) -> bool:
        return bool(self.sim.scheme(option).correct[self.img])

    def _upload(self, sch: _Scheme, start: float) -> float:
        """Seconds of the upload from ``start`` with this task's HARQ draws (inf if lost)."""
        sim = self.sim
        bits, ok = sim.transmissions(*sch.sends(self.img), self.device, self.k)  # (callers: offloading schemes)
        return sim.links[self.device].transfer_time(start, sum(bits)) if ok else math.inf

    def _finish(self, sch: _Scheme, dev_start: float, queues: bool) -> float:
        sim, now = self.sim, self.sim.env._now
        dev_end = dev_start + sch.device_s[sim.group[self.device]]
        if sch.local:
            return dev_end - now
        up_start = dev_end
        if queues and isinstance(sim.uplink, FifoUplink) and sim.uplink.lindley:
            up_start = max(dev_end, sim.uplink.free_at)
        up = self._upload(sch, up_start)
        at_edge = up_start + up + sim.prop_s
        if queues:
            edge_s = sim._edge_seconds(1, sch.kind)
            if isinstance(sim.edge, FifoEdge):
                at_edge = max(at_edge, min(sim.edge.free_at))
        else:  # alone: no wait, the fastest batch time this edge can give
            edge_s = min(sim._edge_seconds(b, sch.kind) for b in range(1, sim.sc.edge.batching.max_batch + 1))
        return at_edge + edge_s + sim.downlink_s + sim.prop_s - now

    def completion_s(self, option: str) -> float:
        got = self._done.get(option)
        if got is None:
            sim = self.sim
            cpu = sim.cpus[self.device]
            got = self._done[option] = self._finish(sim.scheme(option), sim.env._now + cpu.backlog_s(), True)
        return got

    def alone_s(self, option: str) -> float:
        """The task's latency with ``option`` if nothing else were in the system: a lower bound of
        its latency under any policy (see :class:`sim.policies.Oracle`)."""
        return self._finish(self.sim.scheme(option), self.sim.env._now, False)

    def shared_s(self, option: str) -> float:
        sch = self.sim.scheme(option)
        if sch.local:
            return 0.0
        return self._upload(sch, self.sim.env._now) + self.sim._edge_seconds(1, sch.kind)


def simulate(sc: Scenario, profile: Profile, scheme: str | PolicySpec | Policy, seed: int,
             lindley: bool | None = None, sink: list | None = None) -> Result:
    """Run one entry of a scenario's ``schemes`` (a scheme name or a policy) with one seed.

    Records go to a list in memory, or to ``sink`` (a ``records.ParquetSink`` streams them to
    disk); ``lindley`` forces the queue method (tests).
    """
    return Simulation(sc, profile, scheme, seed, lindley, sink).run()
