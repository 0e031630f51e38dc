"""The other linearizations of the one-layer CNN, and the multi-layer step bound.

Sun et al. 2022 (first paper):

* appendix D.4, eqs. (28)-(33): ``a = ŷ - y`` linearized around ``K = 0`` instead of
  held constant -- PDE (28)-(29), forward-Euler amplifier (30)-(31), the sinc
  approximation (32) of δ and the amplifier (33);
* appendix D.5, eqs. (34)-(35): the "activated" regime ``r' = 1`` (``K ⋆ I``
  positive and away from zero), its amplifier and the bounds
  ``α > -Ī²/8``, ``α < 2/Δt - Ī²/8``;
* appendix F, eqs. (48)-(51): the multi-layer amplifier ``A = 1 - Δt(α + F̂)``,
  the step bound (50) and its large-α limit ``Δt < 2/α`` (51).

Every scheme goes through the general Von Neumann analyzer
(:mod:`workbench.derivations.von_neumann`): forward Euler with the mode's Fourier symbol,
amplification factor, Schur-Cohn conditions, bounds solved for α or Δt.  The
paper's printed forms are kept in ``Step.stated`` beside the derived ones.

Conventions as in :mod:`workbench.derivations.cnn`: ``Ī = ∫ I(x + z) dx`` (the input sum,
``= Î(0)``), ``K̄ = ∫ K(z) dz`` (``= K̂(0)``), ``C = ((K ⋆ I) ⋆ I)(z)``,
``P = |Î(ω)|²``, ``P_0 = |Î(0)|² = Ī²``.  ``s(0)``, ``s'(0)`` are the sigmoid
(with bias b) and its derivative at ``g = 0``: ``1/(1 + e^b)`` and
``e^b/(1 + e^b)²``, i.e. ``1/2`` and ``1/4`` for ``b = 0``
(:func:`sigmoid_at_zero`).  ``δ(ω)`` is the DFT of the constant field on the
window: zero for ``ω ≠ 0`` and, on a ``w × w`` pixel window with the
unnormalised DFT used for ``|Î(ω)|²``, ``δ(0) = w²`` (step ``delta_zero_window``).

Paper inconsistencies found while deriving (the tests check each one):

* D.4 (31), ``ω = 0`` branch: printed ``½|Î(0)|²(β[s(0) - y] + ¼ s'(0) δ(ω))``,
  i.e. ``⅛ s'(0)|Î(0)|² δ``; (29) and (33) give ``¼ s'(0)|Î(0)|² δ``.  (31) is off
  by a factor ½ in the δ term; (33) is right.
* D.4 (32): ``δ(ω) ≈ sinc(ω₁/2πL) sinc(ω₂/2πL)/(2πL²)`` is not normalised: its
  integral is ``2π³`` with ``sinc x = sin x / x`` (the convention of (22)), ``2π``
  with ``sin πx/(πx)``.  The Fourier transform of a box of side ``w``, divided by
  ``(2π)²`` (the transform of 1 is ``(2π)²δ``), gives the unit-mass
  ``δ_w(ω) = (w/2π)² sinc(wω₁/2) sinc(wω₂/2)``; with ``w = 1/(πL)`` this is
  ``sinc(ω₁/2πL) sinc(ω₂/2πL)/(4π⁴L²)``.  What enters the stability of the
  windowed scheme is only the value at ``ω = 0``: ``w²`` pixels.
* D.4, w → ∞: ``δ(0) → ∞``, so by (33) the ``ω = 0`` mode is unstable for every
  Δt > 0 unless ``Ī = 0``: the bound only makes sense on a
  finite window, where ``¼ s'(0) Ī² δ(0)`` becomes ``¼ s'(0) ‖c‖²``.
* Windowed (valid mode): the K-linear part of (29) is ``-H K`` with the symmetric
  ``H = ½(s(0) - y)β G + ¼ s'(0) c cᵀ`` (the Hessian of the loss at ``K = 0``;
  ``c(z) = Σ_x I(x + z)``), so the stable set is ``-λ_min(H) < α < 2/Δt -
  λ_max(H)``.  In valid mode ``c`` is not constant, so ``Ī²`` is carried by the
  rank-one direction ``c/‖c‖`` (eigenvalue ``‖c‖²``), which is neither a DFT mode
  nor an eigenvector of G; only in periodic mode with ``w = H = W`` is it the
  ``ω = 0`` mode with ``Ī²δ(0) = Ī² w²``.
* D.5: the paper linearizes a with ``a = s(0) - y + ½ s'(0) K̄ Ī`` "as in
  Theorem 4.2", i.e. with ``r'(0) = ½`` -- but the regime assumes ``r' = 1``, so
  ``g = ∫ r(K ⋆ I) dx = Ī K̄`` and ``a = s(0) - y + s'(0) Ī K̄``: the Ī² term of
  (35) is ``s'(0) Ī² K̄`` (``¼ Ī² K̄`` at the sigmoid's centre), not ``⅛ Ī² K̄``.
  Moreover ``s'`` is to be taken where the sigmoid operates: with every
  pre-activation positive, ``g`` is not near 0, and ``s'(g)`` is only ``¼`` if the
  bias b puts the sigmoid's centre there.
* D.5 amplifier: the ``ω = 0`` branch ``1 - Δt(α + Ī²/8)`` drops δ(0) (which D.4
  keeps): the DFT of the constant field ``Ī²K̄/8`` is ``Ī² K̂(0) δ(ω)/8``, so the
  branch is ``1 - Δt(α + Ī² δ(0)/8)``; the printed form holds only if δ(0) = 1.
* D.5 bounds: the lower bound ``α > -Ī²/8`` ignores the ``ω ≠ 0`` modes, whose
  amplifier ``1 - αΔt`` needs ``α > 0``: the correct lower bound is ``α > 0``.
  Corrected bounds (windowed): ``0 < α < 2/Δt - s'(g) ‖c‖²``.
* F (50): ``Δt < min_ω 2/(α + F̂(ω))`` needs ``α + F̂(ω) > 0`` at every ω (else no
  Δt > 0 is stable), a condition the paper omits; and F̂ is real and a function of
  ω only when the linearized gradient is a convolution -- for a general network
  the Von Neumann symbol is replaced by the eigenvalues of the data-loss Hessian.
  (51) is the leading term: ``Δt_max = 2/α - 2F̂_max/α² + O(α⁻³)``, so
  ``Δt_max/(2/α) = α/(α + F̂_max) → 1``, from below when ``F̂_max > 0`` (then
  ``Δt < 2/α`` over-estimates the stable step at any finite α).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from workbench.derivations import cnn

from workbench.derivations import forward_euler
from workbench.derivations import von_neumann as vn
from workbench.derivations.cnn import swish
from workbench.derivations.steps import Derivation, Step
from workbench.derivations.symbols import P, a, alpha, b, beta, dt, g, u, y, yhat

__all__ = [
    "s0", "s1", "Kbar", "D", "D0", "P0", "Q", "lam", "Fhat", "F_min", "F_max", "wpix",
    "sigmoid_at_zero", "d4_operator_coefficients", "d4_symbol", "mode_alpha_bounds",
    "d5_alpha_upper", "d5_alpha_upper_paper", "d5_alpha_lower",
    "paper_delta_sinc", "box_delta_sinc",
    "steps_d4", "steps_d5", "steps_f", "derivation_d4", "derivation_d5", "derivation_f",
]

#: s(0): the sigmoid with bias b at g = 0 (first paper, D.4)
s0 = sp.Symbol("s(0)", positive=True)
#: s'(0): its derivative at g = 0
s1 = sp.Symbol("s'(0)", positive=True)
#: K̄ = ∫ K(z) dz = K̂(0), as a constant (K̄(t) in the PDEs)
Kbar = sp.Symbol("Kbar", real=True)
#: δ(ω): the DFT of the constant field on the window at frequency ω (0 for ω ≠ 0)
D = sp.Symbol("delta(omega)", nonnegative=True)
#: δ(0): its value at ω = 0 (w² on a w×w pixel window)
D0 = sp.Symbol("delta(0)", positive=True)
#: |Î(0)|² = Ī²
P0 = sp.Symbol("P_0", nonnegative=True)
#: ‖c‖² = Σ_z c(z)², c(z) = Σ_x I(x + z): the windowed value of Ī²δ(0)
Q = sp.Symbol("Q", nonnegative=True)
#: an eigenvalue of the windowed linear operator (the Hessian of the loss at the linearization point)
lam = sp.Symbol("lambda", real=True)
#: F̂(ω): Fourier symbol of the linearized data-loss gradient of a multi-layer network (appendix F)
Fhat = sp.Symbol("Fhat", real=True)
F_min = sp.Symbol("Fhat_min", real=True)
F_max = sp.Symbol("Fhat_max", real=True)
#: window side in pixels
wpix = sp.Symbol("w", positive=True, integer=True)

Ibar = forward_euler.Ibar
Win = forward_euler.Win
t = forward_euler.t
eps = sp.Symbol("epsilon", real=True)
omega1, omega2 = sp.symbols("omega_1 omega_2", real=True)
L = sp.Symbol("L", positive=True)
wlen = sp.Symbol("w", positive=True)          # window side as a length (continuum)
xs = sp.Symbol("x", real=True)
Kh, Kh1 = forward_euler.Khat_n, forward_euler.Khat_n1
A_sym = forward_euler.A_sym
_Kt, _Ct, _Kbt = sp.Function("K")(t), sp.Function("C")(t), sp.Function("Kbar")(t)
_s = sp.Function("s")
_dKdt = sp.Derivative(_Kt, t)


# -- small derivation helpers ------------------------------------------------------------
def _series1(expr: sp.Expr) -> sp.Expr:
    """First-order Taylor polynomial in ``eps`` at 0, evaluated at ``eps = 1``."""
    return sp.series(expr, eps, 0, 2).removeO().subs(eps, 1)


def _sigmoid_taylor(arg: sp.Expr) -> sp.Expr:
    """``s(arg)`` to first order around ``arg = 0``, with ``s(0) -> s0``, ``s'(0) -> s1``."""
    lin = _series1(_s(eps * arg))
    lin = lin.replace(lambda e: isinstance(e, sp.Subs) and isinstance(e.expr, sp.Derivative)
                      and e.expr.expr.func == _s, lambda e: s1)
    return lin.subs(_s(0), s0)


def _linear_part(rhs: sp.Expr, fields: tuple) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(constant, linear, higher-order) parts of ``rhs`` in the fields (scaled by ε)."""
    scaled = sp.expand(rhs.subs({f: eps * f for f in fields}))
    lin = scaled.coeff(eps, 1)
    const = scaled.coeff(eps, 0)
    rest = sp.expand(scaled - lin * eps - const).subs(eps, 1)
    return const, lin, rest


def _rate(rhs: sp.Expr, dft: dict) -> sp.Expr:
    """Fourier symbol z(ω) of ``∂_t K̂ = -z K̂`` (+ forcing) from a pointwise right-hand side."""
    const, lin, _ = _linear_part(rhs, tuple(dft))
    del const
    return sp.expand(-sp.diff(lin.subs(dft), Kh))


def _amplifier(symbol: sp.Expr) -> sp.Expr:
    """Forward-Euler amplification factor for a mode with symbol ``z`` (Von Neumann analyzer)."""
    A = vn.amplification(vn.forward_euler_scheme(symbol))
    return 1 - dt * sp.expand((1 - A) / dt)


def _alpha_interval(A: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``(lower, upper)`` with ``|A| < 1 ⇔ lower < α < upper`` (Schur-Cohn, solved for α)."""
    region = vn.solve_bound(vn.schur_cohn_conditions(sp.Poly(vn.xi - A, vn.xi)), alpha)
    lo = hi = None
    for r in sp.And.make_args(region):
        r = r.reversed if r.rhs == alpha else r
        if isinstance(r, (sp.Gt, sp.Ge)) and r.lhs == alpha:
            lo = r.rhs
        elif isinstance(r, (sp.Lt, sp.Le)) and r.lhs == alpha:
            hi = r.rhs
    if lo is None or hi is None:
        raise ValueError(f"A: no two-sided alpha interval from {region}")
    return sp.expand(lo), sp.expand(hi)


def _solve_dt(A: sp.Expr, rate: sp.Symbol) -> sp.Expr:
    """Upper bound on Δt from |A| < 1 for ``A = 1 - Δt·rate`` with ``rate > 0``."""
    region = vn.solve_bound(vn.schur_cohn_conditions(sp.Poly(vn.xi - A, vn.xi)), dt)
    for r in sp.And.make_args(region):
        r = r.reversed if r.rhs == dt else r
        if isinstance(r, (sp.Lt, sp.Le)) and r.lhs == dt:
            return r.rhs
    raise ValueError(f"A: no upper bound on Delta_t from {region}")


# -- public building blocks ------------------------------------------------------------
@lru_cache(maxsize=None)
def sigmoid_at_zero() -> dict[sp.Symbol, sp.Expr]:
    """``{s(0): 1/(1 + e^b), s'(0): e^b/(1 + e^b)²}`` from the biased sigmoid (first paper, D.1; used in D.4).

    Derived from :func:`workbench.derivations.cnn.sigmoid`; at ``b = 0`` they are ``1/2`` and ``1/4``.
    """
    v = sp.Symbol("v", real=True)
    return {s0: sp.together(cnn.sigmoid(v).subs(v, 0)),
            s1: sp.together(sp.diff(cnn.sigmoid(v), v).subs(v, 0))}


@lru_cache(maxsize=None)
def _d4_chain() -> dict[str, sp.Basic]:
    out: dict[str, sp.Basic] = {}
    x, z, I, K = cnn.x, cnn.z, cnn.I, cnn.K
    # ∫ (K ⋆ I)(x) dx = Ī K̄: Fubini, then the translation x -> x - z (cnn step "input_sum")
    dbl = sp.Integral(K(z) * I(x + z), (z, -sp.oo, sp.oo), (x, -sp.oo, sp.oo))
    fz, fxz = dbl.function.as_independent(x, as_Add=False)
    inner = sp.Integral(fxz, (x, -sp.oo, sp.oo))
    swapped = sp.Integral(fz * inner, (z, -sp.oo, sp.oo))
    v = sp.Symbol("v", real=True)
    assert inner.transform(x, (v - z, v)) == sp.Integral(I(v), (v, -sp.oo, sp.oo))  # z-free
    summed = swapped.xreplace({inner: Ibar})
    c_, f_ = summed.function.as_independent(z, as_Add=False)
    out["preact_sum"] = (c_ * sp.Integral(f_, *summed.limits)).xreplace(
        {sp.Integral(K(z), (z, -sp.oo, sp.oo)): Kbar})
    out["swish_0"] = swish(sp.S.Zero)
    out["swish_d1_0"] = sp.simplify(sp.diff(swish(u), u).subs(u, 0))
    # g = ∫ r(ε (K⋆I)(x)) dx to first order: Taylor of Swish, then the linear integral
    r_lin = _series1(swish(eps * u))                         # r(0) + r'(0) u
    assert r_lin.subs(u, 0) == 0
    out["g_lin"] = r_lin.coeff(u) * out["preact_sum"]
    out["a_lin"] = sp.expand(_sigmoid_taylor(out["g_lin"]) - y)
    # (28): (20) with a -> a_lin(K̄(t))
    pde20 = forward_euler.linearized_pde()
    rhs28 = pde20.rhs.subs(a, out["a_lin"].subs(Kbar, _Kbt))
    out["pde28"] = rhs28
    const, lin, rest = _linear_part(rhs28 / Win, (_Kt, _Ct, _Kbt))
    out["pde29"] = sp.collect(lin, [_Ct, _Kbt, _Kt]) * Win
    out["dropped_const"], out["dropped_quad"] = const * Win, rest * Win
    # DFT: (K ⋆ I) ⋆ I -> K̂ P, K̄ 1 -> K̂(0) δ(ω) (at ω = 0, K̂(0) = K̂), Ī² = |Î(0)|²
    z4 = _rate(out["pde29"] / Win, {_Kt: Kh, _Ct: Kh * P, _Kbt: Kh * D}).subs(Ibar ** 2, P0)
    out["symbol"] = z4
    out["A33"] = _amplifier(z4)
    out["A31_nonzero"] = out["A33"].subs(D, 0)
    out["A31_zero"] = out["A33"].subs({P: P0, D: D0})
    return out


def d4_symbol() -> sp.Expr:
    """Fourier symbol ``z(ω) = α + ½(s(0) - y)β|Î(ω)|² + ¼ s'(0)|Î(0)|² δ(ω)`` of (29) (first paper, D.4, eq. (33))."""
    return _d4_chain()["symbol"]


@lru_cache(maxsize=None)
def d4_operator_coefficients() -> tuple[sp.Expr, sp.Expr]:
    """``(coef_G, coef_cc)`` of the windowed D.4 operator ``H = coef_G·G + coef_cc·c cᵀ`` (first paper, D.4, eq. (29)).

    Read off the symbol (33): ``coef_G = ½(s(0) - y)β`` multiplies
    ``|Î(ω)|²`` (``G`` on the window), ``coef_cc = ¼ s'(0)`` multiplies
    ``|Î(0)|² δ(ω)`` (``c cᵀ`` on the window).  Returned in ``b, y, beta`` with the
    sigmoid constants of :func:`sigmoid_at_zero` substituted.
    """
    zsym = d4_symbol()
    cg = sp.expand(zsym).coeff(P)
    cc = sp.expand(zsym).coeff(P0).coeff(D)
    sub = sigmoid_at_zero()
    return sp.together(cg.subs(sub)), sp.together(cc.subs(sub))


@lru_cache(maxsize=None)
def mode_alpha_bounds() -> tuple[sp.Expr, sp.Expr]:
    """``(lower, upper)`` in ``λ``: forward Euler on a mode ``∂_t K = -(α + λ)K`` is stable iff ``-λ < α < 2/Δt - λ``.

    Through the analyzer (Schur-Cohn on ``A = 1 - Δt(α + λ)``).  Over a windowed
    operator's spectrum: ``α > -λ_min`` and ``α < 2/Δt - λ_max`` (first paper, D.3-D.5).
    """
    return _alpha_interval(_amplifier(alpha + lam))


def paper_delta_sinc() -> sp.Expr:
    """The paper's sinc approximation of δ, eq. (32) (first paper, D.4), with ``sinc x = sin x / x``."""
    return sp.sinc(omega1 / (2 * sp.pi * L)) * sp.sinc(omega2 / (2 * sp.pi * L)) / (2 * sp.pi * L ** 2)


@lru_cache(maxsize=None)
def _box_ft() -> sp.Expr:
    """1-D Fourier transform of the indicator of ``[-w/2, w/2]``: ``w sinc(wω/2)`` (derived)."""
    ft = sp.integrate(sp.exp(-sp.I * omega1 * xs), (xs, -wlen / 2, wlen / 2), conds="none")
    ft = sp.simplify(ft.rewrite(sp.sin))
    cand = wlen * sp.sinc(wlen * omega1 / 2)
    arg = wlen * omega1 / 2
    if sp.simplify(ft - wlen * sp.sin(arg) / arg) != 0:     # sinc x = sin x / x (x ≠ 0)
        raise ValueError(f"box transform: unexpected form {ft}")
    return cand


def box_delta_sinc(in_L: bool = False) -> sp.Expr:
    """Unit-mass δ approximation from a w×w box: ``FT[box](ω₁)FT[box](ω₂)/(2π)²`` (corrects (32)).

    ``(w/2π)² sinc(wω₁/2) sinc(wω₂/2)``; with ``in_L`` the paper's variable ``L``,
    ``w = 1/(πL)``, is used: ``sinc(ω₁/2πL) sinc(ω₂/2πL)/(4π⁴L²)``.
    """
    b1 = _box_ft()
    d = b1 * b1.subs(omega1, omega2) / (2 * sp.pi) ** 2
    return d.subs(wlen, 1 / (sp.pi * L)) if in_L else d


def _mass(expr: sp.Expr) -> sp.Expr:
    """∫∫ over R² of a product ``c · f(ω₁) f(ω₂)``, separably."""
    c_, rest = expr.as_independent(omega1, omega2, as_Add=False)
    f1 = sp.Mul(*[f for f in sp.Mul.make_args(rest) if f.has(omega1)])
    f2 = sp.Mul(*[f for f in sp.Mul.make_args(rest) if f.has(omega2)])
    return sp.simplify(c_ * sp.integrate(f1, (omega1, -sp.oo, sp.oo)) * sp.integrate(f2, (omega2, -sp.oo, sp.oo)))


def steps_d4() -> list[Step]:
    """Appendix D.4 (first paper, eqs. (28)-(33)) as steps, paper forms in ``stated``."""
    c = _d4_chain()
    r_, rp = sp.Function("r"), cnn.rp
    x = cnn.x
    half = sp.Rational(1, 2)
    out = [
        Step("swish_at_zero", "", sp.Eq(r_(0), c["swish_0"]), "Swish (14) at 0: r(0) = 0, so g(0) = 0",
             stated=sp.Eq(r_(0), 0)),
        Step("swish_d1_at_zero", "", sp.Eq(rp(0), c["swish_d1_0"]), "r'(0) from (15)", stated=sp.Eq(rp(0), half)),
        Step("sigmoid_s0", "", sp.Eq(s0, sigmoid_at_zero()[s0]), "s(0) of the biased sigmoid; 1/2 at b = 0",
             stated=sp.Eq(s0, half), where={b: 0}),
        Step("sigmoid_s1", "", sp.Eq(s1, sigmoid_at_zero()[s1]), "s'(0) = s(0)(1 - s(0)); 1/4 at b = 0",
             stated=sp.Eq(s1, sp.Rational(1, 4)), where={b: 0}),
        Step("preactivation_sum", "", sp.Eq(sp.Integral(cnn.KI(x), (x, -sp.oo, sp.oo)), c["preact_sum"]),
             "∫(K⋆I)dx = ∫K(z)∫I(x+z)dx dz = Ī K̄ (Fubini, translation)",
             stated=sp.Eq(sp.Integral(cnn.KI(x), (x, -sp.oo, sp.oo)), Ibar * Kbar)),
        Step("g_linearized", "", sp.Eq(g, c["g_lin"]), "g = ∫ r(K⋆I) dx to first order at K = 0: r'(0) Ī K̄",
             stated=sp.Eq(g, Ibar * Kbar / 2)),
        Step("a_linearized", "", sp.Eq(a, c["a_lin"]), "a = s(g) - y to first order at K = 0 (D.4, first display)",
             stated=sp.Eq(a, s0 - y + half * s1 * Ibar * Kbar)),
        Step("pde_a_linear", "(28)", sp.Eq(_dKdt, c["pde28"]), "(20) with a replaced by its linearization",
             stated=sp.Eq(_dKdt, (-half * (s0 - y + half * s1 * Ibar * _Kbt) * (Ibar + beta * _Ct) - alpha * _Kt) * Win)),
        Step("dropped_terms", "", sp.Eq(sp.Symbol("dropped"), c["dropped_const"] + c["dropped_quad"]),
             "the K-free forcing and the quadratic term K̄·C left out of (29)"),
        Step("pde_linear_part", "(29)", sp.Eq(_dKdt, c["pde29"]), "terms linear in (K, C, K̄) of (28)",
             stated=sp.Eq(_dKdt, (-half * (s0 - y) * beta * _Ct - sp.Rational(1, 4) * s1 * Ibar ** 2 * _Kbt
                                   - alpha * _Kt) * Win)),
        Step("fourier_symbol", "", sp.Eq(vn.z, c["symbol"]),
             "DFT of (29): C -> K̂|Î|², K̄ -> K̂(0)δ(ω), Ī² = |Î(0)|²; z = minus the coefficient of K̂"),
        Step("euler_dft", "(30)", sp.Eq(Kh1, c["A33"] * Kh), "forward Euler through the Von Neumann analyzer",
             stated=sp.Eq(Kh1, A_sym * Kh).subs(A_sym, 1 - dt * (half * (s0 - y) * beta * P + alpha
                                                                   + sp.Rational(1, 4) * s1 * P0 * D))),
        Step("amplifier_nonzero_freq", "(31)", sp.Eq(A_sym, c["A31_nonzero"]), "(33) at ω ≠ 0 (δ = 0)",
             stated=sp.Eq(A_sym, 1 - dt * (half * (s0 - y) * beta * P + alpha))),
        Step("amplifier_zero_freq", "(31)", sp.Eq(A_sym, c["A31_zero"]),
             "(33) at ω = 0; the paper's (31) has 1/8 s'(0) instead of 1/4 s'(0) in the δ term",
             stated=sp.Eq(A_sym, 1 - dt * (half * P0 * (beta * (s0 - y) + sp.Rational(1, 4) * s1 * D0) + alpha))),
        Step("sinc_delta", "(32)", sp.Eq(sp.Symbol("delta_L"), paper_delta_sinc()),
             "the paper's sinc approximation of δ (sinc x = sin x / x)"),
        Step("sinc_delta_mass", "", sp.Eq(sp.Symbol("mass"), _mass(paper_delta_sinc())),
             "∫∫ of (32) over R²; a δ approximation has mass 1", stated=sp.Eq(sp.Symbol("mass"), 1)),
        Step("box_delta", "", sp.Eq(sp.Symbol("delta_L"), box_delta_sinc(in_L=True)),
             "corrected (32): FT of a box of side w = 1/(πL), divided by (2π)²",
             stated=sp.Eq(sp.Symbol("delta_L"), paper_delta_sinc())),
        Step("box_delta_mass", "", sp.Eq(sp.Symbol("mass"), _mass(box_delta_sinc())), "its mass",
             stated=sp.Eq(sp.Symbol("mass"), 1)),
        Step("delta_zero_window", "", sp.Eq(D0, sp.Sum(1, (sp.Symbol("z_1", integer=True), 0, wpix - 1),
                                                       (sp.Symbol("z_2", integer=True), 0, wpix - 1)).doit()),
             "discrete: the unnormalised DFT of the w×w window's constant field at ω = 0",
             stated=sp.Eq(D0, wpix ** 2)),
        Step("amplifier", "(33)", sp.Eq(A_sym, c["A33"]), "A(ω) with the δ term",
             stated=sp.Eq(A_sym, 1 - dt * (half * (s0 - y) * beta * P + alpha + sp.Rational(1, 4) * s1 * P0 * D))),
    ]
    lo, hi = _alpha_interval(c["A33"])
    out.append(Step("alpha_interval", "", sp.And(sp.Gt(alpha, lo), sp.Lt(alpha, hi)),
                    "|A(ω)| < 1 (Schur-Cohn) solved for α at one frequency"))
    Hs, Gs, ccT = sp.symbols("H G ccT")
    out.append(Step("windowed_operator", "", sp.Eq(Hs, (half * (s0 - y) * beta) * Gs + (sp.Rational(1, 4) * s1) * ccT),
                    "valid-mode window: |Î(ω)|² -> G, |Î(0)|²δ(ω) -> c cᵀ (c(z) = Σ_x I(x+z)); "
                    "H is the Hessian of the loss at K = 0; stable iff -λ_min(H) < α < 2/Δt - λ_max(H)"))
    return out


def derivation_d4() -> Derivation:
    """Appendix D.4 as a :class:`Derivation` (Sun et al. 2022, eqs. (28)-(33))."""
    return Derivation("linearization-d4", "a = ŷ - y linearized around K = 0: PDE, amplifier, sinc δ",
                      "Sun et al. 2022, appendix D.4, eqs. (28)-(33)", steps_d4())


# -- D.5: the activated regime ----------------------------------------------------------
@lru_cache(maxsize=None)
def _d5_chain() -> dict[str, sp.Basic]:
    out: dict[str, sp.Basic] = {}
    x, z = cnn.x, cnn.z
    r1 = sp.diff(swish(u), u)
    out["rp_inf"] = sp.limit(r1, u, sp.oo)
    out["rpp_inf"] = sp.limit(sp.diff(swish(u), u, 2), u, sp.oo)
    out["r_minus_u_inf"] = sp.limit(swish(u) - u, u, sp.oo)
    # (34): (12) with r' = 1: (r'(K⋆I) ⋆ I)(z) = ∫ I(x+z) dx = Ī
    pde12 = cnn.derivation()["gradient_pde"].expr
    ri_def = sp.Integral(cnn.rp(cnn.KI(x)) * cnn.I(x + z), (x, -sp.oo, sp.oo))
    ri_act = ri_def.replace(lambda e: isinstance(e, cnn.rp), lambda e: out["rp_inf"])
    ri_act = ri_act.xreplace({sp.Integral(cnn.I(x + z), (x, -sp.oo, sp.oo)): Ibar})
    out["pde34"] = sp.Eq(pde12.lhs, pde12.rhs.subs(cnn.RI(z), ri_act).subs(yhat, a + y))
    out["K_zt"] = cnn.K(z, t)
    # the paper's a (borrowed from D.4, r'(0) = 1/2) and the regime's own (r = u, r' = 1)
    out["a_paper"] = _d4_chain()["a_lin"]
    g_act = sp.limit(sp.diff(swish(u), u), u, sp.oo) * _d4_chain()["preact_sum"]   # ∫ r'(∞)·(K⋆I) dx
    out["g_act"] = g_act
    out["a_act"] = sp.expand(_sigmoid_taylor(g_act) - y)
    K_zt = cnn.K(z, t)
    kb = sp.Function("Kbar")(t)
    rhs34 = out["pde34"].rhs
    out["pde35"] = sp.expand(rhs34.subs(a, out["a_paper"].subs(Kbar, kb)))
    out["pde35_act"] = sp.expand(rhs34.subs(a, out["a_act"].subs(Kbar, kb)))
    dft = {K_zt: Kh, kb: Kh * D}
    out["symbol"] = _rate(out["pde35"], dft)
    out["symbol_act"] = _rate(out["pde35_act"], dft)
    A = _amplifier(out["symbol"])
    out["A"] = A
    out["A_zero"], out["A_nonzero"] = A.subs(D, D0), A.subs(D, 0)
    lo0, hi0 = _alpha_interval(out["A_zero"])
    lo1, hi1 = _alpha_interval(out["A_nonzero"])
    out["lower"], out["upper"] = sp.Max(lo0, lo1), sp.Min(hi0, hi1)
    A_act = _amplifier(out["symbol_act"])
    la0, ha0 = _alpha_interval(A_act.subs(D, D0))
    la1, ha1 = _alpha_interval(A_act.subs(D, 0))
    out["lower_act"], out["upper_act"] = sp.Max(la0, la1), sp.Min(ha0, ha1)
    return out


def d5_alpha_upper(consistent: bool = True) -> sp.Expr:
    """Windowed upper bound of the activated regime, in ``Delta_t``, ``s'(0)``, ``Q = ‖c‖²`` (first paper, D.5).

    ``consistent=True``: ``2/Δt - s'·‖c‖²`` (r' = 1 throughout, this module's
    correction); ``False``: the paper's coefficient, ``2/Δt - ½ s'·‖c‖²``
    (``Ī²/8`` at ``s' = ¼`` once δ(0) is kept).  ``Ī²δ(0)`` becomes ``‖c‖²`` on the
    window (the eigenvalue of ``c cᵀ``).
    """
    ch = _d5_chain()
    return sp.expand(ch["upper_act" if consistent else "upper"].subs(Ibar ** 2 * D0, Q).subs(Ibar ** 2, Q / D0))


def d5_alpha_upper_paper() -> sp.Expr:
    """The printed D.5 upper bound ``2/Δt - Ī²/8`` (first paper, D.5), in ``Delta_t, Ibar``."""
    return 2 / dt - Ibar ** 2 / 8


def d5_alpha_lower() -> sp.Expr:
    """The derived D.5 lower bound, ``max over modes of -λ`` = ``0`` (first paper, D.5; the paper prints -Ī²/8)."""
    return _d5_chain()["lower"]


def steps_d5() -> list[Step]:
    """Appendix D.5 (first paper, eqs. (34)-(35) and the bounds after them) as steps."""
    c = _d5_chain()
    rp, rpp, r_ = cnn.rp, cnn.rpp, sp.Function("r")
    K_zt = c["K_zt"]
    kb = sp.Function("Kbar")(t)
    half, quarter, eighth = sp.Rational(1, 2), sp.Rational(1, 4), sp.Rational(1, 8)
    dKdt = c["pde34"].lhs
    paper_pt = {s1: quarter, D0: 1}
    return [
        Step("activated_rprime", "", sp.Eq(sp.Limit(rp(u), u, sp.oo), c["rp_inf"]), "Swish: r'(u) -> 1 as u -> ∞",
             stated=sp.Eq(sp.Limit(rp(u), u, sp.oo), 1)),
        Step("activated_rsecond", "", sp.Eq(sp.Limit(rpp(u), u, sp.oo), c["rpp_inf"]),
             "r''(u) -> 0: the curvature term of the Hessian vanishes"),
        Step("activated_r", "", sp.Eq(sp.Limit(r_(u) - u, u, sp.oo), c["r_minus_u_inf"]), "r(u) - u -> 0: r(u) ≈ u"),
        Step("activated_pde", "(34)", c["pde34"], "(12) with r' = 1: (r'(K⋆I) ⋆ I) = ∫ I(x+z) dx = Ī",
             stated=sp.Eq(dKdt, -a * Ibar - alpha * K_zt)),
        Step("a_linearized_paper", "", sp.Eq(a, c["a_paper"]),
             "the paper's a 'as in Theorem 4.2' -- D.4's, built with r'(0) = 1/2",
             stated=sp.Eq(a, s0 - y + half * s1 * Kbar * Ibar)),
        Step("g_activated", "", sp.Eq(g, c["g_act"]), "with r' = 1 (r(u) ≈ u): g = ∫(K⋆I)dx = Ī K̄",
             stated=sp.Eq(g, Ibar * Kbar / 2)),
        Step("a_linearized_activated", "", sp.Eq(a, c["a_act"]),
             "a = s(g) - y to first order with r' = 1 (the paper's form has 1/2 s'(0))",
             stated=sp.Eq(a, s0 - y + half * s1 * Kbar * Ibar)),
        Step("activated_linear_pde", "(35)", sp.Eq(dKdt, c["pde35"]), "(34) with the paper's a; 1/8 needs s'(0) = 1/4",
             stated=sp.Eq(dKdt, -(s0 - y) * Ibar - eighth * Ibar ** 2 * kb - alpha * K_zt), where={s1: quarter}),
        Step("activated_linear_pde_consistent", "", sp.Eq(dKdt, c["pde35_act"]),
             "(34) with the regime's own a: s'(0) Ī² K̄ (1/4 Ī² K̄ at b = 0)",
             stated=sp.Eq(dKdt, -(s0 - y) * Ibar - eighth * Ibar ** 2 * kb - alpha * K_zt), where={s1: quarter}),
        Step("fourier_symbol", "", sp.Eq(vn.z, c["symbol"]), "DFT of (35): K̄ -> K̂(0)δ(ω)"),
        Step("amplifier_zero_freq", "", sp.Eq(A_sym, c["A_zero"]),
             "ω = 0; the printed 1 - Δt(α + Ī²/8) holds only if δ(0) = 1 (it is w² on the window)",
             stated=sp.Eq(A_sym, 1 - dt * (alpha + Ibar ** 2 / 8)), where=paper_pt),
        Step("amplifier_nonzero_freq", "", sp.Eq(A_sym, c["A_nonzero"]), "ω ≠ 0",
             stated=sp.Eq(A_sym, 1 - alpha * dt)),
        Step("alpha_lower", "", sp.Gt(alpha, c["lower"]),
             "max over both branches of the Schur-Cohn lower bounds: the ω ≠ 0 modes need α > 0",
             stated=sp.Gt(alpha, -Ibar ** 2 / 8), where=paper_pt),
        Step("alpha_upper", "", sp.Lt(alpha, c["upper"]), "min over both branches of the upper bounds",
             stated=sp.Lt(alpha, 2 / dt - Ibar ** 2 / 8), where=paper_pt),
        Step("alpha_upper_consistent", "", sp.Lt(alpha, c["upper_act"]),
             "the same with r' = 1 throughout: 2/Δt - s'(0) Ī² δ(0); windowed: 2/Δt - s'(g)‖c‖²",
             stated=sp.Lt(alpha, 2 / dt - Ibar ** 2 / 8), where=paper_pt),
    ]


def derivation_d5() -> Derivation:
    """Appendix D.5 as a :class:`Derivation` (Sun et al. 2022, eqs. (34)-(35) and the bounds)."""
    return Derivation("activated-d5", "The activated regime r' = 1: PDE, amplifier and α bounds",
                      "Sun et al. 2022, appendix D.5, eqs. (34)-(35)", steps_d5())


# -- F: multi-layer networks ------------------------------------------------------------
@lru_cache(maxsize=None)
def _f_chain() -> dict[str, sp.Basic]:
    out: dict[str, sp.Basic] = {}
    A = _amplifier(alpha + Fhat)
    out["A"] = A
    out["conditions"] = vn.schur_cohn_conditions(sp.Poly(vn.xi - A, vn.xi))
    lo, hi = _alpha_interval(A)
    out["alpha_lower"], out["alpha_upper"] = lo, hi
    rate = sp.Symbol("r", positive=True)                      # r = α + F̂ > 0 (from A < 1)
    pw = _solve_dt(_amplifier(rate), rate).subs(rate, alpha + Fhat)
    out["dt_pointwise"] = pw
    slope = sp.diff(pw, Fhat)                                 # -2/(α + F̂)² < 0: decreasing in F̂
    rpos = sp.Symbol("r", positive=True)
    if not slope.subs(alpha, rpos - Fhat).is_negative:
        raise ValueError("F: the pointwise step bound is not decreasing in F̂")
    out["dt_min"] = pw.subs(Fhat, F_max)                     # min over ω at F̂_max
    out["lower_all"] = -F_min
    out["limit"] = sp.limit(out["dt_min"] / (2 / alpha), alpha, sp.oo)
    ser = sp.series(out["dt_min"], alpha, sp.oo, 3).removeO()
    out["series"] = ser
    out["leading"] = sp.limit(out["dt_min"] * alpha, alpha, sp.oo) / alpha
    out["ratio"] = sp.simplify(out["dt_min"] / (2 / alpha))
    return out


def steps_f() -> list[Step]:
    """Appendix F (first paper, eqs. (48)-(51)) through the Von Neumann analyzer."""
    c = _f_chain()
    gradl = sp.Function(r"\nabla_K \ell")(t)
    return [
        Step("multilayer_pde", "(48)", sp.Eq(_dKdt, -gradl - alpha * _Kt), "linearized gradient descent PDE with weight decay"),
        Step("amplifier", "(49)", sp.Eq(A_sym, c["A"]), "forward Euler, mode symbol α + F̂(ω), via the analyzer",
             stated=sp.Eq(A_sym, 1 - dt * (alpha + Fhat))),
        Step("schur_cohn", "", c["conditions"], "|A| < 1: α + F̂ > 0 and Δt(α + F̂) < 2"),
        Step("alpha_interval", "", sp.And(sp.Gt(alpha, c["alpha_lower"]), sp.Lt(alpha, c["alpha_upper"])),
             "solved for α at one frequency"),
        Step("dt_bound_pointwise", "(50)", sp.Lt(dt, c["dt_pointwise"]), "solved for Δt where α + F̂(ω) > 0",
             stated=sp.Lt(dt, 2 / (alpha + Fhat))),
        Step("dt_bound", "(50)", sp.Lt(dt, c["dt_min"]),
             "min over ω: 2/(α + F̂) decreases in F̂, so F̂_max binds; needs α > -F̂_min (omitted in (50))",
             stated=sp.Lt(dt, 2 / (alpha + F_max))),
        Step("dt_bound_side_condition", "", sp.Gt(alpha, c["lower_all"]), "every mode needs α + F̂(ω) > 0"),
        Step("large_alpha_ratio", "", sp.Eq(sp.Symbol("ratio"), c["ratio"]),
             "Δt_max / (2/α): the quantity of the paper's Figure 2", stated=sp.Eq(sp.Symbol("ratio"), alpha / (alpha + F_max))),
        Step("large_alpha_series", "", sp.Eq(sp.Symbol("Delta_t_max"), c["series"]), "expansion in 1/α"),
        Step("large_alpha_limit", "(51)", sp.Lt(dt, c["leading"]), "leading term as α -> ∞ (ratio -> 1)",
             stated=sp.Lt(dt, 2 / alpha)),
    ]


def derivation_f() -> Derivation:
    """Appendix F as a :class:`Derivation` (Sun et al. 2022, eqs. (48)-(51))."""
    return Derivation("multilayer-f", "Multi-layer networks: amplifier, step bound and its large-α limit",
                      "Sun et al. 2022, appendix F, eqs. (48)-(51)", steps_f())
