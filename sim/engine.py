"""One simulation: a scenario, a profile, a scheme and a seed give one record per task.

Common random numbers: arrival times, the image each task draws, HARQ outcomes and the channel
come from random streams keyed by (seed, purpose, device[, task]) and never by scheme, so all
schemes of one seed see the same arrivals, images and channel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from sim.channel import Link, RateModel, make_snr_process, packets, rng_for
from sim.nodes import Cpu, EdgeServer, FifoEdge, FifoUplink, RoundRobinUplink
from sim.preflight import check_schemes
from sim.profile import Profile, SchemeSpec
from sim.records import RECORD_FIELDS  # noqa: F401  (re-exported: the record layout)
from sim.scenario import Arrival, Scenario
from sim.tables import read_arrival_trace


def arrival_times(arr: Arrival, count: int | None, duration_s: float | None, seed: int, device: int) -> np.ndarray:
    """Arrival times in seconds of one device's tasks."""
    rng = rng_for(seed, 2, device)
    limit = count if count is not None else math.inf
    if arr.process == "trace":
        t = read_arrival_trace(arr.trace)
    else:
        n = count if count is not None else None
        if arr.process == "periodic":
            p = arr.period_ms / 1e3
            n = n if n is not None else int(duration_s / p) + 2
            phase = rng.uniform(0, p) if device > 0 else 0.0
            t = phase + p * np.arange(n) + rng.uniform(0, arr.jitter_ms / 1e3, n)
        else:
            n = n if n is not None else int(duration_s * arr.rate_per_s * 1.5 + 50)
            t = np.cumsum(rng.exponential(1 / arr.rate_per_s, n))
            while duration_s is not None and t[-1] < duration_s:
                t = np.concatenate([t, t[-1] + np.cumsum(rng.exponential(1 / arr.rate_per_s, n))])
    if duration_s is not None:
        t = t[t < duration_s]
    return t[: int(min(limit, len(t)))]


@dataclass
class Result:
    """What one simulation returns: task records and time-weighted resource use."""

    records: list[tuple]  # or a records.ParquetSink, which keeps only its Tally in memory
    horizon_s: float
    busy_s: dict[str, float]
    capacity: dict[str, int]

    def utilization(self) -> dict[str, float]:
        h = max(self.horizon_s, 1e-12)
        return {k: self.busy_s[k] / (self.capacity[k] * h) for k in self.busy_s}


class Simulation:
    """Builds the nodes of a scenario for one scheme and one seed, and runs its tasks."""

    def __init__(self, sc: Scenario, profile: Profile, scheme: str, seed: int, lindley: bool | None = None,
                 sink: list | None = None) -> None:
        check_schemes(sc, profile, (scheme,))
        self.sc, self.profile, self.seed = sc, profile, seed
        self.spec: SchemeSpec = profile.schemes[scheme]
        self.env = env = simpy.Environment()
        self.link = Link(make_snr_process(sc.channel, seed), RateModel(sc.channel.rate, sc.channel.bandwidth_hz))
        # Lindley's recursion replaces SimPy resources where no task leaves a queue early
        fast = sc.tasks.on_deadline == "finish" if lindley is None else lindley
        self.cpus = [Cpu(env, fast) for _ in range(sc.devices.count)]
        ch = sc.channel
        self.uplink = (FifoUplink(env, self.link, fast) if ch.sharing == "fifo"
                       else RoundRobinUplink(env, self.link, sc.devices.count))
        e = sc.edge
        self.edge_hw, self.dev_hw = e.hardware, sc.devices.hardware
        self._edge_cache: dict[int, float] = {}
        # without early leavers or batching, the edge queue is Lindley's too: one event per task there
        self.fast_edge = fast and e.batching.max_batch == 1
        self.edge = FifoEdge(env, e.gpus, self._edge_seconds) if self.fast_edge else \
            EdgeServer(env, e.gpus, e.batching.max_batch, e.batching.max_wait_ms / 1e3, self._edge_seconds)
        self.prop_in_uplink = fast and ch.sharing == "fifo"  # the Lindley uplink adds propagation to its wait
        self.device_s = profile.stage_time_ms(self.spec.device_stages, self.dev_hw, 1) / 1e3 / sc.devices.speed
        self.downlink_s = ch.downlink.result_bytes * 8 / ch.downlink.rate_bps
        self.prop_s = ch.propagation_ms / 1e3
        self.records = [] if sink is None else sink
        self.last_activity = 0.0

    def _edge_seconds(self, batch: int) -> float:
        t = self._edge_cache.get(batch)
        if t is None:
            t = self.profile.stage_time_ms(self.spec.edge_stages, self.edge_hw, batch) / 1e3 / self.sc.edge.speed
            self._edge_cache[batch] = t
        return t

    def run(self) -> Result:
        sc, t = self.sc, self.sc.tasks
        for d in range(sc.devices.count):
            times = arrival_times(t.arrival, t.count, t.duration_s, self.seed, d)
            images = rng_for(self.seed, 3, d).integers(0, self.profile.n_samples, len(times))
            self.env.process(self._source(d, times, images))
        self.env.run()
        horizon = self.last_activity
        busy = {"device": sum(c.busy_s for c in self.cpus), "uplink": self.uplink.busy_s, "edge": self.edge.busy_s}
        cap = {"device": sc.devices.count, "uplink": 1, "edge": sc.edge.gpus}
        return Result(self.records, horizon, busy, cap)

    def _source(self, device: int, times: np.ndarray, images: np.ndarray):
        env = self.env
        for k, (ta, img) in enumerate(zip(times, images)):
            if ta > env.now:
                yield env.timeout(ta - env.now)
            proc = env.process(self._task(device, k, int(img)))
            if self.sc.tasks.on_deadline == "drop":
                env.timeout(self.sc.tasks.deadline_ms / 1e3).callbacks.append(
                    lambda _ev, p=proc: p.interrupt("deadline") if p.is_alive else None)

    def _task(self, device: int, k: int, img: int):
        env, spec, ch = self.env, self.spec, self.sc.channel
        arrival, times, status = env.now, {}, "done"
        nbytes = int(spec.payload_bytes[img]) if spec.kind != "local" else 0
        n_pk = packets(nbytes, ch)[0] if spec.kind != "local" else 0
        batch, down, prop = 0, 0.0, 0.0
        try:
            yield from self.cpus[device].compute(self.device_s, times)
            if spec.kind != "local":
                per = ch.mtu_bytes - ch.header_bytes
                sizes = [min(per, nbytes - i * per) + ch.header_bytes for i in range(n_pk)]
                tries, ok = self.link.rate.attempts(n_pk, self.seed, device, k)
                bits = [8.0 * s for s, n in zip(sizes, tries) for _ in range(n)]
                merged = self.prop_in_uplink and ok
                sent = yield from (self.uplink.transmit(device, bits, times, self.prop_s) if merged
                                   else self.uplink.transmit(device, bits, times))
                if not sent:
                    status = "outage"
                elif not ok:
                    status = "lost"
                else:
                    if not merged:
                        yield env.timeout(self.prop_s)
                    if self.fast_edge:
                        batch, edge_s = self.edge.schedule(times)
                        yield env.timeout(edge_s + self.downlink_s + self.prop_s)
                    else:
                        batch = yield from self.edge.infer(times)
                        yield env.timeout(self.downlink_s + self.prop_s)
                    down, prop = self.downlink_s, 2 * self.prop_s
        except simpy.Interrupt:
            status = "dropped"
        air = int(times.get("uplink_bits", 0.0) // 8)  # bytes that went on the air, headers and resends included
        self._record(device, k, img, arrival, nbytes, air, times, batch, down, prop, status)

    def _record(self, device, k, img, arrival, nbytes, air, times, batch, down, prop, status) -> None:
        env, dl = self.env, self.sc.tasks.deadline_ms
        self.last_activity = max(self.last_activity, env.now)
        done = status == "done"
        latency = (env.now - arrival) * 1e3 if done else math.nan
        met = bool(done and latency <= dl + 1e-9)
        ms = {k2: v * 1e3 for k2, v in times.items()}
        self.records.append((
            device, k, arrival * 1e3, img, int(self.profile.labels[img]), nbytes, air,
            ms.get("device_wait", 0.0), ms.get("device_work", 0.0), ms.get("uplink_wait", 0.0),
            ms.get("uplink_work", 0.0), ms.get("edge_wait", 0.0), ms.get("edge_work", 0.0), batch,
            down * 1e3, prop * 1e3, env.now * 1e3 if done else math.nan, latency, dl, status, met,
            bool(self.spec.correct[img]),
        ))


def simulate(sc: Scenario, profile: Profile, scheme: str, seed: int, lindley: bool | None = None,
             sink: list | None = None) -> Result:
    """Run one scheme of a scenario with one seed.

    Records go to a list in memory, or to ``sink`` (a ``records.ParquetSink`` streams them to
    disk); ``lindley`` forces the queue method (tests).
    """
    return Simulation(sc, profile, scheme, seed, lindley, sink).run()
