"""AECNN: attention-based feature compression at a ResNet split (Li, Iosifidis, Zhang, ICC 2023).

Device side: channel attention ranks the channels of the split feature; training fixes the k most
important, so the device sends only those; a uniform n-bit quantiser with a calibrated per-channel
range (straight-through in training) turns them into symbols; an entropy coder (models.entropy)
turns symbols into bytes. Edge side: a lightweight decoder rebuilds all channels, then the tail.

It implements the codec interface of models.codecs.base (registered as ``aecnn``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.codecs.base import CategoricalCoded, FeatureCodec
from models.codecs.entropy import SymbolCoder


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation: per-channel weights in (0, 1) from globally pooled features."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True),
                                nn.Linear(hidden, channels), nn.Sigmoid())

    def scores(self, z: torch.Tensor) -> torch.Tensor:
        """(N, C) attention weights."""
        return self.fc(z.mean((2, 3)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.scores(z)[:, :, None, None]


class RoundSTE(torch.autograd.Function):
    """Rounding whose gradient passes straight through."""

    @staticmethod
    def forward(ctx, x):  # noqa: D102
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):  # noqa: D102
        return g


class UniformQuantizer(nn.Module):
    """n-bit uniform quantiser of non-negative features with a per-channel step.

    The step is calibrated from training data (a high percentile of each channel over the number
    of levels) and may be fine-tuned; rounding passes gradients straight through.
    """

    def __init__(self, channels: int, bits: int) -> None:
        super().__init__()
        if not 1 <= bits <= 8:
            raise ValueError(f"bits must be 1..8, not {bits}")
        self.bits = bits
        self.log_step = nn.Parameter(torch.zeros(channels))

    @property
    def levels(self) -> int:
        return 2**self.bits

    def calibrate(self, z: torch.Tensor, percentile: float = 99.9) -> None:
        """Set each channel's step so that ``percentile`` of its training values fit the range."""
        flat = z.transpose(0, 1).reshape(z.shape[1], -1).float()
        top = torch.quantile(flat[:, torch.randperm(flat.shape[1])[:200000]], percentile / 100, dim=1)
        step = top.clamp_min(1e-4) / (self.levels - 1) if self.levels > 1 else top
        with torch.no_grad():
            self.log_step.copy_(step.log())

    def _step(self) -> torch.Tensor:
        return self.log_step.exp()[None, :, None, None]

    def symbols(self, z: torch.Tensor) -> torch.Tensor:
        """Integer symbols 0..levels-1 (no gradient)."""
        return torch.round(z / self._step()).clamp_(0, self.levels - 1).to(torch.int32)

    def dequantize(self, s: torch.Tensor) -> torch.Tensor:
        return s.float() * self._step()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        q = RoundSTE.apply(z / self._step()).clamp(0, self.levels - 1)
        return q * self._step()


def light_decoder(k: int, channels: int, hidden: int = 64) -> nn.Sequential:
    """Lightweight decoder: two 3x3 convolutions from k received channels back to all channels."""
    return nn.Sequential(
        nn.Conv2d(k, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
        nn.Conv2d(hidden, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
    )


class AECNNCodec(CategoricalCoded, FeatureCodec):
    """Channel selection, quantiser, entropy model and decoder at one compression level."""

    codec = family = "aecnn"

    def __init__(self, channels: int, k: int, bits: int, hidden: int = 64, phase3: str = "mse") -> None:
        super().__init__(channels)
        if phase3 not in ("mse", "ce"):
            raise ValueError(f"phase3 must be 'mse' or 'ce', not {phase3!r}")
        self.k, self.bits, self.hidden, self.phase3 = k, bits, hidden, phase3
        self.register_buffer("index", torch.arange(k))
        self.quant = UniformQuantizer(k, bits)
        self.decoder = light_decoder(k, channels, hidden)
        self.entropy: SymbolCoder | None = None

    def params(self) -> dict:
        return {"k": self.k, "bits": self.bits, "hidden": self.hidden, "phase3": self.phase3}

    @property
    def name(self) -> str:
        return f"aecnn-k{self.k}b{self.bits}"

    def info(self) -> dict:
        return {"k": self.k, "bits": self.bits, "coder": self.entropy.coder if self.entropy else None}

    @property
    def levels(self) -> int:
        return self.quant.levels

    def select(self, z: torch.Tensor) -> torch.Tensor:
        return z.index_select(1, self.index)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Training path: select, quantise with straight-through rounding, decode."""
        return self.decoder(self.quant(self.select(z)))

    def loss(self, phase, z, y, tail, teacher):
        """Step 3: feature MSE (no tail pass) or the task loss through the frozen tail; step 4: task loss."""
        if phase == 3 and self.phase3 == "mse":
            return F.mse_loss(self(z), z)
        return F.cross_entropy(tail(self(z)), y)

    def trainable(self, phase: int) -> list[nn.Parameter]:
        """Step 4 fine-tunes the decoder only: the channels and the quantiser stay as step 3 left them."""
        if phase == 3:
            return list(self.parameters())
        return list(self.decoder.parameters())

    def init_from(self, attention: dict, train_z: torch.Tensor) -> None:
        """The top-k channels of step 2's ranking; the quantiser calibrated on (up to 5000) features."""
        self.index.copy_(attention["ranking"][: self.k])
        self.quant.calibrate(self.select(train_z[:5000].float()))

    # --- device side -------------------------------------------------------
    @torch.no_grad()
    def symbols(self, z: torch.Tensor) -> np.ndarray:
        return self.quant.symbols(self.select(z)).cpu().numpy()

    def code(self, sym: np.ndarray) -> bytes:
        return self._coder().encode(sym)

    # --- edge side ---------------------------------------------------------
    def symbol_shape(self, size: tuple[int, int]) -> tuple[int, ...]:
        return (self.k, *size)

    def uncode(self, body: bytes, shape: tuple[int, ...]) -> np.ndarray:
        return self._coder().decode(body, shape)

    @torch.no_grad()
    def reconstruct(self, sym: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        return self.decoder(self.quant.dequantize(torch.from_numpy(np.asarray(sym)).to(self.index.device)))

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.quant.parameters())

    def decoder_parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())

    def entropy_bits(self, sym: np.ndarray) -> float | None:
        return self._coder().entropy_bits(sym)
