"""The stages of a profile and its schemes, built from the codec registry (profiler and ``time``).

Every scheme is one codec: ``local`` runs the full network on the device; an image codec encodes
on the device, decodes on the edge and the edge runs the full network; a feature codec runs the
head and its encoder on the device, its decoder and the tail on the edge. Stage names:
``full``, ``head``, ``tail``, ``<prefix>-encode`` and ``<prefix>-decode`` where the prefix is the
scheme's name (``png`` for the ``full-offload`` scheme).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from models.codecs.base import FeatureCodec
from models.codecs.image import ImageCodec


def prefix(scheme: str) -> str:
    return "png" if scheme == "full-offload" else scheme


def scheme_of_image(c: ImageCodec) -> dict:
    p = prefix(c.scheme)
    return {"kind": "offload", "codec": c.codec, "device": [f"{p}-encode"], "edge": [f"{p}-decode", "full"],
            "params": {"format": c.format, "options": dict(c.options)}}


def scheme_of_feature(c: FeatureCodec) -> dict:
    return {"kind": "split", "codec": c.codec, "device": ["head", f"{c.name}-encode"],
            "edge": [f"{c.name}-decode", "tail"], "params": c.params(), **c.info()}


def functions(net, head, tail, feats: list[FeatureCodec], images: list[ImageCodec], x: torch.Tensor,
              z: torch.Tensor, raw: np.ndarray) -> dict[str, Callable[[int], object]]:
    """``{stage: fn(batch)}`` for every stage of these codecs, on the inputs given (64 of each)."""
    out: dict[str, Callable[[int], object]] = {
        "full": lambda b: net(x[:b]), "head": lambda b: head(x[:b]), "tail": lambda b: tail(z[:b])}
    size = tuple(z.shape[2:])
    for c in images:
        files = [c.compress(im) for im in raw]
        p = prefix(c.scheme)
        out[f"{p}-encode"] = lambda b, c=c: [c.compress(im) for im in raw[:b]]
        out[f"{p}-decode"] = lambda b, c=c, f=files: [c.decompress(d, raw[0].shape) for d in f[:b]]
    for c in feats:
        with torch.no_grad():
            strings = c.compress(z)
        out[f"{c.name}-encode"] = lambda b, c=c: c.compress(z[:b])
        out[f"{c.name}-decode"] = lambda b, c=c, s=strings: c.decompress(s[:b], size)
    return out


def flops(head, tail, net, feats: list[FeatureCodec], x1: torch.Tensor, z1: torch.Tensor) -> dict[str, tuple[int, int]]:
    """``{stage: (flops, params)}``: network stages and each feature codec's encoder and decoder.

    Counted by torch's FlopCounterMode (multiply-add = 2), plus 3 elementwise operations per
    value a codec quantises (scale, round, clamp), which the counter does not see.
    """
    from models import timing

    out = {"full": (timing.count_flops(net, x1), timing.count_params(net)),
           "head": (timing.count_flops(head, x1), timing.count_params(head)),
           "tail": (timing.count_flops(tail, z1), timing.count_params(tail))}
    size = tuple(z1.shape[2:])
    for c in feats:
        enc = timing.count_flops(c.encoder_forward, z1) + c.quantise_flops(size)
        sym = c.decoder_input(z1)
        dec = timing.count_flops(lambda _, c=c, s=sym: c.reconstruct(s, size), z1)
        out[f"{c.name}-encode"] = (enc, sum(p.numel() for p in c.encoder_parameters()))
        out[f"{c.name}-decode"] = (dec, sum(p.numel() for p in c.decoder_parameters()))
    return out
