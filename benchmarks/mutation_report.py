"""Share of mutants killed per module of sim/, from mutmut's results (``make mutation``).

A mutant counts as killed when a test failed on it, it timed out or it crashed the test process
(segfault: the tests did not pass either); "no tests" and "survived" count against the module;
mutants not checked (``make mutation-sample``, or an interrupted run) are left out, and the score
then comes with its 95% Wilson interval: the checked mutants are a sample of the module's.
A survivor listed in benchmarks/mutation_equivalent.yaml (its function and mutated line, each
reviewed as equivalent: no input tells it from the original) is left out of the score and
counted apart; "raw" is the score with them. The modules that compute published figures carry
a 90% target.

    python benchmarks/mutation_report.py [MODULE ...]    # default: every module with results
"""
from __future__ import annotations

import collections
import math
import subprocess
import sys
from pathlib import Path

import yaml

PUBLISHED = ("sim.engine", "sim.nodes", "sim.channel", "sim.results", "sim.records")
KILLED = {"killed", "timeout", "segfault"}
UNCOUNTED = {"not checked", "skipped"}


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion ``k`` of ``n``."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


EQUIVALENT = Path(__file__).with_name("mutation_equivalent.yaml")


def equivalents(path: Path = EQUIVALENT) -> set[tuple[str, str]]:
    """(function, mutated line) of every mutant reviewed as equivalent."""
    return {(e["function"], e["mutated"].strip()) for e in yaml.safe_load(path.read_text()) or []}


def mutated_lines(name: str) -> list[str]:
    """The lines a mutant puts in place of the original, from ``mutmut show``."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True, text=True,
                         check=False).stdout
    return [ln[1:].strip() for ln in out.splitlines() if ln.startswith("+") and not ln.startswith("+++")]


def is_equivalent(name: str, lines: list[str], known: set[tuple[str, str]]) -> bool:
    function = name.rsplit("__mutmut_", 1)[0]
    return bool(lines) and all((function, ln) in known for ln in lines)


def tally(lines: list[str], known: set[tuple[str, str]] | None = None, show=mutated_lines) -> dict:
    """Statuses per module from the lines of ``mutmut results --all true``; a survivor whose
    mutation is in ``known`` counts as "equivalent"."""
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in lines:
        if ":" not in line or ".x" not in line:
            continue
        name, status = (p.strip() for p in line.rsplit(":", 1))
        if status == "survived" and known and is_equivalent(name, show(name), known):
            status = "equivalent"
        counts[name.split(".x")[0]][status] += 1
    return counts


def report(counts: dict[str, collections.Counter], modules: list[str]) -> tuple[list[str], list[str]]:
    """(the table's lines, the published modules below 90%)."""
    rows = [f"{'module':<16} {'killed':>7} {'equiv.':>7} {'checked':>8} {'of':>6} {'score':>7}  "
            f"{'95% interval':<15} {'raw':>6}  target"]
    failing = []
    for module in modules or sorted(counts):
        c = counts.get(module, collections.Counter())
        checked = sum(n for s, n in c.items() if s not in UNCOUNTED)
        if checked == 0:
            continue
        total = sum(c.values())
        killed, equivalent = sum(c[s] for s in KILLED), c["equivalent"]
        scored = checked - equivalent
        score = killed / scored if scored else math.nan
        lo, hi = wilson(killed, scored) if scored else (math.nan, math.nan)
        interval = f"{lo:.1%} - {hi:.1%}" if checked < total else "all checked"
        target = "90%" if module in PUBLISHED else ""
        if target and not score >= 0.9:
            failing.append(module)
        rows.append(f"{module:<16} {killed:>7} {equivalent:>7} {checked:>8} {total:>6} {score:>7.1%}  "
                    f"{interval:<15} {killed / checked:>6.1%}  {target}")
    return rows, failing


def main(argv: list[str] | None = None) -> int:
    modules = list(sys.argv[1:] if argv is None else argv)
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                         capture_output=True, text=True, check=False).stdout
    lines = out.splitlines()
    if modules:  # only the modules asked for: no `mutmut show` for the others' survivors
        lines = [ln for ln in lines if ln.strip().split(".x")[0] in modules]
    rows, failing = report(tally(lines, equivalents()), modules)
    print("\n".join(rows))
    if failing:
        print(f"below target: {', '.join(failing)} (`python -m mutmut results` lists the survivors, "
              "`python -m mutmut show NAME` shows one)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
