"""Channel and results figures pinned by hand, where the mutation run found nothing watching them."""
import math

import numpy as np
import pandas as pd
import pytest
from helpers import simple_profile, write_scenario

from sim.channel import GilbertElliott, TraceSnr, _mix, uniform
from sim.engine import simulate
from sim.profile import load_profile
from sim.results import export_csv, records_frame, summarize
from sim.scenario import load_scenario


def test_splitmix64_matches_the_reference_vectors_and_uniform_uses_53_bits():
    # splitmix64 from state 1234567 (the reference implementation's test vector): the first two outputs
    golden = 0x9E3779B97F4A7C15
    assert _mix(1234567) == 6457827717110365317
    assert _mix((1234567 + golden) % 2**64) == 3203168211198807973
    # (0, 1]: the top 53 bits plus one, over 2^53, exactly
    assert uniform(1234567, 0) == ((6457827717110365317 >> 11) + 1) / 2**53
    assert uniform(1234560, 7) == uniform(1234567, 0)  # key XOR counter: 1234560 ^ 7 == 1234567


def test_gilbert_elliott_levels_and_stationary_start_by_hand():
    # mean 10 (linear), bad 10 dB below good, good 3 s, bad 1 s: share good 0.75;
    # good = 10 / (0.75 + 0.25 x 0.1) = 12.903 (11.107 dB), bad 1.107 dB
    ge = GilbertElliott(10.0, -10.0, 3.0, 1.0, np.random.default_rng(0))
    assert ge.snr_db[True] == pytest.approx(10 * math.log10(10 / 0.775), abs=1e-9)
    assert ge.snr_db[False] == pytest.approx(10 * math.log10(10 / 0.775) - 10, abs=1e-9)
    starts = [GilbertElliott(10.0, -10.0, 3.0, 1.0, np.random.default_rng(s)).states[0] for s in range(4000)]
    assert np.mean(starts) == pytest.approx(0.75, abs=0.025)  # 4 standard errors


def test_share_good_of_a_known_path():
    ge = GilbertElliott(10.0, -10.0, 3.0, 1.0, np.random.default_rng(0))
    ge.starts, ge.states = [0.0, 2.0, 3.0, 7.0], [True, False, True, False]
    assert ge.share_good(5.0) == pytest.approx((2 + 2) / 5)  # good on [0, 2) and [3, 5)
    assert ge.share_good(2.5) == pytest.approx(2 / 2.5)


def test_trace_offset_is_added_to_every_value(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("time_s,snr_db\n0,5\n1,-2\n")
    plain, shifted = TraceSnr(path), TraceSnr(path, offset_db=3.0)
    for t in (0.0, 0.5, 1.0, 9.0):
        assert shifted.segment(t) == (plain.segment(t)[0] + 3.0, plain.segment(t)[1])
    assert shifted.segment(0.2)[0] == 8.0 and shifted.segment(1.2)[0] == 1.0


def test_summary_carries_the_horizon_and_export_writes_where_asked(tmp_path):
    prof = simple_profile(tmp_path / "p", device_ms=5.0)
    sc = load_scenario(write_scenario(tmp_path / "s.yaml", prof, schemes=["local"],
                                      tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 3}))
    res = simulate(sc, load_profile(prof), "local", 0)
    assert summarize(records_frame(res), res)["horizon_s"] == pytest.approx(0.220)

    from sim.cli import main

    out = tmp_path / "res"
    assert main(["run", str(tmp_path / "s.yaml"), "--out", str(out), "--no-plot"]) == 0
    target = tmp_path / "elsewhere" / "r.csv"
    target.parent.mkdir()
    assert export_csv(out, target) == target and not (out / "records.csv").exists()
    assert len(pd.read_csv(target)) == 3
    assert export_csv(out) == out / "records.csv" and (out / "records.csv").exists()


def test_oracle_bound_of_a_run_without_tasks_is_nan(tmp_path):
    prof = simple_profile(tmp_path / "p")
    (tmp_path / "late.csv").write_text("time_s\n50\n")
    sc = load_scenario(write_scenario(
        tmp_path / "s.yaml", prof, schemes=[{"policy": "oracle", "options": ["local", "split"]}],
        tasks={"arrival": {"process": "trace", "trace": "late.csv"}, "count": None, "duration_s": 1.0,
               "deadline_ms": 100}))
    res = simulate(sc, load_profile(prof), sc.arms[0], 0)
    row = summarize(records_frame(res), res)
    assert row["tasks"] == 0 and math.isnan(row["hit_bound"]) and math.isnan(row["acc_bound"])
