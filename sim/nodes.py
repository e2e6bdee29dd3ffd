"""Simulation entities: device CPUs, the shared uplink (FIFO or round robin), the edge server.

Every entity takes ``env`` and owns its resources; behaviour is a generator method named by a
verb. Busy time is accumulated per entity for time-weighted utilisation, kept apart from the
per-task records.
"""
from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import simpy
from simpy.core import NORMAL, URGENT

from sim.channel import Link


class Cpu:
    """One device CPU: runs a task's device stages one task at a time, FIFO.

    With ``lindley=True`` the FIFO queue is computed by Lindley's recursion, start = max(now,
    free_at), in one timeout instead of a request, a timeout and a release: the same queue, fewer
    events. A task that may be dropped says when (``drop_at``, known as it asks: its deadline), so
    the recursion stays exact: a task dropped before its start never holds the CPU, one dropped
    while running frees it at the drop. ``lindley=False`` uses a SimPy resource (tests compare both).
    """

    def __init__(self, env: simpy.Environment, lindley: bool = False) -> None:
        self.env, self.busy_s = env, 0.0
        self.res = None if lindley else simpy.Resource(env, capacity=1)  # (Lindley's needs none)
        self.lindley, self.free_at = lindley, 0.0
        self.queued_s, self.running_until = 0.0, 0.0  # work waiting, end of the task running (resource mode)
        # (start, seconds, drop_at) of droppable tasks: a list, not a deque (a deque's first block is
        # 0.5 kB: a thousand devices' idle queues would fill a core's cache)
        self.jobs: list[tuple[float, float, float]] = []

    def backlog_s(self) -> float:
        """Seconds of work the device holds now (the work of tasks queued and not dropped, and the
        rest of the running task): what it knows of its own queue when a new task arrives."""
        now = self.env._now
        if not self.lindley:
            return self.queued_s + max(0.0, self.running_until - now)
        if not self.jobs:
            return max(0.0, self.free_at - now)
        total, live = 0.0, []
        for job in self.jobs:
            if _job_end(*job) <= now:
                continue  # done or dropped: forgotten
            live.append(job)
            start, seconds, _ = job
            total += seconds if start > now else start + seconds - now
        self.jobs = live
        return total

    def compute(self, seconds: float, times: dict, drop_at: float | None = None):
        """Wait for the CPU, then work ``seconds``; writes wait and work into ``times`` (neither if
        the task is dropped before it starts)."""
        t0 = self.env._now
        if self.lindley:
            end = self.reserve(seconds, times, drop_at)
            if end is None:  # dropped while queued: the drop's interrupt ends the wait
                yield self.env.event()
                return
            yield self.env.timeout(end - t0)
            return
        self.queued_s += seconds
        started = False
        try:
            with self.res.request() as req:
                yield req
                self.queued_s -= seconds
                started = True
                times["device_wait"] = self.env._now - t0
                start = self.env._now
                self.running_until = start + seconds
                try:
                    yield self.env.timeout(seconds)
                finally:
                    self.busy_s += self.env._now - start
                    times["device_work"] = self.env._now - start
                    self.running_until = self.env._now
        finally:
            if not started:  # dropped while queued
                self.queued_s -= seconds

    def reserve(self, seconds: float, times: dict, drop_at: float | None = None) -> float | None:
        """Lindley's recursion: book ``seconds`` of work for a task asking now and return when it
        leaves the CPU (its end, or its drop while running), or None if it is dropped while queued.
        Writes wait and work into ``times`` (neither if dropped while queued)."""
        t0 = self.env._now
        start = max(t0, self.free_at)
        if drop_at is None:
            end = start + seconds
        else:
            jobs, i = self.jobs, 0
            while i < len(jobs) and _job_end(*jobs[i]) <= t0:
                i += 1
            if i:
                del jobs[:i]  # ended: forgotten (memory holds the queue, not the history)
            jobs.append((start, seconds, drop_at))
            if start >= drop_at:
                return None
            end = min(start + seconds, drop_at)
        self.free_at = end
        self.busy_s += end - start
        times["device_wait"], times["device_work"] = start - t0, end - start
        return end


def _job_end(start: float, seconds: float, drop: float) -> float:
    """When a droppable task leaves the CPU: at the end of its work or at its drop, whichever is
    first (a task that never started leaves at its drop, which is then at or before its start)."""
    return min(start + seconds, drop)


def outage_hit(link, t0: float, t1: float, times: dict) -> None:
    """Mark the task if an uplink outage fell between its request to send and its end there
    (stalling its transfer or one it waited behind)."""
    if getattr(link, "stalled", None) is not None and link.stalled(t0, t1):
        times["uplink_fault"] = True


class FifoUplink:
    """The shared uplink, one payload at a time in order of request (Lindley's recursion as for Cpu).

    ``links[d]`` is device d's channel: the payload of device d goes at d's rate.
    """

    def __init__(self, env: simpy.Environment, links: list[Link], lindley: bool = False,
                 on_air: Callable | None = None) -> None:
        self.env, self.links, self.busy_s = env, links, 0.0
        self.res = simpy.Resource(env, capacity=1)
        self.lindley, self.free_at = lindley, 0.0
        self.on_air = on_air  # on_air(device, start, end, bits, times): each transmission (energy)

    def _aired(self, device: int, start: float, end: float, bits: float, times: dict) -> None:
        if self.on_air is not None:
            self.on_air(device, start, end, bits, times)

    def transmit(self, device: int, packet_bits: list[float], times: dict):
        """Send all packets of a payload back to back over the time-varying rate."""
        t0 = self.env._now
        total = sum(packet_bits)
        link = self.links[device]
        if self.lindley:
            end = self.reserve(device, total, times)
            if end is None:
                return False
            yield self.env.timeout(end - t0)
            return True
        times["uplink_bits"] = 0.0
        if getattr(link, "stalled", None) is None:  # no outages: no flag to set
            return (yield from self._transmit(device, link, total, t0, times))
        try:
            return (yield from self._transmit(device, link, total, t0, times))
        finally:
            outage_hit(link, t0, self.env._now, times)

    def reserve(self, device: int, total: float, times: dict) -> float | None:
        """Lindley's recursion: book the link for ``total`` bits of ``device`` asking now and return
        when they are sent, or None if the rate never allows it (an outage for good: given up at
        once). Writes wait, work and ``uplink_bits`` into ``times``."""
        t0, link = self.env._now, self.links[device]
        start = max(t0, self.free_at)
        dt = link.transfer_time(start, total)
        times["uplink_wait"], times["uplink_bits"] = start - t0, 0.0
        if math.isinf(dt):
            times["uplink_work"] = 0.0
            return None
        self.free_at = start + dt
        self.busy_s += dt
        times["uplink_work"], times["uplink_bits"] = dt, total
        self._aired(device, start, start + dt, total, times)
        outage_hit(link, t0, start + dt, times)
        return self.free_at

    def _transmit(self, device: int, link: Link, total: float, t0: float, times: dict):
        with self.res.request() as req:
            yield req
            times["uplink_wait"] = self.env._now - t0
            start = self.env._now
            dt = link.transfer_time(start, total)
            if math.isinf(dt):  # the rate never allows it (outage for good): give up at once
                times["uplink_work"] = 0.0
                return False
            try:
                yield self.env.timeout(dt)
            finally:  # dropped mid-transfer: only what went out before counts as on the air
                self.busy_s += self.env._now - start
                times["uplink_work"] = self.env._now - start
                times["uplink_bits"] = total if self.env._now >= start + dt else \
                    min(total, link.bits_between(start, self.env._now))
                self._aired(device, start, self.env._now, times["uplink_bits"], times)
        return True


@dataclass(eq=False)
class _Flow:
    packets: deque
    done: Callable[[], object]  # called when the last packet is sent
    times: dict
    device: int = 0
    asked: float = 0.0
    first: float | None = None
    cancelled: bool = False
    ok: bool = True


class RoundRobinUplink:
    """The shared uplink, one packet per device in turn (a packet-level round robin).

    Only devices with a flow waiting take part: a ring of active devices in order of device index,
    so each packet costs O(1) however many devices are idle.
    """

    def __init__(self, env: simpy.Environment, links: list[Link], on_air: Callable | None = None) -> None:
        self.env, self.links, self.busy_s = env, links, 0.0
        self.on_air = on_air  # as FifoUplink's, for each packet
        self.queues: dict[int, deque[_Flow]] = {}  # the flows of each active device (only those: hot in cache)
        self.active: list[int] = []  # devices with flows, ascending
        self.turn = 0  # the device whose turn comes next
        self.serving = False  # a packet on the air, or a start due now
        self.current: tuple[_Flow, float] | None = None  # the packet on the air: its flow, its seconds

    def transmit(self, device: int, packet_bits: list[float], times: dict):
        """Queue the payload's packets behind this device's earlier flows; wait until all are sent.

        Writes wait, work and ``uplink_bits`` (the bits of every packet that went on the air; a
        packet under way when its task is dropped is sent whole) into ``times``.
        """
        done = self.env.event()
        flow = self.submit(device, packet_bits, times, done.succeed)
        try:
            yield done
        finally:
            self.close(flow)
        return flow.ok

    def submit(self, device: int, packet_bits: list[float], times: dict, done: Callable[[], object],
               last: bool = False) -> _Flow:
        """:meth:`transmit` as a callback: queue the payload and call ``done()`` when its last packet
        is sent; the caller then calls :meth:`close` (also to withdraw the flow before that).

        ``last``: the caller's step does nothing after this call (see :func:`alone_now`)."""
        flow = _Flow(deque(packet_bits), done, times, device, self.env._now)
        times["uplink_bits"] = 0.0
        q = self.queues.get(device)
        if q is None:
            q = self.queues[device] = deque()
            bisect.insort(self.active, device)
        q.append(flow)
        if not self.serving:  # the server picks its next packet at this instant, after this step
            self.serving = True
            if last and alone_now(self.env):
                self._start()  # no other flow can come at this instant: the pick is this one's
            else:
                call_later(self.env, self._start)
        return flow

    def close(self, flow: _Flow) -> bool:
        """End the flow now, sent or withdrawn: writes its wait and work; whether it got through."""
        now, times = self.env._now, flow.times
        outage_hit(self.links[flow.device], flow.asked, now, times)
        flow.cancelled = True
        first = flow.first if flow.first is not None else now
        times["uplink_wait"] = first - flow.asked
        times["uplink_work"] = now - first
        return flow.ok

    def _next(self) -> _Flow | None:
        """The head flow of the first active device at or after ``turn`` (cyclically)."""
        while self.active:
            i = bisect.bisect_left(self.active, self.turn)
            device = self.active[i % len(self.active)]
            q = self.queues[device]
            while q and q[0].cancelled:
                q.popleft()
            if q:
                self.turn = device + 1
                return q[0]
            self.active.remove(device)  # dropped flows only: the device is idle
            del self.queues[device]
        return None

    def _start(self, _ev=None) -> None:
        """Put the next packet on the air (callbacks, not a process: two process resumptions fewer
        per packet, the same order of events)."""
        flow = self._next()
        if flow is None:
            self.serving = False
            return
        now = self.env._now
        if flow.first is None:
            flow.first = now
        bits = flow.packets.popleft()
        dt = self.links[flow.device].transfer_time(now, bits)
        if math.isinf(dt):  # outage for good: this flow can never finish
            flow.ok = False
            flow.packets.clear()
            dt = 0.0
        else:
            flow.times["uplink_bits"] += bits
            if self.on_air is not None:
                self.on_air(flow.device, now, now + dt, bits, flow.times)
        self.current = (flow, dt)
        call_later(self.env, self._sent, dt)  # (as env.timeout(dt) with this callback, without its event object)

    def _sent(self, _ev) -> None:
        flow, dt = self.current
        self.busy_s += dt
        if not flow.packets and not flow.cancelled:
            q = self.queues[flow.device]  # the flow is its device's head: served heads only
            q.popleft()
            if not q:
                self.active.remove(flow.device)
                del self.queues[flow.device]
            flow.done()
        self._start()


def alone_now(env: simpy.Environment) -> bool:
    """Whether no event is due at this instant after the one being processed.

    A step whose callback calls this as the last thing it does (scheduling nothing after it) may
    then do at once what it would do in a call scheduled now, after this step: no event could
    come between, so the same things happen in the same order, and one event fewer."""
    q = env._queue
    return not q or q[0][0] > env._now


def call_later(env: simpy.Environment, fn: Callable, delay: float = 0.0, priority: int = NORMAL) -> None:
    """Call ``fn(event)`` ``delay`` from now, after the events of its priority already due then
    (an event that succeeds then, without a process to resume; ``URGENT`` goes before the
    normal ones). Scheduled as ``env.schedule`` does, as the least object ``env.step`` accepts."""
    heapq.heappush(env._queue, (env._now + delay, priority, next(env._eid), _Call([fn])))


class _Call:
    """A succeeded event with only its callbacks: what ``simpy.Environment.step`` reads of it."""

    __slots__ = ("callbacks",)
    _ok = True

    def __init__(self, callbacks: list) -> None:
        self.callbacks = callbacks


@dataclass
class Job:
    """A task at the edge: queued, then in a running batch."""

    done: Callable[[], object]  # called when its batch has run (or the edge lost it)
    submitted: float
    times: dict
    kind: object = None  # jobs batch together only with jobs of their kind (the same edge stages)
    seq: int = 0
    cancelled: bool = False
    queued: bool = True
    lost: bool = False  # lost in an edge outage
    finished: bool = False  # done called
    batch: int = field(default=0)
    run: _Run | None = None

    def finish(self) -> None:
        """Its batch has run, or the edge lost it: tell its task."""
        self.finished = True
        self.done()


@dataclass(eq=False)
class _Run:
    """A batch on a GPU from ``start`` for ``seconds``: stopped at once when every one of its jobs
    has been dropped, or lost when the edge fails (its GPU is woken with the cause)."""

    jobs: list[Job]
    gpu: _Gpu
    start: float
    seconds: float
    live: int = 0  # jobs still wanted
    stopped: bool = False

    def __post_init__(self) -> None:
        self.live = len(self.jobs)


class _Gpu:
    """One GPU of an :class:`EdgeServer`, as callbacks: waiting out a batching window or running a
    batch (an idle GPU is a count in the server, its object kept for reuse). Its one pending timer
    (window or batch end) is cancelled by moving ``token`` on; a wake-up that a process would get
    as an interrupt (a full batch, a stop) comes as an urgent call at the same instant, as SimPy
    delivers interrupts."""

    __slots__ = ("server", "token")

    def __init__(self, server: EdgeServer) -> None:
        self.server, self.token = server, 0

    def after(self, delay: float, fn: Callable, *args, priority: int = NORMAL) -> None:
        """Call ``fn(*args)`` ``delay`` from now, unless another call is set meanwhile."""
        self.token += 1
        call_later(self.server.env, _GpuCall(self, fn, args), delay, priority)


class _GpuCall:
    """A GPU's pending call ``fn(*args)``, void once its GPU has set another."""

    __slots__ = ("gpu", "token", "fn", "args")

    def __init__(self, gpu: _Gpu, fn: Callable, args: tuple) -> None:
        self.gpu, self.token, self.fn, self.args = gpu, gpu.token, fn, args

    def __call__(self, _ev) -> None:
        if self.token == self.gpu.token:
            self.fn(*self.args)


class EdgeServer:
    """GPUs serving FIFO queues, one per kind of job, with optional dynamic batching (max batch, max wait).

    Jobs of one kind run the same edge stages and only they batch together. A free GPU takes the
    kind with a full batch (``max_batch`` live jobs) whose oldest job is oldest; if no kind is
    full, the kind of the oldest job, once that job (the oldest *still queued*) has waited
    ``max_wait``; meanwhile it waits. A batch runs as one kernel for ``batch_seconds(n, kind)``.
    A dropped job leaves its queue at once; a running batch all of whose jobs were dropped is
    stopped at once (its GPU is free), one with a job still wanted runs to its end. With one kind
    this is one FIFO queue.

    Events: each GPU is a chain of callbacks (:class:`_Gpu`), no process. Idle GPUs are woken
    by the first job queued at an instant, after that step; one waiting out a batching window
    sleeps until the window ends and is woken early only when some kind fills a batch (the one
    arrival that can change its choice); a running batch sleeps until its end and is cut short
    only when stopped or lost (both wake-ups urgent, at the instant, as interrupts would be).

    Cost independent of the number of GPUs: GPUs that would look at the queues one after another
    at the same instant (idle ones woken together, or ones waiting out the same window) look in
    turn only while each takes a batch. The first that finds nothing leaves the rest idle (each
    would find the same), and the first that waits out a window takes the rest along as riders on
    its one timer (each would set the same timer).
    """

    def __init__(self, env: simpy.Environment, gpus: int, max_batch: int, max_wait_s: float,
                 batch_seconds: Callable[..., float], outages=None) -> None:
        self.env, self.max_batch, self.max_wait = env, max_batch, max_wait_s
        self.batch_seconds = batch_seconds
        self.queues: dict[object, deque[Job]] = {}
        self.live: dict[object, int] = {}  # per kind: queued jobs not dropped
        self.seq = 0
        self.busy_s, self.gpus = 0.0, gpus
        self.outages = outages if outages else None  # a sim.faults.Outages, or None
        self.runs: dict[_Run, None] = {}  # batches on the GPUs (in order of start)
        self.windowed: dict[_Gpu, int] = {}  # a GPU waiting out a batching window: GPUs riding along
        self.idle = gpus  # idle GPUs, woken by a job
        self._spare: list[_Gpu] = []  # the objects of idle GPUs, for reuse (made as needed)
        self._waking = False  # a wake-up of the idle GPUs is due at this instant
        self._job_in = env.event()  # succeeds when a job is queued (wakes _fail)
        if self.outages is not None:
            env.process(self._fail())

    def _fail(self):
        """At each outage's start: lose every queued and running job; refuse jobs until its end."""
        env = self.env
        while True:
            if not self.runs and not any(self.live.values()):  # nothing to lose: wait for a job
                self._job_in = env.event()
                yield self._job_in  # (never, once the tasks are over: the run can end)
            start, end = self.outages.next_start(env._now)
            if start == math.inf:
                return
            yield env.timeout(start - env._now)
            for kind, q in self.queues.items():
                while q:
                    job = q.popleft()
                    if not job.cancelled:
                        job.queued, job.lost = False, True
                        job.times["edge_wait"], job.times["edge_work"] = env._now - job.submitted, 0.0
                        job.finish()
                self.live[kind] = 0
            for run in list(self.runs):
                self._stop(run, "failed")
            yield env.timeout(end - env._now)

    def infer(self, times: dict, kind: object = None):
        """Queue a job and wait until its batch has run; None if the edge lost it (an outage)."""
        done = self.env.event()
        job = self.submit(times, kind, done.succeed)
        if job is None:
            return None
        try:
            yield done
        finally:
            self.leave(job)
        return None if job.lost else job.batch

    def submit(self, times: dict, kind: object, done: Callable[[], object], last: bool = False) -> Job | None:
        """:meth:`infer` as a callback: queue a job and call ``done()`` when its batch has run or the
        edge lost it (``job.lost``); the caller then calls :meth:`leave` (also to withdraw the job
        before that). None if the edge refuses it (it is down).

        ``last``: the caller's step does nothing after this call (see :func:`alone_now`)."""
        if self.outages is not None and self.outages.down_at(self.env._now) is not None:
            times["edge_wait"] = times["edge_work"] = 0.0
            return None
        self.seq += 1
        job = Job(done, self.env._now, times, kind, self.seq)
        q = self.queues.get(kind)
        if q is None:
            q = self.queues[kind] = deque()
            self.live[kind] = 0
        q.append(job)
        self.live[kind] += 1
        full = bool(self.windowed) and self.live[kind] >= self.max_batch
        if self.idle and not self._waking:  # idle GPUs look at the queues after this step
            if last and not full and self.outages is None and alone_now(self.env):
                self._wake(None)  # (no urgent wake-up or outage watch comes before it: at once)
            else:
                self._waking = True
                call_later(self.env, self._wake)
        if full:  # a full batch: no GPU waits longer
            for gpu, riders in list(self.windowed.items()):
                del self.windowed[gpu]
                gpu.after(0.0, self._look_in_turn, gpu, riders, priority=URGENT)
        if not self._job_in.triggered:
            self._job_in.succeed()
        return job

    def _stop(self, run: _Run, cause: str) -> None:
        if not run.stopped:
            run.stopped = True
            run.gpu.after(0.0, self._ended, run, cause, priority=URGENT)

    def leave(self, job: Job) -> None:
        """The job's task is done with it (its result came, or it left early: withdrawn)."""
        if job.cancelled:
            return
        job.cancelled = True
        if job.queued:
            self.live[job.kind] -= 1
        elif job.run is not None and not job.finished:
            job.run.live -= 1
            if job.run.live == 0:
                self._stop(job.run, "stop")

    def _head(self) -> Job | None:
        """The job the next batch is built around (see the class), or None if no job waits."""
        best = full = None
        for q in self.queues.values():
            while q and q[0].cancelled:
                q.popleft()
            if not q:
                continue
            h = q[0]
            if best is None or h.seq < best.seq:
                best = h
            if self.live[h.kind] >= self.max_batch and (full is None or h.seq < full.seq):
                full = h
        return full or best

    def _gpu(self) -> _Gpu:
        return self._spare.pop() if self._spare else _Gpu(self)

    def _wake(self, _ev) -> None:
        self._waking = False
        if self.idle:
            riders, self.idle = self.idle - 1, 0
            self._look_in_turn(self._gpu(), riders)

    def _window_end(self, gpu: _Gpu) -> None:
        self._look_in_turn(gpu, self.windowed.pop(gpu))

    def _look_in_turn(self, gpu: _Gpu, riders: int) -> None:
        """``gpu``, then ``riders`` more GPUs, look at the queues one after another (see the class)."""
        while True:
            state = self._look(gpu)
            if state == "run" and riders:
                riders -= 1
                gpu = self._gpu()
                continue
            if state == "window":
                self.windowed[gpu] += riders
            elif state == "idle":
                self.idle += riders
            return

    def _look(self, gpu: _Gpu) -> str:
        """What a free GPU does next: wait for a job ("idle"), wait out a batching window ("window"),
        or run a batch ("run")."""
        env = self.env
        head = self._head()
        if head is None:
            self.idle += 1
            self._spare.append(gpu)
            return "idle"
        kind = head.kind
        if self.max_batch > 1 and self.max_wait > 0 and self.live[kind] < self.max_batch:
            deadline = head.submitted + self.max_wait  # of the oldest job still queued, now
            if env._now < deadline:
                self.windowed[gpu] = 0
                gpu.after(deadline - env._now, self._window_end, gpu)
                return "window"  # (then look again: the queue may have grown, or lost its oldest job)
        batch, q = [], self.queues[kind]
        while q and len(batch) < self.max_batch:
            job = q.popleft()
            if not job.cancelled:
                job.queued = False
                self.live[kind] -= 1
                batch.append(job)
        start, dt = env._now, self.batch_seconds(len(batch), kind)
        run = _Run(batch, gpu, start, dt)
        for job in batch:
            job.times["edge_wait"] = start - job.submitted
            job.batch, job.run = len(batch), run
        self.runs[run] = None
        gpu.after(dt, self._ended, run, None)
        return "run"

    def _ended(self, run: _Run, cause: str | None) -> None:
        """The batch ends: run out, stopped (every job dropped) or cut (the edge failed)."""
        env, start = self.env, run.start
        del self.runs[run]
        self.busy_s += env._now - start
        lost = cause == "failed" and env._now < start + run.seconds  # a batch that ends as the edge fails is done
        for job in run.jobs:
            job.times["edge_work"] = env._now - start
            if not job.cancelled:
                job.lost = lost
                job.finish()
        self._look(run.gpu)


class FifoEdge:
    """GPUs serving one FIFO queue one job at a time, by Lindley's recursion (Kiefer-Wolfowitz).

    For runs where no task leaves early and the edge does not batch: a job arriving at t starts
    at max(t, the earliest time a GPU is free), the same queue as :class:`EdgeServer` with
    ``max_batch=1``, with no events of its own. :meth:`schedule` is called when the job reaches
    the edge and returns (batch size, seconds until its result leaves the edge).
    """

    def __init__(self, env: simpy.Environment, gpus: int, batch_seconds: Callable[..., float],
                 outages=None) -> None:
        self.env, self.busy_s = env, 0.0
        self.free_at = [0.0] * gpus  # a heap of the times each GPU is next free
        self.batch_seconds = batch_seconds
        self.outages = outages if outages else None

    def schedule(self, times: dict, kind: object = None) -> tuple[int, float]:
        """(batch size, seconds until the result leaves the edge); batch 0 if the edge loses the job
        (it is down now, or fails before the job is done: then the seconds until the failure).

        A job that an outage starting at s would cut holds its GPU only until s, so after the
        outage every GPU is free: the queue was lost, as :class:`EdgeServer` loses it.
        """
        t0 = self.env._now
        seconds = self.batch_seconds(1, kind)
        fail = math.inf
        if self.outages is not None:
            if self.outages.down_at(t0) is not None:
                times["edge_wait"] = times["edge_work"] = 0.0
                return 0, 0.0
            fail = self.outages.next_start(t0)[0]
        start = max(t0, heapq.heappop(self.free_at))
        if start + seconds > fail:  # cut by the outage: the GPU is free (and the job lost) at its start
            work = max(0.0, fail - start)  # (every GPU is free by the outage's start: start <= fail)
            heapq.heappush(self.free_at, fail)
            self.busy_s += work
            times["edge_wait"], times["edge_work"] = min(start, fail) - t0, work
            return 0, fail - t0
        heapq.heappush(self.free_at, start + seconds)
        self.busy_s += seconds
        times["edge_wait"], times["edge_work"] = start - t0, seconds
        return 1, start + seconds - t0


class LoadReport:
    """How many jobs a resource holds, as a device learns it ``delay`` seconds late.

    The engine adds +1 when a job enters the resource and -1 when it leaves (at a time that may
    lie in the future, as Lindley's recursion knows it at once); :meth:`at` applies every change
    up to the time asked. Times asked never go back, so changes are applied once and forgotten:
    memory holds only the jobs in flight.
    """

    def __init__(self) -> None:
        self.changes: list[tuple[float, int]] = []  # (time, +1 or -1): a heap (changes of one time apply together)
        self.value = 0

    def change(self, t: float, delta: int) -> None:
        heapq.heappush(self.changes, (t, delta))

    def at(self, t: float) -> int:
        """The count at time ``t`` (not before any time asked earlier)."""
        ch = self.changes
        while ch and ch[0][0] <= t:
            self.value += heapq.heappop(ch)[1]
        return self.value
