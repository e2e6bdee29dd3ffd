"""Per-task decisions: at each task's arrival a policy chooses the scheme the task runs.

A policy is a class with ``choose(obs) -> scheme name``; it is built once per simulation with a
:class:`Context` (what the device knows from the profile and the scenario) and sees, per task,
an :class:`Observation` (what the device can know at that moment, never the future). Built-in
policies are registered by name (:data:`REGISTRY`); a scenario names a user's own class as
``module:Class`` (docs/policies.md gives the interface and an example).

- ``fixed``: one scheme for every task (a plain scheme name in ``schemes`` means this);
- ``snr-threshold``: a table of SNR ranges to schemes (Edgent-style);
- ``estimate``: predicts each option's completion time from the observation and the profile and
  picks the most accurate option predicted to meet the deadline, else the fastest
  (Neurosurgeon-style);
- ``oracle``: clairvoyant (it is handed a :class:`Truth`): knows the realised channel, the queues
  now, the HARQ outcome of every packet and whether each scheme classifies this very image
  correctly. See :class:`Oracle` for what it knows and for the bound it reports.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Protocol

from sim.errors import ConfigError
from sim.scenario import PolicySpec


@dataclass(frozen=True)
class Option:
    """What the profile says of one scheme, as a device can know it before a task runs."""

    name: str
    kind: str  # local, offload or split
    accuracy: float  # share of the profile's test images it classifies correctly
    mean_bytes: float  # mean payload over the profile's test images
    air_bits: float  # mean bits on the air per task, headers included, one transmission each
    device_s: tuple[float, ...]  # device time of its device stages, per device group
    edge_s: float  # edge time of its edge stages at batch 1 (0 for local)


@dataclass(frozen=True)
class Observation:
    """What a device knows when a task arrives.

    ``snr_db`` is the SNR of its own channel at ``snr_time_s`` (``snr_age_ms`` before now) plus
    a Gaussian error of ``snr_error_db``; ``uplink_load`` and ``edge_load`` are the payloads in
    the uplink and the jobs at the edge ``load_delay_ms`` ago (None unless the policy asks for
    them). ``queue_s`` is the work its own CPU holds now.
    """

    time_s: float
    device: int
    group: int
    task: int
    deadline_s: float
    queue_s: float
    snr_db: float
    snr_time_s: float
    mean_snr_db: float = 0.0  # the device's long-run mean SNR (its group's): what its history tells it
    uplink_load: int | None = None
    edge_load: int | None = None
    truth: Truth | None = None  # only for clairvoyant policies


class Truth(Protocol):
    """What only a clairvoyant policy is told about the task being decided."""

    def completion_s(self, option: str) -> float:
        """Seconds from now until the task would complete with ``option``, given the queues now and
        the realised channel and HARQ outcomes (inf if its upload would be lost)."""

    def correct(self, option: str) -> bool:
        """Whether ``option`` classifies this task's image correctly."""

    def shared_s(self, option: str) -> float:
        """Seconds of uplink and edge the task would occupy with ``option``."""


@dataclass
class Context:
    """What a policy is built with: its entry in ``schemes``, its options and what the device
    knows of them, and the scenario's rate model and fixed delays."""

    spec: PolicySpec
    options: tuple[str, ...]
    info: dict[str, Option]
    deadline_s: float
    max_batch: int
    downlink_s: float  # result transfer, after the edge
    propagation_s: float  # one way
    mean_tries: float  # mean transmissions per packet (HARQ); 1 without it
    rate_bps: Any  # snr_db -> bit/s of the rate model
    seed: int
    power: tuple = ()  # per device group: its sim.power.DevicePower, or None
    interarrival_s: tuple = ()  # per device group: mean time between its tasks (inf if unknown)

    @property
    def params(self) -> dict:
        return dict(self.spec.params)


class Policy:
    """Base class of policies: ``choose`` returns one of ``ctx.options`` for each task.

    ``clairvoyant = True`` makes the engine hand the observation a :class:`Truth` (the oracle);
    ``wants_load = True`` asks for the uplink and edge load (also when the spec names a delay).
    ``observe(record)`` is called with every finished task's record (a dict), for learning.
    """

    clairvoyant = False
    wants_load = False

    def __init__(self, ctx: Context | None = None) -> None:
        self.ctx = ctx  # None for an object handed to the engine: it builds the context

    def choose(self, obs: Observation) -> str:
        raise NotImplementedError

    def observe(self, record: dict) -> None:
        pass


class Fixed(Policy):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.scheme = ctx.spec.scheme

    def choose(self, obs: Observation) -> str:
        return self.scheme


class SnrThreshold(Policy):
    """The scheme of the last row whose ``from_db`` is at or below the observed SNR (the first
    row's scheme below every row)."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.rows = [(r.from_db, r.scheme) for r in ctx.spec.thresholds]

    def choose(self, obs: Observation) -> str:
        pick = self.rows[0][1]
        for lo, scheme in self.rows:
            if obs.snr_db >= lo:
                pick = scheme
        return pick


def predict_s(ctx: Context, name: str, obs: Observation) -> float:
    """The ``estimate`` policy's prediction of a task's latency with option ``name``.

    Its own queue and device time, then (offloading) its mean bits on the air times the mean HARQ
    transmissions, at the lower of the rates of the observed SNR and of its mean SNR (a fade
    seen now may last; a peak seen now will not last through a long transfer); behind each
    reported uplink payload as long as its own; propagation; behind the reported edge jobs in
    batches of ``max_batch``; its edge time at batch 1; the downlink and propagation back.
    Unknown loads count as empty.
    """
    o = ctx.info[name]
    t = obs.queue_s + o.device_s[obs.group]
    if o.kind == "local":
        return t
    rate = min(ctx.rate_bps(obs.snr_db), ctx.rate_bps(obs.mean_snr_db))
    if rate <= 0:
        return math.inf
    up = o.air_bits * ctx.mean_tries / rate
    edge_wait = math.ceil((obs.edge_load or 0) / ctx.max_batch) * o.edge_s
    return (t + (1 + (obs.uplink_load or 0)) * up + ctx.propagation_s + edge_wait + o.edge_s
            + ctx.downlink_s + ctx.propagation_s)


def predict_energy_j(ctx: Context, name: str, obs: Observation, latency_s: float) -> float:
    """The ``estimate`` policy's prediction of a task's energy with option ``name`` (sim/power.py's
    terms): its stages at the board's active power; offloading, its mean bits on the air (with
    the mean HARQ transmissions) at the radio's power for the rate it predicts, the radio's tail
    until the device's next task is due (at most the tail's length: the next task is assumed to
    transmit too), and the board's idle power while it waits for the result (``latency_s`` less
    its own queue and stages). The promotion is left out: whether the radio is idle is not known.
    """
    m = ctx.power[obs.group]
    o = ctx.info[name]
    e = m.active_w * o.device_s[obs.group]
    if o.kind == "local":
        return e
    rate = min(ctx.rate_bps(obs.snr_db), ctx.rate_bps(obs.mean_snr_db))
    if rate <= 0:
        return math.inf
    bits = o.air_bits * ctx.mean_tries
    e += m.radio.transmit_j(bits, bits / rate) + m.radio.tail_j(ctx.interarrival_s[obs.group])
    return e + m.idle_w * max(0.0, latency_s - obs.queue_s - o.device_s[obs.group])


class Estimate(Policy):
    """The most accurate option predicted (:func:`predict_s`) to meet the deadline, else the fastest.

    Accuracies within ``tolerance_pct`` points of the best on-time option's count as equal and
    the fastest of those wins: the profile measures accuracy on a finite test set (on 10,000
    images a 95% interval is about +-0.6 points), and a faster option leaves more slack against
    what the prediction cannot see (fading during the transfer, later tasks queued behind this
    one). ``tolerance_pct: 0`` is the plain rule.

    With ``objective: energy`` the least energy (:func:`predict_energy_j`) wins among those
    on-time options instead of the fastest: the least energy subject to the deadline, at an
    accuracy within ``tolerance_pct`` of the best on-time one (``tolerance_pct: 100`` drops
    accuracy from the choice). With no option on time it is the fastest, as with accuracy.
    """

    def choose(self, obs: Observation) -> str:
        ctx = self.ctx
        pred = {n: predict_s(ctx, n, obs) for n in ctx.options}
        on_time = [n for n in ctx.options if pred[n] <= obs.deadline_s]
        if on_time:
            best = max(ctx.info[n].accuracy for n in on_time)
            tol = ctx.spec.tolerance_pct / 100 + 1e-12
            pool = [n for n in on_time if ctx.info[n].accuracy >= best - tol]
            if ctx.spec.objective == "energy":
                return min(pool, key=lambda n: (predict_energy_j(ctx, n, obs, pred[n]), pred[n]))
            return min(pool, key=lambda n: pred[n])
        return min(ctx.options, key=lambda n: pred[n])


class Oracle(Policy):
    """Clairvoyant: for this task it knows each option's completion under the queues now and the
    realised channel and HARQ draws, and whether each option classifies its image correctly.

    It picks, among the options that are correct and complete in time, the one that occupies the
    uplink and edge least (local first), so as to leave the shared resources to others; failing
    that an on-time option, failing that the fastest. Its completion times ignore tasks that
    arrive later but overtake it (another device's upload queued while this one computes), so a
    choice can still miss.

    It is the envelope in the figures through its *bound* (``hit_bound``, ``acc_bound`` of its
    summary rows), which no policy can beat: a task can be on time and correct with some scheme
    only if that scheme, alone in the system (no waiting anywhere, the fastest edge batch time),
    would be on time with its realised channel and HARQ draws, and is correct on the image.
    Waiting only delays, a transfer that starts later or shares the uplink ends no earlier over
    the same channel, and every policy meets the same arrivals, images and channel.
    """

    clairvoyant = True

    def choose(self, obs: Observation) -> str:
        truth = obs.truth
        done = {n: truth.completion_s(n) for n in self.ctx.options}
        on_time = [n for n in self.ctx.options if done[n] <= obs.deadline_s]
        good = [n for n in on_time if truth.correct(n)]
        pool = good or on_time
        if pool:
            return min(pool, key=lambda n: (truth.shared_s(n), done[n]))
        return min(self.ctx.options, key=lambda n: done[n])


REGISTRY: dict[str, type[Policy]] = {
    "fixed": Fixed, "snr-threshold": SnrThreshold, "estimate": Estimate, "oracle": Oracle,
}


def register(name: str, cls: type[Policy]) -> None:
    """Make ``cls`` available to scenarios as ``policy: name``."""
    REGISTRY[name] = cls


def policy_class(spec: PolicySpec, source: str = "(scenario)", key: str = "schemes") -> type[Policy]:
    """The class an entry names: a registered name or ``module:Class`` (imported here)."""
    if spec.policy in REGISTRY:
        return REGISTRY[spec.policy]
    mod, _, cls = spec.policy.partition(":")
    try:
        obj = getattr(importlib.import_module(mod), cls)
    except ImportError as e:
        raise ConfigError(source, f"{key}.policy", spec.policy, f"cannot import module {mod}: {e}") from None
    except AttributeError:
        raise ConfigError(source, f"{key}.policy", spec.policy, f"module {mod} has no {cls}") from None
    if not (isinstance(obj, type) and callable(getattr(obj, "choose", None))):
        raise ConfigError(source, f"{key}.policy", spec.policy, "must be a class with a choose(obs) method")
    if getattr(obj, "choose", None) is Policy.choose:
        raise ConfigError(source, f"{key}.policy", spec.policy,
                          "does not implement choose(obs); subclass sim.policies.Policy and define it")
    return obj
