"""Real loaders: Debian's Fashion-MNIST, CIFAR pickles and image folders made by the test."""
import pickle

import numpy as np
import pytest
from helpers import require, require_fashion_mnist

require("torch")

from models import data  # noqa: E402


def test_fashion_mnist_from_debian_package():
    require_fashion_mnist()
    test = data.load_fashion_mnist("test")
    assert test.images.shape == (10000, 28, 28, 1) and test.images.dtype == np.uint8
    assert sorted(np.unique(test.labels)) == list(range(10))
    assert np.bincount(test.labels).tolist() == [1000] * 10


def test_missing_dataset_names_path_and_fix(tmp_path):
    with pytest.raises(data.DataMissing, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist("train", tmp_path)
    with pytest.raises(data.DataMissing, match="cifar-10-batches-py"):
        data.load_cifar("train", tmp_path, 10)


def test_cifar10_and_100_pickles(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        with open(tmp_path / f"data_batch_{i}", "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [i % 10] * 4}, f)
    img = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": img, b"labels": [1, 2, 3]}, f)
    tr, te = data.load_cifar("train", tmp_path, 10), data.load_cifar("test", tmp_path, 10)
    assert tr.images.shape == (20, 32, 32, 3) and te.labels.tolist() == [1, 2, 3]
    # channel-major rows become HWC pixels
    assert te.images[0, 0, 0].tolist() == [img[0, 0], img[0, 1024], img[0, 2048]]
    c100 = tmp_path / "c100"
    c100.mkdir()
    for split in ("train", "test"):
        with open(c100 / split, "wb") as f:
            pickle.dump({b"data": img, b"fine_labels": [5, 50, 99], b"coarse_labels": [0, 1, 2]}, f)
    assert data.load("cifar-100", "test", c100).labels.tolist() == [5, 50, 99]


def test_image_folder(tmp_path):
    from PIL import Image

    for cls in ("cat", "dog"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for j in range(3):
            Image.fromarray(np.full((40, 50, 3), 60 * j, np.uint8)).save(tmp_path / "train" / cls / f"{j}.png")
    s = data.load("image-folder", "train", tmp_path)
    assert s.images.shape == (6, 32, 32, 3) and s.labels.tolist() == [0, 0, 0, 1, 1, 1]
