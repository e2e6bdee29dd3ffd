"""aecnn-sim compare and report, checked against the summary files they read."""
import math

import pandas as pd
import pytest
from helpers import simple_profile, write_scenario

from sim.cli import main
from sim.results import t95


@pytest.fixture
def two(tmp_path):
    prof = simple_profile(tmp_path / "p", payload=1000, n=30)
    sc = write_scenario(tmp_path / "s.yaml", prof, schemes=["local", "split"], seeds=[0, 1, 2],
                        tasks={"arrival": {"process": "poisson", "rate_per_s": 30}, "count": 40, "deadline_ms": 16},
                        channel={"fading": {"model": "rayleigh", "coherence_ms": 1}},
                        sweep={"grid": {"channel.snr_db": [0, 10]}})
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["sweep", str(sc), "--out", str(a), "--no-plot"]) == 0
    assert main(["sweep", str(sc), "--out", str(b), "--no-plot", "--set", "edge.speed=0.5"]) == 0
    return tmp_path, sc, a, b


def test_compare_pairs_seeds_and_matches_the_summaries(two, capsys):
    tmp, sc, a, b = two
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--figures", "hit_rate", "--csv", str(tmp / "c.csv")]) == 0
    table = pd.read_csv(tmp / "c.csv")
    assert len(table) == 2 * 2  # two SNR points x two schemes
    sa, sb = pd.read_csv(a / "summary.csv"), pd.read_csv(b / "summary.csv")
    for _, row in table.iterrows():
        pick = {"channel.snr_db": row["channel.snr_db"], "scheme": row["scheme"]}
        xa = sa[(sa["channel.snr_db"] == pick["channel.snr_db"]) & (sa.scheme == pick["scheme"])].set_index("seed")
        xb = sb[(sb["channel.snr_db"] == pick["channel.snr_db"]) & (sb.scheme == pick["scheme"])].set_index("seed")
        d = (xb["hit_rate"] - xa["hit_rate"]).to_numpy()
        assert row["b - a"] == pytest.approx(d.mean())
        assert row["b ci95"] == pytest.approx(t95(2) * d.std(ddof=1) / math.sqrt(3), nan_ok=True)
        assert bool(row["b paired"])
    # a slower edge cannot make the split scheme meet more deadlines
    split = table[table.scheme == "split"]
    assert (split["b - a"] <= 1e-12).all() and (split["b - a"] < 0).any()


def test_compare_across_different_sweeps_and_without_shared_points(two, capsys):
    tmp, sc, a, _b = two
    c = tmp / "c"  # not swept: its scenario's snr_db 10 is one of a's points
    assert main(["run", str(sc), "--out", str(c), "--no-plot", "--set", "seeds=[0, 1]"]) == 0
    assert main(["compare", str(a), str(c), "--figures", "hit_rate", "--csv", str(tmp / "t.csv")]) == 0
    t = pd.read_csv(tmp / "t.csv")
    assert set(t["channel.snr_db"]) == {10} and not t["c paired"].any()  # seeds differ: unpaired
    sa, sc_ = pd.read_csv(a / "summary.csv"), pd.read_csv(c / "summary.csv")
    for _, row in t.iterrows():
        mean_a = sa[(sa["channel.snr_db"] == 10) & (sa.scheme == row.scheme)].hit_rate.mean()
        mean_c = sc_[sc_.scheme == row.scheme].hit_rate.mean()
        assert row["c - a"] == pytest.approx(mean_c - mean_a)
        # seeds 0 and 1 of c are seeds 0 and 1 of a's point at 10 dB: the same simulations
        same = sa[(sa["channel.snr_db"] == 10) & (sa.scheme == row.scheme) & (sa.seed < 2)].hit_rate.to_numpy()
        assert list(same) == list(sc_[sc_.scheme == row.scheme].sort_values("seed").hit_rate)
    d = tmp / "d"
    assert main(["run", str(sc), "--out", str(d), "--no-plot", "--set", "channel.snr_db=3"]) == 0
    capsys.readouterr()
    assert main(["compare", str(a), str(d)]) == 2
    err = capsys.readouterr().err.strip()
    assert "share no point" in err and len(err.splitlines()) == 1
    assert main(["compare", str(a), str(tmp / "missing")]) == 2


def test_report_tables_match_the_summary_and_embed_the_figures(two, capsys):
    _tmp, _sc, a, _b = two
    assert main(["report", str(a)]) == 0
    md = (a / "report.md").read_text()
    ci = pd.read_csv(a / "summary_ci.csv")
    section = md.split("## acc_within_deadline")[1].split("## ")[0]
    rows = [line.strip("|").split("|") for line in section.strip().splitlines()[2:]]
    header = [h.strip() for h in section.strip().splitlines()[0].strip("|").split("|")]
    assert header == ["channel.snr_db", "local", "split"]
    for cells in rows:
        snr = float(cells[0])
        for scheme, cell in zip(header[1:], cells[1:]):
            r = ci[(ci["channel.snr_db"] == snr) & (ci.scheme == scheme)].iloc[0]
            mean, hw = (float(v) for v in cell.split("±"))
            assert mean == pytest.approx(r["acc_within_deadline"], abs=5e-4)
            assert hw == pytest.approx(r["acc_within_deadline_ci95"], abs=5e-4)
    assert len(rows) == 2
    page = (a / "report.html").read_text()
    for fig in ("hit_rate", "latency_cdf", "stage_breakdown", "acc_vs_deadline"):
        assert f"![{fig}](figures/{fig}.png)" in md and (a / "figures" / f"{fig}.png").is_file()
        assert f"<h3>{fig}</h3><img alt='{fig}' src='data:image/png;base64," in page
    assert "channel:" in page and "<table" in page
