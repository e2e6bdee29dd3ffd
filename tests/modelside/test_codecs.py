"""Every registered feature codec: framed bitstreams that decode bit-exactly, and never silently
from an empty, truncated or overlong payload; checkpoints carry the entropy model."""
import numpy as np
import pytest
from helpers import require

torch = require("torch")

from models import codecs  # noqa: E402
from models.codecs.aecnn import ChannelAttention  # noqa: E402
from models.codecs.framing import BitstreamError, frame, unframe  # noqa: E402
from models.codecs.image import image_codecs  # noqa: E402
from models.codecs.split import Float32Split, Int8Split  # noqa: E402

PARAMS = {"aecnn": {"k": 3, "bits": 2}, "bottlenet": {"k": 2, "stride": 2}, "bottlenet-ec": {"k": 2, "stride": 1},
          "aecnn-rd": {"k": 4, "lmbda": 0.01, "stride": 2}}


def _codecs(z):
    out = [Float32Split(z.shape[1], z.shape[2:]), Int8Split.calibrated(z)]
    for name, params in PARAMS.items():
        torch.manual_seed(0)
        c = codecs.feature_codec(name)(z.shape[1], **params).eval()
        c.init_from({"ranking": torch.arange(z.shape[1]), "model": ChannelAttention(z.shape[1]).state_dict()}, z)
        c.fit_entropy(z)
        out.append(c)
    return out


@pytest.fixture(scope="module")
def z():
    torch.manual_seed(1)
    return torch.relu(torch.randn(6, 32, 7, 7))


def test_frames_round_trip_and_refuse_what_is_not_one_frame():
    for n in (0, 1, 127, 128, 16383, 16384, 50176):
        body = bytes(range(256)) * (n // 256) + bytes(n % 256)
        f = frame(body)
        assert unframe(f) == body and len(f) - n == (1 if n < 128 else 2 if n < 16384 else 3)
    for bad in (b"", b"\x05abcd", b"\x03abcd", b"\x80", b"\xff\xff\xff\xff\xff\x01"):
        with pytest.raises(BitstreamError):
            unframe(bad)


def test_every_codec_decodes_bit_exactly_and_refuses_lost_payloads(z):
    for c in _codecs(z):
        strings, zhat = c.roundtrip(z)
        assert zhat.shape == z.shape, c.name
        back = c.decompress(strings, (7, 7))
        assert torch.equal(back, zhat), c.name
        for bad in (b"", strings[0][:-1], strings[0] + b"\x00"):
            with pytest.raises(BitstreamError):
                c.decompress([bad], (7, 7))
    zero = torch.zeros(1, 32, 7, 7)
    aecnn = _codecs(z)[2]
    s = aecnn.compress(zero)[0]
    assert s == b"\x00"  # an all-zero feature: an empty ANS stream, its frame one byte, not nothing


@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_rd_at_every_stride_sends_its_symbol_shape_and_rebuilds_the_feature(z, stride):
    torch.manual_seed(0)
    c = codecs.feature_codec("aecnn-rd")(z.shape[1], k=3, lmbda=0.01, stride=stride).eval()
    c.fit_entropy(z)
    side = -(-7 // stride)  # ceil(7 / stride)
    sym = c.symbols(z)
    assert sym.shape == (len(z), 3, side, side) == (len(z), *c.symbol_shape((7, 7)))
    strings, zhat = c.roundtrip(z)
    assert zhat.shape == z.shape and torch.equal(c.decompress(strings, (7, 7)), zhat)
    assert c(z).shape == z.shape  # the training path too
    with pytest.raises(ValueError, match="stride"):
        codecs.feature_codec("aecnn-rd")(z.shape[1], k=3, lmbda=0.01, stride=5)


def test_checkpoint_state_carries_the_entropy_model(z):
    for c in _codecs(z)[2:]:
        d = codecs.feature_codec(c.codec)(z.shape[1], **c.params())
        d.load_state_dict(c.state_dict())
        d.eval()
        strings = c.compress(z)
        assert d.compress(z) == strings and torch.equal(d.decompress(strings, (7, 7)), c.decompress(strings, (7, 7)))


def test_one_bottlenet_checkpoint_serves_raw_and_entropy_coded(z):
    c = codecs.feature_codec("bottlenet")(z.shape[1], k=2, stride=1).eval()
    c.fit_entropy(z)
    served = codecs.from_checkpoint({"family": "bottlenet", "params": c.params(), "codec": c.state_dict()}, 32)
    assert [s.name for s in served] == ["bottlenet-k2s1", "bottlenet-ec-k2s1"]
    raw, ec = (s.compress(z) for s in served)
    assert all(len(r) == 2 * 49 + 1 for r in raw)  # one byte per value, and the length field
    np.testing.assert_array_equal(served[0].symbols(z), served[1].symbols(z))
    assert torch.equal(served[0].decompress(raw, (7, 7)), served[1].decompress(ec, (7, 7)))


def test_image_codecs_make_real_files_and_refuse_bad_ones():
    rng = np.random.default_rng(0)
    img = (rng.random((28, 28, 1)) * 255).astype(np.uint8)
    for c in image_codecs():
        data = c.compress(img)
        back = c.decompress(data, img.shape)
        assert back.shape == img.shape and back.dtype == np.uint8
        if c.lossless:
            np.testing.assert_array_equal(back, img)
        for bad in (b"", data[: len(data) // 2]):
            with pytest.raises(BitstreamError):
                c.decompress(bad, img.shape)


def test_unknown_codec_names_the_known_ones():
    with pytest.raises(KeyError, match="aecnn-rd"):
        codecs.feature_codec("nope")


def test_rd_without_compressai_says_what_to_install(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "compressai", None)  # import compressai now fails
    monkeypatch.setitem(sys.modules, "compressai.entropy_models", None)
    with pytest.raises(codecs.MissingDependency, match="compressai==1.2.8"):
        codecs.feature_codec("aecnn-rd")(8, k=2, lmbda=0.1)
