"""Figures never pool what a sweep separates, and plot's options work."""
import pytest
from helpers import simple_profile, write_scenario

from sim import plot
from sim.cli import main


@pytest.fixture
def swept(tmp_path):
    prof = simple_profile(tmp_path / "p", payload=2000, n=30)
    sc = write_scenario(
        tmp_path / "s.yaml", prof, schemes=["local", "split"],
        tasks={"arrival": {"process": "poisson", "rate_per_s": 20}, "count": 30, "deadline_ms": 30},
        channel={"fading": {"model": "none"}},
        sweep={"grid": {"channel.snr_db": [0, 10, 20], "channel.fading.model": ["none", "rayleigh"],
                        "tasks.deadline_ms": [15, 40]}})
    out = tmp_path / "out"
    assert main(["sweep", str(sc), "--out", str(out), "--no-plot"]) == 0
    return out


def _capture(monkeypatch):
    figs = {}

    def save(fig, folder, name, formats=plot.FORMATS):
        figs[name] = [(ax.get_title(), [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"])
                      for ax in fig.axes if ax.get_visible()]
        return [folder / f"{name}.{f}" for f in formats]
    monkeypatch.setattr(plot, "_save", save)
    return figs


def test_every_swept_key_is_separated_and_each_panel_has_its_deadline(swept, monkeypatch):
    figs = _capture(monkeypatch)
    plot.plot_results(swept)
    panels = figs["latency_cdf"]
    assert len(panels) == 3 * 2 * 2  # every combination of the three swept keys, nothing pooled
    for title, dashed in panels:
        assert "channel.fading.model = " in title and "snr_db = " in title and "deadline_ms = " in title
        deadline = 15 if "deadline_ms = 15" in title else 40
        assert dashed == [deadline], title
    # hit_rate: a column per fading model, the deadline as line styles (labels name both)
    titles = [t for t, _ in figs["hit_rate"]]
    assert len(titles) == 4 and sum("channel.fading.model = rayleigh" in t for t in titles) == 2
    assert all("deadline per line style" in t for t in titles)


def test_plot_options_and_their_errors(swept, capsys):
    assert main(["plot", str(swept), "--x", "tasks.deadline_ms", "--schemes", "spl*", "--formats", "pdf"]) == 0
    figs = sorted(p.name for p in (swept / "figures").iterdir())
    assert figs == ["acc_vs_deadline.pdf", "hit_rate.pdf", "latency_cdf.pdf", "stage_breakdown.pdf"]
    assert (swept / "figures" / "hit_rate.pdf").read_bytes()[:4] == b"%PDF"
    capsys.readouterr()
    for argv, key in ((["--x", "edge.speed"], "--x"), (["--schemes", "nothing*"], "--schemes"),
                      (["--formats", "png,gif"], "--formats")):
        assert main(["plot", str(swept), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and key in err, err


def test_figures_written_by_worker_processes_are_the_same_files(swept, capsys):
    # fresh processes, as a user runs it (one that drew other figures before may lay text out
    # differently by a pixel: matplotlib keeps font state between figures)
    import subprocess
    import sys

    def plot_cli(*argv):
        subprocess.run([sys.executable, "-m", "sim.cli", "plot", str(swept), *argv], check=True,
                       capture_output=True)
        return {p.name: p.read_bytes() for p in (swept / "figures").glob("*.png")}

    one = plot_cli("--formats", "png")
    for p in (swept / "figures").iterdir():
        p.unlink()
    two = plot_cli("--formats", "png,svg", "--workers", "2")
    assert len(one) == 4 and one == two  # each figure drawn and written in a worker: byte for byte
    assert len(list((swept / "figures").glob("*.svg"))) == 4
    assert not list((swept / "figures").glob(".*"))  # no temporary left
    assert main(["plot", str(swept), "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


def test_labels_styles_and_numbers():
    sc = {"channel": {"fading": {"model": "none"}, "rate": {"model": "cqi"}, "snr_db": 3}, "devices": {"count": 2},
          "sweep": {"grid": {"channel.snr_db": [1]}}}
    names = plot.key_names(sc, ["channel.fading.model", "channel.snr_db", "devices.count"])
    assert names == {"channel.fading.model": "channel.fading.model", "channel.snr_db": "snr_db",
                     "devices.count": "count"}
    style = plot.styles([f"s{i}" for i in range(45)])
    assert len({(c, ls) for c, ls, _m in style.values()}) == 45  # no two schemes alike
    assert [plot.fmt(v) for v in (256.0, 2, 0.5, "none")] == ["256", "2", "0.5", "none"]


def test_sweeping_the_profile_matches_scheme_patterns_per_profile(tmp_path, monkeypatch, capsys):
    import pandas as pd
    import yaml
    from helpers import write_profile
    simple_profile(tmp_path / "scen" / "p1", n=10)
    import numpy as np
    n = 10
    write_profile(tmp_path / "scen" / "p2", stages={"full": {"hw": {1: 30.0}}, "head": {"hw": {1: 2.0}},
                                                   "tail": {"hw": {1: 1.0}}},
                  schemes={"local": ("local", ["full"], []), "split-small": ("split", ["head"], ["tail"])},
                  columns={"label": np.zeros(n), "local_bytes": np.zeros(n), "local_correct": np.ones(n),
                           "split-small_bytes": np.full(n, 100), "split-small_correct": np.ones(n)})
    path = write_scenario(tmp_path / "scen" / "s.yaml", tmp_path / "scen" / "p1", schemes=["local", "split*"],
                          sweep={"grid": {"profile": ["p1", "p2"]}})
    data = yaml.safe_load(path.read_text())
    data["profile"] = "p1"  # relative to the scenario file, like the grid's values
    path.write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)  # elsewhere: paths resolve against the scenario file, not here
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--no-plot"]) == 0, capsys.readouterr().err
    s = pd.read_csv(out / "summary.csv")
    by_profile = {p.rsplit("/", 1)[-1]: sorted(g.scheme) for p, g in s.groupby("profile")}
    assert by_profile == {"p1": ["local", "split"], "p2": ["local", "split-small"]}
    data["sweep"]["grid"]["profile"] = ["p1", "nowhere"]
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 2
    assert "nowhere" in capsys.readouterr().err
