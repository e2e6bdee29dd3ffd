"""Training steps 2 to 4 on cached split features (the head is frozen from step 2 on).

The frozen head's output for every training and test image is computed once and cached in the
run folder as float16 (``features-<split>.pt``); every later step and level reads it back.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from models import codecs
from models.backbone import Head, Tail, split_channels
from models.codecs.aecnn import ChannelAttention
from models.codecs.base import FeatureCodec
from models.fit import FitSpec, atomic_save, evaluate, fit
from models.run import Run

log = logging.getLogger("aecnn.train")


@torch.no_grad()
def cached_features(run: Run, split: str) -> TensorDataset:
    """Head output (float16) and labels for ``split``; computed once and stored in the run folder."""
    path = run.path(f"features-{split}.pt")
    if path.exists():
        feats, labels = torch.load(path, weights_only=True)
        return TensorDataset(feats, labels)
    net = run.load_backbone()
    head = Head(net, run.config.split).eval()
    data = run.tensors(split)
    chunks = [head(x.to(run.device)).half().cpu() for x, _ in DataLoader(data, batch_size=500)]
    feats, labels = torch.cat(chunks), data.tensors[1]
    atomic_save((feats, labels), path)
    log.info("cached %s features %s at %s", split, tuple(feats.shape), path)
    return TensorDataset(feats, labels)


def _limit(data: TensorDataset, n: int | None) -> TensorDataset:
    return data if n is None else TensorDataset(*(t[:n] for t in data.tensors))


def _frozen_tail(run: Run) -> Tail:
    tail = Tail(run.load_backbone(), run.config.split).eval()
    for p in tail.parameters():
        p.requires_grad_(False)
    return tail


def step_attention(run: Run, spec: FitSpec, sparsity: float = 1e-3, max_train: int | None = None) -> torch.Tensor:
    """Step 2: train channel attention before the frozen tail; rank the channels by mean weight."""
    torch.manual_seed(spec.seed)
    train = _limit(cached_features(run, "train"), max_train)
    tail = _frozen_tail(run)
    att = ChannelAttention(split_channels(run.load_backbone(), run.config.split)).to(run.device)
    model = nn.ModuleDict({"att": att, "tail": tail})

    def loss(m: nn.ModuleDict, b: tuple) -> torch.Tensor:
        z = b[0].float()
        s = m["att"].scores(z)
        return F.cross_entropy(m["tail"](z * s[:, :, None, None]), b[1]) + sparsity * s.mean()

    def mode(m: nn.ModuleDict) -> None:
        m.eval()
        m["att"].train()

    partial = run.path("attention.pt.partial")
    fit(model, att.parameters(), loss, train, spec, partial, run.device, train_mode=mode, desc="attention")
    att.eval()
    with torch.no_grad():
        scores = torch.cat([att.scores(x.float().to(run.device)).cpu()
                            for x, _ in DataLoader(train, batch_size=1000)]).mean(0)
    ranking = torch.argsort(scores, descending=True)
    test = cached_features(run, "test")
    acc = evaluate(lambda z: tail(att(z.float())), test, run.device)
    atomic_save({"model": att.state_dict(), "scores": scores, "ranking": ranking, "test_accuracy": acc,
                 "config": asdict(run.config), "fit": asdict(spec)}, run.path("attention.pt"))
    partial.unlink(missing_ok=True)
    log.info("attention: test accuracy with attention %.4f; top channels %s", acc, ranking[:8].tolist())
    return ranking


def _codec_only(m: nn.ModuleDict) -> None:
    """Train mode for the codec only: the frozen tail keeps its batch-norm statistics."""
    m.eval()
    m["codec"].train()


def new_codec(run: Run, name: str, **params) -> FeatureCodec:
    """A codec from the registry, set up from step 2 and the cached training features."""
    feats = cached_features(run, "train").tensors[0]
    codec = codecs.feature_codec(name)(feats.shape[1], **params)
    codec.init_from(torch.load(run.path("attention.pt"), weights_only=False), feats)
    return codec


def _flat(params: list) -> list[nn.Parameter]:
    return [q for p in params for q in (p["params"] if isinstance(p, dict) else [p])]


def train_level(run: Run, codec: FeatureCodec, spec3: FitSpec, spec4: FitSpec, max_train: int | None = None) -> float:
    """Steps 3 and 4 of any codec; save ``<codec name>.pt`` with its tail; return test accuracy.

    Step 3 trains the codec with the backbone frozen (the codec's own phase-3 loss); step 4
    fine-tunes the codec's step-4 parameters and the tail. Then the entropy model is fitted on the
    training features (it is part of the codec's state_dict, saved with it).
    """
    torch.manual_seed(spec3.seed)
    name = codec.name
    train = _limit(cached_features(run, "train"), max_train)
    tail = _frozen_tail(run)
    teacher = _frozen_tail(run).to(run.device) if codec.wants_teacher else None
    model = nn.ModuleDict({"codec": codec, "tail": tail}).to(run.device)

    def loss(phase: int):
        def f(m: nn.ModuleDict, b: tuple) -> torch.Tensor:
            z = b[0].float()
            if teacher is not None:
                with torch.no_grad():
                    t = teacher(z)
            return m["codec"].loss(phase, z, b[1], m["tail"], t if teacher is not None else None)
        return f

    fit(model, codec.trainable(3), loss(3), train, spec3, run.path(f"{name}.pt.partial3"), run.device,
        train_mode=_codec_only, desc=f"{name} step 3")
    for p in tail.parameters():
        p.requires_grad_(True)
    for p in codec.parameters():
        p.requires_grad_(False)
    for p in _flat(codec.trainable(4)):
        p.requires_grad_(True)
    fit(model, codec.trainable(4) + list(tail.parameters()), loss(4), train, spec4,
        run.path(f"{name}.pt.partial4"), run.device, desc=f"{name} step 4")
    model.eval()
    codec.fit_entropy(cached_features(run, "train").tensors[0])
    acc = evaluate(lambda z: tail(codec(z.float())), cached_features(run, "test"), run.device)
    for p in codec.parameters():
        p.requires_grad_(True)
    _save_level(run, name, {"family": codec.family, "params": codec.params(), "codec": codec.state_dict()},
                tail, acc, spec3, spec4)
    return acc


def step_aecnn(run: Run, k: int, bits: int, spec3: FitSpec, spec4: FitSpec, hidden: int = 64,
               max_train: int | None = None, phase3: str = "mse") -> float:
    """Steps 3 and 4 for AECNN with the top-``k`` channels at ``bits`` bits; save ``aecnn-k{k}b{bits}.pt``.

    Step 3 trains quantiser step and decoder with the backbone frozen, on feature MSE (``mse``:
    no tail pass, cheap) or on the task loss through the frozen tail (``ce``, as BottleNet++).
    """
    return train_level(run, new_codec(run, "aecnn", k=k, bits=bits, hidden=hidden, phase3=phase3),
                       spec3, spec4, max_train)


def step_bottlenet(run: Run, k: int, stride: int, spec3: FitSpec, spec4: FitSpec, hidden: int = 64,
                   max_train: int | None = None, decoder: str = "published") -> float:
    """BottleNet++ with ``k`` channels and ``stride``: encoder/decoder with frozen backbone, then fine-tune."""
    return train_level(run, new_codec(run, "bottlenet", k=k, stride=stride, hidden=hidden, decoder=decoder),
                       spec3, spec4, max_train)


def step_rd(run: Run, k: int, lmbda: float, spec3: FitSpec, spec4: FitSpec, stride: int = 1, hidden: int = 64,
            max_train: int | None = None) -> float:
    """AECNN-RD with ``k`` latent channels at rate weight ``lmbda`` (models.codecs.rd)."""
    return train_level(run, new_codec(run, "aecnn-rd", k=k, lmbda=lmbda, stride=stride, hidden=hidden),
                       spec3, spec4, max_train)


def proxy_accuracy(run: Run, k: int, bits: int, max_train: int | None = None, proxy_train: int = 20000,
                   epochs: int = 3, seed: int = 0) -> float:
    """Accuracy through the frozen tail after a short step 3 (feature MSE) of AECNN at (k, bits).

    Ranks candidate levels before full training. Trains on the first ``proxy_train`` cached
    training features and scores on the last fifth (at most 2000) of them, which steps 2 to 4 do
    not train on when ``max_train`` leaves them out; nothing is saved.
    """
    torch.manual_seed(seed)
    feats, labels = cached_features(run, "train").tensors
    n_val = min(2000, len(feats) // 5)
    n_fit = min(proxy_train, len(feats) - n_val, max_train or len(feats))
    codec = new_codec(run, "aecnn", k=k, bits=bits).to(run.device)
    tail = _frozen_tail(run).to(run.device)
    model = nn.ModuleDict({"codec": codec, "tail": tail})
    with tempfile.TemporaryDirectory() as tmp:
        fit(model, codec.trainable(3), lambda m, b: m["codec"].loss(3, b[0].float(), b[1], m["tail"], None),
            TensorDataset(feats[:n_fit], labels[:n_fit]),
            FitSpec(epochs=epochs, lr=1e-3, optimizer="adam", seed=seed), Path(tmp, "proxy.partial"),
            run.device, train_mode=_codec_only, desc=f"proxy k{k}b{bits}")
    model.eval()
    return evaluate(lambda z: tail(codec(z.float())), TensorDataset(feats[-n_val:], labels[-n_val:]), run.device)


def _save_level(run: Run, name: str, state: dict, tail: Tail, acc: float, spec3: FitSpec, spec4: FitSpec) -> None:
    """Save a trained level with its tail, accuracy and the full configuration; drop resumption state."""
    atomic_save({**state, "tail": tail.state_dict(), "test_accuracy": acc, "config": asdict(run.config),
                 "fit3": asdict(spec3), "fit4": asdict(spec4)}, run.path(f"{name}.pt"))
    for suffix in ("partial3", "partial4"):
        run.path(f"{name}.pt.{suffix}").unlink(missing_ok=True)
    log.info("%s: test accuracy %.4f", name, acc)


def finetune_spec(spec: FitSpec, epochs: int, lr: float) -> FitSpec:
    return replace(spec, epochs=epochs, lr=lr)
