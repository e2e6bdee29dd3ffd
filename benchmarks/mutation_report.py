"""Share of mutants killed per module of sim/, from mutmut's results (run by ``make mutation``).

A mutant counts as killed when a test failed on it or it timed out; "no tests" and "survived"
count against the module; mutants not checked (a run limited to some modules) are left out.
The modules that compute published figures carry a 90% target.
"""
from __future__ import annotations

import collections
import subprocess
import sys

PUBLISHED = ("sim.engine", "sim.nodes", "sim.channel", "sim.results", "sim.records")
KILLED = {"killed", "timeout"}
UNCOUNTED = {"not checked", "skipped"}


def main() -> int:
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                         capture_output=True, text=True, check=False).stdout
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for line in out.splitlines():
        if ":" not in line or ".x" not in line:
            continue
        name, status = (p.strip() for p in line.rsplit(":", 1))
        module = name.split(".x")[0]
        counts[module][status] += 1
    print(f"{'module':<16} {'killed':>7} {'of':>6} {'score':>7}  target")
    failing = []
    for module in sorted(counts):
        c = counts[module]
        total = sum(n for s, n in c.items() if s not in UNCOUNTED)
        if total == 0:
            continue
        killed = sum(c[s] for s in KILLED)
        score = killed / total
        target = "90%" if module in PUBLISHED else ""
        if target and score < 0.9:
            failing.append(module)
        print(f"{module:<16} {killed:>7} {total:>6} {score:>7.1%}  {target}")
    if failing:
        print(f"below target: {', '.join(failing)} (`python -m mutmut results` lists the survivors, "
              "`python -m mutmut show NAME` shows one)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
