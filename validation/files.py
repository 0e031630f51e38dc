"""Atomic file output for validation artefacts (and, re-exported, for the workbench).

A reader never sees a half-written file: data go to a temporary file in the target
directory, are flushed to disk, then renamed over the target with ``os.replace``.
Only regular files are ever replaced: an existing target that is a symlink, a
device, a FIFO, a socket or a folder is refused (``ParameterError`` naming it), so
an output path such as ``/dev/null`` or a FIFO is never turned into a file.

Temporary files are named ``.<target>.wb-XXXXXXXX.tmp`` (:data:`TMP_PATTERN`); a
clean-up after a killed run removes only names of that pattern (:func:`is_own_tmp`).
"""
from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

from workbench.solvers.core.checks import ParameterError

__all__ = ["atomic_write_bytes", "atomic_write_text", "save_figure", "check_regular_target",
           "is_own_tmp", "TMP_PATTERN"]

#: Names of the writers' temporary files: ``.`` + target name + ``.wb-`` + mkstemp's 8 characters + ``.tmp``.
TMP_PATTERN = re.compile(r"^\..+\.wb-[a-z0-9_]{8}\.tmp$")

_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a folder"))


def is_own_tmp(name: str) -> bool:
    """True for a temporary-file name the atomic writers make (and only for those)."""
    return bool(TMP_PATTERN.match(name))


def check_regular_target(path: str | os.PathLike, name: str = "out") -> None:
    """Refuse an existing ``path`` that is not a regular file (symlink, device, FIFO, socket, folder).

    Raises
    ------
    ParameterError
        ``<name>: <path> is a FIFO, not a regular file; refusing to replace it``.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ParameterError(f"{name}: cannot inspect {os.fspath(path)!r} ({exc.strerror or exc})") from None
    if stat.S_ISREG(st.st_mode):
        return
    what = next((text for test, text in _KINDS if test(st.st_mode)), "not a regular file")
    raise ParameterError(f"{name}: {os.fspath(path)!r} is {what}, not a regular file; refusing to replace it")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, name: str = "out") -> Path:
    """Write ``data`` to ``path`` atomically; parent directories are created.

    Raises
    ------
    ParameterError
        if ``path`` exists and is not a regular file (see :func:`check_regular_target`).
    OSError
        a write error (disk full, permissions): the message names ``path``.
    """
    path = Path(path)
    check_regular_target(path, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.wb-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        check_regular_target(path, name)  # again, just before the rename
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not exc.filename:  # e.g. ENOSPC from write(): name the file
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, name: str = "out") -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), name)


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
    import matplotlib

    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        kw = {"metadata": {"Date": None}} if fmt == "svg" else {}
        # a fixed salt: SVG element ids are otherwise random, and a report re-rendered from its
        # results.json (``workbench report DIR``) must come out byte-identical
        with matplotlib.rc_context({"svg.hashsalt": "stability-workbench"}):
            fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", **kw)
        out[fmt] = buf.getvalue()
    import sys

    if "matplotlib.pyplot" in sys.modules:  # a figure made with pyplot is released; others are not registered
        sys.modules["matplotlib.pyplot"].close(fig)
    atomic_write_bytes(path.with_suffix(".svg"), out["svg"])
    return atomic_write_bytes(path, out["png"])
