"""One place that sets how many threads BLAS and the FFTs use.

NumPy's BLAS (OpenBLAS, MKL, ...) and ``scipy.fft(workers=...)`` each start their own
threads; on a small machine, or under a sweep that already runs one process per core,
they oversubscribe the cores and small GEMMs, ``eigh`` and FFTs slow down by 5–100×.
This module holds the workbench's single setting:

* :func:`set_threads` — the process-wide count for BLAS/OpenMP pools (through
  ``threadpoolctl``), for the FFT wrapper :class:`workbench.solvers.core.backend.Fft` and,
  when PyTorch is loaded, for its intra-op pool (:func:`cover_torch` for one loaded later);
* :func:`limit` — the same as a context manager (restored on exit);
* :func:`worker_init` — the initializer of sweep and validation worker processes: one
  thread each, since the pool itself provides the parallelism;
* :func:`default_threads` — the default everywhere: ``$WORKBENCH_THREADS`` when set
  (worker processes started by others, e.g. Dask nannies, get it from
  :data:`WORKER_ENV`), else :func:`available_cores`, the cores this process may
  actually run on (``os.sched_getaffinity``).

``threadpoolctl`` is imported only when a limit is set, so importing the solvers does
not pay for it; without it (a minimal install) only the FFT setting takes effect.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

from workbench.solvers.core.checks import ParameterError, parse_number

__all__ = ["available_cores", "default_threads", "parse_threads", "fft_workers", "set_threads", "limit", "worker_init", "WORKER_ENV",
           "tune_allocator", "cover_scipy_blas", "cover_torch"]

_state: dict[str, Any] = {"fft": None, "controller": None, "scipy_blas": False}

#: Environment for worker processes started by someone else (Dask nannies, spawn pools):
#: one thread per BLAS/OpenMP pool, and glibc's mmap threshold pinned at 16 MiB so that
#: freed FFT buffers are not returned to the OS and re-faulted at every step (the Dask
#: nanny's ``MALLOC_TRIM_THRESHOLD_=65536`` alone makes each point 2.5× slower).
WORKER_ENV = {
    "WORKBENCH_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": "16777216",
    "MALLOC_TRIM_THRESHOLD_": "16777216",
}


def available_cores() -> int:
    """Cores this process may run on (CPU affinity where the OS reports it, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def parse_threads(name: str, text: Any) -> int:
    """A thread count written as text: the one parser of ``--threads`` and ``$WORKBENCH_THREADS``.

    ASCII digits only, an integer in [1, 4096] (``0``, ``-1``, ``abc``, ``²`` are refused
    with a :class:`ParameterError` naming ``name``).
    """
    return parse_number(name, text, integer=True, lo=1, hi=4096)


def default_threads() -> int:
    """``$WORKBENCH_THREADS`` when set (parsed by :func:`parse_threads`; a bad value is a
    :class:`ParameterError`, not ignored), else :func:`available_cores`."""
    text = os.environ.get("WORKBENCH_THREADS", "").strip()
    if text:
        return parse_threads("WORKBENCH_THREADS", text)
    return available_cores()


def _check(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        try:
            ok = not isinstance(n, bool) and int(n) == n and int(n) >= 1
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ParameterError(f"threads: must be a positive integer, got {n!r}")
    return int(n)


def fft_workers() -> int:
    """Threads of the FFTs: the count set by :func:`set_threads`/:func:`limit`, else :func:`default_threads`."""
    n = _state["fft"]
    return default_threads() if n is None else n


def _blas_limit(n: int) -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency; keep working without it
        return None
    return threadpool_limits(limits=n)


def _torch_threads(n: int) -> int | None:
    """Set PyTorch's intra-op threads to ``n`` when torch is already imported; the previous count (else None).

    PyTorch keeps its own thread pool, outside threadpoolctl's reach; an HVP of a user's model under
    ``--threads 1`` on a loaded machine ran 10-25x slower with torch's default pool than with one thread.
    torch is never imported here: a process that has not loaded it has no pool to set.
    """
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "set_num_threads"):
        return None
    old = int(torch.get_num_threads())
    if old != n:
        torch.set_num_threads(n)
    return old


def cover_torch() -> None:
    """Apply the current setting (if one was set) to PyTorch's intra-op pool; the torch adapter calls it."""
    if _state["fft"] is not None:
        _torch_threads(_state["fft"])


def set_threads(n: int | None = None) -> int:
    """Set the threads of BLAS/OpenMP pools and of the FFTs for the whole process.

    Parameters
    ----------
    n : int, optional
        Thread count; default :func:`default_threads`.

    Returns
    -------
    int
        The count now in effect.
    """
    n = default_threads() if n is None else _check(n)
    _state["fft"] = n
    _state["controller"] = _blas_limit(n)
    _torch_threads(n)
    return n


def cover_scipy_blas() -> None:
    """Apply the current setting to SciPy's own BLAS, which is loaded lazily (``scipy.linalg``).

    SciPy wheels bundle a second OpenBLAS; a limit set before it was loaded does not reach it,
    and its threads then spin beside the first's (2 threads under ``--threads 1``). Call after the
    lazy import; only the first call per process does anything.
    """
    if _state["scipy_blas"] or _state["fft"] is None:
        return
    _state["scipy_blas"] = True
    import scipy.linalg.blas  # noqa: F401  (loads the library the limit must reach)

    _state["controller"] = _blas_limit(_state["fft"])


@contextlib.contextmanager
def limit(n: int | None = None) -> Iterator[int]:
    """Context manager: BLAS/OpenMP and FFT threads = ``n`` inside, the previous setting after.

    >>> from solvers import threads
    >>> with threads.limit(1):       # doctest: +SKIP
    ...     exact_bounds(op, dt)
    """
    n = default_threads() if n is None else _check(n)
    old = _state["fft"]
    ctl = _blas_limit(n)
    torch_old = _torch_threads(n)
    _state["fft"] = n
    try:
        yield n
    finally:
        _state["fft"] = old
        if ctl is not None:
            ctl.restore_original_limits()
        if torch_old is not None:
            _torch_threads(torch_old)


_MMAP_THRESHOLD = 16 * 2 ** 20


def tune_allocator(threshold: int = _MMAP_THRESHOLD) -> bool:
    """Keep freed FFT-sized buffers in the heap (glibc): mmap and trim thresholds at ``threshold`` bytes.

    glibc serves every allocation above its mmap threshold (128 KiB at start) with a fresh
    ``mmap`` and returns it with ``munmap`` on free, so a stepping loop whose FFT buffers
    are a few MiB page-faults its working set in again at every step. Pinning the
    thresholds at 16 MiB (what ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` in
    :data:`WORKER_ENV` do for processes started by others) made a 256², w = 32
    perturbation sweep 1.5× faster in one process (``workbench bench``, a 2-core machine).
    The process keeps up to ``threshold`` bytes of freed memory per arena.

    Returns True when the setting took effect (Linux with glibc), False elsewhere.
    """
    import ctypes

    try:  # glibc's soname first: ctypes.util.find_library runs `ldconfig -p` (0.05 s of every start-up)
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # pragma: no cover - not glibc's soname
        import ctypes.util

        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"))
        except OSError:
            return False
    try:
        mallopt = libc.mallopt
    except AttributeError:  # pragma: no cover - not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, int(threshold)) == 1
    return bool(mallopt(m_trim_threshold, int(threshold)) == 1 and ok)


def worker_init() -> None:
    """Initializer of sweep/validation worker processes: one BLAS and one FFT thread each.

    Also applies :func:`tune_allocator` and sets :data:`WORKER_ENV`'s thread variables for any library the worker loads
    later. Pass it as ``ProcessPoolExecutor(initializer=worker_init)``.
    """
    for key, value in WORKER_ENV.items():
        if key.endswith("_THREADS"):   # the malloc variables only act at process start
            os.environ[key] = value
    tune_allocator()
    set_threads(1)
