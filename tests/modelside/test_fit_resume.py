"""A training step killed mid-epoch resumes to exactly the weights of an uninterrupted run."""
import pytest
from helpers import require

torch = require("torch")

from torch.utils.data import TensorDataset  # noqa: E402

from models.data import Augment  # noqa: E402
from models.fit import FitSpec, fit  # noqa: E402


def _setup():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3))
    g = torch.Generator().manual_seed(1)
    data = Augment(TensorDataset(torch.randn(96, 1, 8, 8, generator=g), torch.randint(0, 3, (96,), generator=g)))
    return net, data


def test_resume_after_kill_matches_uninterrupted(tmp_path):
    spec = FitSpec(epochs=2, lr=0.05, batch_size=16, save_every=2)
    ce = torch.nn.functional.cross_entropy

    net_a, data = _setup()
    fit(net_a, net_a.parameters(), lambda m, b: ce(m(b[0]), b[1]), data, spec, tmp_path / "a.partial",
        torch.device("cpu"))

    net_b, data = _setup()
    calls = {"n": 0}

    def dying_loss(m, b):
        calls["n"] += 1
        if calls["n"] == 10:  # epoch 2, batch 4: killed after the save at batch 2 of that epoch
            raise RuntimeError("killed")
        return ce(m(b[0]), b[1])

    with pytest.raises(RuntimeError, match="killed"):
        fit(net_b, net_b.parameters(), dying_loss, data, spec, tmp_path / "b.partial", torch.device("cpu"))
    st = torch.load(tmp_path / "b.partial", weights_only=False)
    assert (st["epoch"], st["batch"]) == (1, 2)
    net_c, data = _setup()  # a fresh process: nothing but the partial checkpoint carries over
    fit(net_c, net_c.parameters(), lambda m, b: ce(m(b[0]), b[1]), data, spec, tmp_path / "b.partial",
        torch.device("cpu"))
    for (k, va), vc in zip(net_a.state_dict().items(), net_c.state_dict().values()):
        assert torch.equal(va, vc), k


def test_backbone_stage_bookkeeping(tmp_path):
    from models.pipeline import _more_stages
    from models.train import backbone_stages_done

    class _Run:
        def path(self, name):
            return tmp_path / name

    run = _Run()
    assert backbone_stages_done(run) == 0
    (tmp_path / "backbone.pt.partial").touch()
    assert backbone_stages_done(run) == 0  # stage 1 interrupted
    (tmp_path / "backbone.pt.partial").unlink()
    (tmp_path / "backbone.pt").touch()
    assert backbone_stages_done(run) == 1
    (tmp_path / "backbone.pt").rename(tmp_path / "backbone-stage1.pt")
    assert backbone_stages_done(run) == 1  # stage 2 began: backbone.pt moved aside, nothing new yet
    (tmp_path / "backbone.pt.partial2").touch()
    (tmp_path / "backbone.pt").touch()
    assert backbone_stages_done(run) == 1  # a partial of stage 2 means it is not finished
    (tmp_path / "backbone.pt.partial2").unlink()
    assert backbone_stages_done(run) == 2

    assert _more_stages("3,3", "0.05,0.02") == [(3, 0.05), (3, 0.02)]
    assert _more_stages("3,2,1", "0.05") == [(3, 0.05), (2, 0.05), (1, 0.05)]
    assert _more_stages("0", "0.05") == [] and _more_stages("", "0.05") == []
    for bad in (("x", "0.1"), ("3", "-1"), ("3", "")):
        with pytest.raises(ValueError, match="backbone-more"):
            _more_stages(*bad)
