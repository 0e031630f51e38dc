"""Output locations of the workbench's jobs, checked before any work starts.

``check_output_dir`` and ``check_output_file`` validate a folder or file a command
will write; ``folder_lock`` holds a folder for one run.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from workbench.solvers.core.checks import ParameterError

__all__ = ["check_output_dir", "check_output_file", "folder_lock"]


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    return p


def _probe_dir(name: str, folder: Path, shown: str) -> None:
    """Create and remove a file in ``folder``: the one sure test that we may write there (also as root)."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".workbench-probe-", suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise ParameterError(f"{name}: cannot write into {shown} ({exc.strerror or exc})") from None


def check_output_dir(name: str, path: str | os.PathLike, create: bool = True) -> Path:
    """Validate an output folder before any work starts; returns its absolute path.

    Refuses an empty path, a path naming an existing file (or with a file among its
    parents), and a folder this process cannot write into. With ``create`` the
    folder is created (parents too).
    """
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"{name}: empty path; give a folder, e.g. --{name} report")
    p = Path(text).expanduser().absolute()
    anchor = _nearest_existing(p)
    if anchor == p and not p.is_dir():
        raise ParameterError(f"{name}: {text!r} is a file, not a folder")
    if not anchor.is_dir():
        raise ParameterError(f"{name}: {str(anchor)!r} is a file, so {text!r} cannot be a folder")
    if not create:
        _probe_dir(name, anchor, repr(str(anchor)))
        return p
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"{name}: cannot create folder {text!r} ({exc.strerror or exc})") from None
    _probe_dir(name, p, repr(text))
    return p


def check_output_file(name: str, path: str | os.PathLike) -> Path:
    """Validate an output file path before any work starts; returns it absolute (nothing is created)."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"{name}: empty path; give a file name, e.g. --{name} bench.json")
    p = Path(text).expanduser().absolute()
    if p.is_dir() or text.endswith(("/", os.sep)):
        raise ParameterError(f"{name}: {text!r} is a folder; give a file name")
    anchor = _nearest_existing(p.parent)
    if not anchor.is_dir():
        raise ParameterError(f"{name}: {str(anchor)!r} is a file, so {text!r} cannot be written")
    _probe_dir(name, anchor, repr(str(anchor)))
    return p


@contextlib.contextmanager
def folder_lock(name: str, folder: str | os.PathLike) -> Iterator[None]:
    """Hold ``folder/.workbench.lock`` (an advisory ``flock``) for the duration of one run.

    A second run into the same folder (which would delete the first one's temporary
    files and interleave its reports) is refused at once with ``<name>: ... in use``.
    Where ``fcntl`` is missing (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(folder) / ".workbench.lock"
    fh = open(path, "a+")
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            who = fh.read().strip() or "another process"
            raise ParameterError(f"{name}: {str(folder)!r} is in use by another run ({who}); "
                                 "wait for it or choose another folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()
