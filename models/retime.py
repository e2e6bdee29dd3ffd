"""``aecnn-models time PROFILE``: time every stage of a profile on this machine, apart from training.

Latency does not depend on the weights' values, so by default the stages are rebuilt from the
profile alone (its run configuration, feature shape and each scheme's k, bits and stride) with
random weights of identical shapes; the provenance says so. AECNN's entropy model is fitted on the
symbols of those random features, so coding times cover the same number of symbols. A reduced
precision (``--precision bf16``) cannot be checked for accuracy with random weights: its hardware
entry says so, and its accuracy must be checked with the trained checkpoints before a scenario
relies on it.

CPU: median of repeated runs after warm-up, with the thread count recorded. CUDA: CUDA-event
timing after synchronisation at batch 1 to 64, in fp32 or with ``--precision bf16/fp16`` (autocast)
and ``--channels-last``. The timings go to a YAML file (``--out``) and, with ``--merge``, into the
profile under ``--hardware KEY`` (``sim.profile.merge_timings``); the samples are not touched.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from models import timing
from models.aecnn import AECNNCodec
from models.args import time_parser as setup_args
from models.backbone import Head, Tail, build_resnet
from models.bottlenet import BottleNetCodec
from models.profile import png_bytes, png_decode

INPUT_SHAPES = {"fashion-mnist": (1, 28, 28), "cifar-10": (3, 32, 32), "cifar-100": (3, 32, 32)}
CLASSES = {"fashion-mnist": 10, "cifar-10": 10, "cifar-100": 100}


class Stages:
    """Every stage of a profile as a function of the batch size, on one device."""

    def __init__(self, meta: dict, images: np.ndarray, device: torch.device, channels_last: bool) -> None:
        cfg = meta["provenance"]["run_config"]
        shape = INPUT_SHAPES[cfg["dataset"]]
        torch.manual_seed(0)
        net = build_resnet(cfg["depth"], CLASSES[cfg["dataset"]], shape[0], cfg["stem"], cfg["width_per_group"])
        self.net = net.eval()
        self.head, self.tail = Head(net, cfg["split"]).eval(), Tail(net, cfg["split"]).eval()
        gen = torch.Generator().manual_seed(0)
        self.x = torch.rand(64, *shape, generator=gen)
        with torch.no_grad():
            self.z = self.head(self.x)
        self.channels = self.z.shape[1]
        self.images = images[:64]
        self.pngs = [png_bytes(im) for im in self.images]
        self.codecs = {name: self._codec(sc) for name, sc in meta["schemes"].items()
                       if name.startswith(("aecnn-", "bottlenet-"))}
        self.scale = float(self.z.max()) / 255
        mods = [self.net, *self.codecs.values()]
        for m in mods:
            m.to(device)
            if channels_last:
                m.to(memory_format=torch.channels_last)
        self.x, self.z = self.x.to(device), self.z.to(device)
        if channels_last:
            self.x, self.z = (t.contiguous(memory_format=torch.channels_last) for t in (self.x, self.z))

    def _codec(self, sc: dict) -> torch.nn.Module:
        if "stride" in sc:
            return BottleNetCodec(self.channels, sc["k"], sc["stride"], sc.get("hidden", 64)).eval()
        codec = AECNNCodec(self.channels, sc["k"], sc["bits"], sc.get("hidden", 64)).eval()
        codec.quant.calibrate(codec.select(self.z))
        codec.fit_entropy(codec.symbols(self.z).numpy(), sc.get("coder", "ans"))
        return codec

    def function(self, stage: str):
        """``fn(batch)`` running ``stage`` on a batch, or None if the stage is not known."""
        z, x, shape = self.z, self.x, tuple(self.z.shape[1:])
        fixed = {"full": lambda b: self.net(x[:b]), "head": lambda b: self.head(x[:b]),
                 "tail": lambda b: self.tail(z[:b]),
                 "png-encode": lambda b: [png_bytes(im) for im in self.images[:b]],
                 "png-decode": lambda b: [png_decode(p) for p in self.pngs[:b]],
                 "int8-encode": lambda b: self._int8(z[:b]),
                 "int8-decode": lambda b: self._int8_back(self._int8(z[:b]), shape)}
        if stage in fixed:
            return fixed[stage]
        for name, codec in self.codecs.items():
            if stage == f"{name}-encode":
                return lambda b, c=codec: c.compress(z[:b])
            if stage == f"{name}-decode":
                strings, sshape = codec.compress(z)
                if isinstance(codec, BottleNetCodec):
                    return lambda b, c=codec, s=strings, ss=sshape: c.decompress(s[:b], ss, shape[1:])
                return lambda b, c=codec, s=strings, ss=sshape: c.decompress(s[:b], ss)
        return None

    def _int8(self, z: torch.Tensor) -> list[bytes]:
        q = torch.round(z.float() / self.scale).clamp(0, 255).to(torch.uint8).cpu().numpy()
        return [s.tobytes() for s in q]

    def _int8_back(self, strings: list[bytes], shape: tuple) -> torch.Tensor:
        q = np.stack([np.frombuffer(s, dtype=np.uint8).reshape(shape) for s in strings])
        return torch.from_numpy(q.astype(np.float32) * self.scale).to(self.z.device)


def measure(meta: dict, stages: Stages, args: argparse.Namespace) -> dict:
    """{stage: {batch: ms}} for every stage of the profile: device-side stages at batch 1."""
    edge = {s for sc in meta["schemes"].values() for s in sc.get("edge", [])}
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    cuda = args.device == "cuda"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    out = {}
    for stage in meta["stages"]:
        fn = stages.function(stage)
        if fn is None:
            raise SystemExit(f"aecnn-models time: stage {stage} of {args.profile} is not one this command can rebuild")
        out[stage] = {}
        for b in sizes if stage in edge else [1]:
            ctx = torch.autocast("cuda", dtype=dtype) if cuda and dtype else contextlib.nullcontext()
            with ctx:
                ms = timing.time_cuda_ms(lambda b=b, fn=fn: fn(b), args.repeats) if cuda else \
                    timing.time_cpu_ms(lambda b=b, fn=fn: fn(b), max(3, args.repeats // max(1, b // 4)))
            out[stage][b] = round(ms, 4)
        print(f"  {stage}: " + ", ".join(f"{b}: {ms:.3f} ms" for b, ms in out[stage].items()), file=sys.stderr)
    return out


def _images(meta: dict, path: Path | None) -> np.ndarray:
    if path is not None:
        imgs = np.load(path)
        return imgs[..., None] if imgs.ndim == 3 else imgs  # (N, H, W, C) as the profiler's PNG codec takes
    from models import data

    try:
        imgs = data.load(meta["provenance"]["run_config"]["dataset"], "test",
                         meta["provenance"]["run_config"].get("data_root")).images[:64]
    except data.DataMissing as e:
        raise SystemExit(f"aecnn-models time: {e} (or pass --images FILE.npy)") from None
    return imgs


def main(argv: list[str] | None = None) -> int:
    from sim.errors import ConfigError
    from sim.profile import merge_timings, read_meta

    args = setup_args().parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("aecnn-models time: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        meta = read_meta(args.profile.resolve())
    except ConfigError as e:
        print(f"aecnn-models time: {e}", file=sys.stderr)
        return 2
    if args.merge and not args.replace and any(args.hardware in st.get("latency_ms", {})
                                               for st in meta["stages"].values() if isinstance(st, dict)):
        print(f"aecnn-models time: {args.profile / 'profile.yaml'}: hardware: is in the profile already; "
              f"pass --replace to overwrite it (got {args.hardware!r})", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    stages = Stages(meta, _images(meta, args.images), device, args.channels_last)
    with torch.no_grad():
        lat = measure(meta, stages, args)
    m = timing.machine()
    info = {"device": m.get("gpu", m["cpu"]) if args.device == "cuda" else m["cpu"],
            "cpu": m["cpu"], "torch": m["torch"], "threads": m["threads"], "precision": args.precision,
            "channels_last": args.channels_last,
            "timing": "CUDA events after synchronisation, median" if args.device == "cuda"
            else "wall clock, median after warm-up",
            "weights": "random, identical shapes (latency does not depend on weight values)",
            "command": "aecnn-models time " + " ".join(sys.argv[1:] if argv is None else argv),
            "git_commit": timing.git_commit(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    if args.device == "cuda":
        info["driver"] = torch.version.cuda
    if args.precision != "fp32":
        info["accuracy"] = "not verified at this precision (random weights)"
    timings = {"hardware": {args.hardware: info},
               "stages": {s: {args.hardware: t} for s, t in lat.items()}}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(yaml.safe_dump(timings, sort_keys=False))
        print(f"timings written to {args.out}")
    if args.merge:
        try:
            merge_timings(args.profile, timings, replace=args.replace)
        except ConfigError as e:
            print(f"aecnn-models time: {e}", file=sys.stderr)
            return 2
        print(f"merged {args.hardware} into {args.profile / 'profile.yaml'}")
    return 0
