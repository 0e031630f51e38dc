"""Synthetic input images (no downloads), generated on any backend.

The checkerboard is the input of the first paper's experiments (``../shared/papers``):
a ±1 pattern, value −1 where (row + column) is even and +1 elsewhere.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from workbench.solvers.core.checks import ParameterError

__all__ = ["checkerboard", "smooth", "noise"]


def _size(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"image: size must be a positive integer, got {n!r}")
    return int(n)


def checkerboard(n: int, xp: Any = None, dtype: Any = None) -> Any:
    """The first paper's n×n ±1 checkerboard (−1 where row + column is even)."""
    n = _size(n)
    idx = np.add.outer(np.arange(n), np.arange(n))
    img = np.where(idx % 2 == 0, -1.0, 1.0)
    return img if xp is None else xp.asarray(img, dtype=dtype or xp.float64)


def smooth(n: int, seed: int = 0, xp: Any = None, dtype: Any = None) -> Any:
    """Seeded smooth random image: white noise filtered by a Gaussian of width n/16,
    normalised to zero mean and unit standard deviation."""
    from scipy.ndimage import gaussian_filter

    n = _size(n)
    rng = np.random.default_rng(seed)
    img = gaussian_filter(rng.standard_normal((n, n)), sigma=max(n / 16.0, 0.5), mode="wrap")
    img = (img - img.mean()) / (img.std() or 1.0)
    return img if xp is None else xp.asarray(img, dtype=dtype or xp.float64)


def noise(n: int, seed: int = 0, xp: Any = None, dtype: Any = None) -> Any:
    """Seeded standard-normal white-noise image."""
    n = _size(n)
    img = np.random.default_rng(seed).standard_normal((n, n))
    return img if xp is None else xp.asarray(img, dtype=dtype or xp.float64)
