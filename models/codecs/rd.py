"""AECNN-RD: attention-guided learned encoder with a rate-distortion trained entropy model.

The paper-faithful AECNN (models.codecs.aecnn) sends whole channels of the backbone's feature,
picked once by channel attention. AECNN-RD keeps the attention and lets it guide a learned
device-side encoder instead, in the manner of the split-computing codecs that lead at high
compression (Entropic Student, SC2's benchmarks, FrankenSplit):

- device: channel attention re-weights the split feature per image (step 2's trained attention
  is the start), then a 1x1 convolution mixes the weighted channels down to ``k`` (stride 1) or a
  3x3 convolution with stride 2, 3 or 4 does it at a quarter, a ninth or a sixteenth of the
  positions (the strides BottleNet++ reaches its lowest rates with); the encoder's FLOPs are
  counted by the profiler against the head's;
- entropy model: CompressAI's factorized prior (``EntropyBottleneck``); the bitstream is
  CompressAI's rANS string for the rounded latent, counted and decoded bit-exactly;
- edge: a transposed 3x3 convolution back to the feature's positions (strides above 1), the light
  decoder of AECNN (two 3x3 convolutions) back to all channels, then the tail.

Training, step by step, with the backbone as teacher: step 3 (backbone frozen) minimises the
feature MSE at the split (normalised by the feature's mean square), plus with ``distill=
"feature+logits"`` (the default) the distillation loss of the frozen tail's logits on the rebuilt
feature against the backbone's (KL at temperature 4), plus ``lmbda`` times the rate in bytes per
image (CompressAI's likelihoods, additive-noise relaxation), plus the entropy model's auxiliary
loss; step 4 freezes encoder and entropy model (the bitstream is fixed) and fine-tunes decoder and
tail on the backbone's logits with the labels' cross-entropy. ``distill="feature"`` keeps step 3 to
the feature MSE (cheaper: no tail pass), which in a short check rebuilt what MSE weighs rather than
what the tail needs. ``lmbda`` swept
traces the rate-accuracy curve; each value is one scheme, ``aecnn-rd-k{k}s{stride}-l{lmbda}``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.codecs import MissingDependency
from models.codecs.aecnn import ChannelAttention, light_decoder
from models.codecs.base import FeatureCodec
from models.codecs.entropy import BitstreamError

TEMPERATURE = 4.0
STRIDES = (1, 2, 3, 4)


def _entropy_bottleneck(k: int):
    import warnings

    with warnings.catch_warnings():  # CompressAI's import uses torch.jit.script, deprecated in torch 2.14
        warnings.simplefilter("ignore", FutureWarning)
        try:
            from compressai.entropy_models import EntropyBottleneck
        except ImportError as e:
            raise MissingDependency(f"AECNN-RD needs CompressAI, which did not import ({e}): run make install-all, "
                                    "or pip install --no-deps compressai==1.2.8 with the models extra") from None

    return EntropyBottleneck(k)


def _kd(logits: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Distillation from the backbone's logits: KL at temperature TEMPERATURE, scaled by its square."""
    return F.kl_div(F.log_softmax(logits / TEMPERATURE, 1), F.softmax(teacher / TEMPERATURE, 1),
                    reduction="batchmean") * TEMPERATURE**2


class AECNNRD(FeatureCodec):
    """Attention-weighted learned mixing to ``k`` channels, factorized-prior entropy model, decoder."""

    codec = family = "aecnn-rd"
    wants_teacher = True

    def __init__(self, channels: int, k: int, lmbda: float, stride: int = 1, hidden: int = 64,
                 distill: str = "feature+logits") -> None:
        super().__init__(channels)
        if distill not in ("feature", "feature+logits"):
            raise ValueError(f"distill must be 'feature' or 'feature+logits', not {distill!r}")
        self.distill = distill
        if stride not in STRIDES:
            raise ValueError(f"stride must be one of {', '.join(map(str, STRIDES))}, not {stride}")
        if not lmbda > 0:
            raise ValueError(f"lmbda must be above 0, not {lmbda}")
        self.k, self.lmbda, self.stride, self.hidden = k, float(lmbda), stride, hidden
        self.attention = ChannelAttention(channels)
        self.mix = (nn.Conv2d(channels, k, 1) if stride == 1 else nn.Conv2d(channels, k, 3, stride=stride, padding=1))
        self.entropy = _entropy_bottleneck(k)
        if stride > 1:
            self.up = nn.ConvTranspose2d(k, k, 3, stride=stride, padding=1)
        self.decoder = light_decoder(k, channels, hidden)

    def params(self) -> dict:
        return {"k": self.k, "lmbda": self.lmbda, "stride": self.stride, "hidden": self.hidden,
                "distill": self.distill}

    @property
    def name(self) -> str:
        return f"aecnn-rd-k{self.k}s{self.stride}-l{self.lmbda:g}"

    def info(self) -> dict:
        return {**self.params(), "coder": "compressai rANS, factorized prior"}

    def init_from(self, attention: dict, train_z: torch.Tensor) -> None:
        """Start from step 2's trained channel attention."""
        self.attention.load_state_dict(attention["model"])

    # --- networks -------------------------------------------------------------
    def encoder_forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.mix(self.attention(z))

    def _decode(self, yhat: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if self.stride > 1:
            yhat = self.up(yhat, output_size=size)
        return self.decoder(yhat)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The reconstruction with the latent rounded (straight through), as the edge sees it."""
        y = self.encoder_forward(z)
        med = self.entropy._get_medians()
        yhat = torch.round(y - med) + med
        yhat = y + (yhat - y).detach()
        return self._decode(yhat, z.shape[2:])

    def rate_bytes(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction with noisy latent, mean bytes per image under the entropy model)."""
        yhat, lik = self.entropy(self.encoder_forward(z))
        bits = -torch.log2(lik.clamp_min(1e-9)).sum() / z.shape[0]
        return self._decode(yhat, z.shape[2:]), bits / 8

    def loss(self, phase, z, y, tail, teacher):
        if phase == 3:
            zhat, rate = self.rate_bytes(z)
            nmse = F.mse_loss(zhat, z) / z.pow(2).mean().clamp_min(1e-9)
            task = _kd(tail(zhat), teacher) if self.distill == "feature+logits" else 0.0
            return nmse + task + self.lmbda * rate + self.entropy.loss()
        logits = tail(self(z))
        return _kd(logits, teacher) + F.cross_entropy(logits, y)

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [*self.attention.parameters(), *self.mix.parameters()]

    def decoder_parameters(self) -> list[nn.Parameter]:
        return [*self.decoder.parameters(), *(self.up.parameters() if self.stride > 1 else [])]

    @torch.no_grad()
    def entropy_bits(self, sym: np.ndarray) -> float | None:
        s = torch.from_numpy(np.asarray(sym, dtype=np.float32))[None].to(next(self.parameters()).device)
        yhat = self.entropy.dequantize(s, self.entropy._get_medians().reshape(1, -1, 1, 1))
        _, lik = self.entropy(yhat, training=False)  # rounding the rounded latent changes nothing
        return float(-torch.log2(lik).sum())

    def trainable(self, phase: int) -> list:
        """Step 3: everything, the entropy model at 10 times the rate and without weight decay (at
        the networks' rate its density barely moves in a short schedule: on 1,000 cached features,
        160 steps at 1e-3 left 177 B per image where 1e-2 reached 15 B at a similar MSE);
        step 4: the decoder."""
        if phase == 3:
            eb = set(map(id, self.entropy.parameters()))
            return [p for p in self.parameters() if id(p) not in eb] + [
                {"params": list(self.entropy.parameters()), "lr_scale": 10.0, "weight_decay": 0.0}]
        return self.decoder_parameters()

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """As nn.Module's, after sizing the entropy model's CDF tables to the stored ones."""
        for buf in ("_quantized_cdf", "_offset", "_cdf_length"):
            key = f"entropy.{buf}"
            if key in state_dict:
                self.entropy.register_buffer(buf, torch.zeros_like(state_dict[key]))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    # --- coding ---------------------------------------------------------------
    def fit_entropy(self, train_z: torch.Tensor) -> None:
        """CompressAI's CDF tables from the trained factorized prior (no data needed)."""
        self.entropy.update(force=True)

    @torch.no_grad()
    def symbols(self, z: torch.Tensor) -> np.ndarray:
        y = self.encoder_forward(z)
        return self.entropy.quantize(y, "symbols", self.entropy._get_medians()).cpu().numpy()

    def symbol_shape(self, size: tuple[int, int]) -> tuple[int, ...]:
        return (self.k, *(-(-s // self.stride) for s in size))

    def _indexes(self, shape: tuple[int, ...]) -> list[int]:
        return np.repeat(np.arange(shape[0], dtype=np.int32), int(np.prod(shape[1:]))).tolist()

    def code(self, sym: np.ndarray) -> bytes:
        eb = self.entropy
        return eb.entropy_coder.encode_with_indexes(
            np.asarray(sym, dtype=np.int32).ravel().tolist(), self._indexes(sym.shape),
            eb._quantized_cdf.tolist(), eb._cdf_length.reshape(-1).int().tolist(),
            eb._offset.reshape(-1).int().tolist())

    def uncode(self, body: bytes, shape: tuple[int, ...]) -> np.ndarray:
        eb = self.entropy
        try:
            values = eb.entropy_coder.decode_with_indexes(
                body, self._indexes(shape), eb._quantized_cdf.tolist(), eb._cdf_length.reshape(-1).int().tolist(),
                eb._offset.reshape(-1).int().tolist())
        except Exception as e:  # CompressAI's coder reports bad data as its own errors
            raise BitstreamError(f"{self.name}: bitstream does not decode: {e}") from e
        return np.asarray(values, dtype=np.int32).reshape(shape)

    @torch.no_grad()
    def reconstruct(self, sym: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        dev = next(self.parameters()).device
        s = torch.from_numpy(np.asarray(sym, dtype=np.float32)).to(dev)
        yhat = self.entropy.dequantize(s, self.entropy._get_medians())
        return self._decode(yhat, size)
