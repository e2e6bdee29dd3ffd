"""The one interface every feature codec implements (AECNN, BottleNet++, AECNN-RD, the splits).

A codec turns a batch of split features into one byte string per image and back:

- ``symbols(z)``: the integers the device sends, (N, ...) numpy, the codec's quantisation;
- ``code(sym)`` / ``uncode(body, shape)``: one image's symbols to a bitstream body and back,
  bit-exactly (the entropy coder, or raw bytes); the entropy model is part of the module's
  ``state_dict`` (``get_extra_state``), so a checkpoint carries it;
- ``reconstruct(sym, size)``: the edge side, symbols back to a full feature for the tail;
- ``compress(z)`` / ``decompress(strings, size)``: the above with framing (models.codecs.framing),
  the bytes the profiler counts and the simulator sends.

Training is step by step (the backbone frozen, then the codec's decoder and the tail fine-tuned):
``loss(phase, ...)`` gives each phase's objective and ``trainable(phase)`` its parameters;
``fit_entropy`` fits the entropy model on training features once training is done. FLOPs of the
device-side encoder and the edge-side decoder are counted by the profiler from
``encoder_forward`` and ``decoder_forward``.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.codecs.entropy import SymbolCoder, fit_probabilities
from models.codecs.framing import BitstreamError, frame, unframe


class FeatureCodec(nn.Module):
    """Base of every feature codec; subclasses are registered by name in models.codecs."""

    codec: ClassVar[str] = ""  # the registry name; the codec's schemes are named after it
    family: ClassVar[str] = ""  # the checkpoint kind it is trained as and loaded from

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    # --- identity -----------------------------------------------------------
    def params(self) -> dict:
        """The keyword arguments that rebuild this codec (besides ``channels``), saved in checkpoints."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The scheme name in profiles, e.g. ``aecnn-k12b3``."""
        raise NotImplementedError

    def info(self) -> dict:
        """Informational keys of the scheme in profile.yaml."""
        return dict(self.params())

    # --- device side --------------------------------------------------------
    def symbols(self, z: torch.Tensor) -> np.ndarray:
        raise NotImplementedError

    def code(self, sym: np.ndarray) -> bytes:
        raise NotImplementedError

    @torch.no_grad()
    def compress(self, z: torch.Tensor) -> list[bytes]:
        """One framed bitstream per feature of the batch."""
        return [frame(self.code(s)) for s in self.symbols(z)]

    def encoder_forward(self, z: torch.Tensor) -> torch.Tensor:
        """The device-side network work beyond the head (for counting FLOPs); identity by default."""
        return z

    def quantise_flops(self, size: tuple[int, int]) -> int:
        """Elementwise work of quantising one image's symbols (scale, round, clamp)."""
        return 3 * int(np.prod(self.symbol_shape(size)))

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Parameters the device holds beyond the head."""
        return []

    def decoder_parameters(self) -> list[nn.Parameter]:
        """Parameters the edge holds beyond the tail."""
        return list(self.parameters())

    def entropy_bits(self, sym: np.ndarray) -> float | None:
        """Information content of one image's symbols under the entropy model (None: not entropy-coded)."""
        return None

    # --- edge side ----------------------------------------------------------
    def uncode(self, body: bytes, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError

    def reconstruct(self, sym: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        raise NotImplementedError

    def symbol_shape(self, size: tuple[int, int]) -> tuple[int, ...]:
        """Shape of one image's symbols for a feature of spatial ``size``."""
        raise NotImplementedError

    @torch.no_grad()
    def decompress(self, strings: list[bytes], size: tuple[int, int]) -> torch.Tensor:
        """Full split features from framed bitstreams; BitstreamError on an empty or bad one."""
        shape = self.symbol_shape(size)
        return self.reconstruct(np.stack([self.uncode(unframe(s), shape) for s in strings]), size)

    def decoder_input(self, z: torch.Tensor) -> np.ndarray:
        """What ``reconstruct`` takes, from features (for counting the decoder's FLOPs)."""
        return self.symbols(z)

    @torch.no_grad()
    def roundtrip(self, z: torch.Tensor, sym: np.ndarray | None = None) -> tuple[list[bytes], torch.Tensor]:
        """Compress, check that every bitstream decodes to exactly the symbols sent, reconstruct
        (``sym``: ``symbols(z)`` when the caller has them already)."""
        sym = self.symbols(z) if sym is None else sym
        strings = [frame(self.code(s)) for s in sym]
        for s, want in zip(strings, sym):
            if not np.array_equal(self.uncode(unframe(s), want.shape), want):
                raise BitstreamError(f"{self.name}: bitstream does not decode bit-exactly")
        return strings, self.decompress(strings, tuple(z.shape[2:]))

    # --- training -----------------------------------------------------------
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Training path: the reconstructed feature, with straight-through quantisation."""
        raise NotImplementedError

    def loss(self, phase: int, z: torch.Tensor, y: torch.Tensor, tail: nn.Module,
             teacher: torch.Tensor | None) -> torch.Tensor:
        """Phase 3 (backbone frozen): task loss through the frozen tail; phase 4: the same, tail trained."""
        return F.cross_entropy(tail(self(z)), y)

    def trainable(self, phase: int) -> list:
        """The parameters step ``phase`` trains; a dict among them is a group with its own
        ``lr_scale`` (models.fit)."""
        return list(self.parameters())

    def init_from(self, attention: dict, train_z: torch.Tensor) -> None:
        """Set up from step 2 (``attention.pt``: its model, channel scores and ranking) and training
        features before step 3; default nothing."""

    def fit_entropy(self, train_z: torch.Tensor) -> None:
        """Fit the entropy model on training features (N, C, H, W) after training; default none."""

    wants_teacher: ClassVar[bool] = False  # whether ``loss`` needs the backbone's logits


class CategoricalCoded:
    """Mixin of codecs whose symbols are coded under per-channel categorical distributions
    (models.codecs.entropy.SymbolCoder, constriction's ANS by default): fitting the model on the
    symbols of training features, and keeping it in the module's state_dict."""

    entropy: SymbolCoder | None
    levels: int  # symbols are 0..levels-1

    @torch.no_grad()
    def fit_entropy(self, train_z: torch.Tensor, coder: str = "ans") -> None:
        dev = next(self.parameters(), torch.empty(0)).device
        sym = np.concatenate([self.symbols(train_z[i:i + 1000].float().to(dev)) for i in range(0, len(train_z), 1000)])
        self.entropy = SymbolCoder(fit_probabilities(sym, self.levels), coder)

    def _coder(self) -> SymbolCoder:
        if self.entropy is None:
            raise RuntimeError("no entropy model: fit one with fit_entropy() first")
        return self.entropy

    def get_extra_state(self) -> dict:
        return {"probs": None if self.entropy is None else self.entropy.probs,
                "coder": None if self.entropy is None else self.entropy.coder}

    def set_extra_state(self, state: dict) -> None:
        self.entropy = None if state.get("probs") is None else SymbolCoder(state["probs"], state["coder"])
