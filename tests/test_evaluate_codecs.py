"""``aecnn-models evaluate``: rate-accuracy table, paired verdicts and targets from samples alone.

Profiles are written by hand with known per-image outcomes, so every figure can be worked out.
No torch needed.
"""
import math

import numpy as np
import pytest
import yaml

from models.evaluate import best_at_rate, image_wins, load, main, mcnemar, targets, verdicts

N = 1000
F32 = 50176


def _outcomes(n_right: int, first_wrong: int = 0) -> np.ndarray:
    """N outcomes with ``n_right`` right, the wrong ones starting at index ``first_wrong``."""
    c = np.ones(N, dtype=int)
    c[first_wrong:first_wrong + N - n_right] = 0
    return c


def _profile(folder, schemes: dict) -> None:
    """schemes: {name: (codec, kind, bytes per image, correct array)}."""
    from sim.profile import write_profile

    stages = {"full": {"hw": {1: 1.0}}, "head": {"hw": {1: 1.0}}, "tail": {"hw": {1: 1.0}}}
    spec = {name: {"kind": kind, "codec": codec,
                   "device": ["full"] if kind == "local" else ["head"] if kind == "split" else ["full"],
                   "edge": [] if kind == "local" else ["tail"]}
            for name, (codec, kind, _, _) in schemes.items()}
    write_profile(folder, stages, spec, labels=np.zeros(N, dtype=int),
                  payload_bytes={n: np.full(N, b) if np.isscalar(b) else b for n, (_, _, b, _) in schemes.items()},
                  correct={n: c for n, (_, _, _, c) in schemes.items()},
                  feature={"shape": [256, 7, 7], "float32_bytes": F32})


def test_mcnemar_exact_against_hand_worked_binomials():
    a = np.array([1] * 8 + [0] * 2 + [1] * 50)
    b = np.array([0] * 8 + [1] * 2 + [1] * 50)
    # 10 discordant pairs, 2 the other way: p = 2 (C(10,0)+C(10,1)+C(10,2)) / 2^10 = 112/1024
    assert mcnemar(a, b) == (8, 2, pytest.approx(112 / 1024, rel=1e-12))
    assert mcnemar(b, a)[2] == pytest.approx(112 / 1024, rel=1e-12)
    a20 = np.array([1] * 15 + [0] * 5)
    # p = 2 (1+20+190+1140+4845+15504) / 2^20
    assert mcnemar(a20, 1 - a20)[2] == pytest.approx(2 * 21700 / 2**20, rel=1e-12)
    assert mcnemar(a, a) == (0, 0, 1.0)
    assert mcnemar(np.array([1, 0]), np.array([0, 1]))[2] == 1.0  # balanced: capped at 1
    # thousands of discordant pairs stay finite and tiny (log-space sum)
    big = mcnemar(np.array([1] * 3000 + [0] * 1000), np.array([0] * 3000 + [1] * 1000))[2]
    assert 0 < big < 1e-100


def test_verdicts_tie_and_beat_follow_the_paired_test(tmp_path):
    base = _outcomes(940)
    # aecnn-a: 12 B, 900 right. bottlenet-b: 10 B (fewer bytes), 903 right, and the images it gets
    # wrong overlap aecnn-a's but for 3: a tie. bottlenet-c: 11 B, 930 right: beats aecnn-a.
    _profile(tmp_path, {
        "local": ("local", "local", 0, base),
        "aecnn-a": ("aecnn", "split", 12, _outcomes(900)),
        "bottlenet-b": ("bottlenet", "split", 10, _outcomes(903, first_wrong=3)),
        "bottlenet-c": ("bottlenet", "split", 11, _outcomes(930, first_wrong=40)),
    })
    ev = load(tmp_path)
    assert ev.backbone_accuracy == pytest.approx(94.0)
    # best bottlenet at <= 12 B is c (more accurate than b)
    assert best_at_rate(ev, "bottlenet", 12)["scheme"] == "bottlenet-c"
    assert best_at_rate(ev, "bottlenet", 10.5)["scheme"] == "bottlenet-b"
    assert best_at_rate(ev, "aecnn", 11) is None
    vs = {(v.other, v.scheme): v for v in verdicts(ev)}
    v = vs[("bottlenet-c", "aecnn-a")]
    # a wrong on 0..99, c wrong on 40..109: c alone right on 0..39 (40), a alone on 100..109 (10)
    assert (v.n_other_only, v.n_scheme_only) == (40, 10)
    assert v.gain_points == pytest.approx(3.0) and v.beats
    # b is not claimed against a by the verdicts (c is b's codec's best at a's rate); tested directly:
    from models.evaluate import versus
    t = versus(ev, "aecnn-a", "bottlenet-b")
    assert (t.n_other_only, t.n_scheme_only) == (3, 0) and t.p == pytest.approx(0.25) and not t.beats
    # one verdict per scheme: against the best other codec at its rate
    assert [v.other for v in verdicts(ev) if v.scheme == "aecnn-a"] == ["bottlenet-c"]
    # aecnn-a sends more bytes than every bottlenet: it is never the claimant
    assert not any(v.other == "aecnn-a" for v in verdicts(ev))


def test_targets_read_the_samples_not_the_summary(tmp_path):
    base = _outcomes(940)
    _profile(tmp_path, {
        "local": ("local", "local", 0, base),
        "webp-lossless": ("webp-lossless", "offload", 400, base),
        "aecnn-k9": ("aecnn", "split", 100, _outcomes(931)),  # 0.9 points at 100 B <= 400/4
        "aecnn-k2": ("aecnn", "split", 49, _outcomes(924)),  # 1.6 points at 1024x: not met
        "aecnn-k1": ("aecnn", "split", 12, _outcomes(911)),  # 2.9 points at 4181x: met
    })
    meta = yaml.safe_load((tmp_path / "profile.yaml").read_text())
    for sc in meta["schemes"].values():
        sc["accuracy"] = 0.5  # a stale summary figure must not be used
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    lines = targets(load(tmp_path))
    assert "94.00%" in lines[0] and lines[0].endswith(": met")
    assert "aecnn-k9 at 100.0 B" in lines[1] and "loses 0.90" in lines[1] and lines[1].endswith(": met")
    assert "aecnn-k2 at 49.0 B (1024x) loses 1.60" in lines[2] and lines[2].endswith("NOT met")
    assert "aecnn-k1 at 12.0 B (4181x) loses 2.90" in lines[3] and lines[3].endswith(": met")
    assert "no aecnn-rd and bottlenet-ec" in lines[4]


def test_image_codec_beating_every_feature_codec_is_said_so(tmp_path, capsys):
    base = _outcomes(940)
    _profile(tmp_path, {
        "local": ("local", "local", 0, base),
        "jpeg-q10": ("jpeg", "offload", 60, _outcomes(935)),  # beats aecnn at <= 60 B clearly
        "jpeg-q5": ("jpeg", "offload", 30, _outcomes(800)),  # below aecnn-x: no win
        "aecnn-x": ("aecnn", "split", 50, _outcomes(880)),
        "bottlenet-ec-y": ("bottlenet-ec", "split", 20, _outcomes(870)),
        "aecnn-rd-z": ("aecnn-rd", "split", 20, _outcomes(872)),
    })
    ev = load(tmp_path)
    wins = image_wins(ev)
    assert list(wins) == ["jpeg-q10"]
    assert wins["jpeg-q10"].scheme == "aecnn-x"  # the closest contest: the most accurate feature codec
    lines = targets(ev)
    rd = next(i for i, line in enumerate(lines) if line.startswith("aecnn-rd above"))
    # 872 vs 870 right with nested errors: 2 discordant images, p = 0.5: a tie, so NOT met
    assert lines[rd].endswith("NOT met") and "ties with" in lines[rd + 1]
    assert any("image codec jpeg-q10" in line and "beats every feature codec" in line for line in lines)
    fig = tmp_path / "fig" / "ra"
    assert main([str(tmp_path), "--figure", str(fig)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| jpeg-q10 "))
    assert "image codec beats every feature codec" in row
    assert "| jpeg-q5 " in out and "beats every" not in next(
        line for line in out.splitlines() if line.startswith("| jpeg-q5 "))
    assert (tmp_path / "fig" / "ra.png").stat().st_size > 0 and (tmp_path / "fig" / "ra.svg").exists()
    assert main([str(tmp_path), "--figure", str(tmp_path / "one" / "only.png")]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["only.png"]  # a .png path: that format alone
    capsys.readouterr()
    assert main([str(tmp_path), "--figure", str(tmp_path / "one")]) == 2  # a folder: once written beside it
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a folder" in err[0] and not (tmp_path / "one.png").exists()


def test_rd_target_met_only_with_a_significant_win_at_every_bottlenet_rate(tmp_path):
    base = _outcomes(940)
    _profile(tmp_path, {
        "local": ("local", "local", 0, base),
        "bottlenet-ec-1": ("bottlenet-ec", "split", 20, _outcomes(850)),
        "bottlenet-ec-2": ("bottlenet-ec", "split", 80, _outcomes(900)),
        "aecnn-rd-1": ("aecnn-rd", "split", 18, _outcomes(890)),
        "aecnn-rd-2": ("aecnn-rd", "split", 70, _outcomes(925)),
    })
    lines = targets(load(tmp_path))
    rd = next(i for i, line in enumerate(lines) if line.startswith("aecnn-rd above"))
    assert lines[rd].endswith(": met")
    assert "aecnn-rd-1" in lines[rd + 1] and "beats bottlenet-ec-1" in lines[rd + 1]
    assert "aecnn-rd-2" in lines[rd + 2] and "beats bottlenet-ec-2" in lines[rd + 2]


def test_bad_profile_gives_one_line_and_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "profile.yaml" in err[0]


def test_ratio_is_against_the_float32_feature(tmp_path):
    _profile(tmp_path, {"local": ("local", "local", 0, _outcomes(940)),
                        "aecnn-a": ("aecnn", "split", 49, _outcomes(900))})
    r = load(tmp_path).row("aecnn-a")
    assert r["ratio"] == pytest.approx(F32 / 49) and math.isclose(r["loss_points"], 4.0)
