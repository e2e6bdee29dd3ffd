"""BottleNet++ (Shao and Zhang, 2020) at a ResNet split: the baseline AECNN is compared with.

Its published design: a convolutional encoder (conv, batch norm, sigmoid) to few channels with an
optional strided spatial reduction, 8-bit uniform quantisation of the sigmoid output, and a
convolutional decoder (transposed conv when the encoder strided). The payload is the quantised
bytes as they are, one byte per value: BottleNet++ has no entropy coder.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.aecnn import RoundSTE
from models.entropy import BitstreamError


class BottleNetCodec(nn.Module):
    """Conv encoder to ``k`` channels (stride 1 or 2), 8-bit quantiser, conv decoder."""

    def __init__(self, channels: int, k: int, stride: int = 1, hidden: int = 64) -> None:
        super().__init__()
        if stride not in (1, 2, 3, 4):
            raise ValueError(f"stride must be 1..4, not {stride}")
        self.channels, self.k, self.stride = channels, k, stride
        self.encoder = nn.Sequential(nn.Conv2d(channels, k, 3, stride=stride, padding=1, bias=False),
                                     nn.BatchNorm2d(k), nn.Sigmoid())
        up = (nn.ConvTranspose2d(k, hidden, 3, stride=stride, padding=1, bias=False) if stride > 1
              else nn.Conv2d(k, hidden, 3, padding=1, bias=False))
        self.decoder = nn.Sequential(up, nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
                                     nn.Conv2d(hidden, channels, 3, padding=1, bias=False),
                                     nn.BatchNorm2d(channels), nn.ReLU(inplace=True))

    def _decode(self, y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        out = self.decoder[0](y, output_size=size) if self.stride > 1 else self.decoder[0](y)
        return self.decoder[1:](out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = RoundSTE.apply(self.encoder(z) * 255.0) / 255.0
        return self._decode(y, z.shape[2:])

    @torch.no_grad()
    def compress(self, z: torch.Tensor) -> tuple[list[bytes], tuple[int, int, int]]:
        q = torch.round(self.encoder(z) * 255.0).to(torch.uint8).cpu().numpy()
        return [s.tobytes() for s in q], tuple(q.shape[1:])

    @torch.no_grad()
    def decompress(self, strings: list[bytes], shape: tuple[int, int, int],
                   size: tuple[int, int]) -> torch.Tensor:
        n = int(np.prod(shape))
        for s in strings:
            if len(s) != n:
                raise BitstreamError(f"BottleNet++ payload has {len(s)} bytes, expected {n}")
        q = np.stack([np.frombuffer(s, dtype=np.uint8).reshape(shape) for s in strings])
        y = torch.from_numpy(q.astype(np.float32) / 255.0).to(next(self.parameters()).device)
        return self._decode(y, size)
