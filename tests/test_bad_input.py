"""Every bad input ends with one line naming file, key and value, and exit status 2."""
import pandas as pd
import pytest
import yaml
from helpers import simple_profile, write_scenario

from sim.cli import main


@pytest.fixture
def good(tmp_path):
    prof = simple_profile(tmp_path / "p")
    return tmp_path, prof


def _run(capsys, path):
    code = main(["run", str(path), "--out", str(path.parent / "out"), "--no-plot"])
    err = capsys.readouterr().err.strip()
    return code, err


CASES = [
    ({"tasks": {"arrival": {"process": "poisson", "rate_per_s": -3}, "count": 5}}, "tasks.arrival.rate_per_s", "-3"),
    ({"tasks": {"arrival": {"process": "periodic", "period_ms": 100}, "count": 5, "deadline_ms": 0}},
     "tasks.deadline_ms", "0"),
    ({"channel": {"rate": {"model": "cqi", "bler": 1.5}}}, "channel.rate.bler", "1.5"),
    ({"channel": {"fading": {"model": "rician", "k_factor": -1}}}, "channel.fading.k_factor", "-1"),
    ({"channel": {"bandwidth_hz": "wide"}}, "channel.bandwidth_hz", "wide"),
    ({"channel": {"speed_of_light": 3}}, "channel.speed_of_light", "3"),
    ({"edge": {"batching": {"max_batch": 0}}}, "edge.batching.max_batch", "0"),
    ({"devices": {"count": 2.5}}, "devices.count", "2.5"),
    ({"channel": {"fading": {"model": "nakagami"}}}, "channel.fading.model", "nakagami"),
    ({"schemes": ["teleport"]}, "schemes", "teleport"),
    ({"sweep": {"grid": {"channel.snr_dbb": [1, 2]}}}, "sweep.grid.channel.snr_dbb", "1"),
    # a typo's hint names the closest key; with none close, what the section has
    ({"sweep": {"grid": {"channel.snr_dbb": [1, 2]}}}, "sweep.grid.channel.snr_dbb", "did you mean channel.snr_db?"),
    ({"sweep": {"grid": {"edge.zzz": [1]}}}, "sweep.grid.edge.zzz", "edge has hardware, speed, gpus, batching"),
    ({"sweep": {"grid": {"tasks.deadline_ms": [10, -5]}}}, "tasks.deadline_ms", "-5"),
    ({"devices": {"count": 1, "hardware": "tpu-v9", "speed": 1.0}}, "devices.hardware", "tpu-v9"),
]


@pytest.mark.parametrize("sections,key,value", CASES, ids=[c[1] for c in CASES])
def test_bad_value_exits_2_naming_key(good, capsys, sections, key, value):
    tmp, prof = good
    path = write_scenario(tmp / "bad.yaml", prof, **sections)
    code, err = _run(capsys, path)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert str(path) in err and key in err and value in err, err


def test_missing_profile_folder(good, capsys):
    tmp, _ = good
    path = write_scenario(tmp / "bad.yaml", tmp / "no-such-profile")
    code, err = _run(capsys, path)
    assert code == 2 and "profile" in err and "no-such-profile" in err and len(err.splitlines()) == 1


def test_malformed_yaml(good, capsys):
    tmp, _ = good
    path = tmp / "broken.yaml"
    path.write_text("name: x\nchannel: {snr_db: [1, 2\n")
    code, err = _run(capsys, path)
    assert code == 2 and str(path) in err and "line" in err and len(err.splitlines()) == 1


def test_missing_scenario_file(tmp_path, capsys):
    code, err = _run(capsys, tmp_path / "nope.yaml")
    assert code == 2 and "nope.yaml" in err


def test_profile_missing_samples_column(good, capsys):
    tmp, prof = good
    meta = yaml.safe_load((prof / "profile.yaml").read_text())
    meta["schemes"]["split"]["bytes_column"] = "ghost_bytes"
    (prof / "profile.yaml").write_text(yaml.safe_dump(meta))
    code, err = _run(capsys, write_scenario(tmp / "s.yaml", prof))
    assert code == 2 and "samples.csv" in err and "ghost_bytes" in err


def test_other_scenario_in_same_folder_keeps_both_and_mixes_nothing(good):
    tmp, prof = good
    out = tmp / "out"
    assert main(["run", str(write_scenario(tmp / "a.yaml", prof)), "--out", str(out), "--no-plot"]) == 0
    first = sorted(p.name for p in (out / "points").glob("*.json"))
    other = write_scenario(tmp / "b.yaml", prof, channel={"snr_db": 0})
    assert main(["run", str(other), "--out", str(out), "--no-plot"]) == 0
    both = sorted(p.name for p in (out / "points").glob("*.json"))
    assert len(first) == 1 and len(both) == 2 and set(first) < set(both)
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 1  # the summary is the last scenario's alone
    resolved = yaml.safe_load((out / "scenario.resolved.yaml").read_text())
    assert resolved["channel"]["snr_db"] == 0


def test_scheme_patterns_expand_against_profile(good):
    from sim.scenario import load_scenario

    tmp, prof = good
    sc = load_scenario(write_scenario(tmp / "s.yaml", prof, schemes=["spl*", "local", "split"]))
    assert sc.schemes == ("split", "local")
