"""Turn nested dicts from YAML into frozen dataclasses, checking every key and value.

Each dataclass field may carry ``metadata={"check": fn}`` where ``fn(value)`` returns a problem
string or None. Unknown keys, wrong types and failed checks raise ConfigError naming the dotted
key; nothing is guessed.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.errors import ConfigError


def load_yaml_mapping(path: Path, what: str) -> dict:
    """A YAML file that must hold a mapping (``what`` names its keys, for the message); any
    problem (unreadable, not UTF-8, not YAML, not a mapping) is a ConfigError naming the file."""
    import yaml

    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(path, "(file)", str(path), f"is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise ConfigError(path, "(file)", str(path), f"cannot be read: {e.strerror or e}") from None
    try:
        data = _parse_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(path, where, getattr(e, "problem", None) or str(e).splitlines()[0],
                          "is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "(top level)", data, f"must be a mapping of {what}")
    return data


def _parse_yaml(text: str) -> Any:
    """``yaml.safe_load(text)`` through libyaml's parser where PyYAML has it (8x faster on a
    profile of 31 schemes; the same values); a document it refuses is parsed again by PyYAML's
    own, whose error names the problem more exactly (a tab, the end of the stream)."""
    import yaml

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def positive(v: float) -> str | None:
    return None if v > 0 else "must be > 0"


positive.bounds = (0, None, True)


def in_range(lo: float, hi: float, lo_open: bool = False, unit: str = "") -> Callable[[Any], str | None]:
    """A check that the value lies in [lo, hi] (or (lo, hi] with ``lo_open``); the range is in the message."""
    text = f"{'(' if lo_open else '['}{lo:g}, {hi:g}]{' ' + unit if unit else ''}"

    def check(v: Any) -> str | None:
        ok = (v > lo if lo_open else v >= lo) and v <= hi
        return None if ok else f"must be in {text}"
    check.bounds = (lo, hi, lo_open)  # for the JSON Schema
    return check


def non_negative(v: float) -> str | None:
    return None if v >= 0 else "must be >= 0"


def probability(v: float) -> str | None:
    return None if 0 <= v <= 1 else "must be a probability in [0, 1]"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in choices else f"must be one of {', '.join(map(str, choices))}"
    check.choices = choices  # for the JSON Schema
    return check


def field(default: Any = dataclasses.MISSING, check: Callable | None = None, internal: bool = False,
          **kw: Any) -> Any:
    """A dataclass field with an optional value check; ``internal`` fields are set by code only:
    not read from YAML, not written back."""
    md = {"check": check} if check else {}
    if internal:
        md["internal"] = True
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda d=default: type(d)(d), metadata=md, **kw)
    return dataclasses.field(default=default, metadata=md, **kw)


def _convert(tp: Any, value: Any, file: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, file, key)
            except ConfigError as e:
                # the error of the alternative of the value's own shape (a mapping's, a list's) says most
                shaped = (dataclasses.is_dataclass(a) and isinstance(value, dict)) or \
                    (typing.get_origin(a) in (list, tuple) and isinstance(value, list))
                errors.insert(0, e) if shaped else errors.append(e)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(file, key, value, "must be a mapping")
        return build(tp, value, file, key)
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list):
            raise ConfigError(file, key, value, "must be a list")
        return tuple(_convert(inner, v, file, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(file, key, value, "must be a mapping")
        return types.MappingProxyType(dict(value))
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e6 (no sign in the exponent) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ConfigError(file, key, value, "must be a number")
        try:
            value = float(value)
        except OverflowError:  # an integer too large for a float
            raise ConfigError(file, key, value, "must be a finite number") from None
        if value in (float("inf"), float("-inf")):
            raise ConfigError(file, key, value, "must be a finite number")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(file, key, value, "must be an integer")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, key, value, "must be true or false")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(file, key, value, "must be a string")
        return value
    return value


def build(cls: type, data: dict, file: str, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``; every problem raises ConfigError with the dotted key."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for k in data:
        if k not in fields:
            raise ConfigError(file, f"{prefix}.{k}" if prefix else str(k), data[k],
                              f"unknown key; expected one of {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(file, key, None, "is required")
            continue
        value = _convert(hints[name], data[name], file, key)
        check = f.metadata.get("check")
        if check and value is not None:
            problem = check(value)
            if problem:
                raise ConfigError(file, key, data[name], problem)
        kwargs[name] = value
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate:
        validate(file, prefix)
    return obj


def to_dict(obj: Any) -> Any:
    """A frozen dataclass tree back to plain dicts and lists (for YAML output)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.metadata.get("internal")}
    if isinstance(obj, (tuple, list)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, (dict, types.MappingProxyType)):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _json_type(tp: Any) -> dict:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        out = _json_type(args[0]) if len(args) == 1 else {"anyOf": [_json_type(a) for a in args]}
        if type(None) in typing.get_args(tp):
            out = {"anyOf": [out, {"type": "null"}]}
        return out
    if dataclasses.is_dataclass(tp):
        return json_schema(tp, top=False)
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(tp) or (Any,)
        return {"type": "array", "items": _json_type(inner)}
    if origin is dict or tp is dict:
        return {"type": "object"}
    return {float: {"type": "number"}, int: {"type": "integer"}, bool: {"type": "boolean"},
            str: {"type": "string"}}.get(tp, {})


def json_schema(cls: type, top: bool = True) -> dict:
    """A JSON Schema (draft 2020-12) of dataclass ``cls``: the keys, their types, defaults, choices
    and ranges, for editors that validate YAML against a schema. The loader checks more (the
    relations between keys); this is the shape."""
    hints = typing.get_type_hints(cls)
    props, required = {}, []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or f.name == "source":
            continue
        entry = _json_type(hints[f.name])
        check = f.metadata.get("check")
        if getattr(check, "choices", None):
            entry = {**entry, "enum": list(check.choices)}
        bounds = getattr(check, "bounds", None)
        if bounds:
            lo, hi, lo_open = bounds
            entry = {**entry, ("exclusiveMinimum" if lo_open else "minimum"): lo}
            if hi is not None:
                entry["maximum"] = hi
        if f.default is not dataclasses.MISSING:
            entry["default"] = to_dict(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            entry["default"] = to_dict(f.default_factory())
        else:
            required.append(f.name)
        props[f.name] = entry
    out = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    if top:
        out = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": cls.__name__, **out}
    return out


def key_table(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(dotted key, type, default, allowed) of every key of ``cls``, sub-keys included."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal") or f.name == "source":
            continue
        tp, key = hints[f.name], f"{prefix}{f.name}"
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        check = f.metadata.get("check")
        allowed = ""
        if getattr(check, "choices", None):
            allowed = ", ".join(map(str, check.choices))
        elif getattr(check, "bounds", None):
            lo, hi, lo_open = check.bounds
            allowed = f"{'(' if lo_open else '['}{lo:g}, {'inf' if hi is None else format(hi, 'g')}]"
        shown = "(required)" if default is dataclasses.MISSING else (
            "(see below)" if dataclasses.is_dataclass(default) else json.dumps(to_dict(default)))
        rows.append((key, _type_name(tp), shown, allowed))
        seen: set = set()
        for sub, listed in _nested(tp):
            if sub not in seen:  # a mapping that may also be a list of them (devices): its keys once
                seen.add(sub)
                rows += key_table(sub, f"{key}[]." if listed else f"{key}.")
    return rows


def _nested(tp: Any, listed: bool = False) -> list[tuple[type, bool]]:
    """The dataclasses inside a field's type, and whether each sits in a list."""
    if dataclasses.is_dataclass(tp):
        return [(tp, listed)]
    origin = typing.get_origin(tp)
    out = []
    for a in typing.get_args(tp):
        for got in _nested(a, listed or origin in (list, tuple)):
            if got not in out:
                out.append(got)
    return out


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None)) + \
            (" or null" if type(None) in typing.get_args(tp) else "")
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(tp) or (Any,)
        return f"list of {_type_name(inner)}"
    if origin is dict or tp is dict:
        return "mapping"
    if dataclasses.is_dataclass(tp):
        return "mapping"
    return {float: "number", int: "integer", bool: "boolean", str: "string"}.get(tp, str(tp))


def markdown_key_table(cls: type) -> str:
    """:func:`key_table` as a Markdown table."""
    lines = ["| key | type | default | allowed |", "|---|---|---|---|"]
    for key, tp, default, allowed in key_table(cls):
        lines.append(f"| `{key}` | {tp} | {default.replace('|', '/')} | {allowed} |")
    return "\n".join(lines)
