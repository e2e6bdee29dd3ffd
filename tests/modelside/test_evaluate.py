"""The evaluation's AECNN-against-BottleNet++ verdicts on hand-made levels."""
import pandas as pd

from models.evaluate import _versus


def _levels(*pairs):
    return pd.DataFrame([{"scheme": f"aecnn-{i}", "ratio": r, "accuracy_%": a} for i, (r, a) in enumerate(pairs)])


def test_a_level_that_compresses_more_and_is_more_accurate_settles_it():
    v = _versus(_levels((300, 89.3), (1100, 87.5)), 256, 89.1)
    assert v.endswith("AECNN above") and "aecnn-0" in v


def test_otherwise_interpolated_in_log_ratio():
    v = _versus(_levels((256, 90.0), (4096, 80.0)), 1024, 86.0)
    assert "85.00% (interpolated)" in v and v.endswith("NOT above")  # log 1024 is halfway
    v = _versus(_levels((256, 90.0), (4096, 80.0)), 1024, 84.0)
    assert "85.00% (interpolated)" in v and v.endswith(": AECNN above")


def test_nothing_compresses_that_much():
    assert "n/a" in _versus(_levels((300, 89.3)), 5000, 85.0)
