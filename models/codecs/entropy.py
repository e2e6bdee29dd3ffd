"""Entropy coding of quantised feature symbols with constriction.

A :class:`SymbolCoder` holds a probability model (one categorical distribution per channel,
fitted on training symbols and stored with the model, so both ends share it) and a coder picked
by a checked name from :data:`CODERS`. ``encode`` returns the bytes of a real bitstream;
``decode`` rebuilds the symbols bit-exactly or raises :class:`BitstreamError`.

Serialisation: constriction emits 32-bit words. We write them little-endian and drop the
high zero bytes of the final word (the coder's head), which the decoder restores; a stream
therefore costs whole bytes, not whole words. The ANS coder must end empty after decoding the
expected number of symbols; anything else means the stream was truncated or corrupted.

A stream may be empty: constriction's ANS coder starts in state 0, and coding symbol 0 (the
bottom of every CDF) leaves state 0 unchanged, so a feature whose symbols are all 0 costs zero
bytes and decodes back from an empty stream. That is why every feature codec's payload is framed
(models.codecs.framing): the frame's length field, counted in the payload's bytes, tells an
all-zero feature (length 0) from a lost payload (nothing at all).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.codecs.framing import BitstreamError  # noqa: F401  (re-exported)

PRECISION_FLOOR = 1e-6  # smallest probability any symbol gets, so every symbol stays codable


def _words_to_bytes(words: np.ndarray) -> bytes:
    raw = words.astype("<u4").tobytes()
    return raw.rstrip(b"\x00") if raw else raw


def _bytes_to_words(data: bytes) -> np.ndarray:
    pad = (-len(data)) % 4
    return np.frombuffer(data + b"\x00" * pad, dtype="<u4").astype(np.uint32)


class _AnsBackend:
    name = "ans"

    def encode(self, symbols: np.ndarray, probs: np.ndarray) -> np.ndarray:
        import constriction

        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(symbols, constriction.stream.model.Categorical(perfect=False), probs)
        return coder.get_compressed()

    def decode(self, words: np.ndarray, probs: np.ndarray) -> np.ndarray:
        import constriction

        coder = constriction.stream.stack.AnsCoder(words)
        out = coder.decode(constriction.stream.model.Categorical(perfect=False), probs)
        if not coder.is_empty():
            raise BitstreamError("ANS coder not empty after the last symbol")
        return out


class _RangeBackend:
    name = "range"

    def encode(self, symbols: np.ndarray, probs: np.ndarray) -> np.ndarray:
        import constriction

        coder = constriction.stream.queue.RangeEncoder()
        coder.encode(symbols, constriction.stream.model.Categorical(perfect=False), probs)
        return coder.get_compressed()

    def decode(self, words: np.ndarray, probs: np.ndarray) -> np.ndarray:
        import constriction

        coder = constriction.stream.queue.RangeDecoder(words)
        out = coder.decode(constriction.stream.model.Categorical(perfect=False), probs)
        if not coder.maybe_exhausted():
            raise BitstreamError("range decoder has data left after the last symbol")
        return out


CODERS = {"ans": _AnsBackend, "range": _RangeBackend}


def fit_probabilities(symbols: np.ndarray, levels: int, smoothing: float = 0.5) -> np.ndarray:
    """Per-channel categorical distributions from training symbols of shape (N, k, H, W)."""
    k = symbols.shape[1]
    counts = np.stack([np.bincount(symbols[:, c].ravel(), minlength=levels)[:levels] for c in range(k)])
    p = counts.astype(np.float64) + smoothing
    p /= p.sum(1, keepdims=True)
    p = np.maximum(p, PRECISION_FLOOR)
    return p / p.sum(1, keepdims=True)


@dataclass
class SymbolCoder:
    """Codes (k, H, W) integer symbols under per-channel categorical probabilities (k, levels)."""

    probs: np.ndarray
    coder: str = "ans"

    def __post_init__(self) -> None:
        if self.coder not in CODERS:
            raise ValueError(f"unknown entropy coder {self.coder!r}; choose from {sorted(CODERS)}")
        self.probs = np.asarray(self.probs, dtype=np.float64)
        self._backend = CODERS[self.coder]()

    @property
    def levels(self) -> int:
        return int(self.probs.shape[1])

    def _table(self, shape: tuple[int, ...]) -> np.ndarray:
        k, hw = shape[0], int(np.prod(shape[1:]))
        if k != self.probs.shape[0]:
            raise ValueError(f"symbols have {k} channels, the model {self.probs.shape[0]}")
        return np.repeat(self.probs, hw, axis=0)

    def encode(self, symbols: np.ndarray) -> bytes:
        """Entropy-code one feature's symbols (k, H, W) into bytes."""
        sym = np.ascontiguousarray(symbols, dtype=np.int32)
        if sym.min() < 0 or sym.max() >= self.levels:
            raise ValueError(f"symbols outside 0..{self.levels - 1}")
        return _words_to_bytes(self._backend.encode(sym.ravel(), self._table(sym.shape)))

    def decode(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        """Rebuild the symbols of ``shape`` from ``data``; raises BitstreamError if it does not decode."""
        try:
            out = self._backend.decode(_bytes_to_words(data), self._table(tuple(shape)))
        except BitstreamError:
            raise
        except Exception as e:  # constriction reports exhausted or invalid data as its own errors
            raise BitstreamError(f"bitstream does not decode: {e}") from e
        return np.asarray(out, dtype=np.int32).reshape(shape)

    def entropy_bits(self, symbols: np.ndarray) -> float:
        """Information content of ``symbols`` (k, H, W) under the model, in bits."""
        sym = np.asarray(symbols, dtype=np.int64)
        k = sym.shape[0]
        p = self.probs[np.arange(k)[:, None], sym.reshape(k, -1)]
        return float(-np.log2(p).sum())
