"""Profiler: measure a trained run and write the simulator's profile (``aecnn-models profile``).

For every stage (full model, head, tail, each coder's encode and decode, PNG encode/decode) it
records FLOPs, parameters and latency per hardware key and batch size; for every test image, each
scheme's payload bytes (real PNG bytes, real bitstream lengths) and whether the scheme classified
it correctly through that very bitstream. Output: ``<out>/profile.yaml`` and ``<out>/samples.csv``,
written atomically, with provenance. The contract is documented in README.md ("Profile format").
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader

from models import timing
from models.aecnn import AECNNCodec
from models.args import profile_parser as setup_args
from models.backbone import Head, Tail
from models.bottlenet import BottleNetCodec
from models.data import DataMissing
from models.fit import atomic_write_text
from models.run import Run


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def png_bytes(img: np.ndarray) -> bytes:
    """The image (H, W, C uint8) as a PNG file, made by Pillow."""
    from PIL import Image

    arr = img[..., 0] if img.shape[2] == 1 else img
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def png_decode(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


class Level:
    """A trained compression level (AECNN or BottleNet++) with its own decoder and tail."""

    def __init__(self, run: Run, path: Path) -> None:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        net = run.load_backbone()
        channels = Head(net, run.config.split)(torch.zeros(1, *self._input_shape(run))).shape[1]
        if ck["kind"] == "aecnn":
            self.codec = AECNNCodec(channels, ck["k"], ck["bits"], ck["hidden"])
            self.codec.load_state_dict(ck["codec"])
            self.codec.load_extra_state(ck["entropy"])
            self.name = f"aecnn-k{ck['k']}b{ck['bits']}"
        else:
            self.codec = BottleNetCodec(channels, ck["k"], ck["stride"], ck["hidden"])
            self.codec.load_state_dict(ck["codec"])
            self.name = f"bottlenet-k{ck['k']}s{ck['stride']}"
        self.kind, self.path = ck["kind"], path
        self.tail = Tail(net, run.config.split)
        self.tail.load_state_dict(ck["tail"])
        self.codec.to(run.device).eval()
        self.tail.to(run.device).eval()

    @staticmethod
    def _input_shape(run: Run) -> tuple[int, int, int]:
        img = run.images("test").images
        return (img.shape[3], img.shape[1], img.shape[2])

    def roundtrip(self, z: torch.Tensor) -> tuple[list[bytes], torch.Tensor]:
        """Compress a batch of features to bytes, decompress them, return bytes and logits."""
        strings, shape = self.codec.compress(z)
        if self.kind == "aecnn":
            sym = self.codec.symbols(z).cpu().numpy()
            for s, want in zip(strings, sym):
                if not np.array_equal(self.codec.entropy.decode(s, shape), want):
                    raise RuntimeError(f"{self.name}: bitstream does not decode bit-exactly")
            zhat = self.codec.decompress(strings, shape)
        else:
            zhat = self.codec.decompress(strings, shape, tuple(z.shape[2:]))
        return strings, self.tail(zhat)


def main(argv: list[str] | None = None, made_by: str | None = None) -> int:
    args = setup_args().parse_args(argv)
    try:
        run = Run(args.run)
        if not run.path("backbone.pt").exists():
            raise FileNotFoundError(f"{run.path('backbone.pt')}: no trained backbone; run the training steps first")
        run.images("test")
    except (DataMissing, FileNotFoundError, ValueError) as e:
        print(f"aecnn-models profile: {e}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    from models.profile_write import build_profile

    args.command = "aecnn-models profile " + " ".join(sys.argv[1:] if argv is None else argv)
    args.made_by = made_by
    prof, samples = build_profile(run, args)
    name = args.name or args.out.name
    write_profile(args.out, name, prof, samples)
    print(f"profile written to {args.out} ({len(samples)} samples, {len(prof['schemes'])} schemes)")
    return 0


def write_profile(out: Path, name: str, prof: dict, samples) -> None:
    """Write profile.yaml and samples.csv atomically."""
    prof = {"name": name, **prof}
    for fname, text in (("samples.csv", samples.to_csv(index=False)),
                        ("profile.yaml", yaml.safe_dump(prof, sort_keys=False, width=100))):
        atomic_write_text(out / fname, text)


def provenance(run: Run, levels: list[Level], n: int, command: str, made_by: str | None = None) -> dict:
    """Where a profile came from. ``command`` regenerates it (the pipeline's when the pipeline ran
    the profiler, so training is included); ``profiler_command`` is the profiler call itself."""
    ckpts = [run.path("backbone.pt")] + [lv.path for lv in levels]
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


def levels_of(run: Run) -> list[Level]:
    paths = sorted(run.folder.glob("aecnn-*.pt")) + sorted(run.folder.glob("bottlenet-*.pt"))
    return [Level(run, p) for p in paths]


def feature_loader(run: Run, batch_size: int = 250) -> DataLoader:
    return DataLoader(run.tensors("test"), batch_size=batch_size)
