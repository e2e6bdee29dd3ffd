"""AECNN: attention-based feature compression at a ResNet split (Li, Iosifidis, Zhang, ICC 2023).

Device side: channel attention ranks the channels of the split feature; training fixes the k most
important, so the device sends only those; a uniform n-bit quantiser with a calibrated per-channel
range (straight-through in training) turns them into symbols; an entropy coder (models.entropy)
turns symbols into bytes. Edge side: a lightweight decoder rebuilds all channels, then the tail.

The interface follows CompressAI: ``forward`` for training; ``compress(x)`` returns one byte
string per image and the symbol shape; ``decompress(strings, shape)`` rebuilds the feature.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.entropy import SymbolCoder


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


class AECNNCodec(nn.Module):
    """Channel selection, quantiser, entropy model and decoder at one compression level."""

    def __init__(self, channels: int, k: int, bits: int, hidden: int = 64) -> None:
        super().__init__()
        self.channels, self.k, self.bits = channels, k, bits
        self.register_buffer("index", torch.arange(k))
        self.quant = UniformQuantizer(k, bits)
        self.decoder = light_decoder(k, channels, hidden)
        self.entropy: SymbolCoder | None = None

    def select(self, z: torch.Tensor) -> torch.Tensor:
        return z.index_select(1, self.index)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Training path: select, quantise with straight-through rounding, decode."""
        return self.decoder(self.quant(self.select(z)))

    # --- device side -------------------------------------------------------
    @torch.no_grad()
    def symbols(self, z: torch.Tensor) -> torch.Tensor:
        return self.quant.symbols(self.select(z))

    @torch.no_grad()
    def compress(self, z: torch.Tensor) -> tuple[list[bytes], tuple[int, int, int]]:
        """Bytes of each feature in the batch, and the symbol shape (k, H, W)."""
        if self.entropy is None:
            raise RuntimeError("no entropy model: fit one with fit_entropy() first")
        sym = self.symbols(z).cpu().numpy()
        return [self.entropy.encode(s) for s in sym], tuple(sym.shape[1:])

    # --- edge side ---------------------------------------------------------
    @torch.no_grad()
    def decompress(self, strings: list[bytes], shape: tuple[int, int, int]) -> torch.Tensor:
        """Rebuild the full split feature from byte strings (raises BitstreamError if one is bad)."""
        sym = np.stack([self.entropy.decode(s, shape) for s in strings])
        dev = self.index.device
        return self.decoder(self.quant.dequantize(torch.from_numpy(sym).to(dev)))

    def fit_entropy(self, symbols: np.ndarray, coder: str = "ans") -> None:
        """Fit the per-channel categorical model on training symbols (N, k, H, W)."""
        from models.entropy import fit_probabilities

        self.entropy = SymbolCoder(fit_probabilities(symbols, self.quant.levels), coder)

    def extra_state(self) -> dict:
        return {"probs": None if self.entropy is None else self.entropy.probs,
                "coder": None if self.entropy is None else self.entropy.coder}

    def load_extra_state(self, st: dict) -> None:
        if st.get("probs") is not None:
            self.entropy = SymbolCoder(st["probs"], st["coder"])
