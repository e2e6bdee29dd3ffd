"""Measurements behind ``aecnn-models profile``: per-image bytes and correctness, per-stage cost."""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from models import timing
from models.backbone import Head, Tail
from models.profile import Level, feature_loader, levels_of, png_bytes, png_decode, provenance
from models.run import Run

HOST = "host-cpu"


class Int8Split:
    """Uncompressed split at 8 bits: one per-tensor scale calibrated on training features."""

    def __init__(self, train_feats: torch.Tensor) -> None:
        self.scale = float(torch.quantile(train_feats[:2000].float().flatten()[:1_000_000], 0.9999)) / 255

    def encode(self, z: torch.Tensor) -> list[bytes]:
        q = torch.round(z / self.scale).clamp(0, 255).to(torch.uint8).cpu().numpy()
        return [s.tobytes() for s in q]

    def decode(self, strings: list[bytes], shape: tuple[int, ...]) -> torch.Tensor:
        q = np.stack([np.frombuffer(s, dtype=np.uint8).reshape(shape) for s in strings])
        return torch.from_numpy(q.astype(np.float32) * self.scale)


def _per_sample(run: Run, head: Head, tail: Tail, net, levels: list[Level], int8: Int8Split) -> pd.DataFrame:
    imgs = run.images("test")
    cols: dict[str, list] = {"index": [], "label": []}

    def put(key: str, values) -> None:
        cols.setdefault(key, []).extend(values)

    start = 0
    for x, y in tqdm(feature_loader(run), desc="per-image bytes and correctness", disable=None):
        x = x.to(run.device)
        n = len(y)
        put("index", range(start, start + n))
        put("label", y.tolist())
        pngs = [png_bytes(im) for im in imgs.images[start : start + n]]
        for p, im in zip(pngs, imgs.images[start : start + n]):
            if not np.array_equal(png_decode(p).reshape(im.shape), im):
                raise RuntimeError("PNG round trip is not lossless")
        with torch.no_grad():
            full_ok = (net(x).argmax(1).cpu() == y).int().tolist()
            z = head(x)
            split_ok = (tail(z).argmax(1).cpu() == y).int().tolist()
            put("local_bytes", [0] * n)
            put("local_correct", full_ok)
            put("full-offload_bytes", [len(p) for p in pngs])
            put("full-offload_correct", full_ok)
            put("split-f32_bytes", [z[0].numel() * 4] * n)
            put("split-f32_correct", split_ok)
            s8 = int8.encode(z)
            ok8 = (tail(int8.decode(s8, tuple(z.shape[1:])).to(run.device)).argmax(1).cpu() == y).int()
            put("split-int8_bytes", [len(s) for s in s8])
            put("split-int8_correct", ok8.tolist())
            for lv in levels:
                strings, logits = lv.roundtrip(z)
                put(f"{lv.name}_bytes", [len(s) for s in strings])
                put(f"{lv.name}_correct", (logits.argmax(1).cpu() == y).int().tolist())
                if lv.kind == "aecnn":
                    put(f"{lv.name}_entropy_bits",
                        [lv.codec.entropy.entropy_bits(s) for s in lv.codec.symbols(z).cpu().numpy()])
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


def _stages(run: Run, net, head: Head, tail: Tail, levels: list[Level], int8: Int8Split,
            args: argparse.Namespace, dev: torch.device) -> dict:
    """Cost of every stage with the modules on ``dev`` (moved there by the caller)."""
    img = run.images("test").images
    x1 = run.tensors("test").tensors[0][:64].to(dev)
    with torch.no_grad():
        z64 = head(x1)
    shape = tuple(z64.shape[1:])
    edge_bs = [int(b) for b in args.batch_sizes.split(",")]
    reps = args.repeats
    pngs = [png_bytes(im) for im in img[:64]]
    st = {}

    def stage(name, fn, flops, params, batch_sizes):
        st[name] = {"flops": int(flops), "params": int(params), "latency_ms": _latency(fn, batch_sizes, reps, dev)}

    stage("full", lambda b: net(x1[:b]), timing.count_flops(net, x1[:1]), timing.count_params(net), edge_bs)
    stage("head", lambda b: head(x1[:b]), timing.count_flops(head, x1[:1]), timing.count_params(head), [1])
    stage("tail", lambda b: tail(z64[:b]), timing.count_flops(tail, z64[:1]), timing.count_params(tail), edge_bs)
    stage("png-encode", lambda b: [png_bytes(im) for im in img[:b]], 0, 0, [1])
    stage("png-decode", lambda b: [png_decode(p) for p in pngs[:b]], 0, 0, edge_bs)
    stage("int8-encode", lambda b: int8.encode(z64[:b]), 0, 0, [1])
    s8 = int8.encode(z64)
    stage("int8-decode", lambda b: int8.decode(s8[:b], shape), 0, 0, edge_bs)
    for lv in levels:
        strings, sshape = lv.codec.compress(z64)
        if lv.kind == "aecnn":
            enc_flops = 3 * lv.codec.k * shape[1] * shape[2]  # select, divide, round/clamp per value
            dec = lambda b, lv=lv, s=strings, ss=sshape: lv.codec.decompress(s[:b], ss)  # noqa: E731
        else:
            enc_flops = timing.count_flops(lv.codec.encoder, z64[:1])
            dec = lambda b, lv=lv, s=strings, ss=sshape: lv.codec.decompress(s[:b], ss, shape[1:])  # noqa: E731
        enc_params = 0 if lv.kind == "aecnn" else timing.count_params(lv.codec.encoder)
        stage(f"{lv.name}-encode", lambda b, lv=lv: lv.codec.compress(z64[:b]), enc_flops, enc_params, [1])
        if lv.kind == "aecnn":
            dec_in = lv.codec.quant.dequantize(lv.codec.symbols(z64[:1]))
            dec_flops = timing.count_flops(lv.codec.decoder, dec_in)
        else:
            whole = timing.count_flops(lambda t, c=lv.codec: c._decode(c.encoder(t), shape[1:]), z64[:1])
            dec_flops = whole - timing.count_flops(lv.codec.encoder, z64[:1])
        stage(f"{lv.name}-decode", dec, dec_flops, timing.count_params(lv.codec.decoder), edge_bs)
    return st


def _coder_times(lv: Level, head: Head, run: Run, repeats: int) -> dict:
    """Median time of the entropy coder alone on one feature (encode, decode), in ms."""
    with torch.no_grad():
        sym = lv.codec.symbols(head(run.tensors("test").tensors[0][:32].to(run.device))).cpu().numpy()
    coder = lv.codec.entropy
    data = [coder.encode(s) for s in sym]
    enc = np.median([timing.time_cpu_ms(lambda s=s: coder.encode(s), repeats=repeats) for s in sym[:8]])
    dec = np.median([timing.time_cpu_ms(lambda d=d: coder.decode(d, sym.shape[1:]), repeats=repeats)
                     for d in data[:8]])
    return {"entropy_encode_ms": round(float(enc), 4), "entropy_decode_ms": round(float(dec), 4)}


def build_profile(run: Run, args: argparse.Namespace) -> tuple[dict, pd.DataFrame]:
    """Everything the profile holds: provenance, hardware, stages, schemes, and per-image samples."""
    net = run.load_backbone()
    head, tail = Head(net, run.config.split).eval(), Tail(net, run.config.split).eval()
    levels = levels_of(run)
    from models.steps import cached_features

    int8 = Int8Split(cached_features(run, "train").tensors[0])
    samples = _per_sample(run, head, tail, net, levels, int8)
    modules = [net] + [m for lv in levels for m in (lv.codec, lv.tail)]
    cpu = torch.device("cpu")
    for m in modules:
        m.to(cpu)
    stages = _stages(run, net, head, tail, levels, int8, args, cpu)
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        for m in modules:
            m.to(gpu)
        for name, st in _stages(run, net, head, tail, levels, int8, args, gpu).items():
            stages[name]["latency_ms"].update(st["latency_ms"])
    with torch.no_grad():
        feat_shape = list(head(run.tensors("test").tensors[0][:1].to(run.device)).shape[1:])
    f32 = int(np.prod(feat_shape)) * 4
    schemes = {
        "local": {"kind": "local", "device": ["full"], "edge": []},
        "full-offload": {"kind": "offload", "device": ["png-encode"], "edge": ["png-decode", "full"]},
        "split-f32": {"kind": "split", "device": ["head"], "edge": ["tail"], "bits": 32},
        "split-int8": {"kind": "split", "device": ["head", "int8-encode"], "edge": ["int8-decode", "tail"], "bits": 8},
    }
    for lv in levels:
        schemes[lv.name] = {"kind": "split", "device": ["head", f"{lv.name}-encode"],
                            "edge": [f"{lv.name}-decode", "tail"]}
        if lv.kind == "aecnn":
            schemes[lv.name].update({"k": lv.codec.k, "bits": lv.codec.bits, "coder": lv.codec.entropy.coder,
                                     **_coder_times(lv, head, run, args.repeats)})
        else:
            schemes[lv.name].update({"k": lv.codec.k, "stride": lv.codec.stride, "bits": 8})
    for name, sc in schemes.items():
        sc["bytes_column"] = f"{name}_bytes"
        sc["correct_column"] = f"{name}_correct"
        sc["accuracy"] = round(float(samples[f"{name}_correct"].mean()), 5)
        mean_bytes = float(samples[f"{name}_bytes"].mean())
        sc["mean_bytes"] = round(mean_bytes, 3)
        if sc["kind"] == "split":
            sc["compression_ratio"] = round(f32 / mean_bytes, 2)
        if f"{name}_entropy_bits" in samples:
            sc["coded_over_entropy"] = round(float(8 * samples[f"{name}_bytes"].sum()
                                             / samples[f"{name}_entropy_bits"].sum()), 4)
    samples = samples[[c for c in samples.columns if not c.endswith("_entropy_bits")]]
    m = timing.machine()
    hardware = {HOST: f"{m['cpu']}, {m['threads']} torch threads, torch {m['torch']}"}
    if "gpu" in m:
        hardware[cuda_key()] = f"{m['gpu']}, CUDA-event timing, batch 1..64"
    prov = provenance(run, levels, len(samples), args.command, args.made_by)
    prof = {"provenance": prov, "hardware": hardware,
            "feature": {"split": run.config.split, "shape": feat_shape, "float32_bytes": f32},
            "stages": stages, "schemes": schemes}
    return prof, samples
