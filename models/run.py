"""A training run: its configuration, data, device and checkpoint paths.

Every step of the pipeline takes the same run folder. The configuration is fixed by the first
step (``backbone``) and stored in ``config.json`` and in every checkpoint; later steps read it back.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from models import data as datasets
from models.backbone import build_resnet
from models.fit import atomic_write_text


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run's backbone and data; stored with every checkpoint."""

    dataset: str = "fashion-mnist"
    data_root: str | None = None
    depth: int = 50
    width_per_group: int = 64
    stem: str = "imagenet"
    split: str = "layer1"
    train_subset: int | None = None
    test_subset: int | None = None
    augment: bool = True
    seed: int = 0
    extra: dict = field(default_factory=dict)


class Run:
    """Paths and shared objects of one run folder."""

    def __init__(self, folder: Path | str, config: RunConfig | None = None) -> None:
        self.folder = Path(folder)
        cfg_path = self.folder / "config.json"
        if config is None:
            if not cfg_path.exists():
                raise FileNotFoundError(f"{cfg_path}: no run here; start with the 'backbone' step")
            config = RunConfig(**json.loads(cfg_path.read_text()))
        elif cfg_path.exists():
            stored = RunConfig(**json.loads(cfg_path.read_text()))
            if stored != config:
                raise ValueError(f"{cfg_path}: run exists with another configuration; use a new --run folder")
        else:
            atomic_write_text(cfg_path, json.dumps(asdict(config), indent=2))
        self.config = config
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self._sets: dict[str, datasets.ImageSet] = {}

    def path(self, name: str) -> Path:
        return self.folder / name

    def images(self, split: str) -> datasets.ImageSet:
        """The run's raw images of ``split`` (train or test), cut to the configured subset."""
        if split not in self._sets:
            s = datasets.load(self.config.dataset, split, self.config.data_root)
            n = self.config.train_subset if split == "train" else self.config.test_subset
            self._sets[split] = s.subset(n)
        return self._sets[split]

    def norm(self) -> tuple[float, float]:
        """Mean and std of the training images in [0, 1] (one scalar pair, as inputs are normalised)."""
        x = self.images("train").images.astype("float32") / 255.0
        return float(x.mean()), float(x.std())

    def tensors(self, split: str):
        mean, std = self.norm()
        return self.images(split).tensors(mean, std)

    def build_backbone(self) -> torch.nn.Module:
        train = self.images("train")
        c = self.config
        return build_resnet(c.depth, train.num_classes, train.channels, c.stem, c.width_per_group)

    def load_backbone(self) -> torch.nn.Module:
        """The trained backbone of this run (after the ``backbone`` step)."""
        ck = torch.load(self.path("backbone.pt"), map_location="cpu", weights_only=False)
        net = self.build_backbone()
        net.load_state_dict(ck["model"])
        return net.to(self.device).eval()
