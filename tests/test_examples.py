"""The examples run as a user runs them (short versions)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_learn_policy_example_trains_and_compares(tmp_path):
    pytest.importorskip("gymnasium") if not os.environ.get("CI") else None
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "learn_policy.py"), "--quick"], cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("learned ") and "states from 4 episodes" in lines[0]
    header = next(line for line in lines if line.startswith("scheme"))
    for column in ("learned", "estimate", "oracle", "snr-threshold", "oracle bound"):
        assert column in header
    rows = [line.split() for line in lines[lines.index(header) + 2:]]
    assert len(rows) == 2  # the quick run's two mean SNRs
    values = [float(v) for v in rows[0][1:]]
    assert all(0.0 <= v <= 1.0 for v in values)
