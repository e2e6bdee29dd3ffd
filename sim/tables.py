"""Strict reading of the CSV files users hand the simulator: arrival traces, SNR traces, samples.

Every problem (unreadable, not UTF-8, empty, another delimiter, a missing column, a value that is
not a number, NaN, infinite, fractional where integers are meant, out of range, unsorted) raises
ConfigError naming the file, the column (with the row where one is to blame) and the value.
"""
from __future__ import annotations

import functools
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import ConfigError


def read_csv(path: str | Path, key: str, required: tuple[str, ...], whole: bool = False) -> pd.DataFrame:
    """Read a comma-separated file with a header naming at least ``required``.

    ``key`` names the setting that pointed at the file (``tasks.arrival.trace``), for errors about
    the file as a whole. Columns are left as read: :func:`column` converts and checks them.
    ``whole``: the columns are meant to be whole numbers (samples.csv); pandas' C parser then
    reads each column whose every field is an integer as int64 at once (exactly: no rounding),
    and only the others are kept as text for :func:`column`'s checks.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(path, key, str(path), f"cannot be read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(path, key, str(path), f"is not UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise ConfigError(path, key, str(path), f"is empty; needs a header with {', '.join(required)} and rows")
    parsed = _integers(text) if whole else None
    if parsed is not None and all(parsed[c].dtype == np.int64 for c in parsed.columns):
        df = parsed  # every field a whole number: nothing left to read as text (unless one is refused)
    else:
        try:  # the text already read, not the file again
            df = _as_text(text)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as e:
            raise ConfigError(path, key, str(e).splitlines()[0], "is not a valid comma-separated file") from None
        if parsed is not None and list(parsed.columns) == list(df.columns) and len(parsed) == len(df):
            df = df.assign(**{c: parsed[c] for c in parsed.columns if parsed[c].dtype == np.int64})
    if parsed is not None:
        df.attrs["text"] = text  # for column(): a refused integer is quoted as written
    _strip_header(df)
    missing = [c for c in required if c not in df.columns]
    if missing:
        hint = " (is it comma-separated?)" if len(df.columns) == 1 else ""
        raise ConfigError(path, missing[0], None, f"column missing; the header has {list(df.columns)}{hint}")
    if len(df) == 0:
        raise ConfigError(path, key, str(path), "has a header but no rows")
    return df


def _as_text(text: str) -> pd.DataFrame:
    """``text`` as a frame of strings, fields as written (less leading spaces), no NaN guessing."""
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)


def _strip_header(df: pd.DataFrame) -> pd.DataFrame:
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _integers(text: str) -> pd.DataFrame | None:
    """``text`` read by pandas' C parser with its own types: a column whose every field is an
    integer comes out int64, exactly; any other (a point, an exponent, a word, a trailing space, a
    boolean) another type, which :func:`read_csv` reads as text instead. None where it fails."""
    try:
        return pd.read_csv(io.StringIO(text), keep_default_na=False, skipinitialspace=True, low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None


def column(path: str | Path, df: pd.DataFrame, name: str, integer: bool = False,
           lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Column ``name`` as float64 (or int64 with ``integer``): finite numbers within [lo, hi]."""
    if df[name].dtype == np.int64:  # (read_csv with whole=True): whole numbers already
        try:
            return _checked(path, df, name, df[name].to_numpy(dtype=float), integer, lo, hi)
        except ConfigError:  # named with the field as written: read the file's text again
            if "text" not in df.attrs:
                raise
            df = _strip_header(_as_text(df.attrs["text"]))
    values = pd.to_numeric(df[name].str.strip(), errors="coerce").to_numpy(dtype=float)
    return _checked(path, df, name, values, integer, lo, hi)


def _checked(path: str | Path, df: pd.DataFrame, name: str, values: np.ndarray, integer: bool,
             lo: float | None, hi: float | None) -> np.ndarray:
    """:func:`column`'s checks of the numbers read from ``df[name]`` (whose fields the errors quote)."""
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        i = int(bad[0])
        raise ConfigError(path, f"{name} (row {i + 1})", df[name].iloc[i], "must be a finite number")
    if integer:
        frac = np.flatnonzero(values != np.round(values))
        if len(frac):
            i = int(frac[0])
            raise ConfigError(path, f"{name} (row {i + 1})", df[name].iloc[i], "must be a whole number")
    for bound, bad_rows, word in ((lo, values < lo if lo is not None else None, ">="),
                                  (hi, values > hi if hi is not None else None, "<=")):
        if bound is not None and bad_rows.any():
            i = int(np.flatnonzero(bad_rows)[0])
            raise ConfigError(path, f"{name} (row {i + 1})", df[name].iloc[i], f"must be {word} {bound:g}")
    return values.astype(np.int64) if integer else values


def _stamp(path: str | Path, key: str) -> tuple:
    """What identifies a file's content cheaply (its path, size and mtime), for the caches below."""
    try:
        st = os.stat(path)
    except OSError:
        return (str(path), key, None)  # the reader reports the error
    return (str(path), key, st.st_size, st.st_mtime_ns)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)  # shared by every caller in this process
    return a


def read_arrival_trace(path: str | Path, key: str = "tasks.arrival.trace", device: int | None = None) -> np.ndarray:
    """Arrival times in seconds (column ``time_s``): finite, >= 0 and in order.

    With a column ``device`` (whole numbers >= 0) each device has its own times: ``device`` picks
    one device's rows (in order within that device); without it every device replays all rows.
    Parsed once per process while the file is unchanged (preflight, estimates and every device of
    every simulation read the same trace); the arrays are read-only.
    """
    t, dev = _arrival_trace(_stamp(path, key))
    if dev is None or device is None:
        return t
    return t[dev == device]


def arrival_trace_devices(path: str | Path, key: str = "tasks.arrival.trace") -> np.ndarray | None:
    """The ``device`` column of an arrival trace, or None where it has none."""
    return _arrival_trace(_stamp(path, key))[1]


@functools.lru_cache(maxsize=32)
def _arrival_trace(stamp: tuple) -> tuple[np.ndarray, np.ndarray | None]:
    path, key = stamp[0], stamp[1]
    df = read_csv(path, key, ("time_s",))
    t = column(path, df, "time_s", lo=0.0)
    if "device" not in df.columns:
        _sorted(path, df, "time_s", t, strict=False)
        return _read_only(t), None
    dev = column(path, df, "device", integer=True, lo=0, hi=2**31)
    order = np.argsort(dev, kind="stable")
    step = np.diff(t[order])
    bad = np.flatnonzero((step < 0) & (np.diff(dev[order]) == 0))
    if len(bad):
        i = int(order[bad[0] + 1])
        raise ConfigError(path, f"time_s (row {i + 1})", df["time_s"].iloc[i],
                          f"times must be in order (not decreasing) within device {dev[i]}")
    return _read_only(t), _read_only(dev)


def read_snr_trace(path: str | Path, key: str = "channel.fading.trace") -> tuple[np.ndarray, np.ndarray]:
    """(times in s, SNR in dB) of an SNR trace: times finite, >= 0 and increasing; SNR within +-100 dB.

    Parsed once per process while the file is unchanged; the arrays are read-only.
    """
    return _snr_trace(_stamp(path, key))


@functools.lru_cache(maxsize=32)
def _snr_trace(stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    path, key = stamp[0], stamp[1]
    df = read_csv(path, key, ("time_s", "snr_db"))
    t = column(path, df, "time_s", lo=0.0)
    _sorted(path, df, "time_s", t, strict=True)
    snr = column(path, df, "snr_db", lo=-100.0, hi=100.0)
    return _read_only(t), _read_only(snr)


def _sorted(path: str | Path, df: pd.DataFrame, name: str, t: np.ndarray, strict: bool) -> None:
    step = np.diff(t)
    bad = np.flatnonzero(step <= 0 if strict else step < 0)
    if len(bad):
        i = int(bad[0]) + 1
        word = "increasing" if strict else "in order (not decreasing)"
        raise ConfigError(path, f"{name} (row {i + 1})", df[name].iloc[i], f"times must be {word}")
