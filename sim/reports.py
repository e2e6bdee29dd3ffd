"""Comparing results folders point by point, and reports of a results folder to share.

``compare``: the (point, scheme) pairs that several results folders share, side by side, each
figure's difference to the first folder and its 95% interval. A point is the values of every key
swept in any of the folders (a folder that does not sweep a key contributes its scenario's value
of it). Where both folders ran the same seeds the difference is paired seed by seed (the seeds
share arrivals, images and channel, so pairing removes their common noise); otherwise the
interval combines the two folders' intervals (sqrt(a^2 + b^2)).

``report``: one Markdown file and one self-contained HTML file (figures embedded) with the
scenario, the summary tables (mean and 95% interval per point and scheme) and the figures.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import math
from pathlib import Path

import pandas as pd

from sim import __version__
from sim.errors import ConfigError
from sim.results import half_width95
from sim.schema import load_yaml_mapping
from sim.store import write_atomic

METRICS = ("acc_within_deadline", "hit_rate", "mean_latency_ms", "p95_latency_ms", "bytes_sent")


def _lookup(doc: dict, dotted: str):
    node = doc
    for part in dotted.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _folder(folder: Path) -> tuple[dict, pd.DataFrame, list[str]]:
    for name in ("scenario.resolved.yaml", "summary.csv"):
        if not (folder / name).is_file():
            raise ConfigError(folder / name, "(results folder)", str(folder),
                              "missing; run 'aecnn-sim run' or 'sweep' first")
    sc = load_yaml_mapping(folder / "scenario.resolved.yaml", "scenario keys")
    try:
        summary = pd.read_csv(folder / "summary.csv")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(folder / "summary.csv", "(file)", str(e).splitlines()[0] if str(e) else None,
                          "is empty, truncated or not CSV; rerun the scenario to rebuild it") from None
    for col in ("scheme", "seed"):
        if col not in summary.columns:
            raise ConfigError(folder / "summary.csv", col, None, "column missing; rerun the scenario to rebuild it")
    keys = [k for k in (sc.get("sweep") or {}).get("grid") or {} if k in summary.columns]
    return sc, summary, keys


def compare(folders: list[str | Path], metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """One row per shared (point, scheme, metric): each folder's mean, and each later folder's
    difference to the first with its 95% half-width (``paired`` says how it was computed)."""
    if len(folders) < 2:
        raise ConfigError("(command line)", "RESULTS", [str(f) for f in folders], "give at least two results folders")
    loaded = [(Path(f), *_folder(Path(f))) for f in folders]
    keys = list(dict.fromkeys(k for _f, _sc, _s, ks in loaded for k in ks))
    for f, _sc, summary, _ks in loaded:
        missing = [m for m in metrics if m not in summary.columns]
        if missing:
            raise ConfigError(f / "summary.csv", missing[0], None, "no such figure in this summary")
    frames = []
    for _f, sc, summary, ks in loaded:
        s = summary.copy()
        for k in keys:
            if k not in ks:  # not swept here: the scenario's own value
                v = _lookup(sc, k)
                s[k] = str(v) if isinstance(v, (dict, list)) else v
        frames.append(s)
    point = keys + ["scheme"]
    shared = frames[0][point].drop_duplicates()
    for s in frames[1:]:
        shared = shared.merge(s[point].drop_duplicates(), on=point)
    if shared.empty:
        raise ConfigError("(command line)", "RESULTS", [str(f) for f in folders],
                          f"share no point (same values of {', '.join(point)})")
    names = _names([f for f, *_ in loaded])
    rows = []
    for _, p in shared.iterrows():
        sel = [s.merge(p.to_frame().T.astype(s[point].dtypes.to_dict()), on=point) for s in frames]
        for m in metrics:
            row = {**{k: p[k] for k in point}, "figure": m}
            base = sel[0].set_index("seed")[m]
            for name, g in zip(names, sel):
                row[name] = float(g[m].mean())
            for name, g in zip(names[1:], sel[1:]):
                other = g.set_index("seed")[m]
                row[f"{name} - {names[0]}"], row[f"{name} ci95"], row[f"{name} paired"] = _difference(base, other)
            rows.append(row)
    return pd.DataFrame(rows)


def _names(folders: list[Path]) -> list[str]:
    names = [f.name or str(f) for f in folders]
    return names if len(set(names)) == len(names) else [str(f) for f in folders]


def _difference(a: pd.Series, b: pd.Series) -> tuple[float, float, bool]:
    """Mean of b minus mean of a and its 95% half-width: paired by seed where both ran the same seeds."""
    a, b = a.dropna(), b.dropna()
    if len(a) and sorted(a.index) == sorted(b.index):
        d = (b - a.reindex(b.index)).to_numpy(dtype=float)
        return float(d.mean()), half_width95(d), True
    return float(b.mean() - a.mean()), math.hypot(half_width95(a), half_width95(b)), False


def report(folder: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into the results folder; return their paths."""
    from sim.plot import plot_results

    folder = Path(folder)
    sc, _summary, keys = _folder(folder)
    try:
        ci = pd.read_csv(folder / "summary_ci.csv")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(folder / "summary_ci.csv", "(file)", str(e).splitlines()[0] if str(e) else None,
                          "is missing, empty or truncated; rerun the scenario to rebuild it") from None
    figdir = folder / "figures"
    if not (figdir / "hit_rate.png").is_file():
        plot_results(folder, formats=("png", "svg", "pdf"))
    figures = sorted(p for p in figdir.glob("*.png"))
    scenario_text = (folder / "scenario.resolved.yaml").read_text(encoding="utf-8")
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"aecnn-sim report: {sc.get('name', folder.name)}"
    tables = report_tables(ci, keys)

    md = [f"# {title}", "", f"Results folder `{folder}`, written {when} by aecnn-sim {__version__}; "
          f"{int(ci['seeds'].max())} seed(s) per point, means with 95% Student-t half-widths across seeds.", ""]
    for metric, table in tables.items():
        md += [f"## {metric}", "", _markdown(table), ""]
    md += ["## Figures", ""] + [f"![{p.stem}](figures/{p.name})\n" for p in figures]
    md += ["## Scenario (resolved)", "", "```yaml", scenario_text.rstrip(), "```", ""]
    md_path = folder / "report.md"
    write_atomic(md_path, "\n".join(md))

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}img{max-width:100%}"
             "</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f"<p>{html.escape(md[2])}</p>"]
    for metric, table in tables.items():
        parts += [f"<h2>{html.escape(metric)}</h2>", table.to_html(index=False, escape=True)]
    parts.append("<h2>Figures</h2>")
    for p in figures:
        data = base64.b64encode(p.read_bytes()).decode()
        name = html.escape(p.stem)
        parts.append(f"<h3>{name}</h3><img alt='{name}' src='data:image/png;base64,{data}'>")
    parts += ["<h2>Scenario (resolved)</h2>", f"<pre>{html.escape(scenario_text)}</pre>", "</body></html>"]
    html_path = folder / "report.html"
    write_atomic(html_path, "\n".join(parts))
    return md_path, html_path


def report_tables(ci: pd.DataFrame, keys: list[str], metrics: tuple[str, ...] = METRICS) -> dict[str, pd.DataFrame]:
    """Per figure: one row per point, one column per scheme, cells "mean ± half-width"."""
    from sim.plot import fmt

    out = {}
    schemes = list(dict.fromkeys(ci["scheme"]))
    for m in metrics:
        if m not in ci.columns:
            continue
        digits = 3 if m in ("acc_within_deadline", "hit_rate") else 1
        cell = ci.assign(cell=[_cell(v, h, digits) for v, h in zip(ci[m], ci.get(f"{m}_ci95", pd.Series(math.nan,
                                                                                                      ci.index)))])
        if keys:
            table = cell.pivot_table(index=keys, columns="scheme", values="cell", aggfunc="first", sort=False)
            table = table.reindex(columns=[s for s in schemes if s in table.columns]).reset_index()
            for k in keys:
                table[k] = table[k].map(fmt)
        else:
            table = cell.set_index("scheme")[["cell"]].T.reindex(columns=schemes)
        out[m] = table
    return out


def _cell(v: float, h: float, digits: int) -> str:
    if v != v:
        return "n/a"
    return f"{v:.{digits}f}" + ("" if h != h else f" ± {h:.{digits}f}")


def _markdown(table: pd.DataFrame) -> str:
    cols = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)
