"""Atomic file output for validation artefacts (and, re-exported, for the workbench).

A reader never sees a half-written file: data go to a temporary file in the target
directory, are flushed to disk, then renamed over the target with ``os.replace``.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "save_figure"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; parent directories are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 220) -> Path:
    """Write a Matplotlib figure as PNG at ``dpi`` (2x the 110 dpi the report shows it at)
    and as SVG beside it (same name, ``.svg``), both atomically; returns the PNG's path.

    The figure is rendered through its own canvas (no pyplot), so the caller's backend
    and open figures are untouched.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.canvas is None or type(fig.canvas).__name__ == "FigureCanvasBase":
        FigureCanvasAgg(fig)
    path = Path(path)
    out = {}
    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        kw = {"metadata": {"Date": None}} if fmt == "svg" else {}
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", **kw)
        out[fmt] = buf.getvalue()
    import sys

    if "matplotlib.pyplot" in sys.modules:  # a figure made with pyplot is released; others are not registered
        sys.modules["matplotlib.pyplot"].close(fig)
    atomic_write_bytes(path.with_suffix(".svg"), out["svg"])
    return atomic_write_bytes(path, out["png"])
