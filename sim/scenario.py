"""Scenario: a YAML file read once into frozen dataclasses (``load_scenario``).

Every key is documented in README.md ("Scenario keys"). Units are in the names: ``_ms``, ``_s``,
``_hz``, ``_db``, ``_bytes``, ``_bps``. Paths (profile, traces) are relative to the scenario file.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from sim import schema
from sim.errors import ConfigError
from sim.schema import field, non_negative, one_of, positive


@dataclass(frozen=True)
class Arrival:
    process: str = field("periodic", check=one_of("periodic", "poisson", "trace"))
    period_ms: float | None = field(None, check=positive)
    jitter_ms: float = field(0.0, check=non_negative)
    rate_per_s: float | None = field(None, check=positive)
    trace: str | None = None  # CSV with a column time_s (arrival times of one device)

    def validate(self, file: str, prefix: str) -> None:
        need = {"periodic": "period_ms", "poisson": "rate_per_s", "trace": "trace"}[self.process]
        if getattr(self, need) is None:
            raise ConfigError(file, f"{prefix}.{need}", None, f"is required for process {self.process}")
        if self.process == "periodic" and self.jitter_ms >= self.period_ms:
            raise ConfigError(file, f"{prefix}.jitter_ms", self.jitter_ms, "must be below period_ms")


@dataclass(frozen=True)
class Tasks:
    arrival: Arrival = field(Arrival(process="periodic", period_ms=100.0))
    count: int | None = field(None, check=positive)
    duration_s: float | None = field(None, check=positive)
    deadline_ms: float = field(100.0, check=positive)
    on_deadline: str = field("finish", check=one_of("finish", "drop"))

    def validate(self, file: str, prefix: str) -> None:
        if (self.count is None) == (self.duration_s is None):
            raise ConfigError(file, f"{prefix}.count", self.count, "give exactly one of count and duration_s")


@dataclass(frozen=True)
class Devices:
    count: int = field(1, check=positive)
    hardware: str = "host-cpu"
    speed: float = field(1.0, check=positive)


@dataclass(frozen=True)
class Fading:
    model: str = field("none", check=one_of("none", "rayleigh", "rician", "gilbert-elliott", "trace"))
    coherence_ms: float = field(10.0, check=positive)
    k_factor: float = field(3.0, check=non_negative)
    bad_offset_db: float = -15.0
    good_mean_ms: float = field(1000.0, check=positive)
    bad_mean_ms: float = field(200.0, check=positive)
    trace: str | None = None  # CSV with columns time_s, snr_db

    def validate(self, file: str, prefix: str) -> None:
        if self.model == "trace" and not self.trace:
            raise ConfigError(file, f"{prefix}.trace", None, "is required for model trace")
        if self.bad_offset_db > 0:
            raise ConfigError(file, f"{prefix}.bad_offset_db", self.bad_offset_db, "must be <= 0 dB")


@dataclass(frozen=True)
class Rate:
    model: str = field("shannon", check=one_of("shannon", "cqi"))
    efficiency: float = field(0.75, check=lambda v: None if 0 < v <= 1 else "must be in (0, 1]")
    table: str = field("nr-cqi1", check=one_of("nr-cqi1"))
    bler: float = field(0.1, check=lambda v: None if 0 <= v < 1 else "must be in [0, 1)")
    max_harq: int = field(3, check=non_negative)


@dataclass(frozen=True)
class Downlink:
    result_bytes: int = field(8, check=non_negative)
    rate_bps: float = field(10e6, check=positive)


@dataclass(frozen=True)
class Channel:
    bandwidth_hz: float = field(1e6, check=positive)
    snr_db: float = 10.0
    fading: Fading = field(Fading())
    rate: Rate = field(Rate())
    mtu_bytes: int = field(1500, check=positive)
    header_bytes: int = field(40, check=non_negative)
    sharing: str = field("fifo", check=one_of("fifo", "round-robin"))
    downlink: Downlink = field(Downlink())
    propagation_ms: float = field(1.0, check=non_negative)

    def validate(self, file: str, prefix: str) -> None:
        if self.header_bytes >= self.mtu_bytes:
            raise ConfigError(file, f"{prefix}.header_bytes", self.header_bytes, "must be below mtu_bytes")


@dataclass(frozen=True)
class Batching:
    max_batch: int = field(1, check=positive)
    max_wait_ms: float = field(0.0, check=non_negative)


@dataclass(frozen=True)
class Edge:
    hardware: str = "host-cpu"
    speed: float = field(1.0, check=positive)
    gpus: int = field(1, check=positive)
    batching: Batching = field(Batching())


@dataclass(frozen=True)
class Sweep:
    grid: dict = field({})


@dataclass(frozen=True)
class Scenario:
    profile: str
    schemes: list[str] = field([], check=lambda v: None if v else "must name at least one scheme")
    name: str = "scenario"
    seeds: list[int] = field([0], check=lambda v: None if v else "must list at least one seed")
    tasks: Tasks = field(Tasks(count=100))
    devices: Devices = field(Devices())
    channel: Channel = field(Channel())
    edge: Edge = field(Edge())
    sweep: Sweep = field(Sweep())
    source: str = ""  # the file it came from (set by the loader)


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(path, "(file)", str(path), f"cannot be read: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(path, where, getattr(e, "problem", str(e)), "is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "(top level)", data, "must be a mapping of scenario keys")
    return data


def _resolve_paths(data: dict, base: Path) -> None:
    """Make profile and trace paths absolute, relative to the scenario file."""
    if isinstance(data.get("profile"), str):
        data["profile"] = str((base / data["profile"]).resolve())
    fading = data.get("channel", {}).get("fading", {}) if isinstance(data.get("channel"), dict) else {}
    if isinstance(fading, dict) and isinstance(fading.get("trace"), str):
        fading["trace"] = str((base / fading["trace"]).resolve())
    arrival = data.get("tasks", {}).get("arrival", {}) if isinstance(data.get("tasks"), dict) else {}
    if isinstance(arrival, dict) and isinstance(arrival.get("trace"), str):
        arrival["trace"] = str((base / arrival["trace"]).resolve())


def from_dict(data: dict, source: str | Path, base: Path | None = None) -> Scenario:
    """Build a Scenario from a dict (as read from YAML); checks every key and value."""
    data = copy.deepcopy(data)
    data.pop("source", None)
    _resolve_paths(data, base or Path(source).parent)
    sc = replace(schema.build(Scenario, data, str(source)), source=str(source))
    if not Path(sc.profile, "profile.yaml").is_file():
        raise ConfigError(source, "profile", sc.profile, "no profile.yaml in that folder")
    sc = replace(sc, schemes=_expand_schemes(sc, source))
    for k in sc.sweep.grid:
        if k in ("sweep", "seeds") or k.startswith("sweep."):
            raise ConfigError(source, f"sweep.grid.{k}", k, "cannot sweep this key")
        values = sc.sweep.grid[k]
        if not isinstance(values, list) or not values:
            raise ConfigError(source, f"sweep.grid.{k}", values, "must be a non-empty list")
        for v in values:  # every swept key must exist and take each of its values
            try:
                override(sc, {k: v})
            except ConfigError as e:
                key = e.key if e.key.startswith("sweep.grid.") else f"sweep.grid.{k} -> {e.key}"
                raise ConfigError(source, key, v, e.problem) from None
    return sc


def _expand_schemes(sc: Scenario, source: str | Path) -> tuple[str, ...]:
    """Scheme names, with shell-style patterns (``aecnn-*``) expanded against the profile's schemes."""
    from fnmatch import fnmatchcase

    try:
        known = list((yaml.safe_load(Path(sc.profile, "profile.yaml").read_text()) or {}).get("schemes") or {})
    except (yaml.YAMLError, AttributeError):
        return sc.schemes  # the profile loader reports what is wrong with it
    out: list[str] = []
    for pattern in sc.schemes:
        hits = [n for n in known if fnmatchcase(n, pattern)]
        if not hits:
            raise ConfigError(source, "schemes", pattern,
                              f"matches no scheme of the profile (it has: {', '.join(known)})")
        out += [h for h in hits if h not in out]
    return tuple(out)


def load_scenario(path: str | Path) -> Scenario:
    """Read ``path`` once into a Scenario; raises ConfigError (file, key, value) on any problem."""
    path = Path(path)
    return from_dict(_read_yaml(path), path)


def override(sc: Scenario, values: dict[str, Any]) -> Scenario:
    """A new Scenario with dotted keys replaced (``channel.snr_db: 5``), checked like the file."""
    data = schema.to_dict(sc)
    for dotted, v in values.items():
        node, parts = data, dotted.split(".")
        for i, p in enumerate(parts[:-1]):
            if not isinstance(node.get(p), dict):
                raise ConfigError(sc.source, f"sweep.grid.{dotted}", v, f"no such key '{'.'.join(parts[: i + 1])}'")
            node = node[p]
        if parts[-1] not in node:
            raise ConfigError(sc.source, f"sweep.grid.{dotted}", v, "no such key")
        node[parts[-1]] = v
    data.pop("source")
    data["sweep"] = {"grid": {}}
    built = schema.build(Scenario, data, sc.source)
    return replace(built, source=sc.source, sweep=sc.sweep)
