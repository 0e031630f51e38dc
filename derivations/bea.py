"""Backward error analysis (BEA) of gradient descent and the principal flow.

Third paper: Rosca, Wu, Qin, Dherin, "On a continuous time model of gradient descent
dynamics and instability in deep learning" (TMLR 2023), §2.2-§3.2 and §6.1.

Gradient descent θ ← θ − h∇E (1) is matched, order by order in h, by the flow of a
modified vector field f̃ = −∇E + h f₁ + … + hⁿ fₙ (4)-(5): the time-h map of f̃ is the
Lie series exp(h L_f̃) θ = θ + Σ_{j≥1} h^j/j! L^{j−1} f̃ with L φ = (Dφ) f̃, and fₖ is
chosen so that the coefficient of h^{k+1} vanishes (the GD step has no h^{≥2} terms).
Since fₖ enters the h^{k+1} coefficient only through the j = 1 term,
fₖ = −[h^{k+1}] exp(h L_{f̃_{k−1}}) θ, computed with the fields already found.

Two settings:

* :func:`bea_1d` — one dimension, symbolic in E and its derivatives: E^{(k)} are the
  symbols ``E_k`` (:func:`dsym`), with the total derivative D E_k = E_{k+1}; exact for
  every smooth E. Order 5 takes 0.1 s, order 10 1.5 s (cached).
* :func:`bea_nd` — several dimensions, for a given SymPy expression E(θ₁, …, θ_D)
  (a concrete polynomial, or an undefined ``Function('E')(θ₁, θ₂)`` for the general
  case, where third and higher derivatives stay as ``Derivative`` objects).

Checked by exact equality (tests/test_derivations_bea.py): f₁ gives the IGR flow (3);
f₂ gives the third-order flow (8) including the non-principal (1/12)∇Eᵀ∇³E∇E; Theorem
3.1 (9), fₚ = −1/(p+1) (∇²E)ᵖ∇E + C(∇³E), for every order p ≤ 8 in 1-D (≤ 14 on request) and
p ≤ 4 for a general E of two variables (p ≤ 5 for quadratics, where C = 0); Theorem 3.2
(13), the Taylor series of log(1 − z)/z; the Jacobian of the PF at a critical point
(16); Theorem 6.1's leading drift ½h²∇²E∇E.

Findings where the paper differs (stated as steps with both forms):

* Remark 3.1's closed form θ(t) = Σ e^{t log(1−hλᵢ)/h}(θ₀ᵀuᵢ)uᵢ + t Σ α_PF(hλᵢ) bᵀuᵢ
  solves the PF only for b = 0 (or λᵢ = 0). The exact solution of the PF on
  E = ½θᵀAθ + bᵀθ is xᵢ(t) = (xᵢ(0) + bᵢ/λᵢ)(1 − hλᵢ)^{t/h} − bᵢ/λᵢ, xᵢ = θᵀuᵢ,
  bᵢ = bᵀuᵢ (:func:`pf_quadratic_component`), which equals GD at t = nh.
* §3.2 gives the IGR Jacobian eigenvalues at a critical point as −λ − (h²/2)λ²; the
  derivation gives −λ − (h/2)λ² (:func:`jacobian_eigenvalue`).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import sympy as sp

from workbench.derivations.steps import Derivation, Step

__all__ = [
    "h", "z", "lam", "dsym",
    "MAX_ORDER_1D", "MAX_ORDER_ND",
    "bea_1d", "modified_field_1d", "principal_part_1d", "flow_map_1d",
    "bea_nd", "principal_part_nd", "third_contraction",
    "alpha_ngf", "alpha_igr", "alpha_pf", "alpha_pf_series", "bea_alpha_series",
    "pf_field_1d", "pf_plus_field_1d", "pf_jacobian_1d", "JACOBIAN_EIGENVALUES", "jacobian_eigenvalue",
    "pf_regime", "pf_quadratic_component", "remark31_component",
    "ngf_drift_1d", "derivation",
]

#: step size h > 0 and the product z = hλ
h = sp.Symbol("h", positive=True)
z = sp.Symbol("z")
lam = sp.Symbol("lambda", real=True)
_theta = sp.Symbol("theta", real=True)

#: Largest order accepted. 1-D cost (measured, one core, all orders up to n): n = 5
#: ≈ 0.1 s, 10 ≈ 1.5 s, 14 ≈ 25 s; the number of terms in f_p grows like the partitions
#: of p (42 terms in f_10, 135 in f_14) and each order costs about twice the last.
MAX_ORDER_1D = 14
#: n-D cost for a given E grows with D, the degree of E and the order: for a general
#: (undefined) E of two variables, order 3 ≈ 0.3 s, 4 ≈ 2 s, 5 ≈ 15 s; polynomials are cheaper.
MAX_ORDER_ND = 5


def dsym(k: int) -> sp.Symbol:
    """The symbol ``E_k`` for the k-th derivative E^{(k)}(θ) of a 1-D loss (k ≥ 1)."""
    if int(k) < 1:
        raise ValueError(f"k: derivative order must be >= 1, got {k}")
    return sp.Symbol(f"E_{int(k)}", real=True)


def _check_order(n: Any, limit: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise ValueError(f"order: must be an integer, got {n!r}")
    if n < 1:
        raise ValueError(f"order: must be >= 1 (order 0 is the gradient flow itself), got {n}")
    if n > limit:
        raise ValueError(
            f"order: {n} is beyond the supported {limit} for {what}: the number of terms in f_p grows like the "
            f"partitions of p and the Lie-series expansion to h^(n+1) needs O(n^2) expansions of that size "
            f"(1-D: order 10 ~ 1.5 s, order 14 ~ 25 s, each order about twice the last; n-D general E of two "
            f"variables: order 4 ~ 2 s, order 5 ~ 15 s)")
    return n


def _as_sympy(name: str, v: Any) -> sp.Basic:
    """A SymPy object or a Python number; strings are refused (never parsed)."""
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
    raise ValueError(f"{name}: expected a SymPy expression or a number, got {type(v).__name__}")


def _check_h(hv: Any) -> None:
    bad = hv is not None and bool(_as_sympy("h", hv).is_nonpositive)
    if bad:
        raise ValueError(f"h: the learning rate must be > 0, got {hv}")


# -- 1-D -------------------------------------------------------------------------------
def _D(expr: sp.Expr, kmax: int) -> sp.Expr:
    """Total θ-derivative of a polynomial in E_1 … E_kmax: D E_k = E_{k+1}."""
    return sp.expand(sum(sp.diff(expr, dsym(k)) * dsym(k + 1) for k in range(1, kmax + 1)
                         if expr.has(dsym(k))))


def _series_mul(a: dict[int, sp.Expr], b: dict[int, sp.Expr], top: int) -> dict[int, sp.Expr]:
    out: dict[int, sp.Expr] = {}
    for i, x in a.items():
        for j, y in b.items():
            if i + j <= top:
                out[i + j] = out.get(i + j, 0) + x * y
    return {k: sp.expand(v) for k, v in out.items()}


def _flow_map_coeffs_1d(fields: Sequence[sp.Expr], top: int) -> dict[int, sp.Expr]:
    """Coefficients of h^1 … h^top in exp(h L_F) θ for F = Σ_i h^i fields[i] (1-D)."""
    F = {i: f for i, f in enumerate(fields)}
    kmax = top + 2
    out: dict[int, sp.Expr] = {}
    term = dict(F)  # L^{j-1} F as a series in h, j = 1
    for j in range(1, top + 1):
        for p, c in term.items():
            if p + j <= top:
                out[p + j] = out.get(p + j, 0) + c / math.factorial(j)
        if j == top:
            break
        dterm = {p: _D(c, kmax) for p, c in term.items() if p + j + 1 <= top}
        term = {p: c for p, c in _series_mul(F, dterm, top - j - 1).items() if c != 0}
    return {k: sp.expand(v) for k, v in out.items()}


@functools.lru_cache(maxsize=None)
def bea_1d(order: int) -> tuple[sp.Expr, ...]:
    """Modified-field terms (f₀, f₁, …, f_order) of GD in one dimension, eqs. (4)-(5).

    Parameters
    ----------
    order : int
        n ≥ 1; the flow of Σₚ hᵖ fₚ then matches one GD step to O(h^{n+2}).

    Returns
    -------
    tuple of sympy.Expr
        fₚ as polynomials in E_1, E_2, … (:func:`dsym`); f₀ = −E_1 (the NGF (2)).

    Raises
    ------
    ValueError
        ``order`` < 1 or > :data:`MAX_ORDER_1D` (the message states the cost).
    """
    n = _check_order(order, MAX_ORDER_1D, "the 1-D BEA")
    if n == 1:
        fields: list[sp.Expr] = [-dsym(1)]
    else:
        fields = list(bea_1d(n - 1))
    coeff = _flow_map_coeffs_1d(fields, n + 1)
    fields.append(sp.expand(-coeff.get(n + 1, 0)))
    return tuple(fields)


def modified_field_1d(order: int, hv: Any = h) -> sp.Expr:
    """f̃ₙ = Σ_{p≤n} hᵖ fₚ (4) in 1-D, with ``hv`` for h."""
    _check_h(hv)
    return sp.expand(sum(hv ** p * f for p, f in enumerate(bea_1d(order))))


def flow_map_1d(order: int, top: int | None = None) -> dict[int, sp.Expr]:
    """h-coefficients of the time-h map of f̃ₙ, up to h^top (default n + 2).

    The coefficient of h¹ is −E_1 (the GD step) and those of h² … h^{n+1} vanish;
    that of h^{n+2} is the local error of the order-n modified flow.
    """
    fields = bea_1d(order)
    return _flow_map_coeffs_1d(list(fields), order + 2 if top is None else int(top))


def principal_part_1d(expr: sp.Expr) -> sp.Expr:
    """The terms of ``expr`` with only E_1 and E_2: E_k → 0 for k ≥ 3 (Theorem 3.1's split)."""
    highs = {s: 0 for s in expr.free_symbols if s.name.startswith("E_") and int(s.name[2:]) >= 3}
    return sp.expand(expr.subs(highs))


# -- n-D -------------------------------------------------------------------------------
def _grad(E: sp.Expr, xs: Sequence[sp.Symbol]) -> sp.Matrix:
    return sp.Matrix([sp.diff(E, x) for x in xs])


def _lie(vec: sp.Matrix, F: sp.Matrix, xs: Sequence[sp.Symbol]) -> sp.Matrix:
    """(D vec) F, the Lie derivative of a vector function along F."""
    return sp.Matrix([sp.expand(sum(sp.diff(vec[i], x) * F[k] for k, x in enumerate(xs)))
                      for i in range(vec.rows)])


def _flow_map_coeffs_nd(fields: Sequence[sp.Matrix], xs: Sequence[sp.Symbol], top: int) -> dict[int, sp.Matrix]:
    F = {i: f for i, f in enumerate(fields)}
    out: dict[int, sp.Matrix] = {}
    term = dict(F)
    for j in range(1, top + 1):
        for p, c in term.items():
            if p + j <= top:
                out[p + j] = out.get(p + j, sp.zeros(len(xs), 1)) + c / math.factorial(j)
        if j == top:
            break
        new: dict[int, sp.Matrix] = {}
        for p, c in term.items():
            for i, f in F.items():
                if p + i + j + 1 <= top:
                    new[p + i] = new.get(p + i, sp.zeros(len(xs), 1)) + _lie(c, f, xs)
        term = new
    return {k: v.applyfunc(sp.expand) for k, v in out.items()}


@functools.lru_cache(maxsize=32)
def _bea_nd_cached(E: sp.Expr, xs: tuple[sp.Symbol, ...], order: int) -> tuple[sp.ImmutableMatrix, ...]:
    if order == 1:
        fields: list[sp.Matrix] = [-_grad(E, xs)]
    else:
        fields = [sp.Matrix(f) for f in _bea_nd_cached(E, xs, order - 1)]
    coeff = _flow_map_coeffs_nd(fields, xs, order + 1)
    fields.append((-coeff.get(order + 1, sp.zeros(len(xs), 1))).applyfunc(sp.expand))
    return tuple(sp.ImmutableMatrix(f) for f in fields)


def bea_nd(E: sp.Expr, variables: Sequence[sp.Symbol], order: int) -> tuple[sp.ImmutableMatrix, ...]:
    """Modified-field terms (f₀, …, f_order) of GD for a given E(θ₁, …, θ_D), eqs. (4)-(5).

    Parameters
    ----------
    E : sympy.Expr
        The loss; may be an undefined function such as ``Function('E')(t1, t2)``.
    variables : sequence of Symbol
        θ₁ … θ_D.
    order : int
        1 ≤ n ≤ :data:`MAX_ORDER_ND`.

    Returns
    -------
    tuple of ImmutableMatrix
        D×1 columns; f₀ = −∇E.
    """
    n = _check_order(order, MAX_ORDER_ND, "the n-D BEA")
    xs = tuple(variables)
    if not xs:
        raise ValueError("variables: need at least one variable")
    return _bea_nd_cached(_as_sympy("E", E), xs, n)


def _is_high_derivative(e: sp.Basic) -> bool:
    return isinstance(e, sp.Derivative) and e.derivative_count >= 3


def principal_part_nd(vec: sp.Matrix, E: sp.Expr, variables: Sequence[sp.Symbol]) -> sp.Matrix:
    """Drop the terms with third or higher derivatives of E (the C(∇³E) of Theorem 3.1).

    For an undefined ``E`` every ``Derivative`` of order ≥ 3 is set to 0; for a concrete
    E use a quadratic instead (where C = 0 exactly).
    """
    return sp.Matrix(vec).applyfunc(lambda c: sp.expand(c.replace(_is_high_derivative, lambda e: 0)))


def third_contraction(E: sp.Expr, variables: Sequence[sp.Symbol], v: Sequence[Any], w: Sequence[Any]) -> sp.Matrix:
    """(∇³E)[v, w]ᵢ = Σ_jk ∂³E/∂θᵢ∂θⱼ∂θₖ vⱼ wₖ, the contraction in (8) and (14)."""
    xs = list(variables)
    return sp.Matrix([sum(sp.diff(E, xi, xj, xk) * v[j] * w[k] for j, xj in enumerate(xs)
                          for k, xk in enumerate(xs)) for xi in xs])


# -- Table 1, the PF and its stability -------------------------------------------------
def alpha_ngf(zv: Any = z) -> sp.Expr:
    """α_NGF(hλ) = −1 (Table 1)."""
    return sp.Integer(-1) + 0 * zv


def alpha_igr(zv: Any = z) -> sp.Expr:
    """α_IGR(hλ) = −(1 + hλ/2) (Table 1)."""
    return -(1 + zv / 2)


def alpha_pf(zv: Any = z) -> sp.Expr:
    """α_PF(hλ) = log(1 − hλ)/(hλ) (Table 1, Definition 3.1); → −1 as hλ → 0."""
    return sp.log(1 - zv) / zv


def alpha_pf_series(order: int) -> sp.Expr:
    """Taylor polynomial of log(1 − z)/z to zᵒʳᵈᵉʳ (Theorem 3.2, (13))."""
    n = _check_order(order, 50, "the Taylor series")
    return sp.expand(sp.series(alpha_pf(z), z, 0, n + 1).removeO())


def bea_alpha_series(order: int) -> sp.Expr:
    """Σ_{p≤n} −zᵖ/(p+1): the 1-D BEA principal coefficients fₚ / (hᵖE_2ᵖE_1) read off
    :func:`bea_1d` (Corollary 3.1, (11)), as a polynomial in z = hλ."""
    fs = bea_1d(order)
    out = sp.Integer(0)
    for p, f in enumerate(fs):
        c = sp.expand(principal_part_1d(f) / (dsym(2) ** p * dsym(1)))
        if c.free_symbols:
            raise AssertionError(f"f_{p}: principal part not of the form c E_2^p E_1: {c}")
        out += c * z ** p
    return out


def pf_field_1d() -> sp.Expr:
    """The PF (12) in 1-D: θ̇ = log(1 − hE'')/(hE'') · E'."""
    return alpha_pf(h * dsym(2)) * dsym(1)


def pf_plus_field_1d() -> sp.Expr:
    """The PF with the third-order non-principal term (14) in 1-D."""
    return pf_field_1d() - h ** 2 / 12 * dsym(3) * dsym(1) ** 2


def pf_jacobian_1d() -> sp.Expr:
    """d/dθ of the 1-D PF field at a critical point (E' = 0, E'' = λ) — (16)."""
    f = pf_field_1d()
    d = sum(sp.diff(f, dsym(k)) * dsym(k + 1) for k in (1, 2))
    return sp.simplify(d.subs(dsym(1), 0).subs(dsym(2), lam))


#: The Jacobian eigenvalue at a critical point, α(hλ)·λ with Table 1's α, written out by flow (§3.2, A.4.1)
JACOBIAN_EIGENVALUES: dict[str, Callable[[Any, Any], sp.Expr]] = {
    "ngf": lambda hv, lv: -lv,
    "igr": lambda hv, lv: -lv - hv / 2 * lv ** 2,
    "pf": lambda hv, lv: sp.log(1 - hv * lv) / hv,
}


def jacobian_eigenvalue(flow: str, hv: Any = h, lv: Any = lam) -> sp.Expr:
    """Eigenvalue of a flow's Jacobian at a critical point for Hessian eigenvalue λ (§3.2, A.4.1).

    ``flow`` is ``"ngf"`` (−λ), ``"igr"`` (−λ − (h/2)λ²; the paper prints h²/2) or
    ``"pf"`` (log(1 − hλ)/h, (16)): a row of :data:`JACOBIAN_EIGENVALUES`.
    """
    _check_h(hv)
    if flow not in JACOBIAN_EIGENVALUES:
        raise ValueError(f"flow: expected one of {', '.join(map(repr, JACOBIAN_EIGENVALUES))}, got {flow!r}")
    return JACOBIAN_EIGENVALUES[flow](hv, lv)


def pf_regime(hv: float, lv: float) -> dict[str, Any]:
    """The case analysis of §3.1 / §3.2 for one eigenvalue, evaluated numerically.

    Parameters
    ----------
    hv : float
        Learning rate h > 0.
    lv : float
        Hessian eigenvalue λ (any sign).

    Returns
    -------
    dict
        ``case`` — ``"saddle (real unstable)"`` (λ < 0), ``"flat"`` (λ = 0),
        ``"real stable"`` (0 < hλ < 1), ``"singular"`` (hλ = 1: log 0, GD removes the
        component in one step), ``"complex stable"`` (1 < hλ < 2), ``"marginal"``
        (hλ = 2: |1 − hλ| = 1) or ``"unstable complex"`` (hλ > 2); ``alpha_pf`` (complex,
        log(1 − hλ) = log(hλ − 1) + iπ for hλ > 1, the paper's branch); ``jacobian``
        (log(1 − hλ)/h, (16)); ``attractive`` (Re jacobian < 0); ``gd_factor`` (1 − hλ).
    """
    hv, lv = float(hv), float(lv)
    if not (hv > 0 and math.isfinite(hv)):
        raise ValueError(f"h: the learning rate must be a finite number > 0, got {hv}")
    if not math.isfinite(lv):
        raise ValueError(f"lambda: must be finite, got {lv}")
    zv = hv * lv
    if lv == 0:
        return {"case": "flat", "z": 0.0, "alpha_pf": complex(-1.0), "jacobian": 0j, "attractive": False,
                "gd_factor": 1.0}
    if zv == 1:
        return {"case": "singular", "z": 1.0, "alpha_pf": complex(-math.inf), "jacobian": complex(-math.inf),
                "attractive": True, "gd_factor": 0.0}
    if zv < 1:
        logv = complex(math.log1p(-zv))
    else:
        logv = complex(math.log(zv - 1.0), math.pi)
    case = ("saddle (real unstable)" if lv < 0 else "real stable" if zv < 1 else "complex stable" if zv < 2
            else "marginal" if zv == 2 else "unstable complex")
    jac = logv / hv
    return {"case": case, "z": zv, "alpha_pf": logv / zv, "jacobian": jac, "attractive": jac.real < 0,
            "gd_factor": 1.0 - zv}


def pf_quadratic_component(x0: Any, b: Any, lv: Any, t: Any, hv: Any = h) -> sp.Expr:
    """Exact PF solution along one eigenvector of E = ½θᵀAθ + bᵀθ (Remark 3.1, corrected).

    ẋ = α_PF(hλ)(λx + b) gives x(t) = (x₀ + b/λ) e^{t log(1−hλ)/h} − b/λ.
    """
    return (x0 + b / lv) * sp.exp(t * sp.log(1 - hv * lv) / hv) - b / lv


def remark31_component(x0: Any, b: Any, lv: Any, t: Any, hv: Any = h) -> sp.Expr:
    """Remark 3.1 as printed, along one eigenvector: e^{t log(1−hλ)/h} x₀ + t α_PF(hλ) b."""
    return sp.exp(t * sp.log(1 - hv * lv) / hv) * x0 + t * alpha_pf(hv * lv) * b


def ngf_drift_1d(top: int = 3) -> dict[int, sp.Expr]:
    """h-coefficients of NGF(θ, h) − GD(θ) in 1-D (Theorem 6.1): h²: ½E''E', then higher."""
    coeff = _flow_map_coeffs_1d([-dsym(1)], top)
    coeff[1] = coeff.get(1, 0) + dsym(1)  # minus the GD step θ − hE'
    return {k: sp.expand(v) for k, v in coeff.items()}


# -- printable chain -------------------------------------------------------------------
def derivation(order: int = 5) -> Derivation:
    """The BEA / principal-flow chain of the third paper, to ``order`` (default 5)."""
    n = _check_order(order, MAX_ORDER_1D, "the 1-D BEA")
    n = max(n, 2)
    fs = bea_1d(n)
    E1, E2, E3 = dsym(1), dsym(2), dsym(3)
    theta_dot = sp.Symbol(r"\dot{\theta}")
    highs = {dsym(k): 0 for k in range(3, n + 3)}
    steps = [
        Step("gd_step", "(1)", sp.Eq(sp.Symbol(r"\theta_t"), _theta - h * E1),
             "gradient descent, 1-D; E_k is the k-th derivative of E at theta"),
        Step("ngf", "(2)", sp.Eq(theta_dot, fs[0]), "f_0 of the BEA: the negative gradient flow",
             stated=-E1),
        Step("igr", "(3)", sp.Eq(theta_dot, fs[0] + h * fs[1]),
             "first BEA correction: the implicit-gradient-regularization flow", stated=-E1 - h / 2 * E2 * E1),
        Step("third_order", "(8)", sp.Eq(theta_dot, fs[0] + h * fs[1] + h ** 2 * fs[2]),
             "second correction, with the non-principal term (1/12) E_3 E_1^2",
             stated=-E1 - h / 2 * E2 * E1 - h ** 2 * (E2 ** 2 * E1 / 3 + E3 * E1 ** 2 / 12)),
    ]
    for p in range(1, n + 1):
        steps.append(Step(f"f_{p}", "(9)" if p >= 3 else "", fs[p],
                          f"BEA term f_{p}; Theorem 3.1: its E_1, E_2-only part is -1/{p + 1} E_2^{p} E_1",
                          stated=-sp.Rational(1, p + 1) * E2 ** p * E1, where=highs))
    steps += [
        Step("local_error", "(5)", flow_map_1d(n)[n + 2],
             f"coefficient of h^{n + 2} in (flow of the order-{n} field at time h) - GD: the O(h^(n+2)) error"),
        Step("series", "(13)", sp.Eq(sp.Symbol("Taylor"), alpha_pf_series(n)),
             "Theorem 3.2: Taylor series of log(1-z)/z at z = 0", stated=bea_alpha_series(n)),
        Step("pf", "(12)", sp.Eq(theta_dot, pf_field_1d()), "the principal flow (Definition 3.1), 1-D"),
        Step("pf_plus", "(14)", sp.Eq(theta_dot, pf_plus_field_1d()),
             "the PF with the third-order non-principal term (Definition 3.3)"),
        Step("alpha_ngf", "", alpha_ngf(), "Table 1: alpha_NGF(z), z = h lambda", stated=sp.Integer(-1)),
        Step("alpha_igr", "", alpha_igr(), "Table 1: alpha_IGR(z)", stated=-(1 + z / 2)),
        Step("alpha_pf", "", alpha_pf(), "Table 1: alpha_PF(z)"),
        Step("pf_jacobian", "(16)", sp.Eq(sp.Symbol("J_PF"), pf_jacobian_1d()),
             "Jacobian of the PF at a critical point with E'' = lambda", stated=sp.log(1 - h * lam) / h),
        Step("igr_jacobian", "", sp.Eq(sp.Symbol("J_IGR"), jacobian_eigenvalue("igr")),
             "IGR Jacobian eigenvalue at a critical point (A.4.1); the paper prints -lambda - h^2 lambda^2/2"),
        Step("drift", "", sp.Eq(sp.Symbol("NGF_h - GD"), h ** 2 * ngf_drift_1d(3)[2]),
             "Theorem 6.1: leading one-step drift between the NGF at time h and GD",
             stated=h ** 2 / 2 * E2 * E1),
        Step("pf_quadratic", "", pf_quadratic_component(sp.Symbol("x_0"), sp.Symbol("b"), lam, sp.Symbol("t")),
             "exact PF solution along an eigenvector of 1/2 theta^T A theta + b^T theta (Remark 3.1 corrected: the "
             "printed form solves the PF only for b = 0)"),
    ]
    return Derivation("bea-principal-flow", "Backward error analysis of gradient descent and the principal flow",
                      "Rosca et al. 2023 (third paper), eqs. (1)-(16), Theorems 3.1, 3.2, 6.1, Table 1", steps)
