"""Input checks shared by the numeric layers: clear errors that name the parameter."""
from __future__ import annotations

import math
import os
import re
import sys
from typing import Any

__all__ = [
    "ParameterError",
    "BackendUnavailable",
    "check_positive",
    "check_finite",
    "check_image",
    "check_kernel_size",
    "check_mode",
    "check_int",
    "check_real",
    "parse_number",
    "check_memory",
    "check_pixels",
    "memory_limit",
    "pixel_limit",
    "run_memory",
    "MEMORY_ENV",
    "PIXELS_ENV",
]

#: Environment variable holding the memory limit (bytes) of one run's arrays.
MEMORY_ENV = "WORKBENCH_MAX_BYTES"
#: Environment variable holding the largest image (pixels) that is loaded or generated.
PIXELS_ENV = "WORKBENCH_MAX_PIXELS"
DEFAULT_MEMORY = 8 * 2**30
DEFAULT_PIXELS = 8192 * 8192

MODES = ("valid", "periodic")


class ParameterError(ValueError):
    """A parameter is out of its domain; the message starts with the parameter's name."""


class BackendUnavailable(ParameterError):
    """An array backend was asked for but cannot be used here (library or device missing)."""


def check_positive(name: str, value: Any) -> float:
    """Return ``float(value)`` or raise if it is not a finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ParameterError(f"{name}: must be finite and > 0, got {value!r}")
    return v


def check_finite(name: str, value: Any) -> float:
    """Return ``float(value)`` or raise if it is not a finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ParameterError(f"{name}: must be finite, got {value!r}")
    return v


def check_image(image: Any, xp: Any) -> None:
    """Raise unless ``image`` is a non-empty 2-D array of finite real values."""
    if getattr(image, "ndim", None) != 2:
        raise ParameterError(f"image: expected a 2-D array, got shape {getattr(image, 'shape', None)}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ParameterError(f"image: is empty (shape {tuple(image.shape)})")
    check_real("image", image)
    if not bool(xp.all(xp.isfinite(image))):
        raise ParameterError("image: contains NaN or infinite values")
    try:
        big = float(xp.finfo(image.dtype).max)
    except (TypeError, ValueError, AttributeError):  # integer images: converted later by the caller
        return
    size = int(image.shape[0]) * int(image.shape[1])
    peak = float(xp.max(xp.abs(image)))
    cap = math.sqrt(big / (16.0 * size))
    if peak > cap:  # the Gram operator sums I(x)^2 over the image: it would overflow
        raise ParameterError(f"image: values up to {peak:.3g} overflow sums of their squares (limit {cap:.3g} "
                             f"for {size} pixels in {image.dtype}); rescale the image")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ParameterError(f"mode: unknown convolution mode {mode!r}; use 'valid' or 'periodic'")
    return mode


def check_kernel_size(w: Any, shape: tuple[int, int], mode: str) -> int:
    """Raise unless the kernel size ``w`` fits the image in the given mode."""
    if isinstance(w, bool) or not isinstance(w, int) and not (hasattr(w, "__index__")):
        raise ParameterError(f"kernel: expected an integer size, got {w!r}")
    w = int(w)
    if w < 1:
        raise ParameterError(f"kernel: size must be >= 1, got {w}")
    h, wd = int(shape[0]), int(shape[1])
    if w > min(h, wd):
        raise ParameterError(
            f"kernel: size {w} is larger than the image ({h}x{wd}) in {mode} mode"
        )
    return w


def check_real(name: str, array: Any) -> None:
    """Raise unless ``array`` has a real (bool, integer or floating) dtype.

    A complex array is refused instead of silently losing its imaginary part.
    """
    dtype = getattr(array, "dtype", None)
    kind = getattr(dtype, "kind", None)
    if kind is None and dtype is not None:  # array-API dtypes without .kind
        kind = "c" if "complex" in str(dtype) else "f"
    if kind == "c":
        raise ParameterError(f"{name}: complex values are not accepted (dtype {dtype}); "
                             "pass the real part (x.real) or the magnitude (abs(x)) explicitly")
    if kind is not None and kind not in "biuf":
        raise ParameterError(f"{name}: must hold real numbers, got dtype {dtype}")


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an ``int`` or raise: bools, non-integral numbers (2.7) and
    values outside ``[lo, hi]`` are refused, never truncated."""
    if isinstance(value, bool) or not (isinstance(value, int) or hasattr(value, "__index__")):
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            value = int(value)
        else:
            raise ParameterError(f"{name}: expected an integer, got {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ParameterError(f"{name}: must be {_range(lo, hi)}, got {v}")
    return v


def _range(lo: Any, hi: Any, lo_open: bool = False, hi_open: bool = False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    return f"{'<' if hi_open else '<='} {hi:g}"


_INT_TEXT = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_TINY = sys.float_info.min  # smallest normal float64


def parse_number(name: str, text: Any, *, integer: bool = False, lo: float | None = None,
                 hi: float | None = None, lo_open: bool = False, hi_open: bool = False) -> Any:
    """Parse one numeric command-line value; the single parser of every numeric flag.

    Only ASCII decimal text is accepted (``3``, ``-0.5``, ``1e-3``): no other
    scripts' digits (``٣``, ``²``), no ``inf``/``nan``, no underscores or hex. The
    value must be finite, a normal float64 (a subnormal such as ``5e-324`` is refused
    under ``name``) and inside ``[lo, hi]`` (ends open when ``lo_open``/``hi_open``);
    the message states the range.

    Returns
    -------
    int or float
    """
    if not isinstance(text, str):
        text = str(text)
    t = text.strip()
    want = "an integer" if integer else "a number"
    rng = _range(lo, hi, lo_open, hi_open) if (lo is not None or hi is not None) else ""
    hint = f"; must be {rng}" if rng else ""
    if integer:
        if not _INT_TEXT.fullmatch(t):
            raise ParameterError(f"{name}: expected {want} in ASCII digits, got {text!r}{hint}")
        v: Any = int(t)
    else:
        if not _FLOAT_TEXT.fullmatch(t):
            raise ParameterError(f"{name}: expected {want} in ASCII decimal notation (e.g. 1e-3), got {text!r}{hint}")
        try:
            v = float(t)
        except (ValueError, OverflowError):  # pragma: no cover - the regex admits only float syntax
            raise ParameterError(f"{name}: expected {want}, got {text!r}{hint}") from None
        if not math.isfinite(v):
            raise ParameterError(f"{name}: {text!r} overflows float64 (not finite){hint}")
        if v != 0 and abs(v) < _TINY:
            raise ParameterError(f"{name}: {text!r} is subnormal (below {_TINY:.3g}), too small to compute with{hint}")
        if v == 0 and re.search(r"[1-9]", t.split("e")[0].split("E")[0]):
            raise ParameterError(f"{name}: {text!r} underflows to 0{hint}")
    bad = ((lo is not None and (v <= lo if lo_open else v < lo))
           or (hi is not None and (v >= hi if hi_open else v > hi)))
    if bad:
        raise ParameterError(f"{name}: must be {rng}, got {text!r}")
    return v


def _env_limit(env: str, default: int) -> int:
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        return parse_number(env, text, integer=True, lo=1)
    except ParameterError:
        raise ParameterError(f"{env}: must be a positive integer, got {text!r}") from None


def memory_limit() -> int:
    """Bytes one run's arrays may take: ``$WORKBENCH_MAX_BYTES`` or 8 GiB."""
    return _env_limit(MEMORY_ENV, DEFAULT_MEMORY)


def pixel_limit() -> int:
    """Largest image in pixels: ``$WORKBENCH_MAX_PIXELS`` or 8192² (67 Mpx)."""
    return _env_limit(PIXELS_ENV, DEFAULT_PIXELS)


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def check_memory(name: str, nbytes: float, limit: int | None = None) -> float:
    """Raise before allocating when ``nbytes`` exceeds the memory limit.

    The message names ``name`` (the parameter that drives the size), the bytes
    needed, the limit, and how to raise it (``WORKBENCH_MAX_BYTES``).
    """
    lim = memory_limit() if limit is None else int(limit)
    if not math.isfinite(float(nbytes)) or nbytes > lim:
        raise ParameterError(f"{name}: needs {_bytes(float(nbytes))} of memory, over the limit of {_bytes(lim)}; "
                             f"lower {name} or raise the limit with {MEMORY_ENV}=<bytes>")
    return nbytes


def run_memory(steps: int, members: int, w: int, itemsize: int = 8) -> int:
    """Bytes of a batched run of :func:`workbench.solvers.stepping.stepper.run`: the per-step increment
    and norm histories (2 × (steps + 1) × members) plus about eight (members, w, w)
    iterates and work arrays (the state of a momentum scheme holds more)."""
    return int(itemsize) * (2 * (int(steps) + 1) * int(members) + 8 * int(members) * int(w) ** 2)


def check_pixels(name: str, height: int, width: int, limit: int | None = None) -> None:
    """Raise when an image of ``height`` × ``width`` exceeds the pixel limit (checked
    from a file header, before anything is decoded or allocated)."""
    lim = pixel_limit() if limit is None else int(limit)
    if int(height) * int(width) > lim:
        raise ParameterError(f"{name}: {height}x{width} = {int(height) * int(width):,} pixels is over the limit of "
                             f"{lim:,}; raise it with {PIXELS_ENV}=<pixels>")
