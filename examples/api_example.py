"""The Python API in one script: a profile of your own, a scenario from a dict, one simulation,
a sweep to a DataFrame, figures and a report (docs/api.md).

    python examples/api_example.py [--out DIR]      # a few seconds; CI runs it

The profile here is made up for the example (a board whose local model takes 120 ms, a split
whose head takes 9 ms and sends 300 bytes); every number in it is an assumption, not a
measurement. Use ``aecnn-models profile`` for measured ones.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import sim


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="where to write (default: a temporary folder)")
    args = ap.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="aecnn-sim-api-"))

    # 1. a profile of your own hardware and model (assumed numbers, see the docstring)
    n = 200
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    profile = sim.write_profile(
        out / "my-profile",
        stages={"full": {"board": {1: 120.0}}, "head": {"board": {1: 9.0}},
                "tail": {"edge-gpu": {1: 2.0, 8: 5.0, 32: 14.0}}},
        schemes={"local": {"kind": "local", "device": ["full"]},
                 "split": {"kind": "split", "device": ["head"], "edge": ["tail"]}},
        labels=labels, payload_bytes={"local": np.zeros(n), "split": rng.integers(250, 350, n)},
        correct={"local": rng.random(n) < 0.92, "split": rng.random(n) < 0.90},
        hardware={"board": "a single-board computer (assumed)", "edge-gpu": "an edge GPU (assumed)"})
    print(f"profile {profile.name}: schemes {list(profile.schemes)}")

    # 2. a scenario from a dict (the YAML file's shape; paths relative to base_dir)
    sc = sim.scenario_from_dict({
        "name": "api-example", "profile": "my-profile", "seeds": [0, 1],
        "schemes": ["local", "split", {"policy": "estimate", "options": ["local", "split"]}],
        "tasks": {"arrival": {"process": "poisson", "rate_per_s": 5}, "count": 100, "deadline_ms": 100},
        "devices": {"hardware": "board"},
        "channel": {"bandwidth_hz": 180e3, "snr_db": 0, "fading": {"model": "rayleigh"}},
        "edge": {"hardware": "edge-gpu"},
        "sweep": {"grid": {"channel.snr_db": [-10, 0, 10]}},
    }, base_dir=out)

    # 3. one simulation of one scheme, one seed, at an overridden point
    point = sim.override(sc, {"channel.snr_db": 10})
    res = sim.simulate(point, profile, "split", seed=0)
    row = sim.summarize(sim.records_frame(res), res)
    print(f"split at 10 dB, seed 0: {row['hit_rate']:.3f} on time, "
          f"{row['acc_within_deadline']:.3f} on time and correct")

    # 4. the sweep into a results folder, its summary as a DataFrame, figures and a report
    summary = sim.sweep(sc, out / "results", workers=1)
    print(summary.groupby(["channel.snr_db", "scheme"])["acc_within_deadline"].mean().unstack().round(3))
    figures = sim.plot_results(out / "results", formats=("png",))
    md, page = sim.report(out / "results")
    records = sim.read_records(out / "results", ["scheme", "choice", "latency_ms"])
    print(f"{len(records)} task records, {len(figures)} figures, report at {md}")


if __name__ == "__main__":
    main()
