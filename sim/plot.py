"""Figures from a results folder, as PNG and SVG under ``RESULTS/figures``.

- hit_rate: deadline hit rate and accuracy within the deadline against the first swept key
  (mean SNR where swept), per scheme, with 95% intervals across seeds;
- latency_cdf: latency CDF per scheme (at up to three sweep points);
- stage_breakdown: mean waiting and working time per stage, per scheme;
- acc_vs_deadline: accuracy within the deadline for deadlines other than the scenario's,
  recomputed from the recorded latencies (exact when late tasks finish; with on_deadline: drop,
  only deadlines up to the scenario's are meaningful);
- choices (with per-task policies only): each policy's share of every scheme it chose against
  the swept key.

Policies are drawn beside the fixed schemes with square markers and thick lines; an oracle's
bound (no policy can beat it) is the black dashed envelope of hit_rate.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.errors import ConfigError
from sim.results import STAGE_COLUMNS, read_records
from sim.schema import load_yaml_mapping

STAGE_LABELS = {"device_wait_ms": "device wait", "device_ms": "device compute", "uplink_wait_ms": "uplink wait",
                "uplink_ms": "uplink transfer", "edge_wait_ms": "edge wait", "edge_ms": "edge compute",
                "downlink_ms": "downlink", "propagation_ms": "propagation"}


def _load(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The results folder's scenario and tables; one ConfigError naming the file for any problem."""
    if not folder.is_dir():
        raise ConfigError(folder, "(results folder)", str(folder),
                          "is not a folder; run 'aecnn-sim run' or 'sweep' first")
    need = {"summary.csv": ("scheme", "seed", "tasks", "hit_rate", "acc_within_deadline"),
            "summary_ci.csv": ("scheme", "seeds", "hit_rate", "hit_rate_ci95")}
    for n in ("scenario.resolved.yaml", *need, "records/_partitions.json"):
        if not (folder / n).is_file():
            raise ConfigError(folder / n, "(results folder)", str(folder),
                              "missing; run 'aecnn-sim run' or 'sweep' first")
    sc = load_yaml_mapping(folder / "scenario.resolved.yaml", "scenario keys")
    if not isinstance(sc.get("tasks"), dict) or "deadline_ms" not in sc["tasks"]:
        raise ConfigError(folder / "scenario.resolved.yaml", "tasks.deadline_ms", None,
                          "missing: not a resolved scenario; rerun the scenario")
    frames = []
    for n, cols in need.items():
        try:
            df = pd.read_csv(folder / n)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
            raise ConfigError(folder / n, "(file)", str(e).splitlines()[0] if str(e) else None,
                              "is empty, truncated or not CSV; rerun the scenario to rebuild it") from None
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ConfigError(folder / n, missing[0], None, "column missing; rerun the scenario to rebuild it")
        if df.empty:
            raise ConfigError(folder / n, "(file)", None, "has no rows; rerun the scenario to rebuild it")
        frames.append(df)
    keys = list((sc.get("sweep") or {}).get("grid") or {})
    try:  # only the columns the figures draw
        rec = read_records(folder, keys + ["scheme", "status", "latency_ms", "correct", *STAGE_COLUMNS])
    except (OSError, ValueError, pa.ArrowException) as e:
        raise ConfigError(folder / "records", "(records dataset)", str(e).splitlines()[0] if str(e) else None,
                          "is damaged; rerun the scenario to rebuild it") from None
    missing = [c for c in ("scheme", "status", "latency_ms", "correct") if c not in rec.columns]
    if missing:
        raise ConfigError(folder / "records", missing[0], None, "column missing; rerun the scenario to rebuild it")
    return (sc, *frames, rec)


def _save(fig, folder: Path, name: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = folder / f"{name}.{ext}"
        tmp = folder / f".{name}.tmp.{ext}"
        fig.savefig(tmp, dpi=130, bbox_inches="tight")
        tmp.replace(p)
        paths.append(p)
    return paths


def _panels(rec: pd.DataFrame, key: str | None) -> list[tuple[str, pd.DataFrame]]:
    if key is None or key not in rec.columns or rec.empty:
        return [("", rec)]
    vals = sorted(rec[key].unique())
    pick = sorted({vals[0], vals[len(vals) // 2], vals[-1]})
    return [(f"{key} = {v}", rec[rec[key] == v]) for v in pick]


def _say_if_empty(ax, rec: pd.DataFrame) -> None:
    if rec.empty:
        ax.text(0.5, 0.5, "no task arrived", ha="center", va="center", transform=ax.transAxes, color="0.4")


def plot_results(folder: str | Path) -> list[Path]:
    """Draw the four figures; return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    folder = Path(folder)
    sc, summary, ci, rec = _load(folder)
    keys = list(sc.get("sweep", {}).get("grid", {}) or {})
    key = "channel.snr_db" if "channel.snr_db" in keys else (keys[0] if keys else None)
    schemes = list(dict.fromkeys(summary["scheme"]))
    policies = _policy_labels(sc)
    figdir, out = folder / "figures", []
    deadline = float(sc["tasks"]["deadline_ms"])

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), squeeze=False)
    others = [k for k in keys if k != key]
    styles = ["-", "--", ":", "-."]
    xlabel = "mean SNR (dB)" if key == "channel.snr_db" else key
    for ax, (col, ylabel) in zip(axes[0], [("hit_rate", "deadline hit rate"),
                                           ("acc_within_deadline", "accuracy within deadline")]):
        for i, s in enumerate(schemes):
            d = ci[ci["scheme"] == s]
            if key is None:
                ax.bar(s, d[col].iloc[0], yerr=d[f"{col}_ci95"].fillna(0).iloc[0], capsize=3, color=f"C{i}")
                ax.tick_params(axis="x", labelrotation=30, labelsize=7)
                continue
            groups = d.groupby(others, sort=False) if others else [((), d)]
            for j, (gval, g) in enumerate(groups):
                g = g.sort_values(key)
                gval = gval if isinstance(gval, tuple) else (gval,)
                label = s + "".join(f", {k.split('.')[-1]}={v}" for k, v in zip(others, gval))
                mine = s in policies
                ax.errorbar(g[key], g[col], yerr=g[f"{col}_ci95"].fillna(0), marker="s" if mine else "o",
                            ms=5 if mine else 4, lw=2.2 if mine else 1.2, capsize=3,
                            color=f"C{i}", ls=styles[j % len(styles)], label=label)
                bound = {"hit_rate": "hit_bound", "acc_within_deadline": "acc_bound"}[col]
                if bound in g.columns and g[bound].notna().any():
                    ax.plot(g[key], g[bound], color="k", ls=styles[j % len(styles)], lw=1.0, alpha=0.8,
                            label=f"{s} bound (no policy above)" if not j else None)
        if key is not None:
            ax.set_xlabel(xlabel)
            xs = pd.to_numeric(ci[key], errors="coerce")
            if key != "channel.snr_db" and xs.notna().all() and xs.min() > 0 and xs.max() / xs.min() >= 8:
                ax.set_xscale("log", base=2)  # counts and rates swept by doubling
                ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_ylabel(ylabel)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    if key is not None:
        axes[0][-1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    if summary["tasks"].sum() == 0:
        for ax in axes[0]:
            _say_if_empty(ax, rec.iloc[:0])
    fig.suptitle(f"{sc.get('name', folder.name)}: deadline {deadline:g} ms, "
                 f"95% intervals over {int(ci['seeds'].max())} seed(s)", fontsize=10)
    out += _save(fig, figdir, "hit_rate")
    plt.close(fig)

    panels = _panels(rec, key)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    for ax, (title, r) in zip(axes[0], panels):
        _say_if_empty(ax, r)
        for s in schemes:
            lat = np.sort(r[(r["scheme"] == s) & (r["status"] == "done")]["latency_ms"].to_numpy())
            if len(lat):
                ax.step(lat, np.arange(1, len(lat) + 1) / len(r[r["scheme"] == s]), where="post", label=s)
        ax.axvline(deadline, color="k", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("fraction of tasks done")
    if not rec.empty:
        axes[0][-1].legend(fontsize=7)
    out += _save(fig, figdir, "latency_cdf")
    plt.close(fig)

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 1.2, 3.8), squeeze=False, sharey=True)
    for ax, (title, r) in zip(axes[0], panels):
        _say_if_empty(ax, r)
        done = r[r["status"] == "done"]
        means = done.groupby("scheme")[list(STAGE_COLUMNS)].mean().reindex(schemes).fillna(0)
        left = np.zeros(len(schemes))
        for c in STAGE_COLUMNS:
            ax.barh(range(len(schemes)), means[c], left=left, label=STAGE_LABELS[c])
            left += means[c].to_numpy(dtype=float)
        ax.set_yticks(range(len(schemes)), schemes, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(deadline, color="k", ls="--", lw=0.8)
        ax.set_xlabel("mean time of completed tasks (ms)")
        ax.set_title(title, fontsize=9)
    axes[0][-1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    out += _save(fig, figdir, "stage_breakdown")
    plt.close(fig)

    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    medians = rec[rec["status"] == "done"].groupby("scheme")["latency_ms"].median()
    upper = min(max(3 * deadline, 1.2 * float(medians.max()) if len(medians) else 0.0), 20 * deadline)
    grid = np.linspace(0, upper, 300)  # far enough to show where each scheme's typical task lands
    for ax, (title, r) in zip(axes[0], panels):
        _say_if_empty(ax, r)
        for s in schemes:
            d = r[r["scheme"] == s]
            lat = d["latency_ms"].where(d["status"] == "done", np.inf).to_numpy()
            ok = d["correct"].astype(bool).to_numpy()
            ax.plot(grid, [(ok & (lat <= g)).mean() for g in grid], label=s)
        ax.axvline(deadline, color="k", ls="--", lw=0.8)
        ax.set_xlabel("deadline (ms)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy within deadline")
    if not rec.empty:
        axes[0][-1].legend(fontsize=7)
    out += _save(fig, figdir, "acc_vs_deadline")
    plt.close(fig)
    mine = [s for s in schemes if s in policies]
    if mine:
        out += _choices(plt, summary, mine, key, others, xlabel, figdir)
    return out


def _policy_labels(sc: dict) -> set[str]:
    """Labels of the per-task policies among a resolved scenario's ``schemes`` (not fixed ones)."""
    out = set()
    for e in sc.get("schemes") or []:
        if isinstance(e, dict) and e.get("policy") != "fixed":
            out.add(e.get("name") or e.get("policy"))
    return out


def _choices(plt, summary: pd.DataFrame, policies: list[str], key: str | None, others: list[str],
             xlabel: str, figdir: Path) -> list[Path]:
    """Each policy's share of every scheme it chose, against the swept key (means over seeds)."""
    shares = [c for c in summary.columns if c.startswith("share_")]
    chosen = [c for c in shares if summary.loc[summary["scheme"].isin(policies), c].fillna(0).max() > 0]
    names = [c.removeprefix("share_") for c in chosen]
    colours = {n: f"C{i % 10}" for i, n in enumerate(names)}
    hatches = {n: ("" if i < 10 else "//") for i, n in enumerate(names)}
    fig, axes = plt.subplots(1, len(policies), figsize=(4.2 * len(policies) + 1.5, 3.6), squeeze=False, sharey=True)
    for ax, pol in zip(axes[0], policies):
        d = summary[summary["scheme"] == pol]
        if others:  # the first value of every other swept key: one line of the grid
            for k in others:
                d = d[d[k] == d[k].iloc[0]]
            ax.set_title(f"{pol}\n" + ", ".join(f"{k}={d[k].iloc[0]}" for k in others), fontsize=8)
        else:
            ax.set_title(pol, fontsize=9)
        if key is None:
            m = d[chosen].mean()
            bottom = 0.0
            for c, n in zip(chosen, names):
                ax.bar([0], [m[c]], bottom=bottom, color=colours[n], hatch=hatches[n], label=n)
                bottom += m[c]
            ax.set_xticks([])
        else:
            m = d.groupby(key, sort=True)[chosen].mean()
            xs = m.index.to_numpy()
            ax.stackplot(xs, *[m[c].to_numpy() for c in chosen], labels=names,
                         colors=[colours[n] for n in names])
            ax.set_xlabel(xlabel)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("share of tasks")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, bbox_to_anchor=(1.0, 0.9), loc="upper left")
    paths = _save(fig, figdir, "choices")
    plt.close(fig)
    return paths
