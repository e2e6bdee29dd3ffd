"""Faults: outage schedules of the edge and the uplink, and a link that carries nothing in an outage.

An outage schedule is the union of fixed windows and, for the edge, a random alternation of up
times (exponential, mean ``mtbf_s``) and repair times (exponential, mean ``mttr_s``) starting up at
time 0. The random one is drawn from a stream keyed by the seed alone, so every scheme of a seed
meets the same outages (common random numbers), and it is drawn lazily, as far as the run needs.
"""
from __future__ import annotations

import bisect
import math

from sim.channel import rng_for

EDGE_STREAM = 7  # rng_for(seed, EDGE_STREAM): the edge's random failures


class Outages:
    """Down intervals [start, end) in seconds, sorted and disjoint."""

    def __init__(self, windows=(), mtbf_s: float | None = None, mttr_s: float | None = None,
                 seed: int = 0) -> None:
        self.windows = sorted((float(a), float(b)) for a, b in windows)
        self.mtbf, self.mttr = mtbf_s, mttr_s
        self._rng = rng_for(seed, EDGE_STREAM) if mtbf_s else None
        self._random: list[tuple[float, float]] = []
        self._t = 0.0  # the random process is drawn up to here
        self._covered = -1.0
        self.starts: list[float] = []
        self.ends: list[float] = []
        self._extend(0.0)

    def __bool__(self) -> bool:
        return bool(self.windows) or self._rng is not None

    def _extend(self, t: float) -> None:
        """Make sure the merged schedule is complete up to time ``t``."""
        if t <= self._covered:
            return
        if self._rng is not None:
            horizon = max(t * 2, self._t + 10 * (self.mtbf + self.mttr))
            while self._t <= horizon:
                up = float(self._rng.exponential(self.mtbf))
                down = float(self._rng.exponential(self.mttr))
                self._random.append((self._t + up, self._t + up + down))
                self._t += up + down
            self._covered = self._random[-1][0]  # nothing random is unknown before the next failure
        else:
            self._covered = math.inf
        merged: list[list[float]] = []
        for a, b in sorted(self.windows + self._random):
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def down_at(self, t: float) -> float | None:
        """The end of the outage under way at ``t``, or None if up."""
        self._extend(t)
        i = bisect.bisect_right(self.starts, t) - 1
        return self.ends[i] if i >= 0 and t < self.ends[i] else None

    def next_start(self, t: float) -> tuple[float, float]:
        """The first outage that starts after ``t``: (start, end), or (inf, inf)."""
        while True:
            i = bisect.bisect_right(self.starts, t)
            if i < len(self.starts) and self.starts[i] <= self._covered:
                return self.starts[i], self.ends[i]
            if self._covered == math.inf:
                return math.inf, math.inf
            self._extend(max(self._covered, t) * 2 + 1.0)

    def down_time(self, t0: float, t1: float) -> float:
        """Seconds of outage within [t0, t1]."""
        self._extend(t1)
        total = 0.0
        for a, b in zip(self.starts, self.ends):
            if a >= t1:
                break
            total += max(0.0, min(b, t1) - max(a, t0))
        return total


class FaultyLink:
    """A :class:`sim.channel.Link` that carries nothing while ``outages`` says the uplink is down:
    a transfer under way stalls and goes on when the outage ends."""

    def __init__(self, link, outages: Outages) -> None:
        self.link, self.outages = link, outages
        self.snr, self.rate = link.snr, link.rate

    def transfer_time(self, t0: float, bits: float) -> float:
        t, left = t0, float(bits)
        while True:
            end = self.outages.down_at(t)
            if end is not None:
                t = end
            start, _ = self.outages.next_start(t)
            dt = self.link.transfer_time(t, left)
            if t + dt <= start:
                return t + dt - t0
            left -= self.link.bits_between(t, start)
            t = start
            if left <= 0:  # ends exactly at the outage (rounding)
                return start - t0

    def bits_between(self, t0: float, t1: float) -> float:
        total, t = 0.0, t0
        while t < t1:
            end = self.outages.down_at(t)
            if end is not None:
                t = end
                continue
            start, _ = self.outages.next_start(t)
            stop = min(start, t1)
            total += self.link.bits_between(t, stop)
            t = stop
        return total

    def stalled(self, t0: float, t1: float) -> bool:
        """Whether an outage overlaps the transfer [t0, t1]."""
        return self.outages.down_time(t0, t1) > 0
