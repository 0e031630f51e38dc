"""Stability regions in the Fourier symbol z, and the weight-decay intervals they give.

First paper (Sun et al. 2022), appendix D.3 and E.  Every linearized scheme of the
one-layer CNN acts on one Fourier mode (w → ∞) or on one eigencomponent of the
windowed Gram operator (finite w) through the scalar symbol

    z = α + aβP/2,   P = |Î(ω)|²  or an eigenvalue of G        (eq. (44); (23) for Euler)

so a registered optimizer (:mod:`workbench.derivations.schemes.registry`) with stable interval
``h_lower < h < h_upper`` in ``h = ηz`` has the region ``h_lower/η < z < h_upper/η``,
and the stable weight decays are those that put every P of the spectrum
``[P_min, P_max]`` inside it (:func:`alpha_interval`).  The same expressions serve the
Fourier bounds (P over the image's DFT) and the exact windowed bounds (P over the
spectrum of G): one eigen-analysis for every scheme.

:func:`z_interval` writes a scheme's region in the first paper's own parameters
(Δt for ``gd``, (Δt, d) for the momentum schemes) through the scheme's ``pde``
parametrization:

* ``gd``: forward Euler (21), ``0 < z < 2/Δt``;
* ``nesterov``: the semi-implicit scheme (37)-(38), ``0 < z < 4(2 + dΔt)/((6 - dΔt)Δt²)``
  exactly, and ``0 < z < 4/(3Δt²)`` with ``region="paper"`` (the paper's (45)).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from workbench.derivations.schemes import registry as optimizers
from workbench.derivations.symbols import P, P_max, P_min, a, alpha, beta

__all__ = ["cnn_symbol", "z_interval", "alpha_interval", "alpha_bounds", "alpha_bounds_z", "z_lo", "z_hi",
           "paper_to_exact_ratio"]

#: ends of a region in z, the arguments of :func:`alpha_bounds_z`
z_lo, z_hi = sp.symbols("z_lo z_hi", real=True)


def cnn_symbol() -> sp.Expr:
    """``z = α + aβP/2``, the symbol of the linearized gradient (first paper, eq. (44))."""
    return alpha + a * beta * P / 2


@lru_cache(maxsize=None)
def z_interval(scheme: str = "gd", region: str = "exact") -> tuple[sp.Expr, sp.Expr]:
    """``(z_lo, z_hi)`` with stability ``⇔ z_lo < z < z_hi`` at one mode, in the paper's parameters.

    Parameters
    ----------
    scheme : str
        A registered optimizer with a closed-form region and a ``pde``
        parametrization (``gd``/``euler``, ``nesterov``, ``central-difference``).
    region : {"exact", "paper"}
        ``exact``: the analyzer's Schur-Cohn region.  ``paper``: the region the
        source states where it differs ((45) for Nesterov), else the exact one.

    Returns
    -------
    (z_lo, z_hi) : tuple of sympy.Expr
        In ``Delta_t`` (and ``d``).
    """
    if region not in ("exact", "paper"):
        raise ValueError(f"region: unknown {region!r}; use exact or paper")
    opt = optimizers.get(scheme)
    closed = optimizers.closed_region(opt.name)
    pars = [p for p in opt.parametrizations if p.name == "pde"]
    if closed is None or not pars:
        raise ValueError(f"scheme: {opt.name} has no closed-form region in the first paper's parameters")
    lo, hi = closed
    if region == "paper" and opt.paper_region is not None:
        hi = opt.paper_region({p.name: p.symbol for p in opt.hypers})
    maps = pars[0].maps
    sub = {opt.hyper(k).symbol: v for k, v in maps.items() if k != "lr"}
    eta = maps["lr"]
    return sp.factor(sp.simplify(lo.subs(sub) / eta)), sp.factor(sp.simplify(hi.subs(sub) / eta))


@lru_cache(maxsize=None)
def alpha_interval(z_lo: sp.Expr, z_hi: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """Weight decays with ``z_lo < α + aβP/2 < z_hi`` for every ``P ∈ [P_min, P_max]``.

    The symbol is linear in P, so the binding P are the endpoints; general in the
    sign of a.  With ``(0, 2/Δt)`` this is the first paper's (26)-(27)
    (:func:`workbench.derivations.forward_euler.alpha_bounds`); with the Nesterov regions,
    (46)-(47) and their exact counterparts.

    Returns
    -------
    (lower, upper) : tuple of sympy.Expr
        ``lower < α < upper``.
    """
    sym = cnn_symbol()
    if sp.diff(sym, alpha) != 1:
        raise ValueError(f"symbol: expected alpha + f(P), got {sym}")
    rest = sp.expand(sym - alpha)
    lo_p, hi_p = z_lo - rest, z_hi - rest                  # α at which z = z_lo, z = z_hi
    lower = sp.Max(lo_p.subs(P, P_min), lo_p.subs(P, P_max))
    upper = sp.Min(hi_p.subs(P, P_min), hi_p.subs(P, P_max))
    return lower, upper


def alpha_bounds(scheme: str = "gd", region: str = "exact") -> tuple[sp.Expr, sp.Expr]:
    """:func:`alpha_interval` of :func:`z_interval`: α bounds in ``Δt, d, a, β, P_min, P_max``."""
    return alpha_interval(*z_interval(scheme, region))


def alpha_bounds_z() -> tuple[sp.Expr, sp.Expr]:
    """:func:`alpha_interval` with the region's ends as the symbols :data:`z_lo`, :data:`z_hi`.

    What the numeric bounds lambdify once for every scheme: ``z_lo = h_lower/η``,
    ``z_hi = h_upper/η`` of the scheme at its hyperparameters.
    """
    return alpha_interval(z_lo, z_hi)


@lru_cache(maxsize=None)
def paper_to_exact_ratio() -> sp.Expr:
    """``z_hi(exact)/z_hi(paper (45))`` for Nesterov: ``3(2 + dΔt)/(6 - dΔt) = 3/(1 + 2μ)``.

    Equal to 1 only as dΔt → 0 (μ → 1); 15/14 at μ = 0.9, 3 at μ = 0.  So (45) is
    sufficient but conservative, and the paper's remark that "the choice of
    damping d has no impact on the stability bounds" holds only for its own (45).
    """
    return sp.factor(sp.simplify(z_interval("nesterov", "exact")[1] / z_interval("nesterov", "paper")[1]))
