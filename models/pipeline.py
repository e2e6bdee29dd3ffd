"""``aecnn-models pipeline``: every training step and the profile, in order, skipping what is done.

AECNN levels are planned from target compression ratios: after step 2 the quantiser of each
candidate (k channels, n bits) is calibrated on training features and its coded size estimated
from the symbol entropy under a fitted model (the ratio a level really reaches is then measured
by the profiler on real bitstreams). For each target, the ``--plan-candidates`` candidates with
the most bytes that still reach it get a short proxy run of step 3 (feature MSE, backbone frozen)
and the one with the best accuracy through the frozen tail on held-out training images is
trained in full (with one candidate: the most bytes wins, no proxy). BottleNet++ levels are given
as k:stride pairs (each profiled raw as published and entropy-coded), AECNN-RD levels as
k:lambda[:stride] (lambda swept traces its rate-accuracy curve).
"""
from __future__ import annotations

import json
import logging
import sys

import numpy as np
import torch

from models import steps
from models.args import pipeline_parser as setup_args
from models.codecs.aecnn import UniformQuantizer
from models.codecs.entropy import fit_probabilities
from models.codecs.rd import STRIDES as RD_STRIDES
from models.data import DataMissing
from models.fit import FitSpec, atomic_write_text, setup_logging
from models.run import Run, RunConfig
from models.train import backbone_stages_done, step_backbone, step_backbone_continue

log = logging.getLogger("aecnn.pipeline")
CANDIDATE_K = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
CANDIDATE_BITS = (1, 2, 3, 4, 6, 8)
OVERHEAD_BYTES = 3.0  # ANS overhead per feature beyond the entropy (measured: 2.5-3 bytes)
# Estimates come out optimistic (k24b2: estimated 275x, measured 254x): step 3 trains the
# quantiser's step, which moves the symbol statistics. A candidate must clear its target by this.
PLAN_MARGIN = 1.1


def estimate_bytes(feats: torch.Tensor, ranking: torch.Tensor, k: int, bits: int) -> float:
    """Estimated mean coded bytes of (k, bits): entropy under the fitted model plus overhead."""
    z = feats[:, ranking[:k]].float()
    q = UniformQuantizer(k, bits)
    q.calibrate(z)
    sym = q.symbols(z).numpy()
    p = fit_probabilities(sym, 2**bits)
    bits_per = -np.log2(p[np.arange(k)[None, :, None, None], sym]).sum(axis=(1, 2, 3))
    return float(bits_per.mean() / 8 + OVERHEAD_BYTES)


def plan_levels(run: Run, ratios: list[float], sample: int = 4000, candidates: int = 1,
                max_train: int | None = None, seed: int = 0) -> list[tuple[int, int, float]]:
    """(k, bits, estimated ratio) per target ratio."""
    feats = steps.cached_features(run, "train").tensors[0][:sample]
    ranking = torch.load(run.path("attention.pt"), weights_only=False)["ranking"]
    f32 = feats[0].numel() * 4
    est = {(k, b): f32 / estimate_bytes(feats, ranking, k, b)
           for k in CANDIDATE_K if k <= feats.shape[1] for b in CANDIDATE_BITS}
    plan = []
    for r in ratios:
        ok = sorted(((f32 / e, k, b) for (k, b), e in est.items() if e >= r * PLAN_MARGIN),
                    reverse=True)[:candidates]
        if not ok:
            log.info("no candidate reaches %sx", r)
            continue
        if len(ok) > 1:
            scores = {(k, b): _cached_proxy(run, k, b, max_train, seed) for _, k, b in ok}
            for (k, b), a in scores.items():
                log.info("target %sx: candidate k=%d bits=%d (estimated %.0fx) proxy accuracy %.4f",
                         r, k, b, est[(k, b)], a)
            k, b = max(scores, key=scores.get)
        else:
            _, k, b = ok[0]
        plan.append((k, b, est[(k, b)]))
        log.info("target %sx: k=%d bits=%d (estimated %.0fx)", r, k, b, est[(k, b)])
    return list(dict.fromkeys(plan))


def _cached_proxy(run: Run, k: int, bits: int, max_train: int | None, seed: int) -> float:
    """Proxy accuracy of (k, bits), kept in ``plan-proxy.json`` so a restarted pipeline reuses it."""
    path = run.path("plan-proxy.json")
    cache = json.loads(path.read_text()) if path.exists() else {}
    key = f"k{k}b{bits} max_train={max_train} seed={seed}"
    if key not in cache:
        cache[key] = steps.proxy_accuracy(run, k, bits, max_train=max_train, seed=seed)
        atomic_write_text(path, json.dumps(cache, indent=1))
    return cache[key]


def _more_stages(epochs: str, lrs: str) -> list[tuple[int, float]]:
    """'3,3' and '0.05,0.02' -> [(3, 0.05), (3, 0.02)]; '0' or '' -> []; the last rate repeats."""
    try:
        eps = [int(e) for e in epochs.split(",") if e.strip() and int(e) != 0]
        rates = [float(r) for r in lrs.split(",") if r.strip()]
    except ValueError:
        raise ValueError(f"--backbone-more-epochs {epochs!r} / --backbone-more-lr {lrs!r}: "
                         "give comma-separated numbers") from None
    if any(e < 0 for e in eps) or any(r <= 0 for r in rates) or (eps and not rates):
        raise ValueError(f"--backbone-more-epochs {epochs!r} / --backbone-more-lr {lrs!r}: "
                         "epochs must be positive, rates above 0")
    return [(e, rates[min(i, len(rates) - 1)]) for i, e in enumerate(eps)]


def _pairs(flag: str, text: str, types: tuple, most: int) -> list[tuple]:
    """'4:1,1:2' -> [(4, 1), (1, 2)]: comma-separated items of 2..``most`` colon-separated numbers."""
    out = []
    for item in (s for s in text.split(",") if s.strip()):
        parts = item.split(":")
        try:
            if not 2 <= len(parts) <= most:
                raise ValueError
            out.append(tuple(t(v) for t, v in zip(types, parts)))
        except ValueError:
            names = [t.__name__ for t in types[:most]]
            form = ":".join(names[:2]) + "".join(f"[:{n}]" for n in names[2:])  # parts past two are optional
            raise ValueError(f"{flag} {text!r}: item {item!r} is not {form}") from None
    return out


def main(argv: list[str] | None = None) -> int:
    args = setup_args().parse_args(argv)
    try:
        more_stages = _more_stages(args.backbone_more_epochs, args.backbone_more_lr)
        bottlenet_levels = _pairs("--bottlenet", args.bottlenet, (int, int), 2)
        rd_levels = [(k, lm, st[0] if st else 1) for k, lm, *st in _pairs("--rd", args.rd, (int, float, int), 3)]
        for k, lm, st in rd_levels:
            if st not in RD_STRIDES or k < 1 or not lm > 0:
                raise ValueError(f"--rd {args.rd!r}: level {k}:{lm:g}:{st} needs k >= 1, lambda above 0 and a "
                                 f"stride of {', '.join(map(str, RD_STRIDES))}")
    except ValueError as e:
        print(f"aecnn-models pipeline: {e}", file=sys.stderr)
        return 2
    cfg = RunConfig(dataset=args.dataset, data_root=args.data_root, depth=args.depth,
                    width_per_group=args.width_per_group, stem=args.stem, split=args.split,
                    train_subset=args.train_subset, test_subset=args.test_subset, seed=args.seed)
    try:
        run = Run(args.run, cfg)
        run.images("train")
    except (DataMissing, FileNotFoundError, ValueError) as e:
        print(f"aecnn-models pipeline: {e}", file=sys.stderr)
        return 2
    setup_logging(run.path("train.log"))
    if backbone_stages_done(run) == 0:
        step_backbone(run, FitSpec(epochs=args.backbone_epochs, lr=args.backbone_lr, seed=args.seed))
    for stage, (epochs, lr) in enumerate(more_stages, start=2):
        if backbone_stages_done(run) < stage:
            step_backbone_continue(run, FitSpec(epochs=epochs, lr=lr, seed=args.seed))
    if not run.path("attention.pt").exists():
        steps.step_attention(run, FitSpec(epochs=args.attention_epochs, lr=1e-3, optimizer="adam", seed=args.seed),
                             max_train=args.max_train)
    spec3 = FitSpec(epochs=args.codec_epochs, lr=1e-3, optimizer="adam", seed=args.seed)
    spec3_aecnn = FitSpec(epochs=args.codec_epochs * args.mse_epoch_factor, lr=1e-3, optimizer="adam", seed=args.seed)
    spec4 = FitSpec(epochs=args.finetune_epochs, lr=3e-4, optimizer="adam", seed=args.seed)
    targets = [float(r) for r in args.ratios.split(",") if r]
    for k, b, _ in plan_levels(run, targets, candidates=args.plan_candidates, max_train=args.max_train,
                               seed=args.seed):
        if not run.path(f"aecnn-k{k}b{b}.pt").exists():
            steps.step_aecnn(run, k, b, spec3_aecnn, spec4, max_train=args.max_train)
    tag = "" if args.bottlenet_decoder == "published" else "-dec2"
    for k, stride in bottlenet_levels:
        if not run.path(f"bottlenet-k{k}s{stride}{tag}.pt").exists():
            steps.step_bottlenet(run, k, stride, spec3, spec4, max_train=args.max_train,
                                 decoder=args.bottlenet_decoder)
    spec3_rd = FitSpec(epochs=args.codec_epochs * args.rd_epoch_factor, lr=1e-3, optimizer="adam", seed=args.seed)
    for k, lmbda, stride in rd_levels:
        if not run.path(f"aecnn-rd-k{k}s{stride}-l{lmbda:g}.pt").exists():
            steps.step_rd(run, k, lmbda, spec3_rd, spec4, stride=stride, max_train=args.max_train)
    if args.profile_out:
        from models.profile import main as profile_main

        made_by = "aecnn-models pipeline " + " ".join(sys.argv[1:] if argv is None else argv)
        return profile_main(["--run", str(args.run), "--out", str(args.profile_out), "--repeats", str(args.repeats)],
                            made_by=made_by)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
