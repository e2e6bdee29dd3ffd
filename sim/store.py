"""The results folder's point store: one checksummed file pair per finished (point, seed).

A point is identified by what determines it: its resolved parameters (every scenario key but the
name, seeds and sweep), its seed, and the content of the profile and trace files it reads, never
by their paths or by the rest of the scenario. Adding seeds or grid values extends a finished
sweep; another spelling of a path, or a run from another directory, resumes it; a different
scenario's points have other ids and are never read.

Layout of ``<out>/points``: ``<id>.records.parquet`` (the task records) and ``<id>.json`` (the summary
rows, the records file's sha256, and a sha256 of the JSON itself), written in that order, each
atomically. A point whose files are missing, truncated or do not match their checksums is
reported in one line and recomputed. ``<out>/.locks/<id>.lock`` is the claim on a point while it
is computed (``flock``: released by the kernel when its holder dies, so a crash never leaves it
stuck); two sweeps on one folder therefore never compute the same point twice.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from sim import schema
from sim.errors import ConfigError
from sim.fileio import write_atomic  # noqa: F401  (re-exported: the store writes through it)
from sim.scenario import PATH_KEYS, Scenario

RECORDS = ".records.parquet"


def check_out(out: Path) -> None:
    """Fail early, in one line, where the results folder cannot be used."""
    for p in [out, *out.parents]:
        if p.exists() and not p.is_dir():
            problem = "is a file" if p == out else f"lies under {p}, which is a file"
            raise ConfigError("(command line)", "--out", str(out), f"{problem}; give a folder")
        if p.exists():
            break
    try:
        (out / "points").mkdir(parents=True, exist_ok=True)
        (out / ".locks").mkdir(exist_ok=True)
    except OSError as e:
        raise ConfigError("(command line)", "--out", str(out), f"cannot be created: {e.strerror or e}") from None
    if not os.access(out / "points", os.W_OK | os.X_OK):
        raise ConfigError("(command line)", "--out", str(out), "is not writable")


@functools.lru_cache(maxsize=64)
def _file_hash(path: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_hash(path: str | Path) -> str:
    """sha256 of a file's bytes (cached per process while size and mtime stay)."""
    st = os.stat(path)
    return _file_hash(str(path), (st.st_mtime_ns, st.st_size))


def identity(sc: Scenario, seed: int) -> dict[str, Any]:
    """What determines a point's results: resolved parameters, seed, and contents of the files read."""
    d = schema.to_dict(sc)
    for k in ("name", "seeds", "sweep", "source"):
        d.pop(k, None)
    for dotted in PATH_KEYS:
        *parents, leaf = dotted.split(".")
        nodes = [d]
        for p in parents:  # a list (device groups) holds one node per entry
            nodes = [n.get(p) for n in nodes if isinstance(n, dict)]
            nodes = [x for n in nodes for x in (n if isinstance(n, list) else [n])]
        for node in nodes:
            path = node.get(leaf) if isinstance(node, dict) else None
            if path is None:
                continue
            if dotted == "profile":
                node[leaf] = {"profile.yaml": file_hash(Path(path, "profile.yaml")),
                              "samples.csv": file_hash(Path(path, "samples.csv"))}
            else:
                node[leaf] = file_hash(path)
    from sim.power import BUILTIN
    from sim.scenario import power_models, preset_files

    if any(m is not None for m in power_models(sc)):  # the preset files were read too
        d["energy"]["preset_files"] = [file_hash(f) for f in (str(BUILTIN), *preset_files(sc))]
    return {"scenario": d, "seed": seed, "format": 4}  # 4: records carry energy and faults


def point_id(sc: Scenario, seed: int) -> str:
    """The point's file name: its seed and a hash of :func:`identity` (the same however it was reached)."""
    h = hashlib.sha256(json.dumps(identity(sc, seed), sort_keys=True, default=str).encode()).hexdigest()[:20]
    return f"seed{seed}-{h}"


def records_temporary(out: Path, pid: str) -> Path:
    """Where a point's records are written before :func:`save_point` moves them into place."""
    return out / "points" / f".{pid}{RECORDS}.{os.getpid()}.tmp"


def save_point(out: Path, pid: str, values: dict, rows: list[dict], records_tmp: Path) -> None:
    """Move a point's records into place, then write its summary with both checksums (the JSON
    last: it marks the point done). ``values`` (the grid values it was first reached by) are there
    for people reading the folder."""
    final = out / "points" / f"{pid}{RECORDS}"
    try:
        os.replace(records_tmp, final)
    except OSError as e:
        with contextlib.suppress(OSError):
            records_tmp.unlink()
        raise ConfigError("(command line)", "--out", str(final), f"cannot be written: {e.strerror or e}") from None
    body = {"id": pid, "values": values, "rows": rows, "records_sha256": file_hash(final)}
    text = json.dumps(body, sort_keys=True, default=float)
    doc = {**body, "sha256": hashlib.sha256(text.encode()).hexdigest()}
    write_atomic(out / "points" / f"{pid}.json", json.dumps(doc, sort_keys=True, default=float))


def load_point(out: Path, pid: str, warn: bool = False) -> dict | None:
    """A finished point's JSON, or None when it is missing, truncated or fails its checksums.

    With ``warn`` (the caller holds the point's claim), a damaged point is reported in one line on
    stderr and its files are removed, so that it is recomputed.
    """
    path = out / "points" / f"{pid}.json"
    if not path.exists():
        return None
    problem = None
    try:
        doc = json.loads(path.read_text())
        claimed = doc.pop("sha256")
        text = json.dumps(doc, sort_keys=True, default=float)
        rec = out / "points" / f"{pid}{RECORDS}"
        if hashlib.sha256(text.encode()).hexdigest() != claimed:
            problem = "its checksum does not match"
        elif not rec.exists() or file_hash(rec) != doc["records_sha256"]:
            problem = f"{rec.name} is missing or does not match its checksum"
    except (OSError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        problem = "it is truncated or not valid JSON"
    if problem is None:
        return doc
    if warn:
        print(f"aecnn-sim: warning: {path}: damaged point ({problem}); recomputing it", file=sys.stderr)
        for p in (path, out / "points" / f"{pid}{RECORDS}"):
            with contextlib.suppress(OSError):
                p.unlink()
    return None


def is_done(out: Path, pid: str) -> bool:
    """Whether a point is stored whole (checksums verified); says nothing and removes nothing."""
    return load_point(out, pid) is not None


@contextlib.contextmanager
def claim(out: Path, name: str):
    """Hold an exclusive ``flock`` on ``<out>/.locks/<name>.lock``; wait while another process holds it."""
    path = out / ".locks" / f"{name}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError("(command line)", "--out", str(out), f"cannot be locked: {e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            fcntl.flock(fd, fcntl.LOCK_EX)  # another sweep computes this point: wait for it
        yield
    finally:
        os.close(fd)


def remove_temporaries(out: Path, pid: str) -> None:
    """Temporary files a killed writer of this point left (call while holding its claim)."""
    for p in (out / "points").glob(f".{pid}*.tmp"):
        with contextlib.suppress(OSError):
            p.unlink()
