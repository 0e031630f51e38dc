"""Forward Euler for the linearized gradient PDE: DFT, amplifier, stability.

Sun et al. 2022 (first paper), appendix D.3, eqs. (21)-(27).  Starting from the
linearized PDE (20) at one point z (``C(t) = ((K ⋆ I) ⋆ I)(z)``), SymPy derives
the scheme (21), its DFT (22), the w → ∞ amplifier (23) and the stability
conditions (24)-(27).  ``P = |Î(ω)|²`` stands for one frequency's power.

Paper inconsistencies found while deriving:

* (22)-(23): the DFT of the constant field Ī is ``|Ω| Ī δ(ω)`` (nonzero only at
  ω = 0), not Ī at every ω.  The paper's forcing term ``-(a/2)Δt Ī`` is kept
  as printed; it does not enter the amplifier A(ω).
* (25) replaces ``|Î(ω)|²`` by its upper bound ``‖I‖²_{L1}``.  With a > 0 that
  gives a sufficient (conservative) step bound; with a < 0 -- the case the text
  discusses -- the denominator ``α + aβP/2`` is largest at ``P_min``, so (25)
  is *weaker* than (24) at every ω and not sufficient.  The correct uniform
  bound is :func:`dt_bound`.
* (26)-(27) hold for a < 0 only; for a > 0 max and min swap.
  :func:`alpha_bounds` is general.  The appendix-E analogue (46)-(47) names
  the upper bound α_min and the lower bound α_max: here they are called
  ``lower`` / ``upper`` (``alpha_lower`` / ``alpha_upper`` in solvers).
* The Fourier analysis assumes w → ∞ and periodic (circular) correlation; in
  valid mode with a finite window these bounds are approximations.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from workbench.derivations.steps import Derivation, Step
from workbench.derivations.symbols import P, P_max, P_min, a, alpha, beta, dt

__all__ = [
    "amplifier", "alpha_bounds", "dt_bound", "dt_bound_pointwise", "steps", "derivation",
    "periodic_correlation_dft_residuals",
]

t = sp.Symbol("t", nonnegative=True)
Ibar = sp.Symbol("Ibar", real=True)
Win = sp.Symbol("W", real=True)                    # window value at z (1 inside)
Kn, Kn1 = sp.Symbol("K^{n}", real=True), sp.Symbol("K^{n+1}", real=True)
Cn = sp.Symbol(r"\left((K^{n} \star I) \star I\right)", real=True)
Khat_n, Khat_n1 = sp.Symbol(r"\hat{K}^{n}"), sp.Symbol(r"\hat{K}^{n+1}")
A_sym = sp.Symbol(r"A(\omega)")
I_L1 = sp.Symbol(r"\|I\|_{L^1}", nonnegative=True)
#: |a| for the paper's case a < 0, and P_max - P_min >= 0
_abs_a, _dP = sp.Symbol("|a|", positive=True), sp.Symbol("Delta_P", nonnegative=True)
_Kt, _Ct = sp.Function("K")(t), sp.Function("C")(t)


class SincConv(sp.Function):
    """``[F] ∗ sinc(w·/2)``: the DFT of multiplication by the window W (unevaluated)."""

    nargs = 1

    def _latex(self, printer, exp=None):  # noqa: ANN001
        return rf"\left[{printer._print(self.args[0])}\right] \ast \operatorname{{sinc}}\left(\tfrac{{w}}{{2}}\,\cdot\right)"

    def _sympystr(self, printer):  # noqa: ANN001
        return f"conv_sinc({printer._print(self.args[0])})"


def _solve_linear(rel: sp.core.relational.Relational, var: sp.Symbol) -> sp.Basic:
    """Solve a strict inequality that is linear in ``var`` with a coefficient of known sign.

    ``f(var) < 0`` with ``f`` linear: the root of ``f`` from ``sp.solve``; the
    side from the sign of ``∂f/∂var``.  Returns ``var > root`` or ``var < root``.
    """
    f = rel.lts - rel.gts                     # rel  ⇔  f < 0
    slope = sp.diff(f, var)
    if slope.has(var):
        raise ValueError(f"{var}: inequality is not linear in it: {rel}")
    root = sp.solve(f, var)[0]
    if slope.is_negative:
        return sp.Gt(var, root)
    if slope.is_positive:
        return sp.Lt(var, root)
    raise ValueError(f"{var}: sign of the coefficient {slope} is unknown")


def linearized_pde() -> sp.Eq:
    """Linearized PDE (20) at one point z (Sun et al. 2022, appendix D.2, eq. (20))."""
    return sp.Eq(sp.Derivative(_Kt, t), (-a / 2 * (Ibar + beta * _Ct) - alpha * _Kt) * Win)


@lru_cache(maxsize=None)
def _derive_scheme() -> tuple[sp.Expr, ...]:
    """(21) increment, (22) DFT right side, (23) update, amplifier and forcing."""
    pde = linearized_pde()
    # (21): forward Euler, ∂_t K -> (K^{n+1} - K^n)/Δt
    euler = pde.subs(sp.Derivative(_Kt, t), (Kn1 - Kn) / dt).subs({_Kt: Kn, _Ct: Cn})
    inc = sp.expand(sp.solve(euler, Kn1)[0] - Kn)
    e21 = sp.factor_terms(sp.collect(inc, Win))
    # (22): DFT; K^n W = K^n (support in the window), W· -> ∗ sinc, (K⋆I)⋆I -> K̂|Î|², Ī -> Ī (paper)
    windowed = sp.expand(e21 / Win).subs(Kn, 0) * Win           # the part that leaves the window
    kept = sp.expand(e21 / Win).coeff(Kn) * Kn                  # K^n W = K^n
    dft_map = {Kn: Khat_n, Cn: Khat_n * P, Win: 1}
    e22 = SincConv(sp.factor_terms(windowed.subs(dft_map))) + kept.subs(dft_map)
    # (23): w -> ∞, the sinc becomes a delta (identity convolution); A = coefficient of K̂^n
    update = sp.solve(sp.Eq(Khat_n1 - Khat_n, e22.replace(SincConv, lambda v: v)), Khat_n1)[0]
    A = sp.expand(sp.diff(update, Khat_n))
    forcing = sp.expand(update - A * Khat_n)
    A = 1 - dt * sp.expand((1 - A) / dt)                    # print as 1 - Δt(α + aβP/2)
    return e21, e22, update, A, forcing


@lru_cache(maxsize=None)
def amplifier() -> sp.Expr:
    """Amplification factor ``A(ω) = 1 - Δt(α + aβ|Î(ω)|²/2)`` (Sun et al. 2022, appendix D.3, eq. (23)).

    Derived from the scheme (21) and its DFT (22) in the w → ∞ limit as the
    coefficient of ``K̂^n`` in ``K̂^{n+1}``; ``P`` stands for ``|Î(ω)|²``.
    """
    return _derive_scheme()[3]


@lru_cache(maxsize=None)
def _bounds_in_P() -> tuple[sp.Expr, sp.Expr]:
    """``(α_lo(P), α_hi(P))`` with ``|A| < 1  ⇔  α_lo(P) < α < α_hi(P)`` (eq. (23))."""
    A = amplifier()
    lo = _solve_linear(A < 1, alpha)       # A < 1   ⇔ α + aβP/2 > 0
    hi = _solve_linear(A > -1, alpha)      # A > -1  ⇔ α + aβP/2 < 2/Δt
    assert isinstance(lo, sp.Gt) and isinstance(hi, sp.Lt)
    return lo.rhs, hi.rhs


@lru_cache(maxsize=None)
def alpha_bounds() -> tuple[sp.Expr, sp.Expr]:
    """Stability interval ``lower < α < upper`` for all ``P ∈ [P_min, P_max]`` (appendix D.3, eqs. (26)-(27)).

    Solves ``0 < α + aβP/2 < 2/Δt`` (⇔ ``|A(ω)| < 1``, eq. (23)) for α; both
    sides are linear in P, so the binding values over ``[P_min, P_max]`` are at
    the endpoints.  General in the sign of a; for a < 0 it reduces to the
    paper's (26) ``α > -aβ max|Î|²/2`` and (27) ``α < 2/Δt - aβ min|Î|²/2``.

    Returns
    -------
    (lower, upper) : tuple of sympy.Expr
        In the symbols ``Delta_t, a, beta, P_min, P_max``.
    """
    lo, hi = _bounds_in_P()
    lower = sp.Max(lo.subs(P, P_min), lo.subs(P, P_max))
    upper = sp.Min(hi.subs(P, P_min), hi.subs(P, P_max))
    return lower, upper


@lru_cache(maxsize=None)
def dt_bound_pointwise() -> sp.Expr:
    """Step bound at one frequency ``Δt < 2/(α + aβ|Î(ω)|²/2)`` (appendix D.3, eq. (24)).

    Valid when ``α + aβP/2 > 0`` (otherwise no Δt > 0 is stable).
    """
    c = sp.Symbol("c", positive=True)   # c = α + aβP/2 > 0, from A < 1
    sol = _solve_linear(1 - dt * c > -1, dt)
    assert isinstance(sol, sp.Lt)
    return sol.rhs.subs(c, alpha + a * beta * P / 2)


@lru_cache(maxsize=None)
def dt_bound() -> sp.Expr:
    """Largest stable step over all ``P ∈ [P_min, P_max]`` (appendix D.3, eqs. (24)-(25)).

    ``Δt < 2 / max_P(α + aβP/2) = 2 / Max(α + aβP_min/2, α + aβP_max/2)``,
    meaningful when α exceeds the lower bound of :func:`alpha_bounds`.  For
    a < 0 this is ``2/(α + aβ P_min/2)``; the paper's (25), with ``‖I‖²_{L1} ≥
    P_max`` in place of ``P``, is not sufficient then (see module docstring).
    """
    pw = dt_bound_pointwise()
    return 2 / sp.Max(*(2 / pw.subs(P, p) for p in (P_min, P_max)))


def periodic_correlation_dft_residuals(n: int = 4) -> list[sp.Expr]:
    """Check of the correlation theorem used in (22) on an n-point periodic grid.

    Returns ``DFT[(K ⋆ I) ⋆ I](ω_k) - K̂(ω_k)|Î(ω_k)|²`` for every k, with real
    symbolic K and I and circular correlation ``(F ⋆ I)(z) = Σ_x F(x) I(x+z)``;
    each residual expands to 0 (appendix D.3, eq. (22)).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: must be an integer >= 1, got {n!r}")
    Ks = sp.symbols(f"k0:{n}", real=True)
    Is = sp.symbols(f"i0:{n}", real=True)

    def corr(F: list) -> list:
        return [sum(F[x] * Is[(x + z) % n] for x in range(n)) for z in range(n)]

    def dft(F: list, k: int) -> sp.Expr:
        return sum(F[x] * sp.exp(-2 * sp.pi * sp.I * k * x / n) for x in range(n))

    C = corr(corr(list(Ks)))
    out = []
    for k in range(n):
        Ih = dft(list(Is), k)
        out.append(sp.expand(dft(C, k) - dft(list(Ks), k) * Ih * sp.conjugate(Ih)))
    return out


def steps(include_pde: bool = True) -> list[Step]:
    """Steps of appendix D.3 in paper order: (20) (input), (21)-(27)."""
    out: list[Step] = []
    add = out.append
    if include_pde:
        add(Step("linearized_pde_pointwise", "(20)", linearized_pde(),
                 "input: linearized PDE at one point z, C = ((K ⋆ I) ⋆ I)(z)"))
    e21, e22, update, A, forcing = _derive_scheme()
    add(Step("euler_scheme", "(21)", sp.Eq(Kn1 - Kn, e21), "forward Euler in t with step Δt",
             stated=sp.Eq(Kn1 - Kn, (-a / 2 * dt * (Ibar + beta * Cn) - dt * alpha * Kn) * Win)))
    add(Step("euler_dft", "(22)", sp.Eq(Khat_n1 - Khat_n, e22),
             "DFT: correlation theorem, window product -> sinc convolution",
             stated=sp.Eq(Khat_n1 - Khat_n,
                          SincConv(-a / 2 * dt * (Ibar + beta * Khat_n * P)) - dt * alpha * Khat_n)))
    add(Step("euler_dft_limit", "(23)", sp.Eq(Khat_n1, A_sym * Khat_n + forcing),
             "w -> ∞: sinc -> δ; amplifier A(ω)",
             stated=sp.Eq(Khat_n1, A_sym * Khat_n - a / 2 * dt * Ibar)))
    add(Step("amplifier", "(23)", sp.Eq(A_sym, A), "A(ω) = coefficient of K̂^n, P = |Î(ω)|²",
             stated=sp.Eq(A_sym, 1 - dt * (alpha + a * beta * P / 2))))
    # (24)-(25): step-size bounds
    pw = dt_bound_pointwise()
    add(Step("dt_bound_pointwise", "(24)", sp.Lt(dt, pw), "|A| < 1 with α + aβP/2 > 0, solved for Δt",
             stated=sp.Lt(dt, 2 / (alpha + a * beta * P / 2))))
    add(Step("dt_bound_l1", "(25)", sp.Lt(dt, pw.subs(P, I_L1 ** 2)),
             "(24) with |Î(ω)|² <= ||I||²_L1 (sufficient only if a > 0)",
             stated=sp.Lt(dt, 2 / (alpha + a * beta * I_L1 ** 2 / 2))))
    add(Step("dt_bound_uniform", "", sp.Lt(dt, dt_bound()), "(24) for all P in [P_min, P_max]"))
    # (26)-(27): α bounds
    lo, hi = _bounds_in_P()
    add(Step("alpha_lower_pointwise", "", sp.Gt(alpha, lo), "A < 1 solved for α"))
    add(Step("alpha_upper_pointwise", "", sp.Lt(alpha, hi), "A > -1 solved for α"))
    lower, upper = alpha_bounds()
    neg = {a: -_abs_a, P_max: P_min + _dP}        # a < 0 and P_min <= P_max
    add(Step("alpha_lower", "(26)", sp.Gt(alpha, lower), "lower bound over P in [P_min, P_max]; a < 0: P_max binds",
             stated=sp.Gt(alpha, -a * beta * P_max / 2), where=neg))
    add(Step("alpha_upper", "(27)", sp.Lt(alpha, upper), "upper bound over P in [P_min, P_max]; a < 0: P_min binds",
             stated=sp.Lt(alpha, 2 / dt - a * beta * P_min / 2), where=neg))
    return out


def derivation() -> Derivation:
    """Appendix D.3 as a :class:`Derivation` (Sun et al. 2022, eqs. (20)-(27))."""
    return Derivation("forward-euler", "Forward Euler for the linearized gradient PDE: DFT and stability",
                      "Sun et al. 2022, appendix D.3, eqs. (21)-(27)", steps())
