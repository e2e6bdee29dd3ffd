"""The argument parsers of ``aecnn-models``, free of torch: every subcommand's ``--help`` works
where torch is not installed. Each parser's description is its module's docstring, read from the
source file without importing it.
"""
from __future__ import annotations

import argparse
import ast
from pathlib import Path


def _doc(module: str) -> str:
    """The docstring of models/<module>.py, without importing it (it imports torch)."""
    return ast.get_docstring(ast.parse((Path(__file__).parent / f"{module}.py").read_text())) or ""


def _add_fit_args(p: argparse.ArgumentParser, epochs: int, lr: float, optimizer: str) -> None:
    p.add_argument("--run", type=Path, required=True, help="run folder (checkpoints, log, config)")
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs (default {epochs})")
    p.add_argument("--lr", type=float, default=lr, help=f"peak learning rate (default {lr})")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default=optimizer)
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")


def train_parser() -> argparse.ArgumentParser:
    """The ``aecnn-models train`` argument parser."""
    p = argparse.ArgumentParser(prog="aecnn-models train", description=_doc("train"),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="step", required=True)
    b = sub.add_parser("backbone", help="step 1: train the whole ResNet")
    _add_fit_args(b, epochs=4, lr=0.1, optimizer="sgd")
    b.add_argument("--dataset", default="fashion-mnist",
                   choices=["fashion-mnist", "cifar-10", "cifar-100", "image-folder"])
    b.add_argument("--data-root", default=None, help="dataset folder (default for fashion-mnist: Debian's)")
    b.add_argument("--depth", type=int, default=50, choices=[14, 26, 50])
    b.add_argument("--width-per-group", type=int, default=64)
    b.add_argument("--stem", choices=["imagenet", "cifar"], default="imagenet")
    b.add_argument("--split", choices=["layer1", "layer2", "layer3", "layer4"], default="layer1")
    b.add_argument("--train-subset", type=int, default=None, help="use the first N training images")
    b.add_argument("--test-subset", type=int, default=None, help="use the first N test images")
    b.add_argument("--no-augment", action="store_true", help="no random crop/flip")
    b.add_argument("--seed", type=int, default=0)
    bc = sub.add_parser("backbone-continue", help="step 1, continued: one more one-cycle run of the backbone")
    _add_fit_args(bc, epochs=3, lr=0.05, optimizer="sgd")
    _add_later_steps(sub)
    return p


def _add_later_steps(sub) -> None:
    a = sub.add_parser("attention", help="step 2: channel attention with the backbone frozen")
    _add_fit_args(a, epochs=1, lr=1e-3, optimizer="adam")
    a.add_argument("--sparsity", type=float, default=1e-3, help="L1 weight on the attention scores")
    a.add_argument("--max-train", type=int, default=None, help="train on the first N cached features")
    for name, helptext in (("aecnn", "steps 3 and 4: AECNN at one compression level"),
                           ("bottlenet", "BottleNet++ at one compression level"),
                           ("aecnn-rd", "steps 3 and 4: AECNN-RD (learned encoder, rate-distortion) at one lambda")):
        c = sub.add_parser(name, help=helptext)
        _add_fit_args(c, epochs=2, lr=1e-3, optimizer="adam")
        c.add_argument("--k", type=int, required=True, help="channels sent")
        if name == "aecnn":
            c.add_argument("--bits", type=int, required=True, help="quantiser bits (1..8)")
        elif name == "bottlenet":
            c.add_argument("--stride", type=int, choices=[1, 2, 3, 4], default=1, help="encoder stride")
            c.add_argument("--decoder", choices=["published", "two-layer"], default="published",
                           help="one transposed convolution as published, or two layers")
        else:
            c.add_argument("--lmbda", type=float, required=True, help="rate weight (normalised MSE per byte)")
            c.add_argument("--stride", type=int, choices=[1, 2, 3, 4], default=1, help="encoder stride")
        c.add_argument("--finetune-epochs", type=int, default=1, help="epochs of step 4")
        c.add_argument("--finetune-lr", type=float, default=3e-4, help="peak learning rate of step 4")
        c.add_argument("--hidden", type=int, default=64, help="decoder width")
        c.add_argument("--max-train", type=int, default=None, help="train on the first N cached features")


def profile_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aecnn-models profile", description=_doc("profile"))
    p.add_argument("--run", type=Path, required=True, help="trained run folder")
    p.add_argument("--out", type=Path, required=True, help="profile folder to write")
    p.add_argument("--name", default=None, help="profile name (default: the out folder's name)")
    p.add_argument("--repeats", type=int, default=20, help="timed repetitions per measurement")
    p.add_argument("--batch-sizes", default="1,4,16,64", help="CPU batch sizes for edge stages")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads while timing")
    return p


def pipeline_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aecnn-models pipeline", description=_doc("pipeline"))
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--profile-out", type=Path, default=None, help="write the profile here at the end")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data-root", default=None)
    p.add_argument("--depth", type=int, default=50, choices=[14, 26, 50])
    p.add_argument("--width-per-group", type=int, default=64)
    p.add_argument("--stem", default="imagenet", choices=["imagenet", "cifar"])
    p.add_argument("--split", default="layer1", choices=["layer1", "layer2", "layer3", "layer4"])
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--test-subset", type=int, default=None)
    p.add_argument("--backbone-epochs", type=int, default=4)
    p.add_argument("--backbone-lr", type=float, default=0.1)
    p.add_argument("--backbone-more-epochs", default="",
                   help="further one-cycle runs of the backbone, each from the last, as epochs per run: '3' or '3,3'")
    p.add_argument("--backbone-more-lr", default="0.05",
                   help="peak learning rate of each further run, e.g. '0.05,0.02' (the last repeats)")
    p.add_argument("--attention-epochs", type=int, default=1)
    p.add_argument("--codec-epochs", type=int, default=1, help="epochs of step 3 per level")
    p.add_argument("--finetune-epochs", type=int, default=1, help="epochs of step 4 per level")
    p.add_argument("--max-train", type=int, default=None, help="cached training features used in steps 2-4")
    p.add_argument("--mse-epoch-factor", type=int, default=2,
                   help="AECNN step 3 (feature MSE, no tail pass, cheap) runs this many times --codec-epochs")
    p.add_argument("--ratios", default="256,1024,4096", help="AECNN target compression ratios")
    p.add_argument("--plan-candidates", type=int, default=1,
                   help="per target ratio, how many (k, bits) candidates get a proxy run of step 3 (1: none)")
    p.add_argument("--bottlenet", default="4:1,1:1,1:3", help="BottleNet++ levels as k:stride")
    p.add_argument("--bottlenet-decoder", choices=["published", "two-layer"], default="published",
                   help="BottleNet++ decoder: one transposed convolution as published, or two layers")
    p.add_argument("--rd", default="", help="AECNN-RD levels as k:lambda[:stride], e.g. '16:0.003,8:0.01,4:0.03:2'")
    p.add_argument("--rd-epoch-factor", type=int, default=2,
                   help="AECNN-RD step 3 runs this many times --codec-epochs")
    p.add_argument("--repeats", type=int, default=20, help="profiler repetitions")
    p.add_argument("--seed", type=int, default=0)
    return p


def time_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aecnn-models time", description=_doc("retime"),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", type=Path, help="profile folder whose stages to time")
    p.add_argument("--hardware", required=True, help="hardware key to file the timings under (e.g. cuda-h100)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                   help="CUDA autocast precision of the network stages (default fp32)")
    p.add_argument("--channels-last", action="store_true", help="channels_last memory format (CUDA)")
    p.add_argument("--batch-sizes", default="1,2,4,8,16,32,64", help="batch sizes of edge stages")
    p.add_argument("--repeats", type=int, default=20, help="timed repetitions per measurement")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--images", type=Path, default=None,
                   help=".npy of uint8 images (N,H,W[,C]) for the PNG stages (default: the profile's dataset)")
    p.add_argument("--out", type=Path, default=None, help="write the timings YAML here")
    p.add_argument("--merge", action="store_true", help="merge the timings into the profile")
    p.add_argument("--replace", action="store_true", help="with --merge: overwrite an existing hardware key")
    return p
