"""The committed profile of every codec (issue 10): whole, readable without torch, and simulated."""
from pathlib import Path

import numpy as np

from sim.engine import simulate
from sim.profile import load_profile
from sim.scenario import load_scenario, override

ROOT = Path(__file__).resolve().parents[1]
NEXT = ROOT / "profiles" / "fashion-mnist-resnet50-next"


def test_it_holds_every_codec_with_each_image_s_bytes_and_correctness():
    p = load_profile(NEXT)
    codecs = {s["codec"] for s in p.meta["schemes"].values()}
    assert codecs == {"local", "split-f32", "split-int8", "aecnn", "aecnn-rd", "bottlenet", "bottlenet-ec", "png",
                      "webp-lossless", "webp", "jpeg"}
    assert p.n_samples == 10_000
    for name, spec in p.schemes.items():
        assert len(spec.payload_bytes) == 10_000 and len(spec.correct) == 10_000, name
        if spec.kind != "local":
            assert (spec.payload_bytes > 0).all(), name  # framed: no payload is empty
        assert abs(spec.accuracy - p.meta["schemes"][name]["accuracy"]) < 1e-4, name  # summary = samples
    # both BottleNet++ decoders, the published one raw and entropy-coded
    decoders = {(s["codec"], s["params"].get("decoder")) for s in p.meta["schemes"].values()
                if s["codec"].startswith("bottlenet")}
    assert decoders == {(c, d) for c in ("bottlenet", "bottlenet-ec") for d in ("published", "two-layer")}
    # lossless image codecs classify exactly what the backbone does
    for lossless in ("full-offload", "webp-lossless"):
        assert np.array_equal(p.schemes[lossless].correct, p.schemes["local"].correct)


def test_the_simulator_runs_its_schemes():
    sc = load_scenario(ROOT / "scenarios" / "paper.yaml")
    sc = override(sc, {"profile": str(NEXT), "tasks.count": 30})
    p = load_profile(NEXT)
    for scheme in ("aecnn-rd-k16s1-l0.003", "bottlenet-ec-k1s1", "webp-q10", "jpeg-q40"):
        rec = simulate(sc, p, scheme, 0).records
        assert len(rec) == 30, scheme
