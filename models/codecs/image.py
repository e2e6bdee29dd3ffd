"""Image codecs for full offloading: the device sends the input image, the edge runs the whole net.

Each is a real file format made and read by Pillow: PNG (the ``full-offload`` scheme), WebP
lossless, and lossy WebP and JPEG at a quality. The profiler counts each test image's file bytes
and classifies the image decoded from them with the backbone (what the edge would receive).
Lossless codecs are checked to decode bit-exactly. Torch-free.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from models.codecs.framing import BitstreamError

DEFAULT_QUALITIES = {"webp": (1, 10, 40, 70), "jpeg": (1, 10, 40, 70)}


@dataclass(frozen=True)
class ImageCodec:
    """One Pillow format with its save options; ``scheme`` names it in profiles."""

    codec: str  # png | webp-lossless | webp | jpeg
    scheme: str
    format: str
    options: dict = field(default_factory=dict)
    lossless: bool = False

    def compress(self, img: np.ndarray) -> bytes:
        """The image (H, W, C uint8) as a file of this format."""
        from PIL import Image

        arr = img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format=self.format, **self.options)
        return buf.getvalue()

    def decompress(self, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
        """The decoded image, shaped like the original (H, W, C); BitstreamError if it does not decode."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                arr = np.asarray(im.convert("L" if shape[-1] == 1 else "RGB"))
        except Exception as e:  # Pillow raises its own errors on empty, truncated or foreign data
            raise BitstreamError(f"{self.scheme}: image does not decode: {e}") from e
        return arr.reshape(shape)

    def info(self) -> dict:
        return {"format": self.format, **self.options}


def png() -> ImageCodec:
    return ImageCodec("png", "full-offload", "PNG", {"optimize": True}, lossless=True)


def webp_lossless() -> ImageCodec:
    return ImageCodec("webp-lossless", "webp-lossless", "WEBP", {"lossless": True, "quality": 100, "method": 6},
                      lossless=True)


def webp(quality: int) -> ImageCodec:
    return ImageCodec("webp", f"webp-q{quality}", "WEBP", {"quality": quality, "method": 6})


def jpeg(quality: int) -> ImageCodec:
    return ImageCodec("jpeg", f"jpeg-q{quality}", "JPEG", {"quality": quality, "optimize": True})


def image_codecs(qualities: dict[str, tuple[int, ...]] | None = None) -> list[ImageCodec]:
    """PNG, WebP lossless, and lossy WebP and JPEG at each quality (default DEFAULT_QUALITIES)."""
    q = DEFAULT_QUALITIES if qualities is None else qualities
    return [png(), webp_lossless(), *(webp(v) for v in q.get("webp", ())), *(jpeg(v) for v in q.get("jpeg", ()))]
