"""Profiler: measure a trained run and write the simulator's profile (``aecnn-models profile``).

For every codec of the registry (models.codecs: the image codecs of full offloading, the
uncompressed splits and every trained level in the run folder) it records each stage's FLOPs,
parameters and latency per hardware key and batch size, and for every test image the scheme's
payload bytes (real file bytes, real framed bitstream lengths) and whether the scheme classified
it correctly through that very payload. Output: ``<out>/profile.yaml`` and ``<out>/samples.csv``,
written atomically, with provenance. The contract is documented in README.md ("Profile format").
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import yaml

from models.args import profile_parser as setup_args
from models.data import DataMissing
from models.fit import atomic_write_text
from models.measure import build_profile
from models.run import Run


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
