"""The whole model side on real data, small: every training step, the profiler, the simulator on it."""
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import require, require_fashion_mnist

torch = require("torch")
pytestmark = pytest.mark.slow  # trains every step on 1,000 images (about 30 s)

from models.cli import main as models_main  # noqa: E402


@pytest.fixture(scope="module")
def tiny_profile(tmp_path_factory):
    require_fashion_mnist()
    torch.set_num_threads(2)
    tmp = tmp_path_factory.mktemp("tiny")
    code = models_main(["pipeline", "--run", str(tmp / "run"), "--profile-out", str(tmp / "profile"),
                        "--depth", "14", "--width-per-group", "16", "--train-subset", "1000",
                        "--test-subset", "200", "--backbone-epochs", "3", "--backbone-lr", "0.02",
                        "--codec-epochs", "3", "--finetune-epochs", "2",
                        "--ratios", "64,512", "--plan-candidates", "2", "--bottlenet", "4:1", "--rd", "8:0.01",
                        "--repeats", "2"])
    assert code == 0
    return tmp


def test_every_step_leaves_a_checkpoint_with_its_configuration(tiny_profile):
    run = tiny_profile / "run"
    names = {p.name for p in run.glob("*.pt")}
    assert {"backbone.pt", "attention.pt", "bottlenet-k4s1.pt", "aecnn-rd-k8s1-l0.01.pt"} <= names
    assert len([n for n in names if n.startswith("aecnn-")]) >= 1
    assert not list(run.glob("*.partial*"))  # finished steps leave no resumption state
    ck = torch.load(run / "backbone.pt", weights_only=False)
    assert ck["config"]["depth"] == 14 and ck["config"]["train_subset"] == 1000 and ck["fit"]["epochs"] == 3
    log = (run / "train.log").read_text()
    assert "aecnn" in log and log.count("proxy accuracy") == 4  # 2 targets x 2 candidates ranked


def test_training_learns(tiny_profile):
    """Ten classes: chance is 10%. Every step must learn well clear of it (a diverging run gave 23%
    for the backbone and 8% for BottleNet++), and each loss must fall from its first epoch."""
    prof = yaml.safe_load((tiny_profile / "profile" / "profile.yaml").read_text())
    acc = {n: s["accuracy"] for n, s in prof["schemes"].items()}
    assert acc["local"] >= 0.4, acc
    assert min(acc.values()) >= 0.3, acc
    log = (tiny_profile / "run" / "train.log").read_text().splitlines()
    losses = [float(line.rsplit("loss ", 1)[1].split()[0]) for line in log if "backbone: finished epoch" in line]
    assert len(losses) == 3 and losses[-1] < 0.6 * losses[0], losses


def test_profile_is_real_and_simulator_loads_it(tiny_profile, tmp_path):
    prof_dir = tiny_profile / "profile"
    prof = yaml.safe_load((prof_dir / "profile.yaml").read_text())
    samples = pd.read_csv(prof_dir / "samples.csv")
    assert len(samples) == 200
    assert len(prof["provenance"]["checkpoints"]["backbone.pt"]) == 64
    assert prof["feature"]["float32_bytes"] == 256 * 7 * 7 * 4
    aecnn = [n for n, sc in prof["schemes"].items() if sc["codec"] == "aecnn"]
    for n in aecnn:
        b = samples[f"{n}_bytes"]
        assert b.min() >= 0 and b.nunique() > 1  # real, image-dependent bitstream lengths (0: all-zero symbols)
        assert prof["schemes"][n]["compression_ratio"] > 32
    png = samples["full-offload_bytes"]
    assert 100 < png.mean() < 28 * 28 + 200  # PNG of a 28x28 grayscale image
    assert (samples["split-f32_bytes"] == 50176 + 3).all()  # the feature and its 3-byte length field
    codecs = {sc["codec"] for sc in prof["schemes"].values()}
    assert codecs == {"local", "png", "webp-lossless", "webp", "jpeg", "split-f32", "split-int8", "aecnn",
                      "bottlenet", "bottlenet-ec", "aecnn-rd"}
    # the same trained BottleNet++, its symbols entropy-coded: fewer bytes, same decisions
    np.testing.assert_array_equal(samples["bottlenet-k4s1_correct"], samples["bottlenet-ec-k4s1_correct"])
    assert samples["bottlenet-ec-k4s1_bytes"].mean() < samples["bottlenet-k4s1_bytes"].mean() == 4 * 49 + 2
    # WebP lossless decodes to the very image: same correctness as local, smaller than PNG on most
    np.testing.assert_array_equal(samples["webp-lossless_correct"], samples["local_correct"])
    assert (samples["webp-lossless_bytes"] < png).mean() > 0.9
    rd = samples["aecnn-rd-k8s1-l0.01_bytes"]
    assert rd.min() >= 2 and rd.nunique() > 1
    # the RD encoder's FLOPs, counted: attention FCs 256->16->256, 1x1 conv 256->8 at 7x7 (2 per
    # multiply-add), 3 elementwise per quantised value
    enc = prof["stages"]["aecnn-rd-k8s1-l0.01-encode"]["flops"]
    assert enc == 2 * (256 * 16 + 16 * 256) + 2 * 256 * 8 * 49 + 3 * 8 * 49
    for st in ("full", "head", "tail"):
        assert prof["stages"][st]["flops"] > 0 and prof["stages"][st]["latency_ms"]["host-cpu"][1] > 0

    from sim.cli import main as sim_main

    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump({
        "name": "tiny", "profile": str(prof_dir), "schemes": ["full-offload", aecnn[0], "local"],
        "tasks": {"arrival": {"process": "poisson", "rate_per_s": 2}, "count": 40, "deadline_ms": 500},
        "channel": {"bandwidth_hz": 1e5, "snr_db": 0}}))
    assert sim_main(["run", str(sc), "--out", str(tmp_path / "res"), "--no-plot"]) == 0
    from sim.results import read_records

    res = read_records(tmp_path / "res")
    row = res[res["scheme"] == aecnn[0]]
    merged = row.merge(samples, left_on="image", right_on="index")
    np.testing.assert_array_equal(merged["bytes"], merged[f"{aecnn[0]}_bytes"])  # each task carries its image's bytes


def test_evaluate_prints_table_and_targets(tiny_profile, capsys):
    assert models_main(["evaluate", str(tiny_profile / "profile")]) == 0
    out = capsys.readouterr().out
    assert "| scheme |" in out and "backbone (local) accuracy" in out and "| webp-q10 | webp | image |" in out
    assert "aecnn-rd above entropy-coded BottleNet++" in out


def test_missing_data_exits_2(tmp_path, capsys):
    code = models_main(["train", "backbone", "--run", str(tmp_path / "r"), "--dataset", "cifar-10",
                        "--data-root", str(tmp_path)])
    assert code == 2 and "data_batch_1" in capsys.readouterr().err


@pytest.mark.parametrize("level", ["16:0.1:5", "16:0:2", "0:0.1"])
def test_pipeline_refuses_a_bad_rd_level_before_training(tmp_path, capsys, level):
    assert models_main(["pipeline", "--run", str(tmp_path / "run"), "--rd", level]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aecnn-models pipeline: --rd") and level in err and "stride of 1, 2, 3, 4" in err
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


@pytest.mark.parametrize("flag,level,form", [("--rd", "16:abc", "int:float[:int]"),
                                             ("--rd", "1:2:3:4", "int:float[:int]"),
                                             ("--bottlenet", "4", "int:int")])
def test_pipeline_says_the_form_of_a_level_it_cannot_read(tmp_path, capsys, flag, level, form):
    assert models_main(["pipeline", "--run", str(tmp_path / "run"), flag, level]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"item {level!r} is not {form}" in err, err
    assert not (tmp_path / "run").exists()
