"""Timings measured elsewhere merge into a profile under their own hardware key; samples untouched."""
import pytest
import yaml
from helpers import simple_profile

from sim.errors import ConfigError
from sim.profile import load_profile, merge_timings


def _timings(key="cuda-x", stages=("full", "head", "tail"), ms=1.0):
    return {"hardware": {key: {"device": "a GPU", "precision": "bf16"}},
            "stages": {s: {key: {1: ms, 4: 2 * ms}} for s in stages}}


def test_merge_adds_a_key_and_keeps_everything_else(tmp_path):
    prof = simple_profile(tmp_path / "p")
    samples = (prof / "samples.csv").read_bytes()
    before = yaml.safe_load((prof / "profile.yaml").read_text())
    assert merge_timings(prof, _timings()) == ["cuda-x"]
    after = yaml.safe_load((prof / "profile.yaml").read_text())
    assert (prof / "samples.csv").read_bytes() == samples
    assert after["hardware"]["cuda-x"]["precision"] == "bf16" and after["hardware"]["hw"] == "test hardware"
    for s in before["stages"]:
        assert after["stages"][s]["latency_ms"]["hw"] == before["stages"][s]["latency_ms"]["hw"]
    p = load_profile(prof)
    assert p.latency_ms("tail", "cuda-x", 4) == 2.0 and p.latency_ms("tail", "hw", 1) == 2.0
    assert not list(prof.glob(".*.tmp"))


@pytest.mark.parametrize("timings,key", [
    (_timings(stages=("full", "head")), "stages.tail"),  # a stage left untimed
    ({**_timings(), "stages": {**_timings()["stages"], "ghost": {"cuda-x": {1: 1.0}}}}, "stages.ghost"),
    (_timings(ms=-1.0), "latency_ms.cuda-x"),
    (_timings(key="hw"), "hardware"),  # the key exists already
    ({"stages": {}}, "hardware"),
])
def test_bad_timings_are_refused_and_the_profile_kept(tmp_path, timings, key):
    prof = simple_profile(tmp_path / "p")
    text = (prof / "profile.yaml").read_text()
    with pytest.raises(ConfigError) as e:
        merge_timings(prof, timings)
    assert key in str(e.value)
    assert (prof / "profile.yaml").read_text() == text


def test_replace_overwrites_an_existing_key(tmp_path):
    prof = simple_profile(tmp_path / "p")
    merge_timings(prof, _timings(key="hw", ms=7.0), replace=True)
    assert load_profile(prof).latency_ms("head", "hw", 1) == 7.0
