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

from models.aecnn import AECNNCodec, ChannelAttention
from models.backbone import Head, Tail, split_channels
from models.bottlenet import BottleNetCodec
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


def _feature_mse(m: nn.ModuleDict, b: tuple) -> torch.Tensor:
    """Step 3 loss of AECNN: rebuild the split feature from the quantised selected channels."""
    z = b[0].float()
    return F.mse_loss(m["codec"](z), z)


def _codec_only(m: nn.ModuleDict) -> None:
    """Train mode for the codec only: the frozen tail keeps its batch-norm statistics."""
    m.eval()
    m["codec"].train()


def _two_phase(run: Run, name: str, codec: nn.Module, spec3: FitSpec, spec4: FitSpec,
               phase3: str, max_train: int | None) -> tuple[Tail, float]:
    """Phase 3 (backbone frozen) then phase 4 (fine-tune codec decoder and tail)."""
    train = _limit(cached_features(run, "train"), max_train)
    tail = _frozen_tail(run)
    model = nn.ModuleDict({"codec": codec, "tail": tail}).to(run.device)

    def ce_frozen(m: nn.ModuleDict, b: tuple) -> torch.Tensor:
        return F.cross_entropy(m["tail"](m["codec"](b[0].float())), b[1])

    fit(model, codec.parameters(), _feature_mse if phase3 == "mse" else ce_frozen, train, spec3,
        run.path(f"{name}.pt.partial3"), run.device, train_mode=_codec_only, desc=f"{name} step 3")
    for p in tail.parameters():
        p.requires_grad_(True)
    trainable = [p for n, p in codec.named_parameters() if not n.startswith("encoder")
                 and not n.startswith("quant")] if isinstance(codec, AECNNCodec) else list(codec.parameters())
    fit(model, trainable + list(tail.parameters()), ce_frozen, train, spec4,
        run.path(f"{name}.pt.partial4"), run.device, desc=f"{name} step 4")
    model.eval()
    acc = evaluate(lambda z: tail(codec(z.float())), cached_features(run, "test"), run.device)
    return tail, acc


def _aecnn_codec(run: Run, feats: torch.Tensor, k: int, bits: int, hidden: int = 64) -> AECNNCodec:
    """A new AECNN codec on the top-``k`` channels of step 2's ranking, its quantiser calibrated on
    the first 5000 cached training features ``feats``."""
    ranking = torch.load(run.path("attention.pt"), weights_only=False)["ranking"]
    codec = AECNNCodec(feats.shape[1], k, bits, hidden)
    codec.index.copy_(ranking[:k])
    codec.quant.calibrate(codec.select(feats[:5000].float()))
    return codec


def step_aecnn(run: Run, k: int, bits: int, spec3: FitSpec, spec4: FitSpec, hidden: int = 64,
               max_train: int | None = None, phase3: str = "mse") -> float:
    """Steps 3 and 4 for AECNN with the top-``k`` channels at ``bits`` bits; save ``aecnn-k{k}b{bits}.pt``.

    Step 3 trains quantiser step and decoder with the backbone frozen, on feature MSE (``mse``:
    no tail pass, cheap) or on the task loss through the frozen tail (``ce``, as BottleNet++).
    """
    if phase3 not in ("mse", "ce"):
        raise ValueError(f"phase3 must be 'mse' or 'ce', not {phase3!r}")
    torch.manual_seed(spec3.seed)
    name = f"aecnn-k{k}b{bits}"
    train = cached_features(run, "train")
    codec = _aecnn_codec(run, train.tensors[0], k, bits, hidden)
    tail, acc = _two_phase(run, name, codec, spec3, spec4, phase3=phase3, max_train=max_train)
    codec.eval()
    with torch.no_grad():
        sym = torch.cat([codec.symbols(x.float().to(run.device)).cpu()
                         for x, _ in DataLoader(train, batch_size=1000)]).numpy()
    codec.fit_entropy(sym)
    _save_level(run, name, {"kind": "aecnn", "k": k, "bits": bits, "hidden": hidden, "codec": codec.state_dict(),
                            "entropy": codec.extra_state(), "phase3": phase3}, tail, acc, spec3, spec4)
    return acc


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
    codec = _aecnn_codec(run, feats, k, bits).to(run.device)
    tail = _frozen_tail(run).to(run.device)
    model = nn.ModuleDict({"codec": codec, "tail": tail})
    with tempfile.TemporaryDirectory() as tmp:
        fit(model, codec.parameters(), _feature_mse, TensorDataset(feats[:n_fit], labels[:n_fit]),
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


def step_bottlenet(run: Run, k: int, stride: int, spec3: FitSpec, spec4: FitSpec, hidden: int = 64,
                   max_train: int | None = None) -> float:
    """BottleNet++ with ``k`` channels and ``stride``: encoder/decoder with frozen backbone, then fine-tune."""
    torch.manual_seed(spec3.seed)
    name = f"bottlenet-k{k}s{stride}"
    channels = cached_features(run, "train").tensors[0].shape[1]
    codec = BottleNetCodec(channels, k, stride, hidden)
    tail, acc = _two_phase(run, name, codec, spec3, spec4, phase3="ce", max_train=max_train)
    _save_level(run, name, {"kind": "bottlenet", "k": k, "stride": stride, "hidden": hidden,
                            "codec": codec.state_dict()}, tail, acc, spec3, spec4)
    return acc


def finetune_spec(spec: FitSpec, epochs: int, lr: float) -> FitSpec:
    return replace(spec, epochs=epochs, lr=lr)
