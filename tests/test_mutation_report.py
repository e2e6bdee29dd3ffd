"""The mutation report's arithmetic: scores over checked mutants, Wilson intervals for samples."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "mutation_report", Path(__file__).resolve().parents[1] / "benchmarks" / "mutation_report.py")
mr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mr)


def test_wilson_interval_against_hand_values():
    # 9 of 10: p=0.9, z=1.96: centre (0.9 + 0.19208)/1.38415 = 0.78898, half 0.19314
    lo, hi = mr.wilson(9, 10)
    assert lo == pytest.approx(0.5958, abs=1e-4) and hi == pytest.approx(0.9821, abs=1e-4)
    lo, hi = mr.wilson(5, 5)
    assert hi == 1.0 and lo == pytest.approx(0.5655, abs=1e-4)


def test_report_counts_checked_mutants_only_and_flags_modules_below_target():
    lines = (["    sim.engine.x_f__mutmut_1: killed", "    sim.engine.x_f__mutmut_2: timeout",
              "    sim.engine.x_f__mutmut_3: survived", "    sim.engine.x_f__mutmut_4: not checked",
              "    sim.engine.xǁAǁg__mutmut_13: no tests", "    sim.engine.xǁAǁg__mutmut_14: segfault"]
             + [f"    sim.nodes.x_h__mutmut_{i}: killed" for i in range(1, 10)]
             + ["    sim.plot.x_p__mutmut_1: survived", "noise line"])
    counts = mr.tally(lines)
    assert counts["sim.engine"] == {"killed": 1, "timeout": 1, "survived": 1, "not checked": 1, "no tests": 1,
                                    "segfault": 1}
    rows, failing = mr.report(counts, ["sim.engine", "sim.nodes", "sim.channel"])
    assert failing == ["sim.engine"]  # 3 of 5 checked: "no tests" counts against it, a crash for it
    engine = next(r for r in rows if r.startswith("sim.engine")).split()
    assert engine[1:6] == ["3", "0", "5", "6", "60.0%"] and "-" in engine  # a sample: an interval
    nodes = next(r for r in rows if r.startswith("sim.nodes"))
    assert "100.0%" in nodes and "all checked" in nodes
    assert not any(r.startswith("sim.channel") for r in rows)  # nothing checked: no row
    assert not any(r.startswith("sim.plot") for r in rows)  # not asked for


def test_reviewed_equivalent_survivors_leave_the_score_and_are_counted_apart():
    lines = ["    sim.nodes.x_f__mutmut_1: killed", "    sim.nodes.x_f__mutmut_2: killed",
             "    sim.nodes.x_f__mutmut_3: survived", "    sim.nodes.x_f__mutmut_4: survived",
             "    sim.nodes.x_g__mutmut_1: survived"]
    shown = {"sim.nodes.x_f__mutmut_3": ["a = None"], "sim.nodes.x_f__mutmut_4": ["a = 2"],
             "sim.nodes.x_g__mutmut_1": ["a = None"]}
    known = {("sim.nodes.x_f", "a = None")}  # only in f: the same line in g is another mutant
    counts = mr.tally(lines, known, show=shown.__getitem__)
    assert counts["sim.nodes"] == {"killed": 2, "equivalent": 1, "survived": 2}
    rows, failing = mr.report(counts, ["sim.nodes"])
    cells = rows[1].split()
    assert cells[1:6] == ["2", "1", "5", "5", "50.0%"] and cells[-2] == "40.0%" and failing == ["sim.nodes"]


def test_every_reviewed_equivalent_names_a_function_of_sim_and_says_why():
    import importlib

    entries = mr.yaml.safe_load(mr.EQUIVALENT.read_text())
    assert entries and len(mr.equivalents()) == len(entries)  # no duplicates
    for e in entries:
        assert e["why"].strip() and e["mutated"].strip(), e
        module, _, func = e["function"].partition(".x")  # sim.m.xǁClassǁmethod or sim.m.x_function
        obj = importlib.import_module(module)
        for part in func.split("\u01c1")[1:] if func.startswith("\u01c1") else [func[1:]]:
            obj = getattr(obj, part)  # the class and method, or the function, still exist
