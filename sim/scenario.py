"""Scenario: a YAML file read once into frozen dataclasses (``load_scenario``).

Every key is documented in README.md ("Scenario keys"). Units are in the names: ``_ms``, ``_s``,
``_hz``, ``_db``, ``_bytes``, ``_bps``. Paths (profile, traces) are relative to the scenario file.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import typing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from sim import schema
from sim.errors import ConfigError
from sim.schema import field, in_range, one_of, positive

BIG = 1e9  # upper bound of times, counts and rates that are finite but meaningless beyond it


@dataclass(frozen=True)
class Arrival:
    process: str = field("periodic", check=one_of("periodic", "poisson", "trace"))
    period_ms: float | None = field(None, check=in_range(0, BIG, lo_open=True, unit="ms"))
    jitter_ms: float = field(0.0, check=in_range(0, BIG, unit="ms"))
    rate_per_s: float | None = field(None, check=in_range(0, BIG, lo_open=True, unit="per s"))
    trace: str | None = None  # CSV with a column time_s (arrival times of one device)

    def applicable(self) -> set[str]:
        return {"process", *{"periodic": ("period_ms", "jitter_ms"), "poisson": ("rate_per_s",),
                             "trace": ("trace",)}[self.process]}

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
    duration_s: float | None = field(None, check=in_range(0, BIG, lo_open=True, unit="s"))
    deadline_ms: float = field(100.0, check=in_range(0, BIG, lo_open=True, unit="ms"))
    on_deadline: str = field("finish", check=one_of("finish", "drop"))

    def validate(self, file: str, prefix: str) -> None:
        if (self.count is None) == (self.duration_s is None):
            raise ConfigError(file, f"{prefix}.count", self.count, "give exactly one of count and duration_s")


@dataclass(frozen=True)
class Devices:
    count: int = field(1, check=positive)
    hardware: str = "host-cpu"
    speed: float = field(1.0, check=in_range(0, 1e6, lo_open=True))


@dataclass(frozen=True)
class Fading:
    model: str = field("none", check=one_of("none", "rayleigh", "rician", "gilbert-elliott", "trace"))
    coherence_ms: float = field(10.0, check=in_range(0, BIG, lo_open=True, unit="ms"))
    k_factor: float = field(3.0, check=in_range(0, 1e6))
    bad_offset_db: float = field(-15.0, check=in_range(-100, 100, unit="dB"))
    good_mean_ms: float = field(1000.0, check=in_range(0, BIG, lo_open=True, unit="ms"))
    bad_mean_ms: float = field(200.0, check=in_range(0, BIG, lo_open=True, unit="ms"))
    trace: str | None = None  # CSV with columns time_s, snr_db

    def applicable(self) -> set[str]:
        return {"model", *{"none": (), "rayleigh": ("coherence_ms",), "rician": ("coherence_ms", "k_factor"),
                           "gilbert-elliott": ("bad_offset_db", "good_mean_ms", "bad_mean_ms"),
                           "trace": ("trace",)}[self.model]}

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
    max_harq: int = field(3, check=in_range(0, 100))

    def applicable(self) -> set[str]:
        return {"model", *{"shannon": ("efficiency",), "cqi": ("table", "bler", "max_harq")}[self.model]}


@dataclass(frozen=True)
class Downlink:
    result_bytes: int = field(8, check=in_range(0, BIG, unit="bytes"))
    rate_bps: float = field(10e6, check=in_range(0, 1e15, lo_open=True, unit="bit/s"))


@dataclass(frozen=True)
class Channel:
    bandwidth_hz: float = field(1e6, check=in_range(0, 1e12, lo_open=True, unit="Hz"))
    snr_db: float = field(10.0, check=in_range(-100, 100, unit="dB"))
    fading: Fading = field(Fading())
    rate: Rate = field(Rate())
    mtu_bytes: int = field(1500, check=in_range(1, BIG, unit="bytes"))
    header_bytes: int = field(40, check=in_range(0, BIG, unit="bytes"))
    sharing: str = field("fifo", check=one_of("fifo", "round-robin"))
    downlink: Downlink = field(Downlink())
    propagation_ms: float = field(1.0, check=in_range(0, BIG, unit="ms"))

    def validate(self, file: str, prefix: str) -> None:
        if self.header_bytes >= self.mtu_bytes:
            raise ConfigError(file, f"{prefix}.header_bytes", self.header_bytes, "must be below mtu_bytes")


@dataclass(frozen=True)
class Batching:
    max_batch: int = field(1, check=in_range(1, 1e6))
    max_wait_ms: float = field(0.0, check=in_range(0, BIG, unit="ms"))


@dataclass(frozen=True)
class Edge:
    hardware: str = "host-cpu"
    speed: float = field(1.0, check=in_range(0, 1e6, lo_open=True))
    gpus: int = field(1, check=in_range(1, 1e6))
    batching: Batching = field(Batching())


@dataclass(frozen=True)
class Sweep:
    grid: dict = field({}, check=lambda g: _check_grid(g))


@dataclass(frozen=True)
class Scenario:
    profile: str
    schemes: list[str] = field(check=lambda v: None if v else "must name at least one scheme")
    name: str = field("scenario", check=lambda v: _check_name(v))
    seeds: list[int] = field([0], check=lambda v: _check_seeds(v))
    tasks: Tasks = field(Tasks(count=100))
    devices: Devices = field(Devices())
    channel: Channel = field(Channel())
    edge: Edge = field(Edge())
    sweep: Sweep = field(Sweep())
    source: str = ""  # the file it came from (set by the loader)


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
    grid = (data.get("sweep") or {}).get("grid") if isinstance(data.get("sweep"), dict) else None
    if isinstance(grid, dict):
        for key in PATH_KEYS:
            if isinstance(grid.get(key), list):
                grid[key] = [str((base / v).resolve()) if isinstance(v, str) else v for v in grid[key]]


PATH_KEYS = ("profile", "channel.fading.trace", "tasks.arrival.trace")  # paths relative to the scenario file


def from_dict(data: dict, source: str | Path, base: Path | None = None) -> Scenario:
    """Build a Scenario from a dict (as read from YAML); checks every key and value.

    Besides each value on its own, it checks the sweep grid (string keys that exist, non-empty lists
    without repeats, each value valid) and refuses keys that apply to no point of the sweep
    (``period_ms`` with a Poisson process, ``efficiency`` with the CQI rate model).
    """
    data = copy.deepcopy(data)
    data.pop("source", None)
    _resolve_paths(data, base or Path(source).parent)
    sc = replace(schema.build(Scenario, data, str(source)), source=str(source))
    if not Path(sc.profile, "profile.yaml").is_file():
        raise ConfigError(source, "profile", sc.profile, "no profile.yaml in that folder")
    sc = replace(sc, schemes=_expand_schemes(sc, source))
    points = [sc]
    for k, values in sc.sweep.grid.items():
        if k in ("sweep", "seeds", "name") or k.startswith("sweep."):
            raise ConfigError(source, f"sweep.grid.{k}", k, "cannot sweep this key")
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(source, f"sweep.grid.{k}", values, "must be a non-empty list of values")
        seen = set()
        for v in values:
            text = repr(v)
            if text in seen:
                raise ConfigError(source, f"sweep.grid.{k}", v, "is repeated; each value once")
            seen.add(text)
        for v in values:  # every swept key must exist and take each of its values
            try:
                points.append(override(sc, {k: v}))
            except ConfigError as e:
                key = e.key if e.key.startswith("sweep.grid.") else f"sweep.grid.{k} -> {e.key}"
                raise ConfigError(source, key, v, e.problem) from None
    if sc.sweep.grid and math.prod(len(v) for v in sc.sweep.grid.values()) <= 4096:
        points = [override(sc, dict(zip(sc.sweep.grid, combo)))
                  for combo in itertools.product(*sc.sweep.grid.values())]
    _check_applicable(data, sc, points, source)
    return sc


def _given_keys(data: dict, cls: type, prefix: str = "") -> list[str]:
    """Dotted keys written in ``data`` (a raw scenario mapping) down to the leaves of ``cls``."""
    out = []
    hints = typing.get_type_hints(cls)
    for k, v in data.items():
        key = f"{prefix}{k}"
        sub = hints.get(k)
        if dataclasses.is_dataclass(sub) and isinstance(v, dict):
            out += _given_keys(v, sub, f"{key}.")
        else:
            out.append(key)
    return out


def _inapplicable(obj: Any, prefix: str = "") -> set[str]:
    """Dotted keys of ``obj`` (a Scenario or part) that its chosen models do not use."""
    out = set()
    applies = obj.applicable() if hasattr(obj, "applicable") else None
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if applies is not None and f.name not in applies:
            out.add(f"{prefix}{f.name}")
        elif dataclasses.is_dataclass(v):
            out |= _inapplicable(v, f"{prefix}{f.name}.")
    return out


def _check_applicable(data: dict, sc: Scenario, points: list[Scenario], source: str | Path) -> None:
    given = _given_keys(data, Scenario) + list(sc.sweep.grid)
    unused = set.intersection(*(_inapplicable(p) for p in points))
    for key in given:
        if key in unused:
            owner = key.rsplit(".", 1)[0]
            model = {"tasks.arrival": "process", "channel.fading": "model", "channel.rate": "model"}[owner]
            node: Any = sc
            for part in f"{owner}.{model}".split("."):
                node = getattr(node, part)
            raise ConfigError(source, key, _lookup(data, key),
                              f"does not apply with {owner}.{model} = {node}; remove it")


def _lookup(data: dict, dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return (data.get("sweep") or {}).get("grid", {}).get(dotted)
        node = node[part]
    return node


def _check_name(name: str) -> str | None:
    """The default results folder is results/<name>: a plain folder name, nothing that climbs out."""
    ok = name not in ("", ".", "..") and all(c.isalnum() or c in "-_.+" for c in name)
    return None if ok else "must be a plain folder name (letters, digits, - _ . +), no path"


def _check_seeds(seeds: tuple) -> str | None:
    if not seeds:
        return "must list at least one seed"
    if any(s < 0 or s >= 2**63 for s in seeds):
        return "seeds must be whole numbers in [0, 2^63)"
    if len(set(seeds)) != len(seeds):
        return "each seed once: a repeated seed repeats the same simulation"
    return None


def _check_grid(grid: Any) -> str | None:
    for k in grid:
        if not isinstance(k, str) or not k or any(not part for part in k.split(".")):
            return f"must map dotted keys such as channel.snr_db to lists of values (key {k!r})"
    return None


def _expand_schemes(sc: Scenario, source: str | Path) -> tuple[str, ...]:
    """Scheme names, with shell-style patterns (``aecnn-*``) expanded against the profile's schemes."""
    from fnmatch import fnmatchcase

    from sim.profile import read_meta

    known = list(read_meta(Path(sc.profile))["schemes"])
    out: list[str] = []
    for pattern in sc.schemes:
        hits = [n for n in known if fnmatchcase(n, pattern)]
        if not hits:
            raise ConfigError(source, "schemes", pattern,
                              f"matches no scheme of the profile (it has: {', '.join(known)})")
        out += [h for h in hits if h not in out]
    return tuple(out)


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read ``path`` once into a Scenario; raises ConfigError (file, key, value) on any problem.

    ``overrides`` (dotted keys to values, as ``--set`` gives them) replace the file's values before
    anything is checked, so they are checked, and their paths resolved, like the file's own.
    """
    path = Path(path)
    data = schema.load_yaml_mapping(path, "scenario keys")
    for dotted, value in (overrides or {}).items():
        node, parts = data, dotted.split(".")
        if parts[:2] == ["sweep", "grid"] and len(parts) > 2:  # a grid key is itself dotted
            parts = ["sweep", "grid", ".".join(parts[2:])]
        for i, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError("(command line)", "--set", f"{dotted}={value}",
                                  f"{'.'.join(parts[: i + 1])} is not a mapping in {path}")
        node[parts[-1]] = value
    return from_dict(data, path)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``--set``) as {dotted key: value read as YAML}."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("(command line)", "--set", item, "must be KEY=VALUE, e.g. channel.snr_db=5")
        try:
            out[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError("(command line)", "--set", item, "the value is not valid YAML") from None
    return out


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
