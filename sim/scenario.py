"""Scenario: a YAML file read once into frozen dataclasses (``load_scenario``).

Every key is documented in README.md ("Scenario keys"). Units are in the names: ``_ms``, ``_s``,
``_hz``, ``_db``, ``_bytes``, ``_bps``. Paths (profile, traces) are relative to the scenario file.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
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
    """A group of identical devices: ``devices`` is one group or a list of them.

    Devices are numbered group after group (the first group's are 0 .. count - 1). A group's mean
    SNR is ``channel.snr_db`` plus ``snr_offset_db``, or, with ``distance_m``, plus the log-distance
    path loss relative to ``channel.path_loss.reference_m``. ``arrival`` replaces
    ``tasks.arrival`` for the group's devices.
    """

    count: int = field(1, check=positive)
    hardware: str = "host-cpu"
    speed: float = field(1.0, check=in_range(0, 1e6, lo_open=True))
    name: str | None = None  # a label for the group in records and figures (default g0, g1, ...)
    snr_offset_db: float = field(0.0, check=in_range(-100, 100, unit="dB"))
    distance_m: float | None = field(None, check=in_range(0, 1e7, lo_open=True, unit="m"))
    arrival: Arrival | None = None
    power: str | None = None  # a power preset (sim/power.yaml, energy.presets); default: the hardware key's
    radio: str | None = None  # a radio of the presets, replacing the power preset's radio

    def validate(self, file: str, prefix: str) -> None:
        if self.distance_m is not None and self.snr_offset_db != 0:
            raise ConfigError(file, f"{prefix}.snr_offset_db", self.snr_offset_db,
                              "give distance_m or snr_offset_db, not both")
        if self.name is not None and _check_name(self.name):
            raise ConfigError(file, f"{prefix}.name", self.name, "must be letters, digits, - _ . +")


@dataclass(frozen=True)
class PathLoss:
    """Log-distance path loss, PL(d) = PL(d0) + 10 n log10(d / d0) (Rappaport, Wireless
    Communications, 2nd ed., eq. 4.69; n is 2 in free space, 2.7 to 3.5 in urban cellular radio,
    Table 4.2). ``channel.snr_db`` is the mean SNR at the reference distance d0."""

    exponent: float = field(3.0, check=in_range(1, 8))
    reference_m: float = field(100.0, check=in_range(0, 1e7, lo_open=True, unit="m"))


@dataclass(frozen=True)
class Threshold:
    """One row of an ``snr-threshold`` policy's table: ``scheme`` from ``from_db`` upward."""

    from_db: float = field(check=in_range(-100, 100, unit="dB"))
    scheme: str = field(check=lambda v: None if v else "must name a scheme")


POLICIES = ("fixed", "snr-threshold", "estimate", "oracle")


@dataclass(frozen=True)
class PolicySpec:
    """An entry of ``schemes`` that chooses the scheme task by task (sim/policies.py).

    A plain scheme name in ``schemes`` is ``{policy: fixed, scheme: NAME}``. ``policy`` is a
    built-in name or ``module:Class`` (a user's class, see docs/policies.md).
    """

    policy: str = field(check=lambda v: None if v in POLICIES or _is_class_path(v)
                        else f"must be one of {', '.join(POLICIES)} or module:Class")
    name: str | None = None  # its label in results (default: the policy, or the fixed scheme)
    scheme: str | None = None  # fixed: the scheme
    options: list[str] = field(())  # schemes it may choose from (patterns allowed); default all
    thresholds: list[Threshold] = field(())  # snr-threshold: the table
    objective: str = field("accuracy", check=one_of("accuracy", "energy"))  # estimate: what it maximises
    # estimate: accuracies this close (percentage points) to the best on-time option's count as equal
    tolerance_pct: float = field(1.0, check=in_range(0, 100, unit="points"))
    snr_age_ms: float = field(0.0, check=in_range(0, BIG, unit="ms"))  # the SNR it sees is this old
    snr_error_db: float = field(0.0, check=in_range(0, 100, unit="dB"))  # std dev of its error
    load_delay_ms: float | None = field(None, check=in_range(0, BIG, unit="ms"))  # uplink/edge load, this late
    params: dict = field({}, hash=False)  # keyword arguments of a user's class

    @property
    def label(self) -> str:
        return self.name or (self.scheme if self.policy == "fixed" else self.policy)

    def validate(self, file: str, prefix: str) -> None:
        if self.policy == "fixed" and not self.scheme:
            raise ConfigError(file, f"{prefix}.scheme", None, "is required for policy fixed")
        if self.policy != "fixed" and self.scheme is not None:
            raise ConfigError(file, f"{prefix}.scheme", self.scheme, "applies to policy fixed only; use options")
        if self.policy == "snr-threshold" and not self.thresholds:
            raise ConfigError(file, f"{prefix}.thresholds", None, "is required for policy snr-threshold")
        if self.policy != "snr-threshold" and self.thresholds:
            raise ConfigError(file, f"{prefix}.thresholds", "...", "applies to policy snr-threshold only")
        steps = [t.from_db for t in self.thresholds]
        if steps != sorted(steps) or len(set(steps)) != len(steps):
            raise ConfigError(file, f"{prefix}.thresholds", steps, "from_db must increase row by row")
        if self.tolerance_pct != 1.0 and self.policy != "estimate":
            raise ConfigError(file, f"{prefix}.tolerance_pct", self.tolerance_pct, "applies to policy estimate only")
        if self.objective != "accuracy" and self.policy != "estimate":
            raise ConfigError(file, f"{prefix}.objective", self.objective, "applies to policy estimate only")
        if self.params and ":" not in self.policy:
            raise ConfigError(file, f"{prefix}.params", dict(self.params), "applies to a user's policy (module:Class)")
        if self.name is not None and _check_name(self.name):
            raise ConfigError(file, f"{prefix}.name", self.name, "must be letters, digits, - _ . +")


def _is_class_path(v: str) -> bool:
    mod, sep, cls = v.partition(":")
    return bool(sep) and all(p.isidentifier() for p in mod.split(".")) and cls.isidentifier()


@dataclass(frozen=True)
class Fading:
    model: str = field("none", check=one_of("none", "rayleigh", "rician", "gilbert-elliott", "trace"))
    coherence_ms: float = field(10.0, check=in_range(0, BIG, lo_open=True, unit="ms"))
    k_factor: float = field(3.0, check=in_range(0, 1e6))
    bad_offset_db: float = field(-15.0, check=in_range(-100, 100, unit="dB"))
    good_mean_ms: float = field(1000.0, check=in_range(0, BIG, lo_open=True, unit="ms"))
    bad_mean_ms: float = field(200.0, check=in_range(0, BIG, lo_open=True, unit="ms"))
    trace: str | None = None  # CSV with columns time_s, snr_db
    shared: bool = False  # one realization for every device (co-located devices); else one per device

    def applicable(self) -> set[str]:
        return {"model", "shared", *{"none": (), "rayleigh": ("coherence_ms",), "rician": ("coherence_ms", "k_factor"),
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
    efficiency: float = field(0.75, check=in_range(0, 1, lo_open=True))
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
    path_loss: PathLoss = field(PathLoss())  # used by device groups that give distance_m

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
class Energy:
    """Where power presets come from besides sim/power.yaml (a file of the same format)."""

    presets: str | None = None


def _check_windows(windows: tuple) -> str | None:
    for w in windows:
        if len(w) != 2 or not 0 <= w[0] < w[1] <= BIG:
            return f"must list [start, end] windows in seconds with 0 <= start < end <= {BIG:g}; {list(w)} is not"
    return None


@dataclass(frozen=True)
class EdgeFaults:
    """Edge outages: fixed windows and/or random failures (exponential up and repair times).
    During an outage the edge accepts nothing and loses every job it holds."""

    windows_s: list[list[float]] = field((), check=_check_windows)
    mtbf_s: float | None = field(None, check=in_range(0, BIG, lo_open=True, unit="s"))
    mttr_s: float = field(1.0, check=in_range(0, BIG, lo_open=True, unit="s"))


@dataclass(frozen=True)
class UplinkFaults:
    """Uplink outage windows: the uplink carries nothing; transfers under way stall."""

    windows_s: list[list[float]] = field((), check=_check_windows)


@dataclass(frozen=True)
class Faults:
    edge: EdgeFaults = field(EdgeFaults())
    uplink: UplinkFaults = field(UplinkFaults())
    # a device that has no result this long after its stages ended gives the edge up
    timeout_ms: float | None = field(None, check=in_range(0, BIG, lo_open=True, unit="ms"))
    fallback: str = field("local", check=one_of("local", "drop"))  # then: run locally, or drop the task
    fallback_scheme: str | None = None  # the scheme run locally (default: the profile's local scheme)

    def validate(self, file: str, prefix: str) -> None:
        if self.timeout_ms is None and (self.fallback != "local" or self.fallback_scheme is not None):
            key = "fallback" if self.fallback != "local" else "fallback_scheme"
            raise ConfigError(file, f"{prefix}.{key}", getattr(self, key), "applies only with timeout_ms")
        if self.fallback == "drop" and self.fallback_scheme is not None:
            raise ConfigError(file, f"{prefix}.fallback_scheme", self.fallback_scheme, "applies to fallback local only")

    @property
    def any(self) -> bool:
        e = self.edge
        return bool(e.windows_s or e.mtbf_s or self.uplink.windows_s or self.timeout_ms is not None)


@dataclass(frozen=True)
class Sweep:
    grid: dict = field({}, check=lambda g: _check_grid(g))


@dataclass(frozen=True)
class Scenario:
    profile: str
    schemes: list[str | PolicySpec] = field(check=lambda v: None if v else "must name at least one scheme")
    name: str = field("scenario", check=lambda v: _check_name(v))
    seeds: list[int] = field([0], check=lambda v: _check_seeds(v))
    tasks: Tasks = field(Tasks(count=100))
    devices: Devices | list[Devices] = field(Devices(), check=lambda v: _check_groups(v))
    channel: Channel = field(Channel())
    edge: Edge = field(Edge())
    energy: Energy = field(Energy())
    faults: Faults = field(Faults())
    sweep: Sweep = field(Sweep())
    source: str = ""  # the file it came from (set by the loader)
    # schemes as written (patterns), to match them again against a swept profile's schemes
    patterns: tuple = field((), internal=True, compare=False, repr=False)

    @property
    def groups(self) -> tuple[Devices, ...]:
        """The device groups (one for the single-mapping form of ``devices``)."""
        return self.devices if isinstance(self.devices, tuple) else (self.devices,)

    @property
    def n_devices(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def arms(self) -> tuple[PolicySpec, ...]:
        """Every entry of ``schemes`` as a policy (a plain name is the fixed policy of that scheme)."""
        return tuple(PolicySpec(policy="fixed", scheme=s) if isinstance(s, str) else s for s in self.schemes)

    @property
    def labels(self) -> tuple[str, ...]:
        """The names results give the entries of ``schemes`` (the ``scheme`` column)."""
        return tuple(a.label for a in self.arms)

    def group_of(self, device: int) -> int:
        for i, g in enumerate(self.groups):
            if device < g.count:
                return i
            device -= g.count
        raise IndexError(device)

    def mean_snr_db(self, group: int) -> float:
        """Mean SNR of a group's devices: ``channel.snr_db`` plus its offset or its path loss."""
        g, pl = self.groups[group], self.channel.path_loss
        if g.distance_m is None:
            return self.channel.snr_db + g.snr_offset_db
        return self.channel.snr_db - 10 * pl.exponent * math.log10(g.distance_m / pl.reference_m)

    def arrival_of(self, group: int) -> Arrival:
        return self.groups[group].arrival or self.tasks.arrival

    def validate(self, file: str, prefix: str) -> None:
        """Each group's mean SNR (channel.snr_db with its offset or path loss) within [-100, 100] dB."""
        many = isinstance(self.devices, tuple)
        for gi, g in enumerate(self.groups):
            snr = self.mean_snr_db(gi)
            if not -100 <= snr <= 100:
                key = "distance_m" if g.distance_m is not None else "snr_offset_db"
                where = f"devices[{gi}].{key}" if many else f"devices.{key}"
                raise ConfigError(file, where, getattr(g, key),
                                  f"gives the devices a mean SNR of {snr:.4g} dB (channel.snr_db "
                                  f"{self.channel.snr_db:g}), beyond [-100, 100] dB")


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
    groups = data.get("devices")
    for g in groups if isinstance(groups, list) else [groups]:
        arrival = g.get("arrival") if isinstance(g, dict) else None
        if isinstance(arrival, dict) and isinstance(arrival.get("trace"), str):
            arrival["trace"] = str((base / arrival["trace"]).resolve())
    energy = data.get("energy")
    if isinstance(energy, dict) and isinstance(energy.get("presets"), str):
        energy["presets"] = str((base / energy["presets"]).resolve())
    grid = (data.get("sweep") or {}).get("grid") if isinstance(data.get("sweep"), dict) else None
    if isinstance(grid, dict):
        for key in PATH_KEYS:
            if isinstance(grid.get(key), list):
                grid[key] = [str((base / v).resolve()) if isinstance(v, str) else v for v in grid[key]]


# paths relative to the scenario file (devices.arrival.trace: in every device group)
PATH_KEYS = ("profile", "channel.fading.trace", "tasks.arrival.trace", "devices.arrival.trace",
             "energy.presets")


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
    sc = replace(sc, schemes=_expand_schemes(sc, source), patterns=sc.schemes)
    check_power(sc)
    points = [sc]
    for k, values in sc.sweep.grid.items():
        if k in ("sweep", "seeds", "name") or k.startswith("sweep."):
            raise ConfigError(source, f"sweep.grid.{k}", k, "cannot sweep this key")
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(source, f"sweep.grid.{k}", values, "must be a non-empty list of values")
        seen: dict[str, object] = {}
        for v in values:  # every swept key must exist and take each of its values, each once
            try:
                point = override(sc, {k: v})
            except ConfigError as e:
                key = e.key if e.key.startswith("sweep.grid.") else f"sweep.grid.{k} -> {e.key}"
                raise ConfigError(source, key, v, e.problem) from None
            text = repr(point)  # as resolved: 0 and 0.0, or two spellings of one path, are one value
            if text in seen:
                raise ConfigError(source, f"sweep.grid.{k}", v,
                                  f"is repeated (the same point as {seen[text]!r}); each value once")
            seen[text] = v
            points.append(point)
    if sc.sweep.grid and math.prod(len(v) for v in sc.sweep.grid.values()) <= 4096:
        points = [override(sc, dict(zip(sc.sweep.grid, combo)))
                  for combo in itertools.product(*sc.sweep.grid.values())]
    _check_applicable(data, sc, points, source)
    return sc


def power_models(sc: Scenario) -> list:
    """Each device group's power model (sim/power.py), None where it has none."""
    from sim.power import model_of, presets

    extra = preset_files(sc)
    out = []
    for i, g in enumerate(sc.groups):
        key = f"devices.{i}.power" if isinstance(sc.devices, tuple) else "devices.power"
        m = model_of(g.power, g.hardware, extra, sc.source, key)
        if g.radio is not None:
            radios, _ = presets(extra)
            if g.radio not in radios:
                raise ConfigError(sc.source, key.replace(".power", ".radio"), g.radio,
                                  f"is not a radio of the presets ({', '.join(sorted(radios))})")
            if m is None:
                raise ConfigError(sc.source, key.replace(".power", ".radio"), g.radio,
                                  "needs a power preset for the group (devices.power)")
            m = dataclasses.replace(m, radio=radios[g.radio])
        out.append(m)
    return out


@functools.lru_cache(maxsize=32)
def _profile_presets(meta: str, _mtime: int) -> str | None:
    from sim.profile import read_meta

    own = read_meta(Path(meta).parent).get("power_presets")
    if own is None:
        return None
    if not isinstance(own, str):
        raise ConfigError(meta, "power_presets", own, "must be a file name")
    return str((Path(meta).parent / own).resolve())


def preset_files(sc: Scenario) -> tuple[str, ...]:
    """Power preset files besides sim/power.yaml, in order: the profile's ``power_presets`` (a
    path relative to the profile folder), then the scenario's ``energy.presets``."""
    meta = Path(sc.profile, "profile.yaml")
    own = _profile_presets(str(meta), meta.stat().st_mtime_ns)
    files = [own] if own else []
    if sc.energy.presets:
        files.append(sc.energy.presets)
    return tuple(files)


def check_power(sc: Scenario) -> None:
    """Every named power preset and radio exists and the presets file is whole (ConfigError)."""
    power_models(sc)


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


def _check_groups(devices: Any) -> str | None:
    if isinstance(devices, tuple):
        if not devices:
            return "must list at least one device group"
        names = [g.name for g in devices if g.name is not None]
        if len(set(names)) != len(names):
            return "each group name once"
    return None


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


def _expand_schemes(sc: Scenario, source: str | Path) -> tuple[str | PolicySpec, ...]:
    """Scheme names, with shell-style patterns (``aecnn-*``) expanded against the profile's schemes;
    in a policy entry, its scheme, options and thresholds checked and its option patterns expanded."""
    from fnmatch import fnmatchcase

    from sim.profile import read_meta

    known = list(read_meta(Path(sc.profile))["schemes"])

    def expand(pattern: str, key: str) -> list[str]:
        hits = [n for n in known if fnmatchcase(n, pattern)]
        if not hits:
            raise ConfigError(source, key, pattern, f"matches no scheme of the profile (it has: {', '.join(known)})")
        return hits

    out: list[str | PolicySpec] = []
    for i, entry in enumerate(sc.schemes):
        if isinstance(entry, str):
            out += [h for h in expand(entry, "schemes") if h not in out]
            continue
        key = f"schemes[{i}]"
        if entry.scheme is not None and entry.scheme not in known:
            expand(entry.scheme, f"{key}.scheme")  # a pattern is no scheme name: say what there is
            raise ConfigError(source, f"{key}.scheme", entry.scheme, "must be one scheme's name, not a pattern")
        options: list[str] = []
        for j, pattern in enumerate(entry.options):
            options += [h for h in expand(pattern, f"{key}.options[{j}]") if h not in options]
        for j, row in enumerate(entry.thresholds):
            if row.scheme not in known:
                raise ConfigError(source, f"{key}.thresholds[{j}].scheme", row.scheme,
                                  f"not a scheme of the profile (it has: {', '.join(known)})")
            if options and row.scheme not in options:
                raise ConfigError(source, f"{key}.thresholds[{j}].scheme", row.scheme, "is not among its options")
        out.append(replace(entry, options=tuple(options)))
    labels = [e if isinstance(e, str) else e.label for e in out]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise ConfigError(source, "schemes", label, "two entries have this name; give a policy its own name")
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
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):  # devices.1.count
                node = node[int(part)]
            elif isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                node = None
            if not isinstance(node, (dict, list)):
                raise ConfigError("(command line)", "--set", f"{dotted}={value}",
                                  f"{'.'.join(parts[: i + 1])} is not a mapping in {path}")
        if not isinstance(node, dict):
            raise ConfigError("(command line)", "--set", f"{dotted}={value}",
                              f"{'.'.join(parts[:-1])} is a list in {path}: name an entry, e.g. "
                              f"{'.'.join(parts[:-1])}.0.{parts[-1]}")
        node[parts[-1]] = value
    return from_dict(data, path)


def _near(parts: list[str], node) -> str:
    """A hint naming the key of ``node`` closest to the last of ``parts`` (a grid key's typo)."""
    if not isinstance(node, dict):
        return ""
    close = difflib.get_close_matches(parts[-1], [k for k in node if isinstance(k, str)], n=1)
    if close:
        return f"; did you mean {'.'.join([*parts[:-1], close[0]])}?"
    return f"; {'.'.join(parts[:-1]) or 'the top level'} has {', '.join(map(str, node))}"


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
            if isinstance(node, list) and p.isdigit() and int(p) < len(node):  # devices.1.count: group 1
                node = node[int(p)]
                continue
            nxt = node.get(p) if isinstance(node, dict) else None
            if isinstance(nxt, list) and not (i + 1 < len(parts) - 1 or parts[i + 1].isdigit()):
                nxt = None
            if not isinstance(nxt, (dict, list)):
                hint = (f"; {p} is a list: name an entry, e.g. {p}.0.{parts[-1]}"
                        if isinstance(node, dict) and isinstance(node.get(p), list) else "")
                raise ConfigError(sc.source, f"sweep.grid.{dotted}", v,
                                  f"no such key '{'.'.join(parts[: i + 1])}'{hint}")
            node = nxt
        if not isinstance(node, dict) or parts[-1] not in node:
            raise ConfigError(sc.source, f"sweep.grid.{dotted}", v, "no such key" + _near(parts, node))
        node[parts[-1]] = v
    data.pop("source")
    data["sweep"] = {"grid": {}}
    built = schema.build(Scenario, data, sc.source)
    built = replace(built, source=sc.source, sweep=sc.sweep, patterns=sc.patterns)
    if "profile" in values and sc.patterns:  # the schemes as written, matched against this profile's
        if not Path(built.profile, "profile.yaml").is_file():
            raise ConfigError(sc.source, "sweep.grid.profile", built.profile, "no profile.yaml in that folder")
        built = replace(built, schemes=_expand_schemes(replace(built, schemes=sc.patterns), sc.source))
    return built
