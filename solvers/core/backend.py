"""Array backends: lookup by name, lazy imports, and the few quirks they differ in.

Numeric code in :mod:`solvers` is written once against the array API standard; it
takes ``xp = array_namespace(*arrays)`` and never branches on the library. The
differences that remain (which FFT implementation to call, how to reach the host,
floating-point warnings) live here and nowhere else.

Backends are registered by name and imported only when asked for, so a machine
without CuPy never touches it:

``"numpy"``            NumPy through ``array_api_compat`` (the default, CPU).
``"cupy"``             CuPy (GPU); needs the ``cuda12``/``cuda13`` extra and a device.
``"array_api_strict"`` the strict reference implementation, used by the tests to prove
                       that the solvers use nothing outside the standard.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
from array_api_compat import array_namespace, is_cupy_namespace, is_numpy_namespace

from workbench.solvers.core.checks import BackendUnavailable, ParameterError
from workbench.solvers.core.threads import fft_workers

BACKENDS = ("numpy", "cupy", "array_api_strict")

__all__ = [
    "BACKENDS",
    "get_namespace",
    "namespace_of",
    "backend_name",
    "to_numpy",
    "Fft",
    "quiet_overflow",
    "float_dtype",
    "gpu_available",
]


#: NumPy submodules that ``array_api_compat.numpy`` binds (``from numpy import *``) but the workbench
#: does not use at start-up: numpy.testing alone pulls in unittest and importlib.metadata.
_DEFERRED = ("testing", "f2py", "ma", "polynomial", "ctypeslib")


def _defer_numpy_submodules() -> None:
    """Bind :data:`_DEFERRED` as lazily executed modules (:class:`importlib.util.LazyLoader`).

    ``import array_api_compat.numpy`` runs ``from numpy import *``, which imports every
    submodule in ``numpy.__all__`` (0.3 s of CPU, most of ``bounds --methods theory``'s
    start-up). Bound lazily, each one executes on its first attribute access, as a
    normal import would; submodules already imported are left alone.
    """
    import importlib.util
    import sys

    for sub in _DEFERRED:
        full = f"numpy.{sub}"
        if full in sys.modules:
            continue
        spec = importlib.util.find_spec(full)
        if spec is None or spec.loader is None:  # pragma: no cover - a NumPy without it
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[full] = mod
        spec.loader.exec_module(mod)
        setattr(np, sub, mod)


def get_namespace(name: str = "numpy") -> Any:
    """Return the array-API namespace registered under ``name``.

    Raises
    ------
    ParameterError
        ``name`` is not one of :data:`BACKENDS`.
    BackendUnavailable
        the library is not installed, or (CuPy) no CUDA device can be used.
    """
    if name == "numpy":
        _defer_numpy_submodules()
        import array_api_compat.numpy as xp

        return xp
    if name == "array_api_strict":
        try:
            import array_api_strict as xp
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BackendUnavailable(
                "backend 'array_api_strict' needs the array-api-strict package "
                "(pip install 'stability-workbench[test]')"
            ) from exc
        return xp
    if name == "cupy":
        try:
            import array_api_compat.cupy as xp
            import cupy
        except ImportError as exc:
            raise BackendUnavailable(
                "backend 'cupy' needs CuPy: pip install 'stability-workbench[cuda12]' "
                "(or [cuda13]) on a machine with an NVIDIA GPU"
            ) from exc
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDA driver missing or broken
            raise BackendUnavailable(f"backend 'cupy': no usable CUDA device ({exc})") from exc
        if count < 1:
            raise BackendUnavailable("backend 'cupy': no CUDA device present")
        return xp
    raise ParameterError(
        f"backend: unknown backend {name!r}; choose one of {', '.join(BACKENDS)}"
    )


def gpu_available() -> bool:
    """True when the CuPy backend can be used on this machine."""
    try:
        get_namespace("cupy")
    except BackendUnavailable:
        return False
    return True


def namespace_of(*arrays: Any) -> Any:
    """The array-API namespace of ``arrays`` (``array_api_compat.array_namespace``)."""
    return array_namespace(*arrays)


def backend_name(xp: Any) -> str:
    """Registered name of a namespace returned by :func:`get_namespace`."""
    if is_numpy_namespace(xp):
        return "numpy"
    if is_cupy_namespace(xp):
        return "cupy"
    if getattr(xp, "__name__", "").startswith("array_api_strict"):
        return "array_api_strict"
    return getattr(xp, "__name__", repr(xp))


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any supported backend to a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    mod = type(x).__module__
    if mod.startswith("cupy"):
        return x.get()
    if mod.startswith("torch"):
        # a PyTorch tensor (workbench.from_torch): detached, copied to the host
        return x.detach().cpu().numpy()
    if mod.startswith("array_api_strict"):
        # array-api-strict arrays live on the CPU; DLPack hands NumPy a view.
        return np.from_dlpack(x)
    return np.asarray(x)


def float_dtype(xp: Any, precision: str | Any) -> Any:
    """Map ``"float32"``/``"float64"`` (or a dtype) to the namespace's dtype."""
    if precision in ("float64", "f8", "double", 64):
        return xp.float64
    if precision in ("float32", "f4", "single", 32):
        return xp.float32
    if precision == xp.float64 or precision == xp.float32:
        return precision
    raise ParameterError(f"dtype: {precision!r} is not float32 or float64")


class Fft:
    """Real 2-D FFTs over the last two axes, for one namespace.

    On NumPy the default implementation is :mod:`scipy.fft` with ``workers`` threads
    (it keeps float32 as complex64 and parallelises batches); ``impl="numpy"`` selects
    :mod:`numpy.fft` instead (used by ``workbench bench`` for the comparison). On every
    other backend the namespace's own ``xp.fft`` is used, so CuPy runs cuFFT.

    Parameters
    ----------
    xp : namespace
        From :func:`get_namespace` or :func:`namespace_of`.
    impl : {"auto", "scipy", "numpy"}
        FFT library on the NumPy backend; ignored elsewhere.
    workers : int, optional
        Threads for :mod:`scipy.fft`. Default: the process-wide setting of
        :mod:`workbench.solvers.core.threads` at the time of each call (``--threads``, one in sweep
        and validation workers, else the cores this process may run on), so one
        ``threads.limit(n)`` governs every operator already built.
    """

    def __init__(self, xp: Any, impl: str = "auto", workers: int | None = None):
        if impl not in ("auto", "scipy", "numpy"):
            raise ParameterError(f"fft: unknown implementation {impl!r}; use auto, scipy or numpy")
        self.xp = xp
        if workers is not None and (isinstance(workers, bool) or int(workers) != workers or int(workers) < 1):
            raise ParameterError(f"workers: must be a positive integer, got {workers!r}")
        self._workers = None if workers is None else int(workers)
        self._use_scipy = is_numpy_namespace(xp) and impl in ("auto", "scipy")
        self._scipy_module: Any = None
        self.impl = "scipy" if self._use_scipy else ("numpy" if is_numpy_namespace(xp) else backend_name(xp))

    @property
    def _scipy(self) -> Any:
        """:mod:`scipy.fft` when it is the implementation, imported on first use (0.5 s: it loads
        scipy.special), else None."""
        if self._use_scipy and self._scipy_module is None:
            import scipy.fft

            self._scipy_module = scipy.fft
        return self._scipy_module

    def rfft2_image(self, x: Any) -> Any:
        """The real FFT of one unbatched float64 image on its own grid, as :meth:`rfft2` gives it.

        On NumPy this one transform is :func:`numpy.fft.rfftn`, bit-for-bit
        :func:`scipy.fft.rfft2` for float64 (both are pocketfft's; tested in
        ``tests/test_derived_cache.py``), so a command that needs only the image's spectrum
        (``bounds --methods theory``) does not import :mod:`scipy.fft`.  Other dtypes, shapes
        and backends go through :meth:`rfft2`.
        """
        s = (int(x.shape[-2]), int(x.shape[-1]))
        if self._use_scipy and x.ndim == 2 and x.dtype == np.float64:
            return np.fft.rfftn(x, s=s, axes=(-2, -1))
        return self.rfft2(x, s)

    @property
    def workers(self) -> int:
        """FFT threads used by the next call (the fixed count, or the process-wide setting)."""
        return self._workers if self._workers is not None else fft_workers()

    def rfft2(self, x: Any, s: tuple[int, int]) -> Any:
        """Zero-padded real FFT of the last two axes to shape ``s``.

        On SciPy, an input with fewer rows than ``s[0]`` (a w×w kernel on the H×W grid)
        is transformed row-wise first (``rfft`` over its own rows only) and then along
        the columns (``fft`` with ``n = s[0]``): the same two passes pocketfft's 2-D
        transform makes, minus the real FFTs of the H − w rows of zeros, so the result
        is bit-for-bit the 2-D one (tested) at up to half the cost.
        """
        if self._scipy is not None:
            w = self.workers
            if x.shape[-2] < s[0]:
                rows = self._scipy.rfft(x, n=s[1], axis=-1, workers=w)
                return self._scipy.fft(rows, n=s[0], axis=-2, workers=w)
            return self._scipy.rfft2(x, s=s, axes=(-2, -1), workers=w)
        return self.xp.fft.rfftn(x, s=s, axes=(-2, -1))

    def irfft2(self, x: Any, s: tuple[int, int], rows: int | None = None) -> Any:
        """Inverse of :meth:`rfft2` for a real signal of shape ``s``; only its first ``rows`` rows if given.

        On SciPy with ``rows < s[0]`` the column pass runs on the whole spectrum and the
        row pass (``irfft``) only on the rows kept, with the 1/(HW) normalisation applied
        once at the end exactly as pocketfft's 2-D inverse does (same long-double
        reciprocal, one multiply per element): bit-for-bit the cropped 2-D inverse.
        """
        if self._scipy is not None:
            w = self.workers
            if rows is not None and rows < s[0]:
                cols = self._scipy.ifft(x, axis=-2, norm="forward", workers=w)[..., :rows, :]
                out = self._scipy.irfft(cols, n=s[1], axis=-1, norm="forward", workers=w)
                out *= _inverse_scale(s)
                return out
            out = self._scipy.irfft2(x, s=s, axes=(-2, -1), workers=w)
        else:
            out = self.xp.fft.irfftn(x, s=s, axes=(-2, -1))
        return out if rows is None else out[..., :rows, :]


def _inverse_scale(s: tuple[int, int]) -> float:
    """pocketfft's backward normalisation 1/N, computed as it does (``T(1/long double(N))``)."""
    return float(np.longdouble(1) / np.longdouble(int(s[0]) * int(s[1])))


@contextlib.contextmanager
def quiet_overflow() -> Iterator[None]:
    """Silence NumPy's overflow/invalid warnings inside a divergence-checked loop.

    The steppers detect divergence on purpose (non-finite values or growth); the
    warnings would only repeat that on the screen. CuPy never warns.
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        yield
