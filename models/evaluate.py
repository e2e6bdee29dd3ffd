"""``aecnn-models evaluate PROFILE``: the ratio/accuracy table and the target figures.

Reads only the profile (so it evaluates exactly what the simulator will use): accuracies are the
per-image correctness through the real bitstreams; ratios are float32 split-feature bytes over
mean real payload bytes. Prints a Markdown table and one line per target with its figure.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def setup_args() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aecnn-models evaluate", description=__doc__)
    p.add_argument("profile", type=Path, help="profile folder (profile.yaml, samples.csv)")
    return p


def table(prof: dict) -> pd.DataFrame:
    """One row per split scheme: kind, k, bits, mean bytes, ratio, accuracy, loss in points."""
    base = prof["schemes"]["split-f32"]["accuracy"]
    rows = []
    for name, sc in prof["schemes"].items():
        if sc["kind"] != "split":
            continue
        rows.append({"scheme": name, "family": name.split("-")[0], "k": sc.get("k", ""), "bits": sc.get("bits", 32),
                     "mean_bytes": sc["mean_bytes"], "ratio": sc["compression_ratio"],
                     "accuracy_%": 100 * sc["accuracy"], "loss_points": 100 * (base - sc["accuracy"])})
    return pd.DataFrame(rows).sort_values(["family", "ratio"])


def _acc_at(levels: pd.DataFrame, ratio: float) -> float:
    """AECNN accuracy at ``ratio``, interpolated in log ratio between trained levels (nan outside)."""
    lv = levels.sort_values("ratio")
    x, y = np.log(lv["ratio"].to_numpy()), lv["accuracy_%"].to_numpy()
    if len(x) == 0 or not x[0] <= math.log(ratio) <= x[-1]:
        return math.nan
    return float(np.interp(math.log(ratio), x, y))


def _versus(ae: pd.DataFrame, ratio: float, bn_acc: float) -> str:
    """AECNN against one BottleNet++ level at ``ratio``.

    An AECNN level that compresses at least as much and is more accurate settles it (more bytes
    would not make it worse); otherwise AECNN is interpolated in log ratio between its levels.
    """
    more = ae[ae["ratio"] >= ratio].sort_values("accuracy_%", ascending=False)
    if len(more) and more.iloc[0]["accuracy_%"] > bn_acc:
        m = more.iloc[0]
        return f"AECNN {m['scheme']} {m['accuracy_%']:.2f}% at {m['ratio']:.0f}x (more compression): AECNN above"
    a = _acc_at(ae, ratio)
    if not math.isnan(a):
        return f"AECNN {a:.2f}% (interpolated): AECNN {'above' if a > bn_acc else 'NOT above'}"
    if len(more):
        m = more.iloc[0]
        return f"AECNN {m['scheme']} {m['accuracy_%']:.2f}% at {m['ratio']:.0f}x: AECNN NOT above"
    return "AECNN n/a (no AECNN level compresses that much)"


def targets(prof: dict, t: pd.DataFrame) -> list[str]:
    base = 100 * prof["schemes"]["split-f32"]["accuracy"]
    ae = t[t["family"] == "aecnn"]
    bn = t[t["family"] == "bottlenet"]
    out = [f"backbone accuracy: {base:.2f}% (target >= 91%): {'met' if base >= 91 else 'NOT met'}"]
    for r, tol in ((256, 0.5), (1024, 1.5)):
        ok = ae[(ae["ratio"] >= r)]
        best = ok.sort_values("loss_points").head(1)
        if len(best):
            b = best.iloc[0]
            out.append(f"AECNN >= {r}x: {b['scheme']} at {b['ratio']:.0f}x loses {b['loss_points']:.2f} points "
                       f"(target <= {tol}): {'met' if b['loss_points'] <= tol else 'NOT met'}")
        else:
            out.append(f"AECNN >= {r}x: no level trained at that ratio")
    within3 = ae[ae["loss_points"] <= 3]
    out.append(f"largest AECNN ratio within 3 points: {within3['ratio'].max():.0f}x (aim >= 4096x)"
               if len(within3) else "largest AECNN ratio within 3 points: none")
    for _, b in bn.iterrows():
        vs = _versus(ae, b["ratio"], b["accuracy_%"])
        out.append(f"at {b['ratio']:.0f}x: BottleNet++ {b['scheme']} {b['accuracy_%']:.2f}% vs {vs}")
    head_flops = prof["stages"]["head"]["flops"]
    for name, sc in prof["schemes"].items():
        if "coded_over_entropy" in sc:
            enc = prof["stages"][f"{name}-encode"]["flops"]
            ms = sc["entropy_encode_ms"] + sc["entropy_decode_ms"]
            out.append(f"{name}: coded/entropy {sc['coded_over_entropy']:.3f} (target <= 1.02); "
                       f"entropy encode+decode {ms:.3f} ms (target < 1 ms); encoder adds "
                       f"{100 * enc / head_flops:.3f}% to head FLOPs (target <= 5%)")
    return out


def main(argv: list[str] | None = None) -> int:
    args = setup_args().parse_args(argv)
    path = args.profile / "profile.yaml"
    if not path.is_file():
        print(f"aecnn-models evaluate: {path}: no profile.yaml there", file=sys.stderr)
        return 2
    prof = yaml.safe_load(path.read_text())
    t = table(prof)
    m = prof["provenance"]["machine"]
    print(f"profile {prof.get('name')} ({prof['provenance']['dataset']}, {prof['provenance']['n_samples']} test "
          f"images; {m['cpu']}, {m['threads']} threads, torch {m['torch']})\n")
    print(markdown(t))
    print()
    for line in targets(prof, t):
        print("- " + line)
    return 0


def markdown(df: pd.DataFrame) -> str:
    """A Markdown table of ``df`` (floats with two decimals)."""
    def cell(v: object) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
