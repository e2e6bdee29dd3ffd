"""Framing of feature payloads: a length field before the codec's bitstream, counted in its bytes.

Without it an empty payload (a lost packet) is also the valid code of an all-zero feature under
the ANS coder, and would decode silently. A frame is the body's length as an unsigned LEB128
varint (1 byte up to 127 bytes of body, 2 bytes up to 16383) followed by the body; ``unframe``
refuses an empty payload, a truncated or overlong varint and a length that does not match.
Torch-free.
"""
from __future__ import annotations


class BitstreamError(ValueError):
    """A bitstream does not decode under the model: truncated, corrupted or from another model."""


def frame(body: bytes) -> bytes:
    """``body`` with its length in front (LEB128)."""
    n, head = len(body), bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        head.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(head) + body


def unframe(data: bytes) -> bytes:
    """The body of a frame; raises BitstreamError if ``data`` is not exactly one frame."""
    if not data:
        raise BitstreamError("empty payload: no frame header (a lost or truncated packet)")
    n, shift = 0, 0
    for i, byte in enumerate(data[:5]):
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            body = data[i + 1:]
            if len(body) != n:
                raise BitstreamError(f"frame says {n} bytes of body, the payload holds {len(body)}")
            return bytes(body)
    raise BitstreamError("frame header is not a valid length (truncated or corrupted)")
