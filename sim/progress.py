"""Progress of a sweep that tells the truth: weighted by each point's work, with the point in progress.

On a terminal, a tqdm bar counts simulated tasks (tasks x devices x schemes of each point, as
``preflight.estimate`` reckons them), so its rate and ETA follow the work, not the number of
points. Elsewhere (batch jobs, CI) a plain line every ``every_s`` seconds says the same.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from sim import preflight


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


EVERY_S = 5.0  # seconds between plain progress lines; a run shorter than this prints none


def worth_a_line(started: float, stream=None) -> bool:
    """Whether a step that begins now should say so: on a terminal always, elsewhere once the run
    (begun at ``started``, ``time.monotonic()``) has lasted a plain line's period."""
    stream = stream or sys.stderr
    return getattr(stream, "isatty", lambda: False)() or time.monotonic() - started >= EVERY_S


class Progress:
    """Weighted progress over jobs (objects with ``scenario``, ``values``, ``seed``, ``pid``)."""

    def __init__(self, name: str, jobs: Sequence, done: set[str], enabled: bool = True,
                 every_s: float | None = None, stream=None) -> None:
        every_s = EVERY_S if every_s is None else every_s
        self.stream = stream or sys.stderr
        cache: dict[int, float] = {}
        self.weight = {}
        for j in jobs:
            key = id(j.scenario)
            if key not in cache:
                cache[key] = max(preflight.estimate(j.scenario).tasks, 1.0) * len(j.scenario.schemes)
            self.weight[j.pid] = cache[key]
        self.total = sum(self.weight.values())
        self.done_w = sum(self.weight[p] for p in done if p in self.weight)
        self.start_w, self.t0 = self.done_w, time.monotonic()
        self.last, self.lines = self.t0, 0  # the first plain line comes after every_s: short runs stay quiet
        self.name, self.every_s, self.enabled = name, every_s, enabled
        self.points, self.points_done = len(jobs), len(done & set(self.weight))
        self.pending = [j for j in jobs if j.pid not in done]
        self.bar = None
        if enabled and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.done_w, unit="task", unit_scale=True, file=self.stream,
                            desc=f"{name}: {self.points_done}/{self.points} points", smoothing=0.1)
        self._show_running()

    def _running(self) -> str:
        if not self.pending:
            return ""
        j = self.pending[0]
        values = ", ".join(f"{k}={v}" for k, v in j.values.items()) or "base point"
        return f"{values}, seed {j.seed}"

    def _show_running(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(self._running(), refresh=False)

    def update(self, job) -> None:
        """``job`` finished."""
        self.done_w += self.weight[job.pid]
        self.points_done += 1
        self.pending = [j for j in self.pending if j.pid != job.pid]
        if self.bar is not None:
            self.bar.set_description(f"{self.name}: {self.points_done}/{self.points} points", refresh=False)
            self._show_running()
            self.bar.update(self.weight[job.pid])
        elif self.enabled and (time.monotonic() - self.last >= self.every_s or (not self.pending and self.lines)):
            self.line()

    def note(self, message: str) -> None:
        """A line about the work after the points (assembly), where progress has been shown."""
        if self.enabled and (self.bar is not None or self.lines):
            print(f"{self.name}: {message}", file=self.stream, flush=True)

    def line(self) -> None:
        """One plain progress line."""
        self.last, self.lines = time.monotonic(), self.lines + 1
        elapsed, share = self.last - self.t0, self.done_w / self.total if self.total else 1.0
        rate = (self.done_w - self.start_w) / elapsed if elapsed > 0 else 0.0
        eta = _fmt((self.total - self.done_w) / rate) if rate > 0 else "?"
        running = f"; next: {self._running()}" if self.pending else ""
        print(f"{self.name}: {self.points_done}/{self.points} points, {share:.0%} of the work, "
              f"{_fmt(elapsed)} elapsed, ETA {eta}{running}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
