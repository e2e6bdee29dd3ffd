"""Atomic file writes, shared by the results store, the profile contract and reports."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sim.errors import ConfigError


def write_atomic(path: Path, data: str | bytes, what: str = "--out") -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename; nothing half-written remains.

    Any OS error (not a folder, not writable, disk full) becomes a ConfigError naming ``what``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigError("(command line)", what, str(path), f"cannot be written: {e.strerror or e}") from None
