"""Power models (sim/power.yaml, or a file a scenario names) and the per-task energy they give.

A device group's model is the preset its ``power`` key names, else the preset named like its
``hardware`` key, else none (its tasks' energy columns are NaN). Energy of one task, in joules:

- ``compute``: the board's ``active_w`` x the seconds its CPU ran the task's stages;
- ``radio``: while the task's bits are on the air, ``uplink_mw_per_mbps`` x Mbit sent (HARQ
  resends and headers included) + ``base_mw`` x the seconds on the air; plus ``promotion_mw`` x
  ``promotion_s`` when the transmission found the radio idle (its tail had run out);
- ``tail``: ``tail_mw`` x the time from the end of the task's transmission until the device's next
  transmission starts, at most ``tail_s`` (the radio's tail, Huang et al. 2012);
- ``idle``: the board's ``idle_w`` x the seconds the device waited for the task's result (from the
  end of its stages until the result, or the task's end without one).

This is the per-task view of Neurosurgeon (Kang et al., ASPLOS 2017): tasks that overlap in time
each count the power of what they use, so sums over tasks can exceed the board's energy meter.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim.errors import ConfigError

BUILTIN = Path(__file__).with_name("power.yaml")
STATUSES = ("checked", "recalled", "assumption")
RADIO_FIGURES = ("uplink_mw_per_mbps", "base_mw", "tail_mw", "tail_s", "promotion_mw", "promotion_s")
DEVICE_FIGURES = ("active_w", "idle_w")


@dataclass(frozen=True)
class Radio:
    name: str
    uplink_mw_per_mbps: float
    base_mw: float
    tail_mw: float
    tail_s: float
    promotion_mw: float
    promotion_s: float

    def transmit_j(self, bits: float, seconds: float) -> float:
        """Energy of sending ``bits`` in ``seconds`` (P = alpha x rate + beta, integrated)."""
        return (self.uplink_mw_per_mbps * bits / 1e6 + self.base_mw * seconds) / 1e3

    def tail_j(self, gap_s: float) -> float:
        return self.tail_mw * min(max(gap_s, 0.0), self.tail_s) / 1e3

    @property
    def promotion_j(self) -> float:
        return self.promotion_mw * self.promotion_s / 1e3


@dataclass(frozen=True)
class DevicePower:
    name: str
    active_w: float
    idle_w: float
    radio: Radio


def _figure(file: str, key: str, doc, sources: dict) -> float:
    if not isinstance(doc, dict) or set(doc) != {"value", "source", "status"}:
        raise ConfigError(file, key, doc, "must be {value, source, status}")
    v = doc["value"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
        raise ConfigError(file, f"{key}.value", v, "must be a finite number >= 0")
    if doc["status"] not in STATUSES:
        raise ConfigError(file, f"{key}.status", doc["status"], f"must be one of {', '.join(STATUSES)}")
    if doc["source"] not in sources:
        raise ConfigError(file, f"{key}.source", doc["source"], "is not a key of sources")
    return float(v)


def _read(path: Path) -> dict:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(path, "energy.presets", str(path), f"cannot be read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(path, "(file)", str(path), f"is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not set(doc) <= {"sources", "radios", "devices"}:
        raise ConfigError(path, "(file)", sorted(doc) if isinstance(doc, dict) else doc,
                          "must be a mapping with sources, radios and devices")
    for k in ("sources", "radios", "devices"):
        if not isinstance(doc.get(k) or {}, dict):
            raise ConfigError(path, k, doc[k], "must be a mapping")
    return doc


def _docs(extra) -> list[tuple[Path, dict]]:
    """(path, contents) of sim/power.yaml and of ``extra`` (a file or files, in order)."""
    files = [] if not extra else [Path(e) for e in ((extra,) if isinstance(extra, (str, Path)) else extra) if e]
    return [(p, _read(p)) for p in (BUILTIN, *files)]


@functools.lru_cache(maxsize=16)
def presets(extra: str | tuple | None = None) -> tuple[dict[str, Radio], dict[str, DevicePower]]:
    """The radios and devices of sim/power.yaml, with those of ``extra`` (a file, or files in
    order: a profile's, then a scenario's) added; later entries replace earlier ones of the same
    name. Every figure is checked."""
    docs = _docs(extra)
    sources = {k: v for _, d in docs for k, v in (d.get("sources") or {}).items()}
    radios: dict[str, Radio] = {}
    raw_devices: dict[str, tuple[str, dict]] = {}
    for path, d in docs:
        for name, r in (d.get("radios") or {}).items():
            where = f"radios.{name}"
            if not isinstance(r, dict):
                raise ConfigError(path, where, r, "must be a mapping")
            unknown = set(r) - {*RADIO_FIGURES, "description"}
            if unknown:
                raise ConfigError(path, f"{where}.{sorted(unknown)[0]}", "...", "is not a radio figure")
            missing = [f for f in RADIO_FIGURES if f not in r]
            if missing:
                raise ConfigError(path, f"{where}.{missing[0]}", None, "is required")
            radios[name] = Radio(name, *(_figure(str(path), f"{where}.{f}", r[f], sources) for f in RADIO_FIGURES))
        for name, dev in (d.get("devices") or {}).items():
            raw_devices[name] = (str(path), dev)
    devices = {}
    for name, (path, dev) in raw_devices.items():
        where = f"devices.{name}"
        if not isinstance(dev, dict):
            raise ConfigError(path, where, dev, "must be a mapping")
        unknown = set(dev) - {*DEVICE_FIGURES, "radio", "description"}
        if unknown:
            raise ConfigError(path, f"{where}.{sorted(unknown)[0]}", "...", "is not a device figure")
        missing = [f for f in (*DEVICE_FIGURES, "radio") if f not in dev]
        if missing:
            raise ConfigError(path, f"{where}.{missing[0]}", None, "is required")
        if dev["radio"] not in radios:
            raise ConfigError(path, f"{where}.radio", dev["radio"], f"is not a radio ({', '.join(sorted(radios))})")
        active, idle = (_figure(path, f"{where}.{f}", dev[f], sources) for f in DEVICE_FIGURES)
        devices[name] = DevicePower(name, active, idle, radios[dev["radio"]])
    return radios, devices


def figures(extra: str | None = None) -> list[dict]:
    """Every figure of the presets with its source and status (for the README's table)."""
    rows = []
    for _, d in _docs(extra):
        for kind in ("devices", "radios"):
            for name, entry in (d.get(kind) or {}).items():
                for f, v in entry.items():
                    if isinstance(v, dict):
                        rows.append({"kind": kind[:-1], "name": name, "figure": f, **v,
                                     "source_text": " ".join(str(d["sources"].get(v["source"], "")).split())})
    return rows


def markdown_table(extra: str | None = None) -> str:
    """The presets as Markdown: one row per figure, then the sources (the README's table)."""
    rows = figures(extra)
    out = ["| preset | figure | value | status | source |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['kind']} `{r['name']}` | `{r['figure']}` | {r['value']:g} | {r['status']} | {r['source']} |")
    out.append("")
    for _, d in _docs(extra):
        for k, text in (d.get("sources") or {}).items():
            out.append(f"- `{k}`: {' '.join(str(text).split())}")
    return "\n".join(out)


class RadioMeter:
    """One device's radio: charges each transmission, its promotion, and the tail that follows it.

    ``send`` is called for every transmission of the device in order of start time (transmissions
    of one device never overlap); the tail after a transmission is known once the next one starts
    (or at :meth:`close`), and is charged to the task that sent the transmission before it.
    ``on_tail(owner, joules)`` receives it; ``owner`` is the task's times dict.
    """

    def __init__(self, radio: Radio, on_tail) -> None:
        self.radio, self.on_tail = radio, on_tail
        self.last_end: float | None = None
        self.owner = None

    def send(self, start: float, end: float, bits: float, owner) -> float:
        """Charge a transmission; return its energy (with promotion if the radio was idle)."""
        r = self.radio
        e = r.transmit_j(bits, end - start)
        if self.last_end is None or start - self.last_end > r.tail_s:
            e += r.promotion_j
        if self.owner is not None:
            prev, self.owner = self.owner, None
            self.on_tail(prev, r.tail_j(start - self.last_end))
        self.last_end, self.owner = max(end, self.last_end or end), owner
        return e

    def close(self) -> None:
        """The end of the run: the last transmission's tail runs its full length."""
        if self.owner is not None:
            prev, self.owner = self.owner, None
            self.on_tail(prev, self.radio.tail_j(self.radio.tail_s))


def model_of(power: str | None, hardware: str, extra, file: str, key: str) -> DevicePower | None:
    """A device group's power model: the preset ``power`` names, else the preset named like its
    hardware key, else None."""
    _, devices = presets(extra)
    if power is not None:
        if power not in devices:
            raise ConfigError(file, key, power, f"is not a power preset ({', '.join(sorted(devices))})")
        return devices[power]
    return devices.get(hardware)
