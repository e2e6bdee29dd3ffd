"""BottleNet++ (Shao and Zhang, 2020) at a ResNet split: the baseline AECNN is compared with.

Its published design: a convolutional encoder (conv, batch norm, sigmoid) to few channels with an
optional strided spatial reduction, 8-bit uniform quantisation of the sigmoid output, and a
decoder of one transposed convolution (with batch norm and ReLU) back to all channels and the
full spatial size. The published payload is the quantised bytes as they are, one byte per value
(codec ``bottlenet``). For a fair comparison the same symbols are also entropy-coded with the
coder AECNN uses, a per-channel categorical model fitted on training symbols (codec
``bottlenet-ec``); both schemes come from one trained checkpoint.

``decoder="two-layer"`` keeps the decoder this project used first (a 3x3 convolution to 64
channels, then one to all channels), for checkpoints trained with it.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models.codecs.aecnn import RoundSTE
from models.codecs.base import CategoricalCoded, FeatureCodec
from models.codecs.entropy import BitstreamError, SymbolCoder

DECODERS = ("published", "two-layer")


class BottleNetCodec(CategoricalCoded, FeatureCodec):
    """Conv encoder to ``k`` channels (stride 1..4), 8-bit quantiser, conv decoder."""

    codec = family = "bottlenet"
    coding = "raw"
    levels = 256

    def __init__(self, channels: int, k: int, stride: int = 1, hidden: int = 64,
                 decoder: str = "published") -> None:
        super().__init__(channels)
        if stride not in (1, 2, 3, 4):
            raise ValueError(f"stride must be 1..4, not {stride}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, not {decoder!r}")
        self.k, self.stride, self.hidden, self.decoder_kind = k, stride, hidden, decoder
        self.encoder = nn.Sequential(nn.Conv2d(channels, k, 3, stride=stride, padding=1, bias=False),
                                     nn.BatchNorm2d(k), nn.Sigmoid())
        if decoder == "published":
            up = nn.ConvTranspose2d(k, channels, 3, stride=stride, padding=1, bias=False)
            # torch sizes a transposed convolution's initial weights by its *output* channels (fan
            # 256 x 9 here): outputs start near variance 2e-4, and the batch norm's running variance
            # (starting at 1) needs ~80 steps to follow, so short runs evaluated far off. He
            # initialisation over the true fan-in (k x 9, torch's "fan_out" of this weight) avoids it.
            nn.init.kaiming_normal_(up.weight, mode="fan_out", nonlinearity="relu")
            self.decoder = nn.Sequential(up, nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        else:
            up = (nn.ConvTranspose2d(k, hidden, 3, stride=stride, padding=1, bias=False) if stride > 1
                  else nn.Conv2d(k, hidden, 3, padding=1, bias=False))
            self.decoder = nn.Sequential(up, nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
                                         nn.Conv2d(hidden, channels, 3, padding=1, bias=False),
                                         nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.entropy: SymbolCoder | None = None

    def params(self) -> dict:
        return {"k": self.k, "stride": self.stride, "hidden": self.hidden, "decoder": self.decoder_kind}

    @property
    def name(self) -> str:
        tag = "" if self.decoder_kind == "published" else "-dec2"
        return f"{self.codec}-k{self.k}s{self.stride}{tag}"

    def info(self) -> dict:
        return {"k": self.k, "stride": self.stride, "bits": 8, "decoder": self.decoder_kind,
                "coder": "raw 8-bit" if self.coding == "raw" else self.entropy.coder}

    def _decode(self, y: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        first = self.decoder[0]
        out = first(y, output_size=size) if isinstance(first, nn.ConvTranspose2d) else first(y)
        return self.decoder[1:](out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = RoundSTE.apply(self.encoder(z) * 255.0) / 255.0
        return self._decode(y, z.shape[2:])

    def encoder_forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.encoder(z)

    @torch.no_grad()
    def symbols(self, z: torch.Tensor) -> np.ndarray:
        return torch.round(self.encoder(z) * 255.0).to(torch.int32).cpu().numpy()

    def symbol_shape(self, size: tuple[int, int]) -> tuple[int, ...]:
        return (self.k, *(-(-s // self.stride) for s in size))

    def code(self, sym: np.ndarray) -> bytes:
        if self.coding == "raw":
            return np.asarray(sym, dtype=np.uint8).tobytes()
        return self._coder().encode(sym)

    def uncode(self, body: bytes, shape: tuple[int, ...]) -> np.ndarray:
        if self.coding != "raw":
            return self._coder().decode(body, shape)
        n = int(np.prod(shape))
        if len(body) != n:
            raise BitstreamError(f"BottleNet++ payload has {len(body)} bytes, expected {n}")
        return np.frombuffer(body, dtype=np.uint8).reshape(shape).astype(np.int32)

    @torch.no_grad()
    def reconstruct(self, sym: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        y = torch.from_numpy(np.asarray(sym, dtype=np.float32) / 255.0).to(next(self.parameters()).device)
        return self._decode(y, size)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return list(self.encoder.parameters())

    def decoder_parameters(self) -> list[nn.Parameter]:
        return list(self.decoder.parameters())

    def entropy_bits(self, sym: np.ndarray) -> float | None:
        return None if self.coding == "raw" else self._coder().entropy_bits(sym)


class BottleNetEntropyCoded(BottleNetCodec):
    """The same trained BottleNet++, its 8-bit symbols entropy-coded like AECNN's."""

    codec = "bottlenet-ec"
    coding = "entropy"
