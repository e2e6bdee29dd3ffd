"""Measurements behind ``aecnn-models profile``: per-image bytes and correctness, per-stage cost.

Loops over the codec registry: the image codecs (models.codecs.image), the uncompressed splits
and every level checkpoint of the run folder (one checkpoint may serve several codecs). No
branch on a codec's kind: every feature codec is measured through the same interface.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from models import codecs, stages, timing
from models.backbone import Head, Tail
from models.codecs.base import FeatureCodec
from models.codecs.image import ImageCodec, image_codecs
from models.codecs.split import Float32Split, Int8Split
from models.data import pixels
from models.run import Run

HOST = "host-cpu"


@dataclass
class Level:
    """A feature codec and the tail it was fine-tuned with (the backbone's for the splits)."""

    codec: FeatureCodec
    tail: torch.nn.Module
    path: Path | None = None


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def levels_of(run: Run, tail: Tail, train_z: torch.Tensor) -> list[Level]:
    """The splits (with the backbone's tail) and every trained level checkpoint of the run folder."""
    size = tuple(train_z.shape[2:])
    out = [Level(Float32Split(train_z.shape[1], size), tail), Level(Int8Split.calibrated(train_z), tail)]
    for path in sorted(run.folder.glob("*.pt")):
        ck = torch.load(path, map_location="cpu", weights_only=False)
        if not codecs.is_level_checkpoint(ck):
            continue
        level_tail = Tail(run.load_backbone(), run.config.split)  # its own copy: a Tail shares the net's layers
        level_tail.load_state_dict(ck["tail"])
        level_tail.to(run.device).eval()
        for codec in codecs.from_checkpoint(ck, train_z.shape[1]):
            out.append(Level(codec.to(run.device), level_tail, path))
    return out


def _as_input(imgs: np.ndarray, norm: tuple[float, float], dev: torch.device) -> torch.Tensor:
    """Decoded uint8 images (N, H, W, C) normalised as the backbone's inputs."""
    mean, std = norm
    return ((pixels(imgs) - mean) / std).to(dev)


def per_sample(run: Run, net, head: Head, levels: list[Level], images: list[ImageCodec],
               batch_size: int = 250) -> pd.DataFrame:
    """Every test image's payload bytes and correctness, per scheme, through the real payloads."""
    imgs, norm = run.images("test"), run.norm()
    cols: dict[str, list] = {"index": [], "label": []}

    def put(key: str, values) -> None:
        cols.setdefault(key, []).extend(values)

    start = 0
    for x, y in tqdm(DataLoader(run.tensors("test"), batch_size=batch_size),
                     desc="per-image bytes and correctness", disable=None):
        x, n = x.to(run.device), len(y)
        raw = imgs.images[start:start + n]
        put("index", range(start, start + n))
        put("label", y.tolist())
        with torch.no_grad():
            full_ok = (net(x).argmax(1).cpu() == y).int().tolist()
            put("local_bytes", [0] * n)
            put("local_correct", full_ok)
            for c in images:
                files = [c.compress(im) for im in raw]
                back = np.stack([c.decompress(f, im.shape) for f, im in zip(files, raw)])
                if c.lossless and not np.array_equal(back, raw):
                    raise RuntimeError(f"{c.scheme}: lossless round trip is not exact")
                ok = full_ok if c.lossless else \
                    (net(_as_input(back, norm, run.device)).argmax(1).cpu() == y).int().tolist()
                put(f"{c.scheme}_bytes", [len(f) for f in files])
                put(f"{c.scheme}_correct", ok)
            z = head(x)
            for lv in levels:
                sym = lv.codec.symbols(z)
                strings, zhat = lv.codec.roundtrip(z, sym)
                put(f"{lv.codec.name}_bytes", [len(s) for s in strings])
                put(f"{lv.codec.name}_correct", (lv.tail(zhat.to(run.device)).argmax(1).cpu() == y).int().tolist())
                bits = [lv.codec.entropy_bits(s) for s in sym]
                if bits and bits[0] is not None:
                    put(f"{lv.codec.name}_entropy_bits", bits)
        start += n
    return pd.DataFrame(cols)


def cuda_key() -> str:
    return "cuda-" + torch.cuda.get_device_name(0).replace(" ", "-").lower()


def _latency(fn_of_batch, batch_sizes: list[int], repeats: int, dev: torch.device) -> dict:
    """{hardware key: {batch: median ms}}: host-cpu at the given batch sizes, a GPU at 1..64."""
    if dev.type == "cuda":
        return {cuda_key(): {b: round(timing.time_cuda_ms(lambda b=b: fn_of_batch(b), repeats=repeats), 4)
                             for b in (1, 2, 4, 8, 16, 32, 64)}}
    out = {}
    for b in batch_sizes:
        reps = max(3, repeats // max(1, b // 4))
        out[b] = round(timing.time_cpu_ms(lambda b=b: fn_of_batch(b), repeats=reps), 4)
    return {HOST: out}


def _stages(run: Run, net, head, tail, levels: list[Level], images: list[ImageCodec], edge: set[str],
            args: argparse.Namespace, dev: torch.device) -> dict:
    """Cost of every stage with the modules on ``dev`` (moved there by the caller); ``edge``: the
    stages that run on the edge, timed at every batch size."""
    x = run.tensors("test").tensors[0][:64].to(dev)
    with torch.no_grad():
        z = head(x)
    feats = [lv.codec for lv in levels]
    fns = stages.functions(net, head, tail, feats, images, x, z, run.images("test").images[:64])
    counted = stages.flops(head, tail, net, feats, x[:1], z[:1])
    edge_bs = [int(b) for b in args.batch_sizes.split(",")]
    out = {}
    for name, fn in fns.items():
        fl, params = counted.get(name, (0, 0))
        with torch.no_grad():
            lat = _latency(fn, edge_bs if name in edge else [1], args.repeats, dev)
        out[name] = {"flops": int(fl), "params": int(params), "latency_ms": lat}
    return out


def schemes_of(levels: list[Level], images: list[ImageCodec]) -> dict[str, dict]:
    out = {"local": {"kind": "local", "codec": "local", "device": ["full"], "edge": []}}
    out.update({lv.codec.name: stages.scheme_of_feature(lv.codec) for lv in levels})
    out.update({c.scheme: stages.scheme_of_image(c) for c in images})
    return out


def provenance(run: Run, levels: list[Level], n: int, command: str, made_by: str | None = None) -> dict:
    """Where a profile came from. ``command`` regenerates it (the pipeline's when the pipeline ran
    the profiler, so training is included); ``profiler_command`` is the profiler call itself."""
    ckpts = [run.path("backbone.pt")] + list(dict.fromkeys(lv.path for lv in levels if lv.path))
    return {
        "command": made_by or command,
        "profiler_command": command,
        "git_commit": timing.git_commit(),
        "checkpoints": {p.name: sha256(p) for p in ckpts},
        "run_config": dict(vars(run.config)),
        "dataset": run.config.dataset,
        "split": "test",
        "n_samples": n,
        "machine": timing.machine(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def build_profile(run: Run, args: argparse.Namespace) -> tuple[dict, pd.DataFrame]:
    """Everything the profile holds: provenance, hardware, stages, schemes, and per-image samples."""
    from models.steps import cached_features

    net = run.load_backbone()
    head, tail = Head(net, run.config.split).eval(), Tail(net, run.config.split).eval()
    levels = levels_of(run, tail, cached_features(run, "train").tensors[0])
    images = image_codecs()
    samples = per_sample(run, net, head, levels, images)
    modules = [net] + [m for lv in levels for m in (lv.codec, lv.tail)]
    for m in modules:
        m.to(torch.device("cpu"))
    schemes = schemes_of(levels, images)
    edge = {s for sc in schemes.values() for s in sc["edge"]}
    st = _stages(run, net, head, tail, levels, images, edge, args, torch.device("cpu"))
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        for m in modules:
            m.to(gpu)
        for name, s in _stages(run, net, head, tail, levels, images, edge, args, gpu).items():
            st[name]["latency_ms"].update(s["latency_ms"])
    with torch.no_grad():
        feat_shape = list(head(run.tensors("test").tensors[0][:1]).shape[1:])
    f32 = int(np.prod(feat_shape)) * 4
    for name, sc in schemes.items():
        sc["bytes_column"] = f"{name}_bytes"
        sc["correct_column"] = f"{name}_correct"
        sc["accuracy"] = round(float(samples[f"{name}_correct"].mean()), 5)
        mean_bytes = float(samples[f"{name}_bytes"].mean())
        sc["mean_bytes"] = round(mean_bytes, 3)
        if mean_bytes > 0:
            sc["compression_ratio"] = round(f32 / mean_bytes, 2)
        if f"{name}_entropy_bits" in samples:
            sc["coded_over_entropy"] = round(float(8 * samples[f"{name}_bytes"].sum()
                                             / samples[f"{name}_entropy_bits"].sum()), 4)
    samples = samples[[c for c in samples.columns if not c.endswith("_entropy_bits")]]
    m = timing.machine()
    hardware = {HOST: f"{m['cpu']}, {m['threads']} torch threads, torch {m['torch']}"}
    if "gpu" in m:
        hardware[cuda_key()] = f"{m['gpu']}, CUDA-event timing, batch 1..64"
    prof = {"provenance": provenance(run, levels, len(samples), args.command, args.made_by), "hardware": hardware,
            "feature": {"split": run.config.split, "shape": feat_shape, "float32_bytes": f32},
            "stages": st, "schemes": schemes}
    return prof, samples
