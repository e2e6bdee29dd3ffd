"""Splittable ResNet built from torchvision's ResNet class.

``build_resnet`` returns torchvision's ResNet with the stem chosen by name and the input channels
of the data; ``head``/``tail`` cut it after any stage (layer1..layer4). ``depth=50`` with
``width_per_group=64`` is torchvision's resnet50 exactly; tests use a shallow, narrow variant.
"""
from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

STAGES = ("layer1", "layer2", "layer3", "layer4")
STAGE_CHANNELS = {"layer1": 256, "layer2": 512, "layer3": 1024, "layer4": 2048}
_DEPTHS = {50: [3, 4, 6, 3], 26: [2, 2, 2, 2], 14: [1, 1, 1, 1]}


def build_resnet(
    depth: int = 50,
    num_classes: int = 10,
    in_channels: int = 3,
    stem: str = "imagenet",
    width_per_group: int = 64,
) -> ResNet:
    """torchvision's ResNet with Bottleneck blocks, a chosen stem and input channel count.

    Args:
        depth: 50 (torchvision's resnet50), 26 or 14 (shallow variants for tests).
        num_classes: classifier outputs.
        in_channels: channels of the input images (1 for Fashion-MNIST).
        stem: "imagenet" (7x7 stride 2 conv and max-pool) or "cifar" (3x3 stride 1, no max-pool).
        width_per_group: inner width of the bottlenecks (64 for resnet50; smaller is narrower).
    """
    if depth not in _DEPTHS:
        raise ValueError(f"depth must be one of {sorted(_DEPTHS)}, not {depth}")
    net = ResNet(Bottleneck, _DEPTHS[depth], num_classes=num_classes, width_per_group=width_per_group)
    if stem == "imagenet":
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    elif stem == "cifar":
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    else:
        raise ValueError(f"stem must be 'imagenet' or 'cifar', not {stem!r}")
    nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
    return net


class Head(nn.Module):
    """The device-side part of a ResNet: stem and stages up to and including ``split``."""

    def __init__(self, net: ResNet, split: str) -> None:
        super().__init__()
        idx = STAGES.index(split)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.stages = nn.Sequential(*[getattr(net, s) for s in STAGES[: idx + 1]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


class Tail(nn.Module):
    """The edge-side part of a ResNet: stages after ``split``, pooling and the classifier."""

    def __init__(self, net: ResNet, split: str) -> None:
        super().__init__()
        idx = STAGES.index(split)
        self.stages = nn.Sequential(*[getattr(net, s) for s in STAGES[idx + 1 :]])
        self.pool, self.fc = net.avgpool, net.fc

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.stages(z)), 1))


def split_channels(net: ResNet, split: str) -> int:
    """Channels of the feature that crosses the split."""
    layer = getattr(net, split)
    return layer[-1].conv3.out_channels
