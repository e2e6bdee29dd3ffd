"""A profile on disk (profile.yaml + samples.csv), the contract between models/ and sim/.

``load_profile`` checks the folder and returns a :class:`Profile` with per-stage latency lookup
(interpolated between measured batch sizes) and, per scheme, the payload bytes and correctness of
every test image as numpy arrays.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim import tables
from sim.errors import ConfigError
from sim.fileio import write_atomic
from sim.schema import load_yaml_mapping


@dataclass(frozen=True)
class SchemeSpec:
    """How one scheme serves a task: stages on the device, payload, stages on the edge."""

    name: str
    kind: str  # local | offload | split
    device_stages: tuple[str, ...]
    edge_stages: tuple[str, ...]
    payload_bytes: np.ndarray  # per sample
    correct: np.ndarray  # per sample, bool
    accuracy: float


class Profile:
    """Stages with measured latencies and schemes with per-image bytes and correctness."""

    def __init__(self, folder: Path, meta: dict, columns: dict[str, np.ndarray]) -> None:
        self.folder, self.meta = folder, meta
        self.name = meta.get("name", folder.name)
        self.stages: dict = meta["stages"]
        self.labels = columns["label"]
        self.n_samples = len(self.labels)
        self.schemes: dict[str, SchemeSpec] = {}
        for name, sc in meta["schemes"].items():
            self.schemes[name] = SchemeSpec(
                name=name, kind=sc["kind"], device_stages=tuple(sc.get("device", [])),
                edge_stages=tuple(sc.get("edge", [])),
                payload_bytes=columns[sc["bytes_column"]].astype(np.int64),
                correct=columns[sc["correct_column"]].astype(bool),
                accuracy=float(np.mean(columns[sc["correct_column"]])),
            )

    def hardware_keys(self) -> set[str]:
        return {hw for st in self.stages.values() for hw in st["latency_ms"]}

    def latency_ms(self, stage: str, hardware: str, batch: int = 1) -> float:
        """Latency of ``stage`` on ``hardware`` for a batch of ``batch`` items.

        A measured batch size gives its measurement. Between two measured sizes: linear
        interpolation. With one measured size b: items run one after another, t(n) = t(b) n / b.
        Below the smallest of several measured sizes: the smallest's time. Beyond the largest: the
        last measured segment's slope, never below zero (a batch never gets faster by growing).
        """
        table = self.stages[stage]["latency_ms"].get(hardware)
        if table is None:
            raise KeyError(f"stage {stage} has no latency for hardware {hardware}")
        sizes = list(table)  # whole numbers >= 1, sorted by the loader
        values = list(table.values())
        if batch in sizes:
            return values[sizes.index(batch)]
        if len(sizes) == 1:
            return values[0] * batch / sizes[0]  # no batching measured: items run one after another
        if batch > sizes[-1]:
            slope = max(values[-1] - values[-2], 0.0) / (sizes[-1] - sizes[-2])
            return values[-1] + slope * (batch - sizes[-1])
        return float(np.interp(batch, sizes, values))

    def stage_time_ms(self, stages: tuple[str, ...], hardware: str, batch: int = 1) -> float:
        return sum(self.latency_ms(s, hardware, batch) for s in stages)


def _fail(folder: Path, key: str, value: object, problem: str) -> ConfigError:
    return ConfigError(folder / "profile.yaml", key, value, problem)


def load_profile(folder: str | Path) -> Profile:
    """Read and check a profile folder; raises ConfigError naming file, key and value.

    Parsed once per process: a second call for the same unchanged files returns the same object.
    """
    folder = Path(folder).resolve()
    ypath, cpath = folder / "profile.yaml", folder / "samples.csv"
    if not ypath.is_file():
        raise ConfigError(folder, "profile", str(folder), "no profile.yaml in that folder")
    if not cpath.is_file():
        raise ConfigError(cpath, "(file)", str(cpath), "samples.csv missing beside profile.yaml")
    stamp = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in (ypath, cpath))
    return _load_cached(folder, stamp)


@functools.lru_cache(maxsize=8)
def _load_cached(folder: Path, stamp: tuple) -> Profile:
    meta = read_meta(folder)
    stages = {name: _check_stage(folder, name, st) for name, st in meta["stages"].items()}
    meta = {**meta, "stages": stages}
    for name, sc in meta["schemes"].items():
        _check_scheme(folder, name, sc, stages)
    return Profile(folder, meta, _read_samples(folder / "samples.csv", meta["schemes"]))


def read_meta(folder: Path) -> dict:
    """profile.yaml as a dict with mappings ``stages`` and ``schemes`` (checked no further)."""
    meta = load_yaml_mapping(folder / "profile.yaml", "profile keys")
    for key in ("stages", "schemes"):
        if not isinstance(meta.get(key), dict) or not meta[key]:
            raise _fail(folder, key, meta.get(key), "must be a non-empty mapping of names")
    return meta


def _check_stage(folder: Path, name: str, st: object) -> dict:
    """A stage with its latency table normalised to {hardware: {int batch: float ms}}."""
    lat = st.get("latency_ms") if isinstance(st, dict) else None
    if not isinstance(lat, dict) or not lat:
        raise _fail(folder, f"stages.{name}.latency_ms", lat, "must map hardware keys to {batch: ms}")
    tables = {}
    for hw, table in lat.items():
        key = f"stages.{name}.latency_ms.{hw}"
        if not isinstance(table, dict) or not table:
            raise _fail(folder, key, table, "must map batch sizes to ms")
        clean = {}
        for b, ms in table.items():
            batch = _batch_size(b)
            if batch is None:
                raise _fail(folder, f"{key}.{b}", b, "a batch size must be a whole number >= 1")
            if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms) or ms < 0:
                raise _fail(folder, f"{key}.{b}", ms, "latency must be a finite number of ms >= 0")
            clean[batch] = float(ms)
        tables[str(hw)] = dict(sorted(clean.items()))
    return {**st, "latency_ms": tables}


def _batch_size(b: object) -> int | None:
    if isinstance(b, bool):
        return None
    if isinstance(b, str) and b.strip().isdigit():
        b = int(b)
    return b if isinstance(b, int) and b >= 1 else None


def _check_scheme(folder: Path, name: str, sc: object, stages: dict) -> None:
    if not isinstance(sc, dict):
        raise _fail(folder, f"schemes.{name}", sc, "must be a mapping")
    if sc.get("kind") not in ("local", "offload", "split"):
        raise _fail(folder, f"schemes.{name}.kind", sc.get("kind"), "must be local, offload or split")
    for side in ("device", "edge"):
        names = sc.get(side, [])
        if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
            raise _fail(folder, f"schemes.{name}.{side}", names, "must be a list of stage names")
        for s in names:
            if s not in stages:
                raise _fail(folder, f"schemes.{name}.{side}", s, "names no stage of the profile")
    if not sc.get("device") and not sc.get("edge"):
        raise _fail(folder, f"schemes.{name}", sc, "runs no stage on the device nor on the edge")
    for col in ("bytes_column", "correct_column"):
        if not isinstance(sc.get(col), str) or not sc[col]:
            raise _fail(folder, f"schemes.{name}.{col}", sc.get(col), "must name a column of samples.csv")


def _read_samples(cpath: Path, schemes: dict) -> dict[str, np.ndarray]:
    """The columns the schemes use, checked: labels integers, bytes whole numbers >= 0, correct 0/1."""
    need = ["label"] + [sc[c] for sc in schemes.values() for c in ("bytes_column", "correct_column")]
    df = tables.read_csv(cpath, "samples.csv", tuple(dict.fromkeys(need)), whole=True)
    cols = {"label": tables.column(cpath, df, "label", integer=True)}
    for sc in schemes.values():
        cols[sc["bytes_column"]] = tables.column(cpath, df, sc["bytes_column"], integer=True, lo=0)
        cols[sc["correct_column"]] = tables.column(cpath, df, sc["correct_column"], integer=True, lo=0, hi=1)
    return cols


def merge_timings(folder: str | Path, timings: dict, replace: bool = False) -> list[str]:
    """Add measured stage latencies under new hardware keys to a profile's profile.yaml.

    ``timings`` is ``{"hardware": {key: {how it was measured}}, "stages": {stage: {key: {batch:
    ms}}}}`` (what ``aecnn-models time`` writes). Samples are not touched; every stage of the
    profile must be timed, and an existing key is refused unless ``replace``. The result is checked
    like any profile before it replaces profile.yaml atomically. Returns the keys merged.
    """

    folder = Path(folder)
    where = folder / "profile.yaml"
    meta = read_meta(folder)
    hw, stages = timings.get("hardware"), timings.get("stages")
    if not isinstance(hw, dict) or not hw or not isinstance(stages, dict):
        raise ConfigError("(timings)", "hardware", hw, "timings need mappings 'hardware' and 'stages'")
    for key in hw:
        if not replace and any(key in (st.get("latency_ms") or {}) for st in meta["stages"].values()):
            raise ConfigError(where, "hardware", key, "is in the profile already; pass --replace to overwrite it")
    missing = [s for s in meta["stages"] if not all(k in (stages.get(s) or {}) for k in hw)]
    if missing:
        raise ConfigError("(timings)", f"stages.{missing[0]}", None, f"not timed for {', '.join(hw)}")
    for name in stages:
        if name not in meta["stages"]:
            raise ConfigError("(timings)", f"stages.{name}", None, "is not a stage of this profile")
    for name, st in meta["stages"].items():
        st["latency_ms"] = {**st["latency_ms"], **{k: stages[name][k] for k in hw}}
        _check_stage(folder, name, st)
    meta["hardware"] = {**(meta.get("hardware") or {}), **hw}
    write_atomic(where, yaml.safe_dump(meta, sort_keys=False, width=100), what="profile")
    return list(hw)


def write_profile(folder: str | Path, stages: dict, schemes: dict, labels, payload_bytes: dict, correct: dict,
                  hardware: dict | None = None, name: str | None = None, provenance: dict | None = None,
                  feature: dict | None = None) -> Profile:
    """Write a profile folder of your own model or hardware, check it by loading it, return it.

    - ``stages``: ``{stage: {hardware: {batch: ms}}}``, or ``{stage: {"latency_ms": ..., "flops":
      ..., "params": ...}}``; batch sizes are integers; every stage a scheme runs on the edge needs
      batch 1 at least;
    - ``schemes``: ``{scheme: {"kind": "local" | "offload" | "split", "device": [stages], "edge":
      [stages]}}``, plus any informational keys (``codec``, ``k``, ``bits``, ...), kept as given;
    - ``labels``: the class of each test image; ``payload_bytes`` and ``correct``: per scheme, one
      value per image (bytes of its real bitstream, 0 for local; whether it classified the image
      correctly through that bitstream);
    - ``hardware``: ``{key: what it is}`` for every hardware key the latencies use (default: the
      keys, described as "not described"); ``provenance``: how the numbers were made; ``feature``:
      the split feature (``{"shape": [C, H, W], "float32_bytes": ...}``), informational.

    The folder gets profile.yaml and samples.csv (README, "Profile format"); files are replaced
    atomically. Any problem raises ConfigError naming the file and key.
    """
    folder = Path(folder)
    labels = np.asarray(labels)
    n = len(labels)
    st_out, keys = {}, set()
    for sname, st in stages.items():
        lat = st.get("latency_ms", st) if isinstance(st, dict) else st
        st_out[sname] = {"flops": (st.get("flops", 0) if isinstance(st, dict) else 0),
                         "params": (st.get("params", 0) if isinstance(st, dict) else 0),
                         "latency_ms": {hw: {int(b): float(ms) for b, ms in by_batch.items()}
                                        for hw, by_batch in lat.items()}}
        keys |= set(lat)
    sc_out, columns = {}, {"index": np.arange(n), "label": labels}
    for sname, spec in schemes.items():
        for field_, given in (("payload_bytes", payload_bytes), ("correct", correct)):
            if sname not in given or len(given[sname]) != n:
                raise ConfigError(folder / "samples.csv", f"{field_}.{sname}", None,
                                  f"needs one value per image ({n})")
        info = {k: v for k, v in spec.items() if k not in ("kind", "device", "edge")}
        sc_out[sname] = {"kind": spec["kind"], "device": list(spec.get("device", [])),
                         "edge": list(spec.get("edge", [])), **info,
                         "bytes_column": f"{sname}_bytes", "correct_column": f"{sname}_correct",
                         "accuracy": float(np.mean(np.asarray(correct[sname], dtype=float))),
                         "mean_bytes": float(np.mean(np.asarray(payload_bytes[sname], dtype=float)))}
        columns[f"{sname}_bytes"] = np.asarray(payload_bytes[sname], dtype=np.int64)
        columns[f"{sname}_correct"] = np.asarray(correct[sname], dtype=bool).astype(np.int64)
    meta = {"name": name or folder.name,
            "provenance": provenance or {"command": "sim.profile.write_profile", "machine": {}},
            "hardware": hardware or {k: "not described" for k in sorted(keys)},
            **({"feature": feature} if feature else {}), "stages": st_out, "schemes": sc_out}
    lines = [",".join(columns)]
    lines += [",".join(str(int(columns[c][i])) for c in columns) for i in range(n)]
    write_atomic(folder / "samples.csv", "\n".join(lines) + "\n", what="profile")
    write_atomic(folder / "profile.yaml", yaml.safe_dump(meta, sort_keys=False, width=100), what="profile")
    return load_profile(folder)
