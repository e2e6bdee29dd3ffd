"""A profile on disk (profile.yaml + samples.csv), the contract between models/ and sim/.

``load_profile`` checks the folder and returns a :class:`Profile` with per-stage latency lookup
(interpolated between measured batch sizes) and, per scheme, the payload bytes and correctness of
every test image as numpy arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sim.errors import ConfigError


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
        """Measured latency of ``stage`` on ``hardware`` for ``batch`` items, interpolated linearly."""
        table = self.stages[stage]["latency_ms"].get(hardware)
        if table is None:
            raise KeyError(f"stage {stage} has no latency for hardware {hardware}")
        sizes = sorted(int(b) for b in table)
        values = [float(table[b]) for b in sizes]
        if batch in sizes:
            return values[sizes.index(batch)]
        if len(sizes) == 1:
            return values[0] * batch / sizes[0]  # no batching measured: items run one after another
        if batch > sizes[-1]:
            slope = (values[-1] - values[-2]) / (sizes[-1] - sizes[-2])
            return values[-1] + slope * (batch - sizes[-1])
        return float(np.interp(batch, sizes, values))

    def stage_time_ms(self, stages: tuple[str, ...], hardware: str, batch: int = 1) -> float:
        return sum(self.latency_ms(s, hardware, batch) for s in stages)


def _fail(folder: Path, key: str, value: object, problem: str) -> ConfigError:
    return ConfigError(folder / "profile.yaml", key, value, problem)


def load_profile(folder: str | Path) -> Profile:
    """Read and check a profile folder; raises ConfigError naming file, key and value."""
    folder = Path(folder)
    ypath, cpath = folder / "profile.yaml", folder / "samples.csv"
    if not ypath.is_file():
        raise ConfigError(folder, "profile", str(folder), "no profile.yaml in that folder")
    try:
        meta = yaml.safe_load(ypath.read_text())
    except yaml.YAMLError as e:
        raise _fail(folder, "(file)", str(e).splitlines()[0], "is not valid YAML") from None
    if not isinstance(meta, dict):
        raise _fail(folder, "(top level)", meta, "must be a mapping")
    for key in ("stages", "schemes"):
        if not isinstance(meta.get(key), dict) or not meta[key]:
            raise _fail(folder, key, meta.get(key), "must be a non-empty mapping")
    if not cpath.is_file():
        raise ConfigError(cpath, "(file)", str(cpath), "samples.csv missing beside profile.yaml")
    columns = _read_columns(cpath)
    if "label" not in columns:
        raise ConfigError(cpath, "label", None, "column missing")
    for name, st in meta["stages"].items():
        lat = st.get("latency_ms") if isinstance(st, dict) else None
        if not isinstance(lat, dict) or not lat:
            raise _fail(folder, f"stages.{name}.latency_ms", lat, "must map hardware keys to {batch: ms}")
        for hw, table in lat.items():
            if not isinstance(table, dict) or not table or any(float(v) < 0 for v in table.values()):
                raise _fail(folder, f"stages.{name}.latency_ms.{hw}", table, "must map batch sizes to ms >= 0")
    for name, sc in meta["schemes"].items():
        _check_scheme(folder, cpath, name, sc, meta["stages"], columns)
    return Profile(folder, meta, columns)


def _check_scheme(folder: Path, cpath: Path, name: str, sc: dict, stages: dict, columns: dict) -> None:
    if not isinstance(sc, dict):
        raise _fail(folder, f"schemes.{name}", sc, "must be a mapping")
    if sc.get("kind") not in ("local", "offload", "split"):
        raise _fail(folder, f"schemes.{name}.kind", sc.get("kind"), "must be local, offload or split")
    for side in ("device", "edge"):
        for s in sc.get(side, []):
            if s not in stages:
                raise _fail(folder, f"schemes.{name}.{side}", s, "names no stage of the profile")
    for col in ("bytes_column", "correct_column"):
        if sc.get(col) not in columns:
            raise ConfigError(cpath, sc.get(col, f"{name}_{col}"), None,
                              f"column of scheme {name} missing from samples.csv")
    if np.any(columns[sc["bytes_column"]] < 0):
        raise ConfigError(cpath, sc["bytes_column"], int(columns[sc["bytes_column"]].min()), "bytes must be >= 0")


def _read_columns(path: Path) -> dict[str, np.ndarray]:
    try:
        arr = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="utf-8",
                            deletechars="", replace_space=" ")
    except ValueError as e:
        raise ConfigError(path, "(file)", str(e).splitlines()[0], "is not a valid CSV") from None
    arr = np.atleast_1d(arr)
    if arr.dtype.names is None or len(arr) == 0:
        raise ConfigError(path, "(file)", None, "has no rows")
    return {n: np.asarray(arr[n], dtype=float) for n in arr.dtype.names}
