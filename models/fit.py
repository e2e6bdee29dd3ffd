"""A resumable training loop shared by every training step.

A step's state (model, optimiser, scheduler, epoch, batch, RNG) is saved to ``<ckpt>.partial``
every ``save_every`` batches and at each epoch end, atomically, so a run killed mid-epoch resumes
at the same batch with the same shuffle order. Progress goes to a log file and a tqdm bar.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

log = logging.getLogger("aecnn.train")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def atomic_save(obj: object, path: Path) -> None:
    """torch.save to a temporary file, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def setup_logging(path: Path) -> None:
    """Log to ``path`` (appending) and to stderr, once per process."""
    root = logging.getLogger("aecnn")
    if any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve() for h in root.handlers):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(name)s %(message)s")
    fh = logging.FileHandler(path)
    fh.setFormatter(fmt)
    root.addHandler(fh)
    root.setLevel(logging.INFO)


@dataclass
class FitSpec:
    """What one training step optimises and for how long."""

    epochs: int
    lr: float
    batch_size: int = 128
    weight_decay: float = 5e-4
    optimizer: str = "sgd"
    save_every: int = 100
    seed: int = 0


def _seed_batch(spec: FitSpec, epoch: int, batch: int) -> None:
    """Seed torch's RNG per batch, so a resumed run draws exactly what an uninterrupted one would."""
    torch.manual_seed((spec.seed * 1_000_003 + epoch * 10_007 + batch) % (2**63))


def _groups(params: Iterable, spec: FitSpec) -> list[dict]:
    """Parameter groups: plain parameters at ``spec.lr``; a dict ``{"params": [...], "lr_scale": s,
    "weight_decay": w}`` is a group at ``s`` times the rate (an entropy model learns faster)."""
    plain, groups = [], []
    for p in params:
        if isinstance(p, dict):
            groups.append({"params": [q for q in p["params"] if q.requires_grad],
                           "lr": spec.lr * p.get("lr_scale", 1.0),
                           "weight_decay": p.get("weight_decay", spec.weight_decay)})
        else:
            plain.append(p)
    groups.insert(0, {"params": [q for q in plain if q.requires_grad], "lr": spec.lr,
                      "weight_decay": spec.weight_decay})
    return [g for g in groups if g["params"]]


def _optimizer(params: Iterable, spec: FitSpec) -> torch.optim.Optimizer:
    groups = _groups(params, spec)
    if spec.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=spec.lr, momentum=0.9, nesterov=True, weight_decay=spec.weight_decay)
    if spec.optimizer == "adam":
        return torch.optim.AdamW(groups, lr=spec.lr, weight_decay=spec.weight_decay)
    raise ValueError(f"unknown optimizer {spec.optimizer!r}")


def fit(
    model: nn.Module,
    params: Iterable[nn.Parameter],
    loss_fn: Callable[[nn.Module, tuple], torch.Tensor],
    data: Dataset,
    spec: FitSpec,
    partial: Path,
    device: torch.device,
    train_mode: Callable[[nn.Module], None] | None = None,
    desc: str = "train",
) -> None:
    """Train ``params`` of ``model`` on ``data`` with a one-cycle schedule, resuming from ``partial``.

    Args:
        model: the module whose state is checkpointed.
        params: the parameters to optimise (the rest stay frozen); a dict among them is a group
            with its own ``lr_scale`` and ``weight_decay``.
        loss_fn: maps (model, batch on device) to a scalar loss.
        data: training set; shuffled per epoch with a generator seeded by (seed, epoch).
        spec: epochs, learning rate, batch size, ...
        partial: checkpoint path for resumption; removed by the caller when the step is done.
        device: where to train.
        train_mode: sets train/eval per submodule (default: ``model.train()``).
        desc: label for the progress bar and log.
    """
    from tqdm import tqdm

    # channels-last convolutions: on the project's 2-core AMD EPYC a ResNet-50 training step at
    # batch 128 took 0.92 s against 1.17 s contiguous (same values up to rounding)
    model.to(memory_format=torch.channels_last)
    opt = _optimizer(params, spec)
    steps_per_epoch = (len(data) + spec.batch_size - 1) // spec.batch_size
    total = spec.epochs * steps_per_epoch
    if total >= 8:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in opt.param_groups],
                                                    total_steps=total, pct_start=0.25)
    else:  # too few steps for a cycle (tiny test runs): constant rate
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    epoch, batch0 = 0, 0
    if partial.exists():
        st = torch.load(partial, map_location=device, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        epoch, batch0 = st["epoch"], st["batch"]
        log.info("%s: resumed at epoch %d batch %d", desc, epoch, batch0)

    def save(ep: int, b: int) -> None:
        atomic_save({"model": model.state_dict(), "opt": opt.state_dict(),
                     "sched": sched.state_dict(), "epoch": ep, "batch": b}, partial)

    while epoch < spec.epochs:
        gen = torch.Generator().manual_seed(spec.seed * 1000 + epoch)
        order = torch.randperm(len(data), generator=gen)
        loader = DataLoader(torch.utils.data.Subset(data, order[batch0 * spec.batch_size :].tolist()),
                            batch_size=spec.batch_size, shuffle=False, num_workers=0)
        (train_mode or (lambda m: m.train()))(model)
        batches = iter(loader)  # creating the iterator draws from torch's RNG: do it before seeding
        _seed_batch(spec, epoch, batch0)
        bar = tqdm(batches, desc=f"{desc} epoch {epoch + 1}/{spec.epochs}", initial=batch0,
                   total=steps_per_epoch, mininterval=5, disable=None)
        t0, running = time.time(), 0.0
        for b, batch in enumerate(bar, start=batch0):
            batch = tuple(t.to(device, non_blocking=True, memory_format=torch.channels_last) if t.dim() == 4
                          else t.to(device, non_blocking=True) for t in batch)
            loss = loss_fn(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            _seed_batch(spec, epoch, b + 1)  # the next batch's augmentation: same draws after a resume
            running = 0.98 * running + 0.02 * loss.item() if b > batch0 else loss.item()
            bar.set_postfix(loss=f"{running:.4f}")
            if (b + 1) % spec.save_every == 0 and b + 1 < steps_per_epoch:
                save(epoch, b + 1)
                log.info("%s: epoch %d batch %d/%d loss %.4f (%.1fs)", desc, epoch + 1, b + 1,
                         steps_per_epoch, running, time.time() - t0)
        epoch, batch0 = epoch + 1, 0
        save(epoch, 0)
        log.info("%s: finished epoch %d/%d loss %.4f (%.1fs)", desc, epoch, spec.epochs, running, time.time() - t0)


@torch.no_grad()
def evaluate(fn: Callable[[torch.Tensor], torch.Tensor], data: Dataset, device: torch.device,
             batch_size: int = 500) -> float:
    """Top-1 accuracy of ``fn`` (input batch -> logits) on ``data``."""
    correct = total = 0
    for x, y in DataLoader(data, batch_size=batch_size):
        pred = fn(x.to(device)).argmax(1).cpu()
        correct += int((pred == y).sum())
        total += len(y)
    return correct / max(total, 1)
