"""Root sampling: the slow, independent reference for a scheme's exact region.

At random hyperparameters and random ``h = ηλ`` the largest root modulus of
``p(ξ) = det(ξI − A + hBC)`` (the registry's record, :mod:`workbench.derivations.schemes.registry`) is
computed as the largest eigenvalue modulus of the iteration matrix A − hBC (LAPACK,
better conditioned than the polynomial's roots when several roots cluster near 1): a
point is stable iff it is below 1.  Points within
``band`` of the unit circle are left out (rounding decides them).  Agreement with
:func:`workbench.solvers.stepping.optimizers.h_interval` at every sampled point is what the
``scheme-atlas`` validation case checks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.derivations.schemes import derived as reg

from workbench.solvers.stepping.optimizers import _matrices, h_interval, spectral_radius

__all__ = ["Samples", "sample_region", "hyper_grid"]


@dataclass
class Samples:
    """Sampled points: hyperparameter values (one array per name), h, root radius, and the exact verdict."""

    hyper: dict[str, np.ndarray]
    h: np.ndarray
    radius: np.ndarray
    inside: np.ndarray          # the exact region says stable
    kept: np.ndarray            # outside the excluded band around |ξ| = 1

    @property
    def disagreements(self) -> int:
        return int(np.sum(self.kept & (self.inside != (self.radius < 1.0))))


def _draw(p: reg.HyperInfo, rng: np.random.Generator) -> float:
    if p.integer:
        return int(rng.integers(int(p.lower), int(p.upper) + 1))
    top = p.upper if math.isfinite(p.upper) else 10.0 * max(1.0, p.default)
    while True:
        v = float(rng.uniform(p.lower, top))
        if p.contains(v):
            return v


def hyper_grid(name: str, over: str | None = None, n: int = 100) -> tuple[str | None, np.ndarray]:
    """The hyperparameter to plot a region against (``over`` or the first continuous one) and its values."""
    opt = reg.get(name)
    cont = [p for p in opt.hypers if not p.integer]
    if over is None:
        if not cont:
            return None, np.zeros(0)
        p = cont[0]
    else:
        p = opt.hyper(over)
    top = p.upper if math.isfinite(p.upper) else 10.0 * max(1.0, p.default)
    vals = np.linspace(p.lower, top, n + 2)[1:-1] if not p.integer else np.arange(int(p.lower), int(top) + 1)
    return p.name, vals


def sample_region(name: str, n: int = 2000, *, seed: int = 0, fixed: dict[str, Any] | None = None,
                  h_span: float = 1.5, band: float = 1e-9) -> Samples:
    """``n`` random (hyperparameters, h) points of scheme ``name``, classified by root moduli.

    Hyperparameters not in ``fixed`` are drawn uniformly in their ranges (integers
    uniformly among their values); h uniformly in ``[-0.25, h_span]·h_upper`` of the
    exact region at those values (so both sides of each edge are hit).
    """
    opt = reg.get(name)
    rng = np.random.default_rng(seed)
    fixed = dict(fixed or {})
    hyp: dict[str, list] = {p.name: [] for p in opt.hypers}
    hs, rad, inside = [], [], []
    for _ in range(int(n)):
        vals = {p.name: fixed.get(p.name, _draw(p, rng)) for p in opt.hypers}
        region = h_interval(name, **vals)
        top = region.upper if math.isfinite(region.upper) else 10.0
        hh = float(rng.uniform(-0.25 * top, h_span * top))
        A, B, C = _matrices(opt.name, tuple(sorted((k, int(v) if opt.hyper(k).integer else float(v))
                                                   for k, v in vals.items())))
        r = spectral_radius(A, B, C, hh)
        for k, v in vals.items():
            hyp[k].append(v)
        hs.append(hh)
        rad.append(r)
        inside.append(region.lower < hh < region.upper)
    radius = np.asarray(rad)
    return Samples({k: np.asarray(v, dtype=float) for k, v in hyp.items()}, np.asarray(hs), radius,
                   np.asarray(inside, dtype=bool), np.abs(radius - 1.0) > band)
