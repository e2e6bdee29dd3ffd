"""Hashes of the records of every shipped scenario, to show an engine change leaves them unchanged.

    python benchmarks/record_hashes.py > before.txt   # on the old code
    python benchmarks/record_hashes.py > after.txt    # on the new code
    diff before.txt after.txt                         # nothing: the same records, task by task

Runs a third of each scenario's sweep points (durations capped at 8 s), every entry of its
``schemes``, seed 0, on both task paths (callbacks where queues allow, and the SimPy process
reference, ``lindley=False``), plus five multi-GPU variants of multi-device.yaml (batching windows,
drops, edge failures, 64 GPUs). Each line: the run and the SHA-256 of its records; the last line
hashes them all. Takes about half a minute on 2 cores.
"""
from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's sim, not an installed copy: the hashes are of the code at hand

from sim.engine import simulate  # noqa: E402
from sim.profile import load_profile  # noqa: E402
from sim.runner import points_of  # noqa: E402
from sim.scenario import load_scenario, override  # noqa: E402


def runs():
    for f in sorted((ROOT / "scenarios").glob("*.yaml")):
        sc = load_scenario(f)
        pts = points_of(sc, True)
        for values, p in pts[:: max(1, len(pts) // 3)]:
            if p.tasks.duration_s is not None and p.tasks.duration_s > 8:
                p = override(p, {"tasks.duration_s": 8})
            yield f"{f.name}:{values}", p
    base = load_scenario(ROOT / "scenarios" / "multi-device.yaml")
    base = override(base, {"devices.count": 16} if base.tasks.count else {})
    for gpus, batch, wait, extra in [(3, 4, 2, {}), (4, 8, 5, {"tasks.on_deadline": "drop"}), (2, 1, 0, {}),
                                     (5, 3, 1, {"faults.edge.mtbf_s": 2.0, "faults.edge.mttr_s": 0.3}),
                                     (64, 8, 2, {})]:
        values = {"edge.gpus": gpus, "edge.batching.max_batch": batch, "edge.batching.max_wait_ms": wait, **extra}
        yield f"multi-device.yaml:{values}", override(base, values)


def main() -> int:
    total = hashlib.sha256()
    for name, sc in runs():
        profile = load_profile(sc.profile)
        for arm in sc.arms:
            for lindley in (None, False):
                rec = simulate(sc, profile, arm, 0, lindley=lindley).records
                digest = hashlib.sha256(pickle.dumps(rec.to_dict("list") if hasattr(rec, "to_dict") else rec))
                total.update(digest.hexdigest().encode())
                print(f"{name} {arm.label} lindley={lindley} {digest.hexdigest()[:16]}")
    print("all", total.hexdigest())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
