"""Input checks shared by the numeric layers: clear errors that name the parameter."""
from __future__ import annotations

import math
from typing import Any

__all__ = [
    "ParameterError",
    "BackendUnavailable",
    "check_positive",
    "check_finite",
    "check_image",
    "check_kernel_size",
    "check_mode",
]

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
    if not bool(xp.all(xp.isfinite(image))):
        raise ParameterError("image: contains NaN or infinite values")


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
