"""Stability regions in the Fourier symbol z, and the weight-decay intervals they give.

First paper (Sun et al. 2022), appendix D.3 and E.  Every linearized scheme of the
one-layer CNN acts on one Fourier mode (w → ∞) or on one eigencomponent of the
windowed Gram operator (finite w) through the scalar symbol

    z = α + aβP/2,   P = |Î(ω)|²  or an eigenvalue of G        (eq. (44); (23) for Euler)

so each scheme has a region ``z_lo < z < z_hi`` that the general Von Neumann
analyzer (:mod:`derivations.von_neumann`) derives from its characteristic
polynomial, and the stable weight decays are those that put every P of the
spectrum ``[P_min, P_max]`` inside it (:func:`alpha_interval`).  The same
expressions serve the Fourier bounds (P over the image's DFT) and the exact
windowed bounds (P over the spectrum of G): one eigen-analysis for every scheme.

Regions (:func:`z_interval`):

* ``("euler", "exact")``: forward Euler (21), ``0 < z < 2/Δt`` (analyzer);
* ``("nesterov", "exact")``: the semi-implicit scheme (37)-(38) with
  ``μ = (2 - dΔt)/(2 + dΔt)``, ``η = 2Δt²/(2 + dΔt)``:
  ``0 < z < 4(2 + dΔt)/((6 - dΔt)Δt²)`` (analyzer, for 0 ≤ μ < 1, i.e. 0 < dΔt ≤ 2);
* ``("nesterov", "paper")``: the paper's (45), ``0 < z < 4/(3Δt²)``, independent of d.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .symbols import P, P_max, P_min, a, alpha, beta, d, dt
from .von_neumann import eta, forward_euler_scheme, h, mu, nesterov_exact_bound, schur_cohn_conditions, solve_bound, z

__all__ = [
    "SCHEMES", "cnn_symbol", "mu_of", "eta_of", "z_interval", "alpha_interval", "alpha_bounds",
    "paper_to_exact_ratio",
]

#: (scheme, region) pairs :func:`z_interval` knows
SCHEMES = (("euler", "exact"), ("euler", "paper"), ("nesterov", "exact"), ("nesterov", "paper"))


def cnn_symbol() -> sp.Expr:
    """``z = α + aβP/2``, the symbol of the linearized gradient (first paper, eq. (44))."""
    return alpha + a * beta * P / 2


def mu_of() -> sp.Expr:
    """Momentum coefficient ``μ = (2 - dΔt)/(2 + dΔt)`` of the semi-implicit scheme (37)."""
    return (2 - d * dt) / (2 + d * dt)


def eta_of() -> sp.Expr:
    """Step ``η = 2Δt²/(2 + dΔt)`` of the semi-implicit scheme (38)."""
    return 2 * dt ** 2 / (2 + d * dt)


def _bounds_of(region: sp.Basic, var: sp.Symbol) -> tuple[list, list]:
    lows, highs = [], []
    for r in sp.And.make_args(region):
        r = r.reversed if isinstance(r, (sp.Gt, sp.Ge)) else r          # now var on one side of "<"
        if not isinstance(r, (sp.Lt, sp.Le)):
            raise ValueError(f"region: unexpected condition {r}")
        if r.rhs == var:
            lows.append(r.lhs)
        elif r.lhs == var:
            highs.append(r.rhs)
        else:
            raise ValueError(f"region: {r} does not bound {var}")
    return lows, highs


@lru_cache(maxsize=None)
def z_interval(scheme: str = "euler", region: str = "exact") -> tuple[sp.Expr, sp.Expr]:
    """``(z_lo, z_hi)`` with stability ``⇔ z_lo < z < z_hi`` at one mode, in ``Δt`` and ``d``.

    Parameters
    ----------
    scheme : {"euler", "nesterov"}
        Forward Euler (21), or the semi-implicit momentum scheme (37)-(38).
    region : {"exact", "paper"}
        ``exact``: the analyzer's Schur-Cohn region.  ``paper``: the region the
        first paper states, (23)-(24) for Euler (identical to the exact one) and
        (45) ``Δt < 2/√(3z)`` for Nesterov.

    Returns
    -------
    (z_lo, z_hi) : tuple of sympy.Expr
        In the symbols ``Delta_t`` and ``d``.

    Notes
    -----
    Nesterov, exact: the analyzer gives ``max(0, 1 - 1/μ) < ηz < 2(1 + μ)/(1 + 2μ)``
    (:func:`derivations.von_neumann.nesterov_exact_bound`); ``1 - 1/μ ≤ 0`` on
    ``0 < μ ≤ 1`` (checked here with ``μ = 1/(1 + s)``, ``s ≥ 0``), so the lower
    bound is 0.  Dividing by ``η`` and substituting μ(d, Δt), η(d, Δt) gives
    ``z_hi = 4(2 + dΔt)/((6 - dΔt)Δt²)``.
    """
    if scheme not in ("euler", "nesterov") or region not in ("exact", "paper"):
        raise ValueError(f"scheme/region: unknown {(scheme, region)!r}; known: {', '.join(map(str, SCHEMES))}")
    if scheme == "euler":
        poly = forward_euler_scheme(z).polynomial
        lows, highs = _bounds_of(solve_bound(schur_cohn_conditions(poly), z), z)
        return sp.Max(*lows), sp.Min(*highs)
    if region == "paper":
        # (45): Δt < 2/√(3z) with z > 0  ⇔  0 < z < 4/(3Δt²)
        zz = sp.Symbol("zz", positive=True)
        hi = sp.solve(sp.Eq(dt, 2 / sp.sqrt(3 * zz)), zz)
        return sp.Integer(0), hi[0]
    lows, highs = _bounds_of(nesterov_exact_bound(), h)
    s = sp.Symbol("s", nonnegative=True)
    for lo in lows:
        if lo != 0 and not sp.simplify(lo.subs(mu, 1 / (1 + s))).is_nonpositive:
            raise ValueError(f"region: lower bound {lo} is not inactive for 0 < mu <= 1")
    sub = {mu: mu_of(), eta: eta_of()}
    hi = sp.factor(sp.simplify((sp.Min(*highs) / eta).subs(sub)))
    return sp.Integer(0), hi


@lru_cache(maxsize=None)
def alpha_interval(z_lo: sp.Expr, z_hi: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """Weight decays with ``z_lo < α + aβP/2 < z_hi`` for every ``P ∈ [P_min, P_max]``.

    The symbol is linear in P, so the binding P are the endpoints; general in the
    sign of a.  With ``(0, 2/Δt)`` this is the first paper's (26)-(27)
    (:func:`derivations.forward_euler.alpha_bounds`); with the Nesterov regions,
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


def alpha_bounds(scheme: str = "euler", region: str = "exact") -> tuple[sp.Expr, sp.Expr]:
    """:func:`alpha_interval` of :func:`z_interval`: α bounds in ``Δt, d, a, β, P_min, P_max``."""
    return alpha_interval(*z_interval(scheme, region))


@lru_cache(maxsize=None)
def paper_to_exact_ratio() -> sp.Expr:
    """``z_hi(exact)/z_hi(paper (45))`` for Nesterov: ``3(2 + dΔt)/(6 - dΔt) = 3/(1 + 2μ)``.

    Equal to 1 only as dΔt → 0 (μ → 1); 15/14 at μ = 0.9, 3 at μ = 0.  So (45) is
    sufficient but conservative, and the paper's remark that "the choice of
    damping d has no impact on the stability bounds" holds only for its own (45).
    """
    return sp.factor(sp.simplify(z_interval("nesterov", "exact")[1] / z_interval("nesterov", "paper")[1]))
