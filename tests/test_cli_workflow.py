"""Looking before running: --version, validate, info, and --set overrides."""
import yaml
from helpers import simple_profile, write_scenario

from sim import __version__
from sim.cli import main


def _scenario(tmp_path, **kw):
    return write_scenario(tmp_path / "s.yaml", simple_profile(tmp_path / "p"), schemes=["local", "split"],
                          tasks={"arrival": {"process": "periodic", "period_ms": 100}, "count": 100},
                          sweep={"grid": {"channel.snr_db": [0, 10]}}, **kw)


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert capsys.readouterr().out.strip() == f"aecnn-sim {__version__}"


def test_validate_checks_everything_and_simulates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sc = _scenario(tmp_path, seeds=[0, 1, 2])
    assert main(["validate", str(sc)]) == 0
    out = capsys.readouterr().out
    assert "grid: 2 points x 3 seeds x 2 schemes = 12 simulations" in out
    assert "estimate: 1,200 tasks" in out  # 100 tasks per simulation
    resolved = yaml.safe_load(out.split("\n\n")[0])
    assert resolved["channel"]["rate"]["model"] == "shannon" and resolved["tasks"]["count"] == 100
    assert not (tmp_path / "results").exists()
    assert main(["validate", str(sc), "--set", "channel.snr_db=1e6"]) == 2
    assert "channel.snr_db" in capsys.readouterr().err


def test_set_overrides_keys_before_they_are_checked(tmp_path, capsys):
    sc = _scenario(tmp_path)
    out = tmp_path / "r"
    args = ["run", str(sc), "--out", str(out), "--no-plot", "--set", "seeds=[4, 5]", "--set", "tasks.count=7",
            "--set", "sweep.grid.channel.snr_db=[3]"]
    assert main(args) == 0
    resolved = yaml.safe_load((out / "scenario.resolved.yaml").read_text())
    assert resolved["seeds"] == [4, 5] and resolved["tasks"]["count"] == 7
    import pandas as pd

    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["seed"].unique()) == [4, 5] and (summary["tasks"] == 7).all()
    for bad, word in (("nonsense", "KEY=VALUE"), ("channel.snr_dbb=3", "channel.snr_dbb"),
                      ("channel.snr_db=[1, 2", "YAML"), ("name.x=3", "--set")):
        capsys.readouterr()
        assert main(["validate", str(sc), "--set", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and word in err, err


def test_info_lists_schemes_hardware_and_stages(tmp_path, capsys):
    prof = simple_profile(tmp_path / "p")
    assert main(["info", str(prof)]) == 0
    out = capsys.readouterr().out
    assert "local" in out and "split" in out and "hw: test hardware" in out
    assert "tail" in out and "hw: 1=2, 4=4" in out
    assert main(["info", str(tmp_path / "nope")]) == 2


def test_info_draws_what_batching_buys(tmp_path, capsys):
    prof = simple_profile(tmp_path / "p")
    assert main(["info", str(prof), "--plot", str(tmp_path / "f" / "batching.png")]) == 0
    assert (tmp_path / "f" / "batching.png").stat().st_size > 5000
    assert "figure written to" in capsys.readouterr().out


def test_info_columns_fit_the_longest_names(capsys):
    """The profile of every codec has scheme and stage names longer than a fixed column: each
    column still starts (kind) or ends (GFLOPs) where its heading does."""
    from pathlib import Path

    prof = Path(__file__).resolve().parents[1] / "profiles" / "fashion-mnist-resnet50-next"
    assert main(["info", str(prof)]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, x in enumerate(lines) if x.startswith("scheme "))
    at = lines[head].index("kind")
    rows = lines[head + 1:lines.index("", head)]
    assert len(rows) == 31 and any(r.startswith("aecnn-rd-k16s1-l0.003 ") for r in rows)
    assert all(r[at - 1] == " " and r[at:].split()[0] in ("local", "split", "offload") for r in rows), rows
    head = next(i for i, x in enumerate(lines) if x.startswith("stage "))
    end = lines[head].index("GFLOPs") + len("GFLOPs")
    rows = lines[head + 1:]
    assert any(r.startswith("bottlenet-ec-k1s1-dec2-encode ") for r in rows)
    assert all(r[end - 1].isdigit() and r[end] == " " for r in rows), rows
