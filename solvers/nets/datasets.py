"""Small synthetic data sets, generated from a seed (nothing is downloaded).

Each generator draws with ``numpy.random.default_rng(seed)`` on the host, so the same
seed gives the same numbers on every backend, then moves the arrays to ``xp``.

* :func:`blobs` — Gaussian clusters around random centres (classification);
* :func:`spirals` — interleaved noisy spiral arms, one per class (classification,
  not linearly separable);
* :func:`teacher` — inputs x ~ N(0, I) and targets of a random teacher MLP plus noise
  (regression);
* :func:`image_blobs` — small C×H×W images: one smooth random prototype per class plus
  white noise (classification, for :func:`workbench.solvers.nets.networks.small_cnn`).

Classification sets carry one-hot targets ``Y`` (for the cross-entropy or MSE of
:class:`workbench.solvers.nets.networks.NetworkObjective`) and integer ``labels`` on the host.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from workbench.solvers.core.backend import float_dtype, get_namespace
from workbench.solvers.core.checks import ParameterError

__all__ = ["Dataset", "blobs", "spirals", "teacher", "image_blobs"]


@dataclass(frozen=True)
class Dataset:
    """Inputs ``X`` (N, …), targets ``Y`` (N, outputs) on one backend, labels on the host.

    ``task`` is ``"classification"`` (Y one-hot, ``labels`` integer classes) or
    ``"regression"`` (``labels`` is None). ``name`` records the generator and its
    arguments.
    """

    X: Any
    Y: Any
    labels: np.ndarray | None
    task: str
    name: str

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


def _int(name: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < lo:
        raise ParameterError(f"{name}: expected an integer >= {lo}, got {v!r}")
    return int(v)


def _nonneg(name: str, v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a number, got {v!r}") from None
    if not math.isfinite(f) or f < 0:
        raise ParameterError(f"{name}: must be finite and >= 0, got {v!r}")
    return f


def _ns(xp: Any) -> Any:
    return get_namespace("numpy" if xp is None else xp) if xp is None or isinstance(xp, str) else xp


def _pack(X: np.ndarray, Y: np.ndarray, labels: np.ndarray | None, task: str, name: str, xp: Any,
          dtype: Any) -> Dataset:
    xp = _ns(xp)
    dt = float_dtype(xp, dtype)
    return Dataset(xp.asarray(X, dtype=dt), xp.asarray(Y, dtype=dt), labels, task, name)


def _onehot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[labels]


def blobs(n: int = 90, dim: int = 2, classes: int = 3, spread: float = 0.5, seed: int = 0, *,
          xp: Any = None, dtype: Any = "float64") -> Dataset:
    """``n`` points in ``classes`` Gaussian clusters (std ``spread``) around centres ~ N(0, 4 I).

    Points are assigned round-robin, so each class has ⌊n/classes⌋ or one more.
    """
    n, dim, classes = _int("n", n, 1), _int("dim", dim, 1), _int("classes", classes, 2)
    spread = _nonneg("spread", spread)
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((classes, dim))
    labels = np.arange(n) % classes
    X = centres[labels] + spread * rng.standard_normal((n, dim))
    return _pack(X, _onehot(labels, classes), labels, "classification",
                 f"blobs(n={n}, dim={dim}, classes={classes}, spread={spread}, seed={seed})", xp, dtype)


def spirals(n: int = 96, classes: int = 2, turns: float = 1.0, noise: float = 0.05, seed: int = 0, *,
            xp: Any = None, dtype: Any = "float64") -> Dataset:
    """Interleaved spiral arms in 2-D, one per class, radius in [0.1, 1], angular noise ``noise``.

    Arm c: r = t, φ = 2π(turns·t + c/classes) + noise·N(0, 1), t uniform on [0.1, 1].
    """
    n, classes = _int("n", n, 1), _int("classes", classes, 2)
    turns, noise = _nonneg("turns", turns), _nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    t = 0.1 + 0.9 * rng.random(n)
    phi = 2 * np.pi * (turns * t + labels / classes) + noise * rng.standard_normal(n)
    X = np.stack([t * np.cos(phi), t * np.sin(phi)], axis=1)
    return _pack(X, _onehot(labels, classes), labels, "classification",
                 f"spirals(n={n}, classes={classes}, turns={turns}, noise={noise}, seed={seed})", xp, dtype)


def teacher(n: int = 64, sizes: Sequence[int] = (4, 8, 1), activation: str = "tanh", noise: float = 0.0,
            seed: int = 0, *, xp: Any = None, dtype: Any = "float64") -> Dataset:
    """Regression targets of a random teacher MLP (LeCun-normal weights, biases N(0, 0.1²)).

    x ~ N(0, I_d), y = f_teacher(x) + noise·N(0, 1); ``sizes`` = (d, hidden…, outputs).
    """
    from workbench.solvers.nets.networks import mlp

    n = _int("n", n, 1)
    noise = _nonneg("noise", noise)
    net = mlp(sizes, activation)
    npx = get_namespace("numpy")
    rng = np.random.default_rng(seed)
    theta = np.asarray(net.init(seed + 1, npx), dtype=np.float64)
    for sl in net.slices:
        for off, shape in sl[1:]:  # biases
            theta[off:off + int(np.prod(shape))] = 0.1 * rng.standard_normal(int(np.prod(shape)))
    X = rng.standard_normal((n, net.input_shape[0]))
    Y = np.asarray(net.forward(npx.asarray(theta), npx.asarray(X)))
    Y = Y + noise * rng.standard_normal(Y.shape)
    return _pack(X, Y, None, "regression",
                 f"teacher(n={n}, sizes={tuple(sizes)}, activation={activation}, noise={noise}, seed={seed})",
                 xp, dtype)


def image_blobs(n: int = 48, shape: Sequence[int] = (1, 8, 8), classes: int = 3, noise: float = 0.5,
                seed: int = 0, *, xp: Any = None, dtype: Any = "float64") -> Dataset:
    """Small images: class prototype (smoothed white noise, unit std) + ``noise``·N(0, 1).

    The prototypes are white noise averaged over 3×3 neighbourhoods (periodic), then
    standardised; returns X of shape (n, C, H, W).
    """
    n, classes = _int("n", n, 1), _int("classes", classes, 2)
    noise = _nonneg("noise", noise)
    shp = tuple(_int("shape", s, 1) for s in shape)
    if len(shp) != 3:
        raise ParameterError(f"shape: expected (channels, height, width), got {tuple(shape)}")
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((classes,) + shp)
    sm = sum(np.roll(np.roll(protos, i, axis=-2), j, axis=-1) for i in (-1, 0, 1) for j in (-1, 0, 1))
    sm = (sm - sm.mean(axis=(1, 2, 3), keepdims=True)) / sm.std(axis=(1, 2, 3), keepdims=True)
    labels = np.arange(n) % classes
    X = sm[labels] + noise * rng.standard_normal((n,) + shp)
    return _pack(X, _onehot(labels, classes), labels, "classification",
                 f"image_blobs(n={n}, shape={shp}, classes={classes}, noise={noise}, seed={seed})", xp, dtype)
