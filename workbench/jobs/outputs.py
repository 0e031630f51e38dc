"""Output locations of the workbench's jobs, checked before any work starts.

``check_output_dir`` and ``check_output_file`` validate a folder or file a command
will write (never ``/``, a system folder, a symlink, a device, a FIFO or a socket);
``folder_lock`` holds a folder for one run; ``claim_folder`` records what kind of
report a folder holds (``validation`` or ``sweep``) and refuses the other kind;
``clean_own_leftovers`` removes only temporary names the workbench itself makes.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Iterator

from workbench.solvers.core.checks import ParameterError
from workbench.validation.files import check_regular_target, is_own_tmp

__all__ = ["check_output_dir", "check_output_file", "folder_lock", "claim_folder", "clean_own_leftovers",
           "KIND_FILE", "STAGING_MARK", "SYSTEM_FOLDERS"]

#: Folders never written into (nor anything below them); ``/`` itself and these exact folders.
SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin",
                  "/sys", "/usr", "/System", "/Library", "/private/etc")
_SYSTEM_EXACT = ("/", "/home", "/var", "/opt", "/srv", "/mnt", "/media", "/run", "/tmp", "/Users", "/Volumes")
#: A report folder's record of its kind (``{"kind": "validation"}`` or ``{"kind": "sweep"}``).
KIND_FILE = ".workbench-folder.json"
#: File inside a staging folder that says the workbench made it (clean-up removes only such folders).
STAGING_MARK = ".workbench-staging"
_STAGING_NAME = re.compile(r"^\.staging-[0-9a-f]{12}$")


def _expand(name: str, text: str) -> Path:
    if text.startswith("~"):
        expanded = os.path.expanduser(text)
        if expanded.startswith("~"):
            user = text[1:].split("/", 1)[0] or "the current user"
            raise ParameterError(f"{name}: {text!r}: no home folder for {user}")
        text = expanded
    return Path(text).absolute()


def _refuse_system(name: str, p: Path, text: str, exact: bool = True) -> None:
    """Refuse ``p`` (also after resolving links) in a system folder, or (``exact``) one of the shared roots."""
    real = Path(os.path.realpath(p))
    for q in {p, real}:
        s = q.as_posix()
        if s == "/" or (exact and s in _SYSTEM_EXACT) or s in SYSTEM_FOLDERS or any(s.startswith(f + "/") for f in SYSTEM_FOLDERS):
            raise ParameterError(f"{name}: {text!r} is (or is inside) the system folder {s!r}; "
                                 "choose a folder of your own")


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


def _text(name: str, path: str | os.PathLike, example: str) -> str:
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"{name}: empty path; give {example}")
    if "\x00" in text:
        raise ParameterError(f"{name}: the path contains a NUL character")
    return text


def check_output_dir(name: str, path: str | os.PathLike, create: bool = True) -> Path:
    """Validate an output folder before any work starts; returns its absolute path.

    Refuses an empty path, ``~user`` without a home, ``/`` and system folders, a path
    naming an existing file, symlink or special file (or with a file among its
    parents), and a folder this process cannot write into. With ``create`` the
    folder is created (parents too).
    """
    text = _text(name, path, f"a folder, e.g. --{name} report")
    p = _expand(name, text)
    _refuse_system(name, p, text)
    if p.is_symlink():
        raise ParameterError(f"{name}: {text!r} is a symbolic link; give the folder itself")
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
    """Validate an output file path before any work starts; returns it absolute (nothing is created).

    Refuses an empty path, a folder, ``~user`` without a home, a target in a system
    folder, and an existing target that is not a regular file (symlink, device, FIFO,
    socket): it would be replaced by a file.
    """
    text = _text(name, path, f"a file name, e.g. --{name} bench.json")
    p = _expand(name, text)
    if text.endswith(("/", os.sep)) or (p.is_dir() and not p.is_symlink()):
        raise ParameterError(f"{name}: {text!r} is a folder; give a file name")
    check_regular_target(p, name)
    _refuse_system(name, p.parent, text, exact=False)
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
    The lock file is opened with ``O_NOFOLLOW`` (a symlink is refused, never followed)
    and must be a regular file; the run's pid is written only into a lock file it
    created or one that holds nothing but an earlier run's ``pid N`` line, so a file
    the workbench did not make is never truncated. Where ``fcntl`` is missing
    (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(folder) / ".workbench.lock"
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    created = not os.path.lexists(path)
    try:
        fd = os.open(path, flags | (os.O_EXCL if created else 0), 0o644)
    except FileExistsError:
        created, fd = False, os.open(path, flags, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise ParameterError(f"{name}: {str(path)!r} is a symbolic link; refusing to follow it "
                                 "(remove it if it is yours)") from None
        raise ParameterError(f"{name}: cannot open the lock file {str(path)!r} ({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ParameterError(f"{name}: {str(path)!r} is not a regular file; refusing to use it as a lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            who = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise ParameterError(f"{name}: {str(folder)!r} is in use by another run ({who}); "
                                 "wait for it or choose another folder") from None
        old = os.pread(fd, 200, 0)
        if created or re.fullmatch(rb"(pid \d+\s*)?", old):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _infer_kind(folder: Path) -> str | None:
    if (folder / "points").is_dir() or (folder / "results.jsonl").exists():
        return "sweep"
    if (folder / "cases").is_dir() or (folder / "report.html").exists():
        return "validation"
    return None


def claim_folder(name: str, folder: str | os.PathLike, kind: str) -> None:
    """Record that ``folder`` holds a ``kind`` report (``validation`` or ``sweep``); refuse the other kind.

    The kind is kept in ``folder/.workbench-folder.json``; a folder without that file
    is judged by what it holds (``points/`` or ``results.jsonl``: sweep; ``cases/`` or
    ``report.html``: validation), so the two kinds never overwrite each other's report.
    """
    folder = Path(folder)
    marker = folder / KIND_FILE
    found = None
    if os.path.lexists(marker):
        check_regular_target(marker, name)
        try:
            found = json.loads(marker.read_text()).get("kind")
        except (OSError, ValueError, AttributeError):
            found = None
    found = found or _infer_kind(folder)
    if found is not None and found != kind:
        raise ParameterError(f"{name}: {str(folder)!r} holds a {found} report; give a {kind} run its own folder")
    if found is None or not marker.exists():
        from workbench.validation.files import atomic_write_text

        atomic_write_text(marker, json.dumps({"kind": kind}) + "\n", name)


def clean_own_leftovers(folder: str | os.PathLike) -> int:
    """Remove the workbench's own leftovers of a killed run in ``folder``; returns how many.

    Only temporary files of the atomic writers' pattern (``.<name>.wb-XXXXXXXX.tmp``)
    and staging folders named ``.staging-<12 hex>`` that hold the workbench's marker
    file are removed; other programs' ``.tmp`` files and folders are left alone.
    """
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return 0
    n = 0
    for f in folder.iterdir():
        try:
            st = os.lstat(f)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and is_own_tmp(f.name):
            f.unlink(missing_ok=True)
            n += 1
        elif stat.S_ISDIR(st.st_mode) and _STAGING_NAME.match(f.name) and (f / STAGING_MARK).is_file():
            shutil.rmtree(f, ignore_errors=True)
            n += 1
    return n
