"""Figures from a results folder, under ``RESULTS/figures`` (PNG, SVG and PDF by default).

- hit_rate: deadline hit rate and accuracy within the deadline against the x key (mean SNR where
  swept), per scheme, with 95% intervals across seeds; one column of panels per value of the
  next swept key, a line style per value of any further one;
- latency_cdf: latency CDF per scheme;
- stage_breakdown: mean waiting and working time per stage, per scheme;
- acc_vs_deadline: accuracy within the deadline for deadlines other than the scenario's,
  recomputed from the recorded latencies (exact when late tasks finish; with on_deadline: drop,
  only deadlines up to the scenario's are meaningful);
- choices (with per-task policies only): each policy's share of every scheme it chose against
  the x key.

The last three draw one panel per combination of every swept key (the x key at up to three
values): no figure pools points the sweep separates. Each panel's dashed line is its own
deadline. Policies are drawn beside the fixed schemes with thick lines; an oracle's bound (no
policy can beat it) is the thin black envelope of hit_rate. Every scheme has its own colour and
line style, however many there are.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from fnmatch import fnmatchcase
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
FORMATS = ("png", "svg", "pdf")
MAX_PANELS = 12
_LINES = ["-", "--", ":", "-."]
_MARKERS = "osD^v<>ph*"


def _load(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The results folder's scenario and summary tables; one ConfigError naming the file for any problem."""
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
    return (sc, *frames)


def _load_records(folder: Path, keys: list[str]) -> pd.DataFrame:
    """The records' columns the figures draw; one ConfigError for a damaged dataset."""
    try:
        rec = read_records(folder, keys + ["scheme", "status", "latency_ms", "correct", *STAGE_COLUMNS])
    except (OSError, ValueError, pa.ArrowException) as e:
        raise ConfigError(folder / "records", "(records dataset)", str(e).splitlines()[0] if str(e) else None,
                          "is damaged; rerun the scenario to rebuild it") from None
    missing = [c for c in ("scheme", "status", "latency_ms", "correct") if c not in rec.columns]
    if missing:
        raise ConfigError(folder / "records", missing[0], None, "column missing; rerun the scenario to rebuild it")
    return rec


def _save(fig, folder: Path, name: str, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write ``fig`` in each format, each file atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for ext in formats:
        p = folder / f"{name}.{ext}"
        tmp = folder / f".{name}.tmp.{ext}"
        fig.savefig(tmp, dpi=130, bbox_inches="tight")
        tmp.replace(p)
        out.append(p)
    return out


def _tick(v, _pos) -> str:  # (module functions: a figure with them pickles)
    return fmt(v)


def _tick_rounded(v, _pos) -> str:
    return fmt(round(v, 6))


def fmt(v) -> str:
    """A swept value as text: whole numbers without a decimal point."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v)


def key_names(sc: dict, keys: list[str]) -> dict[str, str]:
    """A short label per swept key: its last part, or the whole key where another key of the
    scenario ends the same way (``channel.fading.model`` against ``channel.rate.model``)."""
    leaves: list[str] = []

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            leaves.append(prefix[:-1])
    walk({k: v for k, v in sc.items() if k != "sweep"}, "")
    last = pd.Series([k.rsplit(".", 1)[-1] for k in set(leaves) | set(keys)]).value_counts()
    return {k: (k.rsplit(".", 1)[-1] if last.get(k.rsplit(".", 1)[-1], 0) <= 1 else k) for k in keys}


def styles(labels: list[str]) -> dict[str, tuple]:
    """(colour, line style, marker) per label, distinct for any number of labels (20 colours,
    then the next line style)."""
    import matplotlib

    tab = matplotlib.colormaps["tab20"].colors
    colours = list(tab[0::2]) + list(tab[1::2])  # the ten strong colours first
    return {s: (colours[i % 20], _LINES[(i // 20) % len(_LINES)], _MARKERS[i % len(_MARKERS)])
            for i, s in enumerate(labels)}


def _combos(frame: pd.DataFrame, keys: list[str]) -> list[dict]:
    """The distinct combinations of ``keys`` in ``frame``, in sorted order."""
    if not keys or frame.empty:
        return [{}]
    rows = frame[keys].drop_duplicates().sort_values(keys).itertuples(index=False, name=None)
    return [dict(zip(keys, r)) for r in rows]


def _select(frame: pd.DataFrame, combo: dict) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in combo.items():
        mask &= (frame[k] == v).to_numpy()
    return frame[mask]


def _panels(rec: pd.DataFrame, keys: list[str], x: str | None) -> tuple[list[dict], int]:
    """Panels of the per-task figures: every combination of the swept keys, the x key at its
    first, middle and last value; at most MAX_PANELS (the first ones; the count of all is returned)."""
    combos = _combos(rec, keys)
    if x is not None and x in keys and combos != [{}]:
        vals = sorted({c[x] for c in combos}, key=lambda v: (str(type(v)), v))
        pick = {vals[0], vals[len(vals) // 2], vals[-1]}
        combos = [c for c in combos if c[x] in pick]
    return combos[:MAX_PANELS], len(combos)


def _title(combo: dict, names: dict[str, str]) -> str:
    return ", ".join(f"{names[k]} = {fmt(v)}" for k, v in combo.items())


def _say_if_empty(ax, rec: pd.DataFrame) -> None:
    if rec.empty:
        ax.text(0.5, 0.5, "no task arrived", ha="center", va="center", transform=ax.transAxes, color="0.4")


def _legend(fig, ax) -> None:
    """One legend for the figure, right of its panels, from the entries of ``ax``."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, bbox_to_anchor=(1.0, 0.95), loc="upper left")


def _grid(plt, n: int, width: float, height: float, **kw):
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, **kw)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def plot_results(folder: str | Path, x: str | None = None, schemes: list[str] | None = None,
                 formats: tuple[str, ...] | list[str] = FORMATS, workers: int = 1) -> list[Path]:
    """Draw the figures; return the files written.

    ``x``: the swept key on the x axis (default the mean SNR where swept, else the first swept
    key); ``schemes``: labels or shell patterns of the schemes and policies to draw (default all);
    ``formats``: any of png, svg, pdf; ``workers``: processes that draw and write the figures, a
    figure each, each process reading the results once (a figure is drawn the same in any process,
    up to matplotlib's font state, which may move text by a pixel in a process that drew others).
    """
    figs = _Figures(Path(folder), x, schemes, tuple(formats))  # every argument checked here, records not read
    names = figs.figure_names()
    if workers <= 1 or len(names) <= 1:
        return [p for n in names for p in figs.draw_figure(n)]
    from sim.runner import _stop_pool, stop_signals, worker_signals  # Ctrl-C and SIGTERM as for the points

    pool = ProcessPoolExecutor(max_workers=min(workers, len(names)), initializer=worker_signals)
    try:
        with stop_signals():
            futures = [pool.submit(_draw_in_worker, Path(folder), x, schemes, tuple(formats), n) for n in names]
            out = [p for f in futures for p in f.result()]  # an error arrives intact (ConfigError pickles)
    except BaseException:
        _stop_pool(pool)  # no worker left drawing (a file is written by a rename: none half-written)
        raise
    pool.shutdown()
    return out


_worker_figures: tuple | None = None  # (arguments, _Figures) of the folder this worker process draws


def _draw_in_worker(folder: Path, x, schemes, formats, name: str) -> list[Path]:
    global _worker_figures
    key = (str(folder), x, tuple(schemes or ()), formats)
    if _worker_figures is None or _worker_figures[0] != key:
        _worker_figures = (key, _Figures(folder, x, schemes, formats))
    return _worker_figures[1].draw_figure(name)


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.ticker  # noqa: F401  (matplotlib.ticker in the figures)

    return matplotlib


class _Figures:
    """A results folder's figures: what they share (tables, labels, styles, the x key), each figure
    a method; the records are read when a figure first needs them."""

    def __init__(self, folder: Path, x: str | None, schemes: list[str] | None, formats: tuple[str, ...]) -> None:
        sc, summary, ci = _load(folder)
        keys = list(sc.get("sweep", {}).get("grid", {}) or {})
        if x is not None and x not in keys:
            raise ConfigError("(command line)", "--x", x,
                              f"is not a swept key of {folder} (swept: {', '.join(keys) or 'none'})")
        x = x or ("channel.snr_db" if "channel.snr_db" in keys else (keys[0] if keys else None))
        bad = [f for f in formats if f not in FORMATS]
        if bad or not formats:
            raise ConfigError("(command line)", "--formats", ",".join(formats), f"must be among {', '.join(FORMATS)}")
        labels = list(dict.fromkeys(summary["scheme"]))
        if schemes:
            keep = [s for s in labels if any(fnmatchcase(s, p) for p in schemes)]
            if not keep:
                raise ConfigError("(command line)", "--schemes", " ".join(schemes),
                                  f"matches no scheme of {folder} (it has: {', '.join(labels)})")
            summary, ci = summary[summary["scheme"].isin(keep)], ci[ci["scheme"].isin(keep)]
            labels = keep
        self.folder, self.sc, self.summary, self.ci, self.keys, self.x = folder, sc, summary, ci, keys, x
        self.labels, self.names, self.style = labels, key_names(sc, keys), styles(labels)
        self.policies = _policy_labels(sc)
        self.base_deadline = float(sc["tasks"]["deadline_ms"])
        self.figdir, self.formats = folder / "figures", formats
        self.others = [k for k in keys if k != x]
        self._rec: pd.DataFrame | None = None

    @property
    def rec(self) -> pd.DataFrame:
        if self._rec is None:
            rec = _load_records(self.folder, self.keys)
            self._rec = rec[rec["scheme"].isin(self.labels)] if len(self.labels) < rec["scheme"].nunique() else rec
        return self._rec

    def figure_names(self) -> list[str]:
        """The figures this folder has, in drawing order."""
        out = ["hit_rate", "latency_cdf", "stage_breakdown", "acc_vs_deadline"]
        if any(s in self.policies for s in self.labels):
            out.append("choices")
        if "energy_per_task_j" in self.ci.columns and self.ci["energy_per_task_j"].notna().any():
            out += ["energy", "energy_latency"]
        if "lost_to_faults_rate" in self.ci.columns:
            out.append("faults")
        return out

    def draw_figure(self, name: str) -> list[Path]:
        _matplotlib()  # the Agg backend before pyplot
        import matplotlib.pyplot as plt

        return getattr(self, f"_{name}")(plt)

    def deadline(self, combo: dict) -> float:
        return float(combo.get("tasks.deadline_ms", self.base_deadline))

    def draw(self, ax, s, xs, ys, err=None, label=None, ls=None):
        colour, line, marker = self.style[s]
        mine = s in self.policies
        ax.errorbar(xs, ys, yerr=err, color=colour, ls=ls or line, marker=marker, ms=5 if mine else 4,
                    lw=2.2 if mine else 1.2, capsize=3, label=label)

    def _finish(self, plt, fig, name: str, title: str) -> list[Path]:
        """Title, lay out, write in every format and close a figure."""
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        out = _save(fig, self.figdir, name, self.formats)
        plt.close(fig)
        return out

    def panels(self) -> tuple[list[dict], str]:
        panels, total = _panels(self.rec, self.keys, self.x)
        return panels, (f" ({len(panels)} of {total} combinations)" if total > len(panels) else "")

    def _panel_figure(self, plt, width: float, height: float):
        """A figure of one panel per combination: (fig, axes, note, each), ``each`` giving every
        panel's (ax, combo, its records), the panel already saying so where it has none."""
        panels, note = self.panels()
        fig, axes = _grid(plt, len(panels), width, height)

        def each():
            for ax, combo in zip(axes, panels):
                r = _select(self.rec, combo)
                _say_if_empty(ax, r)
                yield ax, combo, r

        return fig, axes, note, each()

    def _hit_rate(self, plt) -> list[Path]:
        """Deadline hit rate and accuracy within the deadline against the x key."""
        matplotlib, sc, summary, ci, labels = _matplotlib(), self.sc, self.summary, self.ci, self.labels
        names, style, x, others = self.names, self.style, self.x, self.others
        deadline, draw, folder = self.deadline, self.draw, self.folder
        # hit_rate: columns per value of the first other key, line styles for the rest
        col_key, style_keys = (others[0], others[1:]) if others else (None, [])
        columns = _combos(ci, [col_key]) if col_key else [{}]
        fig, axes = plt.subplots(2, len(columns), figsize=(5.2 * len(columns) + 1.5, 7.6), squeeze=False,
                                 sharey=True)
        for j, col in enumerate(columns):
            d_col = _select(ci, col)
            for row, (metric, ylabel) in enumerate([("hit_rate", "deadline hit rate"),
                                                   ("acc_within_deadline", "accuracy within deadline")]):
                ax = axes[row][j]
                for s in labels:
                    d = d_col[d_col["scheme"] == s]
                    if x is None:
                        ax.bar(s, d[metric].iloc[0], yerr=d[f"{metric}_ci95"].fillna(0).iloc[0], capsize=3,
                               color=style[s][0])
                        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
                        continue
                    for k, combo in enumerate(_combos(d, style_keys)):
                        g = _select(d, combo).sort_values(x)
                        extra = "".join(f", {names[kk]}={fmt(v)}" for kk, v in combo.items())
                        ls = _LINES[k % len(_LINES)] if style_keys else None
                        draw(ax, s, g[x], g[metric], g[f"{metric}_ci95"].fillna(0), s + extra, ls)
                        bound = {"hit_rate": "hit_bound", "acc_within_deadline": "acc_bound"}[metric]
                        if bound in g.columns and g[bound].notna().any():
                            ax.plot(g[x], g[bound], color="k", ls=ls or "-", lw=1.0, alpha=0.8,
                                    label=f"{s} bound (no policy above){extra}")
                if x is not None:
                    ax.set_xlabel("mean SNR (dB)" if x == "channel.snr_db" else names[x])
                    xs = pd.to_numeric(ci[x], errors="coerce")
                    if x != "channel.snr_db" and xs.notna().all() and xs.min() > 0 and xs.max() / xs.min() >= 8:
                        ax.set_xscale("log", base=2)  # counts and rates swept by doubling
                        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_tick))
                if j == 0:
                    ax.set_ylabel(ylabel)
                ax.set_ylim(-0.03, 1.03)
                ax.grid(alpha=0.3)
                title = _title(col, names)  # names the deadline already where the columns are deadlines
                if "tasks.deadline_ms" in style_keys:
                    title += " (deadline per line style)"
                elif "tasks.deadline_ms" not in (col_key, x):
                    title += ("; " if title else "") + f"deadline {fmt(deadline(col))} ms"
                ax.set_title(title, fontsize=9)
            if summary["tasks"].sum() == 0:
                for row in axes:
                    _say_if_empty(row[j], pd.DataFrame())
        if x is not None:
            _legend(fig, axes[0][0])
        title = f"{sc.get('name', folder.name)}: 95% intervals over {int(ci['seeds'].max())} seed(s)"
        return self._finish(plt, fig, "hit_rate", title)

    def _latency_cdf(self, plt) -> list[Path]:
        """Latency CDF per scheme, a panel per combination."""
        matplotlib, labels, names, style, policies = _matplotlib(), self.labels, self.names, self.style, self.policies
        deadline, rec = self.deadline, self.rec
        fig, axes, note, panels = self._panel_figure(plt, 4.6, 3.8)
        for ax, combo, r in panels:
            for s in labels:
                mine = r[r["scheme"] == s]
                lat = np.sort(mine[mine["status"] == "done"]["latency_ms"].to_numpy())
                if len(lat):
                    colour, line, _m = style[s]
                    ax.step(lat, np.arange(1, len(lat) + 1) / len(mine), where="post", label=s, color=colour, ls=line,
                            lw=2.2 if s in policies else 1.2)
            ax.axvline(deadline(combo), color="k", ls="--", lw=0.8)
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_tick_rounded))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("latency (ms)")
            ax.set_ylabel("fraction of tasks done")
            ax.set_title(_title(combo, names) + (f"; deadline {fmt(deadline(combo))} ms"), fontsize=8)
            ax.grid(alpha=0.3)
        if not rec.empty:
            _legend(fig, axes[0])
        return self._finish(plt, fig, "latency_cdf", f"latency CDF{note}")

    def _stage_breakdown(self, plt) -> list[Path]:
        """Mean time per stage of completed tasks, per scheme."""
        labels, names, deadline = self.labels, self.names, self.deadline
        fig, axes, note, panels = self._panel_figure(plt, 4.4, 0.35 * len(labels) + 1.8)
        for ax, combo, r in panels:
            done = r[r["status"] == "done"]
            means = done.groupby("scheme")[list(STAGE_COLUMNS)].mean().reindex(labels).fillna(0)
            left = np.zeros(len(labels))
            for c in STAGE_COLUMNS:
                ax.barh(range(len(labels)), means[c], left=left, label=STAGE_LABELS[c])
                left += means[c].to_numpy(dtype=float)
            ax.set_yticks(range(len(labels)), labels, fontsize=7)
            ax.invert_yaxis()
            ax.axvline(deadline(combo), color="k", ls="--", lw=0.8)
            ax.set_xlabel("mean time of completed tasks (ms)")
            ax.set_title(_title(combo, names) + f"; deadline {fmt(deadline(combo))} ms", fontsize=8)
        _legend(fig, axes[0])
        return self._finish(plt, fig, "stage_breakdown", f"where the time goes{note}")

    def _acc_vs_deadline(self, plt) -> list[Path]:
        """Accuracy within other deadlines, from the recorded latencies."""
        labels, names, style, policies = self.labels, self.names, self.style, self.policies
        deadline, rec = self.deadline, self.rec
        fig, axes, note, panels = self._panel_figure(plt, 4.6, 3.8)
        for ax, combo, r in panels:
            dl = deadline(combo)
            done = r[r["status"] == "done"]
            medians = done.groupby("scheme")["latency_ms"].median()
            upper = min(max(3 * dl, 1.2 * float(medians.max()) if len(medians) else 0.0), 20 * dl)
            grid = np.linspace(0, upper, 300)  # far enough to show where each scheme's typical task lands
            for s in labels:
                d = r[r["scheme"] == s]
                if d.empty:
                    continue
                lat = d["latency_ms"].where(d["status"] == "done", np.inf).to_numpy()
                ok = d["correct"].astype(bool).to_numpy()
                colour, line, _m = style[s]
                ax.plot(grid, [(ok & (lat <= g)).mean() for g in grid], label=s, color=colour, ls=line,
                        lw=2.2 if s in policies else 1.2)
            ax.axvline(dl, color="k", ls="--", lw=0.8)
            ax.set_xlabel("deadline (ms)")
            ax.set_ylabel("accuracy within deadline")
            ax.set_title(_title(combo, names) + f"; scenario's deadline {fmt(dl)} ms", fontsize=8)
            ax.grid(alpha=0.3)
        if not rec.empty:
            _legend(fig, axes[0])
        return self._finish(plt, fig, "acc_vs_deadline", f"accuracy within other deadlines{note}")

    def _choices(self, plt) -> list[Path]:
        mine = [s for s in self.labels if s in self.policies]
        return _choices(plt, self.summary, mine, self.x, self.others, self.names, self.figdir, self.formats)

    def _energy(self, plt) -> list[Path]:
        rows = [("energy_per_task_j", "energy per task (J)"),
                ("energy_per_ontime_correct_j", "energy per on-time correct\ninference (J)")]
        return _metric_figure(plt, self.ci, self.labels, self.x, self.others, self.names, rows, self.draw, "energy",
                              True, self.figdir, self.formats)

    def _energy_latency(self, plt) -> list[Path]:
        return _energy_latency(plt, self.ci, self.labels, self.style, self.names, self.keys, self.x, self.figdir,
                               self.formats)

    def _faults(self, plt) -> list[Path]:
        rows = [("lost_to_faults_rate", "tasks lost to faults"), ("fallback_rate", "tasks that fell back"),
                ("edge_availability", "edge availability")]
        return _metric_figure(plt, self.ci, self.labels, self.x, self.others, self.names, rows, self.draw, "faults",
                              False, self.figdir, self.formats)


def _metric_figure(plt, ci, labels, x, others, names, rows, draw, name, log, figdir, formats) -> list[Path]:
    """Summary figures against the x key, one row per metric, columns per value of the first other
    swept key (the rest in one panel, told apart in the legend)."""
    col_key = others[0] if others else None
    columns = _combos(ci, [col_key]) if col_key else [{}]
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(5.2 * len(columns) + 1.5, 3.6 * len(rows)),
                             squeeze=False)
    for j, col in enumerate(columns):
        d_col = _select(ci, col)
        for i, (metric, ylabel) in enumerate(rows):
            ax = axes[i][j]
            for s in labels:
                d = d_col[d_col["scheme"] == s]
                if d.empty or d[metric].isna().all():
                    continue
                if x is None:
                    ax.bar(s, d[metric].iloc[0], yerr=d[f"{metric}_ci95"].fillna(0).iloc[0], capsize=3)
                    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
                    continue
                for combo in _combos(d, others[1:]):
                    g = _select(d, combo).sort_values(x)
                    extra = "".join(f", {names[k]}={fmt(v)}" for k, v in combo.items())
                    draw(ax, s, g[x], g[metric], g[f"{metric}_ci95"].fillna(0), s + extra)
            if x is not None:
                ax.set_xlabel("mean SNR (dB)" if x == "channel.snr_db" else names[x])
            if j == 0:
                ax.set_ylabel(ylabel)
            if log:
                ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.set_title(_title(col, names), fontsize=9)
    if x is not None:
        _legend(fig, axes[0][0])
    fig.suptitle(f"{name}: 95% intervals over {int(ci['seeds'].max())} seed(s)", fontsize=10)
    fig.tight_layout()
    out = _save(fig, figdir, name, formats)
    plt.close(fig)
    return out


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats in both coordinates (lower is better), by the first."""
    front, best = [], float("inf")
    for a, b in sorted(points):
        if b < best:
            front.append((a, b))
            best = b
    return front


def _energy_latency(plt, ci, labels, style, names, keys, x, figdir, formats) -> list[Path]:
    """Per panel (a value of each swept key but ``x``): every point as (mean latency, energy per
    task), one marker per scheme, joined in the order of ``x``; each scheme's Pareto front (its
    points that none of its others beats in both) in its colour, and the front of all schemes in
    black: which scheme, where, is worth its energy."""
    others = [k for k in keys if k != x]
    panels = _combos(ci, others) if others else [{}]
    fig, axes = _grid(plt, len(panels), 5.6, 4.4)
    for ax, combo in zip(axes, panels):
        d_all = _select(ci, combo)
        d_all = d_all[d_all["energy_per_task_j"].notna() & d_all["mean_latency_ms"].notna()]
        for s in labels:
            d = d_all[d_all["scheme"] == s]
            if d.empty:
                continue
            if x is not None:
                d = d.sort_values(x)
            colour, _line, marker = style[s]
            ax.plot(d["mean_latency_ms"], d["energy_per_task_j"], color=colour, marker=marker, ms=4, lw=0.6,
                    alpha=0.5)
            front = pareto_front(list(zip(d["mean_latency_ms"], d["energy_per_task_j"])))
            ax.plot([a for a, _ in front], [b for _, b in front], color=colour, marker=marker, ms=7, lw=0,
                    label=s)
        front = pareto_front(list(zip(d_all["mean_latency_ms"], d_all["energy_per_task_j"])))
        if front:
            ax.step([a for a, _ in front], [b for _, b in front], where="post", color="k", ls="--", lw=1.0,
                    label="front of all schemes")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mean latency of completed tasks (ms)")
        ax.set_ylabel("energy per task (J)")
        ax.grid(alpha=0.3, which="both")
        ax.set_title(_title(combo, names), fontsize=8)
    _legend(fig, axes[0])
    along = f"joined in order of {names[x]}; " if x is not None else ""
    fig.suptitle(f"energy against latency, one marker per point ({along}large: each scheme's Pareto "
                 "front; dashed: all schemes')", fontsize=9)
    fig.tight_layout()
    out = _save(fig, figdir, "energy_latency", formats)
    plt.close(fig)
    return out


def _policy_labels(sc: dict) -> set[str]:
    """Labels of the per-task policies among a resolved scenario's ``schemes`` (not fixed ones)."""
    out = set()
    for e in sc.get("schemes") or []:
        if isinstance(e, dict) and e.get("policy") != "fixed":
            out.add(e.get("name") or e.get("policy"))
    return out


def _choices(plt, summary: pd.DataFrame, policies: list[str], x: str | None, others: list[str],
             names: dict[str, str], figdir: Path, formats: tuple[str, ...]) -> list[Path]:
    """Each policy's share of every scheme it chose against the x key (means over seeds): a column
    per policy, a row per combination of the other swept keys (at most MAX_PANELS rows)."""
    shares = [c for c in summary.columns if c.startswith("share_")]
    chosen = [c for c in shares if summary.loc[summary["scheme"].isin(policies), c].fillna(0).max() > 0]
    names_chosen = [c.removeprefix("share_") for c in chosen]
    style = styles(names_chosen)
    rows = _combos(summary, others)[:MAX_PANELS]
    fig, axes = plt.subplots(len(rows), len(policies), figsize=(4.2 * len(policies) + 1.5, 3.4 * len(rows)),
                             squeeze=False, sharey=True)
    for i, combo in enumerate(rows):
        for ax, pol in zip(axes[i], policies):
            d = _select(summary[summary["scheme"] == pol], combo)
            ax.set_title(pol + ("\n" + _title(combo, names) if combo else ""), fontsize=8)
            if x is None:
                m = d[chosen].mean()
                bottom = 0.0
                for c, n in zip(chosen, names_chosen):
                    ax.bar([0], [m[c]], bottom=bottom, color=style[n][0], label=n)
                    bottom += m[c]
                ax.set_xticks([])
            else:
                m = d.groupby(x, sort=True)[chosen].mean()
                ax.stackplot(m.index.to_numpy(), *[m[c].to_numpy() for c in chosen], labels=names_chosen,
                             colors=[style[n][0] for n in names_chosen])
                ax.set_xlabel("mean SNR (dB)" if x == "channel.snr_db" else names[x])
            ax.set_ylim(0, 1)
        axes[i][0].set_ylabel("share of tasks")
    _legend(fig, axes[0][0])
    fig.tight_layout()
    paths = _save(fig, figdir, "choices", formats)
    plt.close(fig)
    return paths
