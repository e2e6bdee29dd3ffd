"""``aecnn-models evaluate PROFILE``: rate against accuracy for every codec, with paired tests.

Runs without torch on any profile. Everything is computed from samples.csv (each test image's
real payload bytes and whether the scheme classified it correctly through that payload); the
profile.yaml is read only for the scheme list, the codec names and the float32 feature size.

Prints:
  - the rate-accuracy table: every scheme's codec, mean bytes per image, ratio to the float32
    split feature, accuracy and loss in points against the backbone (the ``local`` scheme);
  - one verdict per scheme: the most accurate scheme of another codec that sends no more bytes
    per image, where it is more accurate; "beats" is claimed only where McNemar's exact test over
    the paired test images gives p < 0.05, otherwise the verdict is a tie;
  - the target lines of the codecs issue (each with its figure and "met"/"NOT met");
and draws accuracy against bytes per image (log axis) for every codec, image codecs included.
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ALPHA = 0.05
IMAGE_CODECS = ("png", "webp-lossless", "webp", "jpeg")
# Profiles written before schemes named their codec: the codec from the scheme's name.
_PREFIXES = (("full-offload", "png"), ("aecnn-rd", "aecnn-rd"), ("aecnn", "aecnn"),
             ("bottlenet-ec", "bottlenet-ec"), ("bottlenet", "bottlenet"), ("webp-lossless", "webp-lossless"),
             ("webp", "webp"), ("jpeg", "jpeg"), ("png", "png"), ("split-f32", "split-f32"),
             ("split-int8", "split-int8"), ("local", "local"))


def setup_args() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aecnn-models evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", type=Path, help="profile folder (profile.yaml, samples.csv)")
    p.add_argument("--figure", type=Path, default=None,
                   help="where to draw accuracy against bytes: a .png or .svg file, or a name for both "
                        "(default results/evaluate/<profile name>/rate_accuracy)")
    p.add_argument("--no-figure", action="store_true", help="print only")
    return p


def codec_of(name: str, sc: dict) -> str:
    """The codec a scheme uses: its ``codec`` key, else inferred from its name."""
    if isinstance(sc.get("codec"), str):
        return sc["codec"]
    for prefix, codec in _PREFIXES:
        if name == prefix or name.startswith(prefix + "-"):
            return codec
    return name


def role_of(codec: str, kind: str) -> str:
    """local, image (the input image is sent) or feature (a split feature is sent)."""
    if kind == "local":
        return "local"
    return "image" if kind == "offload" or codec in IMAGE_CODECS else "feature"


# --- paired test -------------------------------------------------------------------------------

def _log_binom_cdf(k: int, n: int) -> float:
    """log P(X <= k) for X ~ Binomial(n, 1/2), summed in log space (exact for any n)."""
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in range(k + 1)]
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms)) - n * math.log(2)


def mcnemar(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test on paired 0/1 outcomes: (a right b wrong, a wrong b right, two-sided p)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    n10, n01 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = n10 + n01
    if n == 0:
        return n10, n01, 1.0
    return n10, n01, min(1.0, 2 * math.exp(_log_binom_cdf(min(n10, n01), n)))


# --- table -------------------------------------------------------------------------------------

@dataclass
class Evaluation:
    name: str
    table: pd.DataFrame  # one row per scheme
    correct: dict[str, np.ndarray]
    backbone_scheme: str
    backbone_accuracy: float  # percent
    float32_bytes: int | None
    meta: dict

    def row(self, scheme: str) -> pd.Series:
        return self.table.loc[self.table["scheme"] == scheme].iloc[0]


def load(folder: Path) -> Evaluation:
    """The profile (checked by the simulator's loader) as a rate-accuracy table from its samples."""
    from sim.profile import load_profile

    prof = load_profile(folder)
    meta = prof.meta
    f32 = (meta.get("feature") or {}).get("float32_bytes")
    f32 = int(f32) if isinstance(f32, (int, float)) and not isinstance(f32, bool) and f32 > 0 else None
    rows, correct = [], {}
    for name, spec in prof.schemes.items():
        codec = codec_of(name, meta["schemes"][name])
        mean_bytes = float(spec.payload_bytes.mean()) if prof.n_samples else math.nan
        acc = 100 * float(spec.correct.mean()) if prof.n_samples else math.nan
        rows.append({"scheme": name, "codec": codec, "role": role_of(codec, spec.kind),
                     "bytes": mean_bytes,
                     "ratio": f32 / mean_bytes if f32 and mean_bytes > 0 else math.nan,
                     "accuracy_%": acc})
        correct[name] = spec.correct
    table = pd.DataFrame(rows)
    base = next((n for n in ("local", "split-f32") if n in prof.schemes), None)
    if base is None:  # no unmodified network among the schemes: the most accurate one
        base = table.sort_values("accuracy_%", ascending=False).iloc[0]["scheme"]
    base_acc = float(table.loc[table["scheme"] == base, "accuracy_%"].iloc[0])
    table["loss_points"] = base_acc - table["accuracy_%"]
    table = table.sort_values(["role", "codec", "bytes"], key=_role_order).reset_index(drop=True)
    return Evaluation(prof.name, table, correct, base, base_acc, f32, meta)


def _role_order(col: pd.Series) -> pd.Series:
    if col.name == "role":
        return col.map({"local": 0, "feature": 1, "image": 2})
    return col


# --- verdicts ----------------------------------------------------------------------------------

@dataclass
class Verdict:
    """Scheme ``other`` against ``scheme`` over the paired test images."""

    scheme: str
    other: str
    gain_points: float  # other's accuracy minus scheme's
    n_other_only: int  # images only ``other`` gets right
    n_scheme_only: int
    p: float

    @property
    def beats(self) -> bool:
        return self.gain_points > 0 and self.p < ALPHA

    @property
    def loses(self) -> bool:
        return self.gain_points < 0 and self.p < ALPHA

    def text(self, ev: Evaluation) -> str:
        a, b = ev.row(self.other), ev.row(self.scheme)
        what = ("beats" if self.beats else "is beaten by" if self.loses else "ties with")
        return (f"{self.other} ({a['bytes']:.1f} B, {a['accuracy_%']:.2f}%) {what} {self.scheme} "
                f"({b['bytes']:.1f} B, {b['accuracy_%']:.2f}%): {self.gain_points:+.2f} points, "
                f"McNemar p = {_p(self.p)} ({self.n_other_only} vs {self.n_scheme_only} discordant images)")


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else "< 1e-4"


def best_at_rate(ev: Evaluation, codec: str, max_bytes: float) -> pd.Series | None:
    """The most accurate scheme of ``codec`` sending at most ``max_bytes`` per image (fewest bytes on ties)."""
    t = ev.table
    c = t[(t["codec"] == codec) & (t["bytes"] <= max_bytes + 1e-9)]
    if c.empty:
        return None
    return c.sort_values(["accuracy_%", "bytes"], ascending=[False, True]).iloc[0]


def versus(ev: Evaluation, scheme: str, other: str) -> Verdict:
    a, b = ev.correct[other], ev.correct[scheme]
    n_other, n_scheme, p = mcnemar(a, b)
    gain = ev.row(other)["accuracy_%"] - ev.row(scheme)["accuracy_%"]
    return Verdict(scheme, other, float(gain), n_other, n_scheme, p)


def verdicts(ev: Evaluation) -> list[Verdict]:
    """Per scheme that sends bytes, the most accurate scheme of another codec sending no more bytes,
    where it is more accurate: the claim "it beats this one at equal rate", to be tested. Codecs
    that share a trained model (``bottlenet`` and ``bottlenet-ec``) are not weighed against each
    other: their decisions are identical by construction."""
    out = []
    t = ev.table
    for _, row in t[t["role"] != "local"].iterrows():
        best = None
        for codec in t.loc[(t["role"] != "local") & (t["codec"] != row["codec"]), "codec"].unique():
            if _siblings(codec, row["codec"]):
                continue
            b = best_at_rate(ev, codec, row["bytes"])
            if b is not None and b["accuracy_%"] > row["accuracy_%"] and (
                    best is None or (b["accuracy_%"], -b["bytes"]) > (best["accuracy_%"], -best["bytes"])):
                best = b
        if best is not None:
            out.append(versus(ev, row["scheme"], best["scheme"]))
    return out


def _siblings(a: str, b: str) -> bool:
    return {a, b} == {"bottlenet", "bottlenet-ec"}


def image_wins(ev: Evaluation) -> dict[str, Verdict | None]:
    """Image schemes that beat every feature codec at no more bytes, each with its closest contest.

    An image scheme wins where, for every feature codec, the best scheme sending no more bytes
    is significantly less accurate (or no scheme of it sends that few bytes). The value is the
    verdict against the most accurate such feature scheme (None: no feature scheme sends that few).
    """
    t = ev.table
    feats = t.loc[t["role"] == "feature", "codec"].unique()
    wins = {}
    for _, row in t[t["role"] == "image"].iterrows():
        contests = [versus(ev, b["scheme"], row["scheme"]) for c in feats
                    if (b := best_at_rate(ev, c, row["bytes"])) is not None]
        if all(v.beats for v in contests):
            wins[row["scheme"]] = min(contests, key=lambda v: v.gain_points) if contests else None
    return wins


# --- targets -----------------------------------------------------------------------------------

def _within(ev: Evaluation, max_bytes: float, points: float, label: str) -> str:
    t = ev.table
    c = t[(t["role"] == "feature") & (t["bytes"] <= max_bytes + 1e-9)]
    if c.empty:
        return f"{label}: no feature codec sends {max_bytes:.1f} B or less: NOT met"
    b = c.sort_values(["loss_points", "bytes"]).iloc[0]
    ok = b["loss_points"] <= points
    return (f"{label}: best {b['scheme']} at {b['bytes']:.1f} B ({_ratio(b)}) loses {b['loss_points']:.2f} "
            f"points (target <= {points}): {'met' if ok else 'NOT met'}")


def _ratio(row: pd.Series) -> str:
    return f"{row['ratio']:.0f}x" if math.isfinite(row["ratio"]) else "ratio n/a"


def targets(ev: Evaluation) -> list[str]:
    t = ev.table
    out = [f"backbone ({ev.backbone_scheme}) accuracy {ev.backbone_accuracy:.2f}% (target >= 93%): "
           f"{'met' if ev.backbone_accuracy >= 93 else 'NOT met'}"]
    webp = t[t["codec"] == "webp-lossless"]
    if webp.empty:
        out.append("feature codec within 1.0 point at a quarter of WebP lossless's bytes: no WebP lossless "
                   "scheme in this profile: NOT met")
    else:
        quarter = webp.iloc[0]["bytes"] / 4
        out.append(_within(ev, quarter, 1.0, f"within 1.0 point at <= a quarter of WebP lossless "
                                             f"({webp.iloc[0]['bytes']:.1f} B / 4 = {quarter:.1f} B)"))
    if ev.float32_bytes:
        for ratio, points in ((1024, 1.5), (4096, 3.0)):
            limit = ev.float32_bytes / ratio
            out.append(_within(ev, limit, points, f"within {points} points at >= {ratio}x (<= {limit:.1f} B)"))
    else:
        out.append("ratios: the profile names no feature.float32_bytes: NOT evaluable")
    out += _rd_lines(ev)
    wins = image_wins(ev)
    if not wins:
        out.append("no image codec beats every feature codec at its rate")
    for name, v in wins.items():
        r = ev.row(name)
        closest = f"closest: {v.text(ev)}" if v else "no feature codec sends that few bytes"
        out.append(f"image codec {name} ({r['bytes']:.1f} B, {r['accuracy_%']:.2f}%) beats every feature "
                   f"codec at its rate ({closest})")
    return out


def _rd_lines(ev: Evaluation) -> list[str]:
    """The rate-distortion AECNN against entropy-coded BottleNet++ at every BottleNet++ rate."""
    t = ev.table
    rd, bn = t[t["codec"] == "aecnn-rd"], t[t["codec"] == "bottlenet-ec"]
    if rd.empty or bn.empty:
        missing = " and ".join(n for n, d in (("aecnn-rd", rd), ("bottlenet-ec", bn)) if d.empty)
        return [f"aecnn-rd above entropy-coded BottleNet++ at every equal rate: no {missing} scheme in "
                "this profile: NOT met"]
    lines, ok = [], True
    for _, b in bn.iterrows():
        best = best_at_rate(ev, "aecnn-rd", b["bytes"])
        if best is None:
            ok = False
            lines.append(f"  at {b['scheme']}'s {b['bytes']:.1f} B: no aecnn-rd scheme sends that few bytes")
            continue
        v = versus(ev, b["scheme"], best["scheme"])
        ok &= v.beats
        lines.append("  " + v.text(ev))
    return [f"aecnn-rd above entropy-coded BottleNet++ at every equal rate (p < {ALPHA}): "
            f"{'met' if ok else 'NOT met'}"] + lines


# --- output ------------------------------------------------------------------------------------

def markdown(df: pd.DataFrame) -> str:
    """A Markdown table of ``df`` (floats with two decimals)."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.2f}"
        return str(v)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def printable(ev: Evaluation, wins: dict) -> pd.DataFrame:
    t = ev.table.copy()
    t["note"] = ["image codec beats every feature codec at this rate" if s in wins else ""
                 for s in t["scheme"]]
    t["ratio"] = t["ratio"].round(0)
    return t.rename(columns={"bytes": "bytes/image", "accuracy_%": "accuracy %", "loss_points": "loss (points)"})


def draw(ev: Evaluation, wins: dict, path: Path) -> list[Path]:
    """Accuracy against bytes per image (log axis), one line per codec; image codecs dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.plot import _save

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    t = ev.table[(ev.table["role"] != "local") & (ev.table["bytes"] > 0)]
    # the axis spans 20 points below the backbone; a scheme below that sits on the bottom edge, named
    floor = max(0.0, ev.backbone_accuracy - 20, float(t["accuracy_%"].min()) - 1)
    low = t[t["accuracy_%"] < floor]
    markers = "osD^v<>pPX*h"
    for i, (codec, g) in enumerate(t.groupby("codec", sort=False)):
        g = g.sort_values("bytes")
        image = g["role"].iloc[0] == "image"
        ax.plot(g["bytes"], g["accuracy_%"].clip(lower=floor), ls="--" if image else "-",
                marker=markers[i % len(markers)], label=codec + (" (image)" if image else ""))
    if len(low):
        ax.text(0.01, 0.02, "on the bottom edge, below the axis: " + ", ".join(
            f"{n} {a:.1f}%" for n, a in zip(low["scheme"], low["accuracy_%"])), transform=ax.transAxes, fontsize=7)
    for k, name in enumerate(wins):
        r = ev.row(name)
        ax.scatter([r["bytes"]], [r["accuracy_%"]], s=220, facecolors="none", edgecolors="k", zorder=5,
                   label="image codec beats every feature\ncodec at its rate" if k == 0 else None)
    ax.set_ylim(floor - 0.5, max(ev.backbone_accuracy, float(t["accuracy_%"].max())) + 1.5)
    ax.axhline(ev.backbone_accuracy, color="grey", lw=0.8, ls=":")
    ax.text(0.01, ev.backbone_accuracy, f"backbone {ev.backbone_accuracy:.2f}%", va="bottom", fontsize=7,
            color="grey", transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image (mean over the test images, log)")
    ax.set_ylabel("accuracy through the payload (%)")
    ax.set_title(f"{ev.name}: rate against accuracy ({len(next(iter(ev.correct.values())))} test images)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    formats = (path.suffix[1:],) if path.suffix in (".png", ".svg") else ("png", "svg")
    paths = _save(fig, path.parent, path.name.removesuffix(".png").removesuffix(".svg"), formats)
    plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> int:
    from sim.errors import ConfigError

    args = setup_args().parse_args(argv)
    try:
        ev = load(args.profile)
    except ConfigError as e:
        print(f"aecnn-models evaluate: {e}", file=sys.stderr)
        return 2
    if not len(next(iter(ev.correct.values()))):
        print(f"aecnn-models evaluate: {args.profile / 'samples.csv'}: no test images in it", file=sys.stderr)
        return 2
    prov = ev.meta.get("provenance") or {}
    m = prov.get("machine") or {}
    n = len(next(iter(ev.correct.values())))
    print(f"profile {ev.name} ({prov.get('dataset', '?')}, {n} test images; made on {m.get('cpu', '?')}, "
          f"torch {m.get('torch', '?')}); computed from samples.csv\n")
    wins = image_wins(ev)
    print(markdown(printable(ev, wins)))
    print(f"\nAt equal rate: per scheme, the most accurate scheme of another codec that sends no more bytes "
          f"per image, where it is more accurate (McNemar's exact test over the {n} paired test images; "
          f"'beats' only at p < {ALPHA}, otherwise a tie):")
    for v in verdicts(ev):
        print("- " + v.text(ev))
    print("\nTargets:")
    for line in targets(ev):
        print(("" if line.startswith("  ") else "- ") + line)
    if not args.no_figure:
        path = args.figure or Path("results/evaluate") / ev.name / "rate_accuracy"
        if path.is_dir():
            print(f"aecnn-models evaluate: --figure {path}: is a folder; give a file such as "
                  f"{path / 'rate_accuracy.png'}", file=sys.stderr)
            return 2
        try:
            paths = draw(ev, wins, path)
        except OSError as e:
            print(f"aecnn-models evaluate: --figure {path}: cannot be written: {e.strerror or e}", file=sys.stderr)
            return 2
        print(f"\nfigure: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
