"""Real dataset loaders: Fashion-MNIST (Debian IDX files), CIFAR-10/100 (python pickles), ImageFolder.

Nothing is downloaded. A missing dataset raises :class:`DataMissing` whose message names the
path looked at and what to install or pass; command-line tools turn it into exit status 2.
"""
from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_FMNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class DataMissing(FileNotFoundError):
    """A dataset file is not where we looked; the message says what to install or pass."""


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 arrays (N, H, W, C) with integer labels: what PNG sizes and tensors come from."""

    images: np.ndarray
    labels: np.ndarray
    name: str
    split: str

    @property
    def channels(self) -> int:
        return int(self.images.shape[3])

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1

    def tensors(self, mean: float | None = None, std: float | None = None) -> TensorDataset:
        """Float tensors (N, C, H, W) normalised with per-dataset mean/std, and int64 labels."""
        x = pixels(self.images)
        mean = float(x.mean()) if mean is None else mean
        std = float(x.std()) if std is None else std
        return TensorDataset((x - mean) / std, torch.from_numpy(self.labels.astype(np.int64)))

    def subset(self, n: int | None) -> ImageSet:
        """The first ``n`` images (all when ``n`` is None)."""
        if n is None or n >= len(self.labels):
            return self
        return ImageSet(self.images[:n], self.labels[:n], self.name, self.split)


def _read_idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (the MNIST format) into a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: truncated IDX file ({arr.size} of {int(np.prod(shape))} values)")
    return arr.reshape(shape)


def load_fashion_mnist(split: str, root: Path | str | None = None) -> ImageSet:
    """Fashion-MNIST from the IDX files of Debian's ``dataset-fashion-mnist`` package."""
    root = Path(root) if root else FASHION_MNIST_DIR
    img_name, lbl_name = _FMNIST_FILES[split]
    img_path, lbl_path = root / img_name, root / lbl_name
    for p in (img_path, lbl_path):
        if not p.is_file():
            raise DataMissing(
                f"Fashion-MNIST: {p} not found; install it with "
                "'apt-get install dataset-fashion-mnist' or pass --data-root DIR holding the IDX files"
            )
    images = _read_idx(img_path)[..., None]
    labels = _read_idx(lbl_path).astype(np.int64)
    return ImageSet(images, labels, "fashion-mnist", split)


def load_cifar(split: str, root: Path | str, classes: int = 10) -> ImageSet:
    """CIFAR-10 or CIFAR-100, python pickle version, from the extracted folder ``root``."""
    root = Path(root) if root else Path()
    if classes == 10:
        files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        key, hint = b"labels", "cifar-10-batches-py"
    else:
        files = ["train"] if split == "train" else ["test"]
        key, hint = b"fine_labels", "cifar-100-python"
    images, labels = [], []
    for name in files:
        p = root / name
        if not p.is_file():
            raise DataMissing(
                f"CIFAR-{classes}: {p} not found; pass --data-root pointing at the extracted "
                f"'{hint}' folder of the python version of CIFAR-{classes}"
            )
        with open(p, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[key], dtype=np.int64))
    x = np.concatenate(images).transpose(0, 2, 3, 1).copy()
    return ImageSet(x, np.concatenate(labels), f"cifar-{classes}", split)


def load_image_folder(split: str, root: Path | str, size: int = 32) -> ImageSet:
    """An image folder (``root/<split>/<class>/*.png|jpg``) via torchvision's ImageFolder, resized."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import functional as TF

    folder = Path(root) / split if root else Path(split)
    if not folder.is_dir():
        raise DataMissing(
            f"image folder: {folder} not found; pass --data-root DIR with DIR/{split}/<class>/<image> files"
        )
    ds = ImageFolder(str(folder))
    images = np.stack(
        [np.asarray(TF.center_crop(TF.resize(img.convert("RGB"), size), size)) for img, _ in ds]
    )
    return ImageSet(images.astype(np.uint8), np.asarray(ds.targets, dtype=np.int64), "image-folder", split)


def load(name: str, split: str, root: Path | str | None = None) -> ImageSet:
    """Load a dataset by registered name: fashion-mnist, cifar-10, cifar-100, image-folder."""
    if name == "fashion-mnist":
        return load_fashion_mnist(split, root)
    if name in ("cifar-10", "cifar-100"):
        return load_cifar(split, root or "", classes=int(name.split("-")[1]))
    if name == "image-folder":
        return load_image_folder(split, root or "")
    raise ValueError(f"unknown dataset {name!r}; choose fashion-mnist, cifar-10, cifar-100, image-folder")


class Augment(Dataset):
    """Random crop with padding and horizontal flip on a normalised tensor dataset (train only)."""

    def __init__(self, base: TensorDataset, pad: int = 2, flip: bool = True) -> None:
        self.base, self.pad, self.flip = base, pad, flip

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        x, y = self.base[i]
        if self.pad:
            h, w = x.shape[1:]
            xp = torch.nn.functional.pad(x, (self.pad,) * 4)
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2,)).tolist()
            x = xp[:, dy : dy + h, dx : dx + w]
        if self.flip and torch.rand(()) < 0.5:
            x = x.flip(2)
        return x, y


def pixels(images: np.ndarray) -> torch.Tensor:
    """uint8 images (N, H, W, C) as float tensors (N, C, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images).copy()).permute(0, 3, 1, 2).float().div_(255.0)
