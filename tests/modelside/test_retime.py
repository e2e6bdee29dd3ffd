"""``aecnn-models time``: every stage of a profile rebuilt with random weights, timed, merged."""
import numpy as np
import pytest
import yaml
from helpers import require, write_profile

require("torch")

from models.cli import main  # noqa: E402
from sim.profile import load_profile  # noqa: E402


@pytest.fixture
def profile(tmp_path):
    stages = ["full", "head", "tail", "png-encode", "png-decode", "int8-encode", "int8-decode",
              "aecnn-k3b2-encode", "aecnn-k3b2-decode", "bottlenet-k1s2-encode", "bottlenet-k1s2-decode"]
    n = 4
    prof = write_profile(
        tmp_path / "p", stages={s: {"host-cpu": {1: 1.0}} for s in stages},
        schemes={"local": ("local", ["full"], []),
                 "full-offload": ("offload", ["png-encode"], ["png-decode", "full"]),
                 "split-int8": ("split", ["head", "int8-encode"], ["int8-decode", "tail"]),
                 "aecnn-k3b2": ("split", ["head", "aecnn-k3b2-encode"], ["aecnn-k3b2-decode", "tail"]),
                 "bottlenet-k1s2": ("split", ["head", "bottlenet-k1s2-encode"], ["bottlenet-k1s2-decode", "tail"])},
        columns={"label": np.zeros(n), **{f"{s}_{c}": np.ones(n) for s in
                                          ("local", "full-offload", "split-int8", "aecnn-k3b2", "bottlenet-k1s2")
                                          for c in ("bytes", "correct")}})
    meta = yaml.safe_load((prof / "profile.yaml").read_text())
    meta["provenance"]["run_config"] = {"dataset": "fashion-mnist", "depth": 14, "width_per_group": 16,
                                        "stem": "imagenet", "split": "layer1"}
    meta["schemes"]["aecnn-k3b2"].update(k=3, bits=2, coder="ans")
    meta["schemes"]["bottlenet-k1s2"].update(k=1, stride=2)
    (prof / "profile.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    rng = np.random.default_rng(0)
    np.save(tmp_path / "imgs.npy", (rng.random((8, 28, 28)) * 40).astype(np.uint8))
    return prof


def test_time_every_stage_and_merge(profile, tmp_path, capsys):
    samples = (profile / "samples.csv").read_bytes()
    args = [str(profile), "--hardware", "cpu-test", "--repeats", "2", "--batch-sizes", "1,2",
            "--images", str(tmp_path / "imgs.npy"), "--out", str(tmp_path / "t.yaml"), "--merge"]
    assert main(["time", *args]) == 0
    p = load_profile(profile)
    for name, st in p.stages.items():
        table = st["latency_ms"]["cpu-test"]
        edge = any(name in sc.edge_stages for sc in p.schemes.values())
        assert list(table) == ([1, 2] if edge else [1]) and all(v > 0 for v in table.values())
    info = yaml.safe_load((profile / "profile.yaml").read_text())["hardware"]["cpu-test"]
    assert "random" in info["weights"] and info["precision"] == "fp32" and "aecnn-models time" in info["command"]
    assert (profile / "samples.csv").read_bytes() == samples
    capsys.readouterr()
    assert main(["time", *args]) == 2  # the key is there now: refused without --replace
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cpu-test" in err and "--replace" in err
