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

from models import codecs, stages, timing
from models.args import time_parser as setup_args
from models.backbone import Head, Tail, build_resnet
from models.codecs.image import ImageCodec
from models.codecs.split import Float32Split, Int8Split
from models.evaluate import IMAGE_CODECS, codec_of

INPUT_SHAPES = {"fashion-mnist": (1, 28, 28), "cifar-10": (3, 32, 32), "cifar-100": (3, 32, 32)}
CLASSES = {"fashion-mnist": 10, "cifar-10": 10, "cifar-100": 100}


def _codec_and_params(name: str, sc: dict) -> tuple[str, dict]:
    """A scheme's codec and the parameters that rebuild it; profiles written before schemes named
    their codec give it by name (models.evaluate.codec_of) and the parameters as scheme keys."""
    codec = codec_of(name, sc)
    if "params" in sc:
        return codec, sc["params"]
    keep = {"aecnn": ("k", "bits", "hidden"), "bottlenet": ("k", "stride", "hidden")}.get(codec, ())
    params = {k: sc[k] for k in keep if k in sc}
    return codec, {**params, "decoder": "two-layer"} if codec == "bottlenet" else params


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
        self.images = images[:64]
        feats, imgs, self.alias = [], [], {"int8-encode": "split-int8-encode", "int8-decode": "split-int8-decode"}
        for name, sc in meta["schemes"].items():
            codec, params = _codec_and_params(name, sc)
            if codec in ("split-f32", "split-int8"):
                feats.append(Float32Split(self.z.shape[1], self.z.shape[2:]) if codec == "split-f32"
                             else Int8Split.calibrated(self.z))
            elif codec in codecs.FEATURE_CODECS:
                feats.append(self._codec(codec, params))
                for side in ("encode", "decode"):  # a scheme named otherwise than its codec (older profiles)
                    self.alias[f"{name}-{side}"] = f"{feats[-1].name}-{side}"
            elif codec in IMAGE_CODECS and sc.get("kind") == "offload":
                imgs.append(ImageCodec(codec, name, params.get("format", "PNG"), params.get("options", {}),
                                       lossless=codec in ("png", "webp-lossless")))
        mods = [self.net, *feats]
        for m in mods:
            m.to(device)
            if channels_last:
                m.to(memory_format=torch.channels_last)
        self.x, self.z = self.x.to(device), self.z.to(device)
        if channels_last:
            self.x, self.z = (t.contiguous(memory_format=torch.channels_last) for t in (self.x, self.z))
        self.fns = stages.functions(self.net, self.head, self.tail, feats, imgs, self.x, self.z, self.images)

    def _codec(self, name: str, params: dict) -> torch.nn.Module:
        """A registered codec with random weights; its entropy model fitted on these random features."""
        codec = codecs.feature_codec(name)(self.z.shape[1], **params).eval()
        codec.init_from({"ranking": torch.arange(self.z.shape[1]), "model": _attention_state(self.z.shape[1])},
                        self.z)
        codec.fit_entropy(self.z)
        return codec

    def function(self, stage: str):
        """``fn(batch)`` running ``stage`` on a batch, or None if the stage is not known."""
        return self.fns.get(stage) or self.fns.get(self.alias.get(stage, ""))


def _attention_state(channels: int) -> dict:
    from models.codecs.aecnn import ChannelAttention

    return ChannelAttention(channels).state_dict()


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
