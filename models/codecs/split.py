"""The uncompressed splits: the head's float32 feature as it is, and at 8 bits (one scale).

Neither is trained: ``split-f32`` sends the feature's float32 bytes; ``split-int8`` quantises with
one per-tensor scale calibrated on training features. Both are framed like every feature codec.
"""
from __future__ import annotations

import numpy as np
import torch

from models.codecs.base import FeatureCodec
from models.codecs.entropy import BitstreamError


class _Raw(FeatureCodec):
    dtype: np.dtype

    def __init__(self, channels: int, size: tuple[int, int]) -> None:
        super().__init__(channels)
        self.size = tuple(size)

    def params(self) -> dict:
        return {}

    @property
    def name(self) -> str:
        return self.codec

    def symbol_shape(self, size: tuple[int, int]) -> tuple[int, ...]:
        return (self.channels, *size)

    def code(self, sym: np.ndarray) -> bytes:
        return np.ascontiguousarray(sym, dtype=self.dtype).tobytes()

    def uncode(self, body: bytes, shape: tuple[int, ...]) -> np.ndarray:
        want = int(np.prod(shape)) * np.dtype(self.dtype).itemsize
        if len(body) != want:
            raise BitstreamError(f"{self.codec} payload has {len(body)} bytes, expected {want}")
        return np.frombuffer(body, dtype=self.dtype).reshape(shape)


class Float32Split(_Raw):
    codec = "split-f32"
    dtype = np.dtype("<f4")

    def info(self) -> dict:
        return {"bits": 32}

    def quantise_flops(self, size: tuple[int, int]) -> int:
        return 0

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z

    @torch.no_grad()
    def symbols(self, z: torch.Tensor) -> np.ndarray:
        return z.float().cpu().numpy()

    @torch.no_grad()
    def reconstruct(self, sym: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        return torch.from_numpy(np.array(sym, dtype=np.float32))


class Int8Split(_Raw):
    """One per-tensor scale: the 99.99th percentile of training features over 255."""

    codec = "split-int8"
    dtype = np.dtype("u1")

    def __init__(self, channels: int, size: tuple[int, int], scale: float = 1.0) -> None:
        super().__init__(channels, size)
        self.scale = float(scale)

    @classmethod
    def calibrated(cls, train_z: torch.Tensor) -> Int8Split:
        scale = float(torch.quantile(train_z[:2000].float().flatten()[:1_000_000], 0.9999)) / 255
        return cls(train_z.shape[1], tuple(train_z.shape[2:]), scale)

    def info(self) -> dict:
        return {"bits": 8, "scale": self.scale}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.round(z / self.scale).clamp(0, 255) * self.scale

    @torch.no_grad()
    def symbols(self, z: torch.Tensor) -> np.ndarray:
        return torch.round(z.float() / self.scale).clamp(0, 255).to(torch.int32).cpu().numpy()

    def code(self, sym: np.ndarray) -> bytes:
        return np.asarray(sym, dtype=np.uint8).tobytes()

    def uncode(self, body: bytes, shape: tuple[int, ...]) -> np.ndarray:
        return super().uncode(body, shape).astype(np.int32)

    @torch.no_grad()
    def reconstruct(self, sym: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        return torch.from_numpy(np.asarray(sym, dtype=np.float32) * self.scale)
