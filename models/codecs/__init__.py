"""Every codec of the project, registered by name.

Feature codecs (models.codecs.base.FeatureCodec) are trained step by step and saved as level
checkpoints; one checkpoint can serve several codecs (a trained BottleNet++ is both ``bottlenet``,
raw 8-bit as published, and ``bottlenet-ec``, entropy-coded). Image codecs (models.codecs.image)
are the file formats of full offloading. The profiler and the timing command loop over this
registry; nothing outside this package branches on a codec's kind.

This module imports torch only when a feature codec is asked for.
"""
from __future__ import annotations

from collections.abc import Callable


class MissingDependency(RuntimeError):
    """A library a codec needs is not installed (the message says what to install)."""

# codec name -> (module, class name); families: checkpoint kind -> codec names it serves
FEATURE_CODECS: dict[str, tuple[str, str]] = {
    "aecnn": ("models.codecs.aecnn", "AECNNCodec"),
    "aecnn-rd": ("models.codecs.rd", "AECNNRD"),
    "bottlenet": ("models.codecs.bottlenet", "BottleNetCodec"),
    "bottlenet-ec": ("models.codecs.bottlenet", "BottleNetEntropyCoded"),
}
FAMILIES: dict[str, tuple[str, ...]] = {
    "aecnn": ("aecnn",),
    "aecnn-rd": ("aecnn-rd",),
    "bottlenet": ("bottlenet", "bottlenet-ec"),
}


def feature_codec(name: str) -> Callable:
    """The class of the feature codec ``name``; KeyError naming the known ones otherwise."""
    import importlib

    if name not in FEATURE_CODECS:
        raise KeyError(f"unknown codec {name!r}; known: {', '.join(sorted(FEATURE_CODECS))}")
    module, cls = FEATURE_CODECS[name]
    return getattr(importlib.import_module(module), cls)


def _legacy(ck: dict) -> dict:
    """A checkpoint written before the registry ({"kind": ..., "k": ..., "entropy": ...})."""
    if "family" in ck:
        return ck
    kind = ck["kind"]
    state = dict(ck["codec"])
    if kind == "aecnn":
        params = {"k": ck["k"], "bits": ck["bits"], "hidden": ck["hidden"], "phase3": ck.get("phase3", "mse")}
        state["_extra_state"] = ck.get("entropy", {"probs": None, "coder": None})
    else:
        params = {"k": ck["k"], "stride": ck["stride"], "hidden": ck["hidden"], "decoder": "two-layer"}
        state.setdefault("_extra_state", {"probs": None, "coder": None})
    return {**ck, "family": kind, "params": params, "codec": state}


def from_checkpoint(ck: dict, channels: int) -> list:
    """Every codec a level checkpoint serves, with its trained state (the entropy model included)."""
    ck = _legacy(ck)
    out = []
    for name in FAMILIES[ck["family"]]:
        codec = feature_codec(name)(channels, **ck["params"])
        codec.load_state_dict(ck["codec"])
        if getattr(codec, "entropy", True) is None and name.endswith("-ec"):
            continue  # an old BottleNet++ checkpoint has no entropy model for the coded variant
        out.append(codec.eval())
    return out


def is_level_checkpoint(ck: object) -> bool:
    return isinstance(ck, dict) and (ck.get("family") in FAMILIES or ck.get("kind") in FAMILIES) and "tail" in ck
