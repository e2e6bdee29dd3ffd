"""Run a scenario's points (sweep grid x seeds x schemes) in parallel processes, resumably.

Everything every point needs is checked first (``sim.preflight``). Each (point, seed) not yet in
the results folder's store (``sim.store``) is then simulated, every scheme in turn, and written
atomically with checksums. When all are done, ``summary.csv``, ``summary_ci.csv`` and
the records dataset ``records/`` are assembled from them. Ctrl-C or SIGTERM cancels what is pending, stops the
workers at once and keeps every finished point (:class:`Interrupted`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim import preflight, records, results, schema, store
from sim.engine import simulate
from sim.errors import ConfigError
from sim.profile import load_profile
from sim.progress import Progress
from sim.scenario import Scenario, Sweep, override


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread by the handler :func:`stop_signals` installs."""


class Interrupted(Exception):
    """A run stopped by Ctrl-C or SIGTERM; finished points are kept on disk."""

    def __init__(self, signal_name: str, kept: int, total: int, out: Path) -> None:
        self.signal_name, self.kept, self.total, self.out = signal_name, kept, total, out
        super().__init__(f"{signal_name}: {kept} of {total} points x seeds finished and kept in {out}")

    @property
    def exit_code(self) -> int:
        return 143 if self.signal_name == "SIGTERM" else 130


@dataclass(frozen=True)
class Job:
    """One (point, seed): the grid values that name it, its resolved scenario and its store id."""

    values: dict
    scenario: Scenario
    seed: int
    pid: str


def grid_points(sc: Scenario) -> list[dict[str, Any]]:
    """Every combination of the sweep grid's values (one empty point when there is no grid)."""
    keys = list(sc.sweep.grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(sc.sweep.grid[k] for k in keys))]


def points_of(sc: Scenario, sweep: bool = True) -> list[tuple[dict, Scenario]]:
    """(grid values, resolved scenario) of every point, in grid order."""
    return [(v, override(sc, v) if v else sc) for v in (grid_points(sc) if sweep else [{}])]


def jobs_of(sc: Scenario, points: list[tuple[dict, Scenario]]) -> list[Job]:
    """The (point, seed) jobs of checked points, in grid order then seed order."""
    return [Job(v, p, s, store.point_id(p, s)) for v, p in points for s in sc.seeds]


def run_point(job: Job, out: Path) -> str:
    """Simulate every scheme of one (point, seed) and store it; skip it if another process did."""
    with store.claim(out, job.pid):
        if store.load_point(out, job.pid, warn=True) is not None:
            return job.pid  # finished meanwhile by another sweep on this folder
        store.remove_temporaries(out, job.pid)
        sc, profile = job.scenario, load_profile(job.scenario.profile)
        tmp, rows = store.records_temporary(out, job.pid), []
        try:
            writer = records.open_writer(tmp)
            try:
                for arm in sc.arms:  # records stream to disk; only each run's Tally stays
                    check_stop()
                    sink = records.ParquetSink(writer, arm.label, job.seed)
                    res = simulate(sc, profile, arm, job.seed, sink=sink)
                    sink.flush()
                    rows.append({"scheme": arm.label, "seed": job.seed, **results.summarize(sink.tally, res)})
            finally:
                writer.close()
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise ConfigError("(command line)", "--out", str(tmp), f"cannot be written: {e.strerror or e}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        store.save_point(out, job.pid, job.values, rows, tmp)
    return job.pid


def worker_signals() -> None:
    """Signal handling of a worker process (points here, figure writers in sim.plot)."""
    # Ctrl-C reaches the whole process group: the parent alone handles it and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM (from the parent's stop, or sent to the group) ends a worker at once. An inherited
    # Python handler would raise wherever the worker happens to be, even inside a finalizer such
    # as ParquetWriter.__del__, which swallows the exception, prints it, and runs on. What a killed
    # worker leaves (its claim dies with it; its temporary files) the parent removes.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _execute_dask(todo: list[Job], out: Path, scheduler: str, done: Callable[[Job], None]) -> None:
    """Send the jobs to an existing Dask cluster; its workers write into the same store.

    A worker that dies mid-point has its points recomputed on another (Dask retries them; the
    point's claim dies with the worker and its temporary files are removed on the retry).
    """
    import uuid

    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ConfigError("(command line)", "--scheduler", scheduler,
                          "needs Dask: pip install 'aecnn-sim[cluster]'") from None
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as e:
        raise ConfigError("(command line)", "--scheduler", scheduler, f"no Dask scheduler answers there: {e}") from None
    run = uuid.uuid4().hex[:8]
    futures = []
    try:
        futures = [client.submit(run_point, job, out, key=f"aecnn-sim-{job.pid}-{run}", pure=False) for job in todo]
        jobs = dict(zip((f.key for f in futures), todo))
        for f in as_completed(futures):
            f.result()  # a worker's ConfigError arrives intact
            done(jobs[f.key])
            check_stop()
    except BaseException:
        with contextlib.suppress(Exception):
            client.cancel(futures, force=True)
        raise
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=5)


def _execute(todo: list[Job], out: Path, workers: int, done: Callable[[Job], None],
             scheduler: str | None = None) -> None:
    if scheduler:
        _execute_dask(todo, out.resolve(), scheduler, done)
        return
    if workers <= 1 or len(todo) <= 1:
        for job in todo:
            run_point(job, out)
            done(job)
            check_stop()
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=worker_signals)
    try:
        pending = {pool.submit(run_point, job, out): job for job in todo}
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            check_stop()
            for f in finished:
                f.result()  # a worker's ConfigError arrives intact (it pickles)
                done(pending.pop(f))
    except BaseException:
        for pid in _stop_pool(pool):
            for tmp in (out / "points").glob(f".*.{pid}.tmp"):  # what the killed worker was writing
                with contextlib.suppress(OSError):
                    tmp.unlink()
        raise
    pool.shutdown()


def _stop_pool(pool: ProcessPoolExecutor) -> list[int]:
    """Cancel what is queued and end the workers now (a point is stored by renames, so none is
    half-written); return the process ids of the ended workers."""
    # concurrent.futures has no public way to end running workers before Python 3.14
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=1.0)
            if p.is_alive():
                p.kill()
                p.join(timeout=1.0)
    return [p.pid for p in procs]


_deferred: list[int] = []  # a signal that came while a finalizer ran (see stop_signals)


def _raise_for(signum: int) -> None:
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def check_stop() -> None:
    """Raise the stop a signal asked for while it could not be raised (inside a finalizer)."""
    if _deferred:
        _raise_for(_deferred.pop())


@contextlib.contextmanager
def stop_signals(keep_ignoring: bool = False) -> Iterator[None]:
    """While inside, Ctrl-C raises KeyboardInterrupt and SIGTERM :class:`Terminated`, once.

    The first of either switches both to ignored before raising, so pressing Ctrl-C again while
    the workers are stopped interrupts nothing. On leaving, the previous handlers come back, unless
    ``keep_ignoring`` (the command line, which is about to exit) and a signal came. Nested uses
    keep the outer handlers.
    """
    if threading.current_thread() is not threading.main_thread() or \
            getattr(signal.getsignal(signal.SIGTERM), "stop_signals", False):
        yield
        return
    came: list[int] = []
    _deferred.clear()

    def on_signal(signum, frame):
        came.append(signum)
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        if frame is not None and frame.f_code.co_name == "__del__":
            # raised in a finalizer, the exception would be printed and swallowed, and the run
            # would go on: raise it at the next check_stop() instead
            _deferred.append(signum)
            return
        _raise_for(signum)

    on_signal.stop_signals = True
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, on_signal)
    try:
        yield
    finally:
        if not (came and keep_ignoring):
            for s, h in old.items():
                signal.signal(s, h)


def run_all(sc: Scenario, out: Path, workers: int = 1, sweep: bool = True, progress: bool = True,
            force: bool = False, scheduler: str | None = None) -> pd.DataFrame:
    """Run all (point, seed) pairs not yet stored, in ``workers`` processes or on the Dask cluster
    at ``scheduler``; assemble the tables.

    Raises ConfigError before any simulation when any point cannot run, and :class:`Interrupted`
    on Ctrl-C or SIGTERM (finished points stay on disk; a rerun resumes).
    """
    points = points_of(sc, sweep)
    preflight.check_all([p for _, p in points], force, workers)
    jobs = jobs_of(sc, points)
    out = Path(out)
    store.check_out(out)
    # what was simulated: with run (no sweep) the grid is not part of it
    resolved = schema.to_dict(sc if sweep else dataclasses.replace(override(sc, {}), sweep=Sweep()))
    store.write_atomic(out / "scenario.resolved.yaml", yaml.safe_dump(resolved, sort_keys=False))
    todo = [j for j in jobs if not store.is_done(out, j.pid)]
    bar = Progress(sc.name, jobs, {j.pid for j in jobs} - {j.pid for j in todo}, enabled=progress)
    try:
        with stop_signals():
            _execute(todo, out, workers, bar.update, scheduler)
    except KeyboardInterrupt as e:
        bar.close()
        kept = sum(store.is_done(out, j.pid) for j in jobs)
        raise Interrupted("SIGTERM" if isinstance(e, Terminated) else "SIGINT", kept, len(jobs), out) from None
    bar.close()
    bar.note(f"assembling the summaries of {len(jobs)} points x seeds")
    return assemble(out, jobs, list(sc.sweep.grid) if sweep else [])


def assemble(out: Path, jobs: list[Job], keys: list[str]) -> pd.DataFrame:
    """Build summary.csv and summary_ci.csv, and link the records of ``jobs`` as one dataset.

    ``records/`` is a hive-partitioned Parquet dataset (one folder level per swept key, one file
    per point and seed) whose files are hard links to the store's: no second copy on disk.
    ``results.read_records`` reads it; ``aecnn-sim export`` writes it as CSV.
    """
    rows = []
    for job in jobs:
        doc = store.load_point(out, job.pid, warn=True)
        if doc is None:
            raise ConfigError(out / "points" / f"{job.pid}.json", "(results folder)", job.pid,
                              "was damaged while the sweep ran; rerun to recompute it")
        rows += [{**job.values, **r} for r in doc["rows"]]
    summary = pd.DataFrame(rows)
    shares = [c for c in summary.columns if c.startswith("share_")]
    summary[shares] = summary[shares].fillna(0.0)  # a scheme never chosen has share 0
    with store.claim(out, "assemble"):
        store.write_atomic(out / "summary.csv", summary.to_csv(index=False))
        store.write_atomic(out / "summary_ci.csv",
                           results.with_ci(summary, keys + ["scheme"]).to_csv(index=False))
        results.link_records(out, [(job.values, job.pid) for job in jobs], keys)
    return summary
