"""Step-by-step training of AECNN and its baselines: ``aecnn-models train STEP --run DIR``.

Steps (each its own command, each resumable, each saving a checkpoint that carries its arguments):
  backbone   1. train the whole ResNet on the dataset
  attention  2. train channel attention at the split with the backbone frozen; rank the channels
  aecnn      3+4. fix the top-k channels, train quantiser and decoder (backbone frozen), then
                 fine-tune decoder and tail; fit the entropy model
  bottlenet  BottleNet++ at the same split: encoder/decoder with the backbone frozen, then fine-tune
  aecnn-rd   3+4. AECNN-RD: attention-guided learned encoder and CompressAI entropy model under
                 a rate term (backbone frozen), then decoder and tail distilled from the backbone
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict

import torch
import torch.nn.functional as F

from models.args import train_parser as setup_args
from models.data import Augment, DataMissing
from models.fit import FitSpec, atomic_save, evaluate, fit, setup_logging
from models.run import Run, RunConfig

log = logging.getLogger("aecnn.train")


def step_backbone(run: Run, spec: FitSpec) -> float:
    """Step 1: train the full backbone; save ``backbone.pt``; return test accuracy."""
    torch.manual_seed(spec.seed)
    net = run.build_backbone().to(run.device)
    train = run.tensors("train")
    if run.config.augment:
        train = Augment(train, pad=2, flip=True)
    partial = run.path("backbone.pt.partial")
    fit(net, net.parameters(), lambda m, b: F.cross_entropy(m(b[0]), b[1]), train, spec, partial,
        run.device, desc="backbone")
    net.eval()
    acc = evaluate(net, run.tensors("test"), run.device)
    atomic_save({"model": net.state_dict(), "config": asdict(run.config), "fit": asdict(spec),
                 "norm": run.norm(), "test_accuracy": acc}, run.path("backbone.pt"))
    partial.unlink(missing_ok=True)
    log.info("backbone: test accuracy %.4f", acc)
    return acc


def backbone_stages_done(run: Run) -> int:
    """How many backbone stages (one-cycle runs) are finished in ``run``.

    Stage 1 writes backbone.pt. A continuation stage s (s >= 2) first moves backbone.pt to
    backbone-stage{s-1}.pt, trains from it with state in backbone.pt.partial{s}, and writes a
    new backbone.pt.
    """
    k = 0
    while run.path(f"backbone-stage{k + 1}.pt").exists():
        k += 1
    partial = run.path("backbone.pt.partial" if k == 0 else f"backbone.pt.partial{k + 1}")
    return k + 1 if run.path("backbone.pt").exists() and not partial.exists() else k


def step_backbone_continue(run: Run, spec: FitSpec) -> float:
    """Step 1, continued: one more one-cycle run from the last backbone (kept as backbone-stage{s-1}.pt)."""
    stage = backbone_stages_done(run) + 1
    if stage < 2:
        raise FileNotFoundError(f"{run.path('backbone.pt')}: train the backbone before continuing it")
    src = run.path(f"backbone-stage{stage - 1}.pt")
    if not src.exists():
        run.path("backbone.pt").replace(src)
    ck = torch.load(src, map_location="cpu", weights_only=False)
    torch.manual_seed(spec.seed + stage - 1)
    net = run.build_backbone()
    net.load_state_dict(ck["model"])
    net.to(run.device)
    train = run.tensors("train")
    if run.config.augment:
        train = Augment(train, pad=2, flip=True)
    partial = run.path(f"backbone.pt.partial{stage}")
    fit(net, net.parameters(), lambda m, b: F.cross_entropy(m(b[0]), b[1]), train, spec, partial,
        run.device, desc=f"backbone (stage {stage})")
    net.eval()
    acc = evaluate(net, run.tensors("test"), run.device)
    fits = ck.get("fits", [ck["fit"]]) + [asdict(spec)]
    accs = ck.get("stage_test_accuracies", [ck["test_accuracy"]]) + [acc]
    atomic_save({"model": net.state_dict(), "config": asdict(run.config), "fit": fits[0], "fits": fits,
                 "norm": run.norm(), "test_accuracy": acc, "stage1_test_accuracy": accs[0],
                 "stage_test_accuracies": accs}, run.path("backbone.pt"))
    partial.unlink(missing_ok=True)
    log.info("backbone (stage %d): test accuracy %.4f (before: %.4f)", stage, acc, ck["test_accuracy"])
    return acc


def main(argv: list[str] | None = None) -> int:
    args = setup_args().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.step == "backbone":
            cfg = RunConfig(dataset=args.dataset, data_root=args.data_root, depth=args.depth,
                            width_per_group=args.width_per_group, stem=args.stem, split=args.split,
                            train_subset=args.train_subset, test_subset=args.test_subset,
                            augment=not args.no_augment, seed=args.seed)
            run = Run(args.run, cfg)
        else:
            run = Run(args.run)
    except (DataMissing, FileNotFoundError, ValueError) as e:
        print(f"aecnn-models train: {e}", file=sys.stderr)
        return 2
    setup_logging(run.path("train.log"))
    spec = FitSpec(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                   optimizer=args.optimizer, seed=run.config.seed)
    try:
        return _dispatch(args, run, spec)
    except DataMissing as e:
        print(f"aecnn-models train: {e}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, run: Run, spec: FitSpec) -> int:
    if args.step == "backbone":
        acc = step_backbone(run, spec)
        print(f"backbone test accuracy {acc:.4f} -> {run.path('backbone.pt')}")
        return 0
    if args.step == "backbone-continue":
        acc = step_backbone_continue(run, spec)
        print(f"backbone test accuracy {acc:.4f} -> {run.path('backbone.pt')}")
        return 0
    return _dispatch_later(args, run, spec)


def _dispatch_later(args: argparse.Namespace, run: Run, spec: FitSpec) -> int:
    from models import steps

    if args.step == "attention":
        ranking = steps.step_attention(run, spec, args.sparsity, args.max_train)
        print(f"attention: channel ranking saved -> {run.path('attention.pt')} (top {ranking[:8].tolist()})")
        return 0
    spec4 = steps.finetune_spec(spec, args.finetune_epochs, args.finetune_lr)
    if args.step == "aecnn":
        acc = steps.step_aecnn(run, args.k, args.bits, spec, spec4, args.hidden, args.max_train)
    elif args.step == "bottlenet":
        acc = steps.step_bottlenet(run, args.k, args.stride, spec, spec4, args.hidden, args.max_train, args.decoder)
    else:
        acc = steps.step_rd(run, args.k, args.lmbda, spec, spec4, args.stride, args.hidden, args.max_train)
    print(f"{args.step} k={args.k}: test accuracy {acc:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
