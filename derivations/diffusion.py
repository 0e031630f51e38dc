"""Accelerated PDE with diffusion on the velocity (second paper: Sun, Lao, Sundaramoorthi, Yezzi,
"Accelerated PDEs for Construction and Theoretical Analysis of an SGD Extension"), eqs. (1)-(23).

SymPy derives, in paper order:

* (1)-(3): the Euler-Lagrange equation of the action ``A = ∫ [ã T(V) - b̃ U(u)] dt`` with
  ``T(V) = ∫ ½|V|² dx`` over an N-dimensional "spatial" argument x (``sympy``'s
  ``euler_equations`` on ``u(t, x_1..x_N)``, ``U = ∫ F(u) dx`` so that ``∇U = F'(u)``).  The
  diffusion ``b∇²V`` is not variational in the paper (a viscosity term); here it is obtained as
  the dissipative Euler-Lagrange equation with the Rayleigh function ``R = ã b/2 ∫|∇V|²``.
* (4)-(5): central differences for ``∂tt u`` and ``a∂t u``, a backward difference for the
  ``b∇²∂t u`` term, solved for ``u^{n+1}``; the gradient moved to the look-ahead ``w^n``; the
  stencil (5) from ``as_finite_difference`` and its Fourier symbol.
* Theorem 1 (6)-(9), (12)-(16): the scheme equals SGD-Nesterov with diffusion under (8), and
  (6)-(7) is the scheme (4) under (9) -- both directions substituted and simplified to zero;
  PyTorch's documented form (21) equals (23) = (14) under ``θ' = θ - γηv`` (also with diffusion).
* Theorem 2 (17)-(20), (10)-(11): the homogeneous part through the Von Neumann analyzer
  (:mod:`workbench.derivations.von_neumann`: :class:`Scheme`, :func:`characteristic_polynomial`,
  :func:`schur_cohn_conditions`, closed-disk version = the root amplitude lemma (19)).
* Beyond the paper: the joint region with the gradient term of a quadratic loss (Hessian
  eigenvalue λ sharing the Laplacian's Fourier modes, e.g. ``H = λI``), ``h = ηλ``, strict
  Schur-Cohn, solved for the diffusion: :func:`joint_beta_max`.

Findings (checked in ``tests/test_derivations_diffusion.py``):

* (2)-(3) with ``-∇U`` (no factor) follow from (1) only with ``b̃ = ã``; with the stated
  ``b̃ = 1`` the force is ``-∇U/ã = -e^{-at}∇U`` (a decaying force).
* (20) is printed with ``Σ(cos ω_kΔx - 1)``, which is ≤ 0 and makes it void; the condition
  that (19) gives is ``Δx² ≥ bΔt Σ(1 - cos ω_kΔx)``, and with max Σ(1 - cos) = 2N it is (10).
* The homogeneous polynomial is ``(ξ - 1)(ξ - (γ - βκ))`` (κ = Δx²|∇̂²| ∈ [0, 4N]): one root is
  always 1 (a constant shift of u), so only the closed-disk (≤) conditions can hold, as the
  paper states; the velocity mode ``γ - βκ`` decides, and (11) is ``γ - 4Nβ ≥ -1``.
* With the gradient term, ``β_max(h) = (γ + (2 - h)/(2(1 - h)))/(4N)`` for ``0 < h < 1`` and
  ``(γ + 1/(h - 1))/(4N)`` for ``1 < h < 2(1+γ)/(1+2γ)``: it grows with h, ≈ ``β_max(1 +
  h/(2(1+γ)))`` for small h, so (11) is the h → 0+ limit and is conservative (sufficient) for
  every stable ``h > 0``.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy.calculus.euler import euler_equations

from workbench.derivations.steps import Derivation, Step
from workbench.derivations.symbols import dt
from workbench.derivations.von_neumann import Scheme, characteristic_polynomial, eta, schur_cohn_conditions, solve_bound, xi

__all__ = [
    "a", "b", "dx", "N", "gamma", "eta", "beta", "lam", "h", "kappa", "S", "m",
    "euler_lagrange", "pde_system", "pde_second_order", "scheme", "laplacian_stencil", "laplacian_symbol",
    "parameter_map", "inverse_map", "theorem1_forward", "theorem1_inverse", "pytorch_form",
    "homogeneous_scheme", "homogeneous_polynomial", "cfl_conditions", "beta_max", "b_max",
    "joint_scheme", "joint_polynomial", "joint_conditions", "joint_beta_max", "steps", "derivation",
]

#: damping a = ∂t ã / ã > 0 and diffusion coefficient b ≥ 0 of (2)-(3)
a = sp.Symbol("a", positive=True)
b = sp.Symbol("b", nonnegative=True)
#: spatial step Δx of (5) and dimension N of the diffusion
dx = sp.Symbol("Delta_x", positive=True)
N = sp.Symbol("N", positive=True, integer=True)
#: SGD-Nesterov momentum γ, diffusion β (second paper's names; η is :data:`von_neumann.eta`)
gamma = sp.Symbol("gamma", nonnegative=True)
beta = sp.Symbol("beta", nonnegative=True)
#: Hessian eigenvalue λ of a quadratic loss, effective step h = ηλ
lam = sp.Symbol("lambda", real=True)
h = sp.Symbol("h", real=True)
#: κ = Δx²·|symbol of (5)| = Σ_k 2(1 - cos ω_kΔx) ∈ [0, 4N]; S = Σ_k (1 - cos ω_kΔx) = κ/2
kappa = sp.Symbol("kappa", nonnegative=True)
S = sp.Symbol("S", nonnegative=True)
#: effective momentum of one Fourier mode, m = γ - βκ
m = sp.Symbol("m", real=True)

t = sp.Symbol("t", real=True)
_atil, _btil = sp.Function(r"\tilde{a}"), sp.Function(r"\tilde{b}")
#: ∇U as an undefined function of the iterate (U = ∫F(u)dx, ∇U = F'(u))
gradU = sp.Function(r"\nabla U")
_F = sp.Function("F")
#: discrete Laplacian (5) as a linear operator placeholder (a symbol multiplying what it acts on)
Lap = sp.Symbol(r"\nabla^2_h", commutative=True)
#: Hessian placeholder of the joint analysis
Hop = sp.Symbol("H")

u_np1, u_n, u_nm1 = sp.symbols("u^{n+1} u^{n} u^{n-1}", real=True)
w_n = sp.Symbol("w^{n}", real=True)
gJ = sp.Symbol(r"\nabla{}J^{n}", real=True)
gJm = sp.Symbol(r"\nabla{}J^{n-1}", real=True)


def _xs(n: int) -> tuple[sp.Symbol, ...]:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"N: the spatial dimension must be an integer >= 1, got {n!r}")
    return sp.symbols(f"x1:{n + 1}", real=True)


def _lap(f: sp.Expr, xs: tuple) -> sp.Expr:
    return sum(f.diff(x, 2) for x in xs)


@lru_cache(maxsize=None)
def euler_lagrange(n: int = 2) -> sp.Eq:
    """Dissipative Euler-Lagrange equation of the action (1) for ``u(t, x_1..x_n)`` (second paper, (1)-(3)).

    Lagrangian density ``ã(t)·½u_t² - b̃(t)·F(u)``, Rayleigh dissipation density
    ``ã(t)·(b/2)Σ_k(∂_k u_t)²``; ``euler_equations`` on both, then
    ``δL/δu - δR/δu_t = 0``, divided by ``-ã`` with ``ã' = aã``.  Returns
    ``u_tt + a u_t = -(b̃/ã)∇U + b∇²u_t`` (F' written as ∇U).
    """
    xs = _xs(n)
    u = sp.Function("u")(t, *xs)
    w = sp.Function("w")(t, *xs)
    L = _atil(t) * u.diff(t) ** 2 / 2 - _btil(t) * _F(u)
    R = _atil(t) * b / 2 * sum(w.diff(x) ** 2 for x in xs)
    eL = euler_equations(L, u, [t, *xs])[0].lhs
    eR = euler_equations(R, w, [t, *xs])[0].lhs          # = δR/δw = -ã b ∇²w
    expr = eL - eR.subs(w, u.diff(t)).doit()             # δL/δu - δR/δu_t
    expr = expr.subs(sp.Derivative(_F(u), u), gradU(u)).subs(_atil(t).diff(t), a * _atil(t))
    expr = sp.expand(-expr / _atil(t))
    rhs = sp.solve(expr, u.diff(t, 2))[0]
    return sp.Eq(u.diff(t, 2) + a * u.diff(t), sp.expand(rhs + a * u.diff(t)))


def pde_second_order(n: int = 2) -> sp.Eq:
    """(3) as the paper prints it: ``u_tt + a u_t = -∇U(u) + b∇²u_t`` in n spatial dimensions."""
    xs = _xs(n)
    u = sp.Function("u")(t, *xs)
    return sp.Eq(u.diff(t, 2) + a * u.diff(t), -gradU(u) + b * _lap(u.diff(t), xs))


def pde_system(n: int = 2) -> tuple[sp.Eq, sp.Eq]:
    """(2): ``∂t u = V``, ``∂t V = -∇U(u) - aV + b∇²V`` in n spatial dimensions."""
    xs = _xs(n)
    u, V = sp.Function("u")(t, *xs), sp.Function("V")(t, *xs)
    return sp.Eq(u.diff(t), V), sp.Eq(V.diff(t), -gradU(u) - a * V + b * _lap(V, xs))


@lru_cache(maxsize=None)
def laplacian_stencil() -> sp.Expr:
    """(5) along one axis: ``as_finite_difference`` of ``d''(x)`` on {x-Δx, x, x+Δx}."""
    x = sp.Symbol("x", real=True)
    f = sp.Function("d")
    return sp.Derivative(f(x), x, 2).as_finite_difference([x - dx, x, x + dx])


@lru_cache(maxsize=None)
def laplacian_symbol(n: int = 1) -> sp.Expr:
    """Fourier symbol of (5) in n dimensions: ``Σ_k (2cos ω_kΔx - 2)/Δx²`` (from the stencil, ``d = e^{iωx}``)."""
    x = sp.Symbol("x", real=True)
    f = sp.Function("d")
    om = sp.symbols(f"omega1:{n + 1}", real=True)
    total = 0
    for o in om:
        st = laplacian_stencil().replace(f, lambda arg, o=o: sp.exp(sp.I * o * arg))
        total += sp.simplify(sp.expand_complex(sp.expand(st / sp.exp(sp.I * o * x))))
    return sp.simplify(total)


def _as_levels(expr: sp.Expr, u: sp.Function) -> sp.Expr:
    return expr.subs({u(t + dt): u_np1, u(t - dt): u_nm1}).subs(u(t), u_n)


@lru_cache(maxsize=None)
def scheme() -> tuple[sp.Eq, sp.Eq, sp.Expr]:
    """(4): ``(w^n, u^{n+1})`` equations and the explicit update they come from.

    (3) in time with the spatial Laplacian as the linear placeholder :data:`Lap`: central
    differences on {t-Δt, t, t+Δt} for ``u_tt`` and {t-Δt, t+Δt} for ``u_t``, the backward
    difference {t-Δt, t} for the ``b∇²u_t`` term, solved for ``u^{n+1}``; then ``∇U(u^n)`` is
    replaced by ``∇U(w^n)`` with ``w^n`` the explicit update without its gradient term.
    """
    u = sp.Function("u")
    d2 = sp.Derivative(u(t), t, 2).as_finite_difference([t - dt, t, t + dt])
    d1 = sp.Derivative(u(t), t).as_finite_difference([t - dt, t + dt])
    db = sp.Derivative(u(t), t).as_finite_difference([t - dt, t])
    eq = sp.Eq(_as_levels(d2 + a * d1, u), _as_levels(-gradU(u(t)) + b * Lap * db, u).subs(gradU(u_n), gradU(w_n)))
    upd = sp.expand(sp.solve(eq, u_np1)[0])
    w_expr = sp.collect(sp.expand(upd - upd.coeff(gradU(w_n)) * gradU(w_n)), [Lap], sp.factor)
    return sp.Eq(w_n, w_expr), sp.Eq(u_np1, w_n + sp.factor(upd.coeff(gradU(w_n))) * gradU(w_n)), upd


@lru_cache(maxsize=None)
def parameter_map() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(8): ``(η, γ, β)`` read off (4) -- coefficients of ``∇U(w^n)``, ``Δu^{n-1}``, ``∇²Δu^{n-1}``."""
    (_, e2, upd) = scheme()
    w_expr = scheme()[0].rhs
    g = sp.factor(sp.diff(w_expr, u_n).subs(Lap, 0) - 1)
    bt = sp.factor(sp.diff(w_expr, u_n).coeff(Lap))
    return sp.factor(-e2.rhs.coeff(gradU(w_n))), g, bt


@lru_cache(maxsize=None)
def inverse_map() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(9) plus the diffusion: ``(Δt, a, b)`` from ``(η, γ, β)``; the paper's (9) omits ``b = β(2 + aΔt)/(2Δt)``."""
    e, g, bt = parameter_map()
    dt_sol = [s for s in sp.solve(sp.Eq(eta, e.subs(a, sp.solve(sp.Eq(gamma, g), a)[0])), dt) if s.is_positive is not False]
    dt_e = sp.factor(dt_sol[0])
    a_e = sp.factor(sp.solve(sp.Eq(gamma, g), a)[0].subs(dt, dt_e))
    b_e = sp.factor(sp.solve(sp.Eq(beta, bt), b)[0].subs({a: a_e}).subs(dt, dt_e))
    return dt_e, a_e, b_e


def _levels_forward() -> dict:
    """Scheme (4) from (u^{n-1}, u^n); gradient at w^n is the symbol ∇J^n (J = U, θ^n = w^n)."""
    e1, e2, _ = scheme()
    w = e1.rhs
    up1 = e2.rhs.subs(gradU(w_n), gJ).subs(w_n, w)
    return {"w": w, "u_np1": up1}


@lru_cache(maxsize=None)
def theorem1_forward() -> tuple[sp.Expr, sp.Expr]:
    """Residuals of (6) and (7) when (4) is rewritten through (8); both simplify to 0.

    ``θ^n = w^n``, ``v^n = -(2 + aΔt)/(2Δt²)Δu^{n-1}``, ``v^{n+1}`` likewise with Δu^n,
    ``θ^{n+1} = w^{n+1}`` (the first line of (4) one level later), ``∇J(θ^n) = ∇U(w^n)``.
    """
    e, g, bt = parameter_map()
    lv = _levels_forward()
    w, up1 = lv["w"], lv["u_np1"]
    c = (2 + a * dt) / (2 * dt ** 2)
    v_n, v_np1 = -c * (u_n - u_nm1), -c * (up1 - u_n)
    w_np1 = scheme()[0].rhs.subs({u_n: up1, u_nm1: u_n}, simultaneous=True)
    r6 = v_np1 - (g * v_n + gJ + bt * Lap * v_n)
    r7 = w_np1 - (w - e * (gJ + g * v_np1 + bt * Lap * v_np1))
    return sp.simplify(r6), sp.simplify(r7)


@lru_cache(maxsize=None)
def theorem1_inverse() -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
    """Residuals of the converse: (6)-(7) with (9) is the scheme (4); all simplify to 0.

    From ``(θ^{n-1}, v^{n-1})`` and gradients ``∇J^{n-1}, ∇J^n`` two steps of (6)-(7) give
    ``θ^n, v^n, θ^{n+1}, v^{n+1}``; with ``u^{k+1} = θ^k - η∇J^k`` (second line of (4)):
    ``u^{n+1} - u^n = -ηv^{n+1}`` ((9)'s ``Δu^n``), the first line of (4) at level n+1 with
    the coefficients (8) evaluated at (9), and (8)∘(9) = identity for η, γ, β.
    """
    th0, v0 = sp.symbols(r"\theta^{n-1} v^{n-1}", real=True)
    e, g, bt = parameter_map()
    dt_e, a_e, b_e = inverse_map()
    ident = [sp.simplify(e.subs(a, a_e).subs(dt, dt_e) - eta), sp.simplify(g.subs(a, a_e).subs(dt, dt_e) - gamma),
             sp.simplify(bt.subs(b, b_e).subs(a, a_e).subs(dt, dt_e) - beta)]
    v_n = gamma * v0 + gJm + beta * Lap * v0
    th_n = th0 - eta * (gJm + gamma * v_n + beta * Lap * v_n)
    v_np1 = gamma * v_n + gJ + beta * Lap * v_n
    th_np1 = th_n - eta * (gJ + gamma * v_np1 + beta * Lap * v_np1)
    un, unp1 = th0 - eta * gJm, th_n - eta * gJ
    r_du = sp.simplify(unp1 - un + eta * v_np1)
    w_of = scheme()[0].rhs
    w_np1 = sp.expand(w_of.subs({u_n: unp1, u_nm1: un}, simultaneous=True))
    w_np1 = sp.simplify(w_np1.subs(b, b_e).subs(a, a_e).subs(dt, dt_e))
    r_w = sp.simplify(w_np1 - th_np1)
    return r_du, r_w, *ident


@lru_cache(maxsize=None)
def pytorch_form(diffusion: bool = True) -> sp.Expr:
    """Residual of appendix E (21)-(23): PyTorch's documented Nesterov is (23) under ``θ' = θ - ηMv``.

    ``M = γ + β∇²`` with diffusion (``M = γ`` for the paper's (21)); (21):
    ``v^{n+1} = Mv^n + ∇J(θ^n - ηMv^n)``, ``θ^{n+1} = θ^n - ηv^{n+1}``; with ``θ'`` the
    residual of ``θ'^{n+1} = θ'^n - η(∇J(θ'^n) + Mv^{n+1})`` (= (23), i.e. (7)) simplifies to 0.
    """
    thp, v0 = sp.symbols(r"\theta'^{n} v^{n}", real=True)
    M = gamma + (beta * Lap if diffusion else 0)
    th = thp + eta * M * v0                      # θ^n from θ'^n
    v1 = M * v0 + gJ                             # (21), gradient at θ^n - ηMv^n = θ'^n
    th1 = th - eta * v1
    thp1 = th1 - eta * M * v1
    return sp.simplify(thp1 - (thp - eta * (gJ + M * v1)))


# -- Von Neumann: homogeneous part (Theorem 2) ----------------------------------
def homogeneous_scheme() -> Scheme:
    """(4) with ∇U = 0 as an analyzer :class:`Scheme` in (Δt, a, b, Δx); ``∇² -> -2S/Δx²`` (symbol of (5))."""
    e1, _, _ = scheme()
    return Scheme((u_np1, u_n, u_nm1), (e1, sp.Eq(u_np1, w_n)), {Lap: -2 * S / dx ** 2}, (w_n,))


@lru_cache(maxsize=None)
def homogeneous_polynomial() -> sp.Poly:
    """Monic characteristic polynomial of the homogeneous part (the DFT (17), ξ-form (18))."""
    return characteristic_polynomial(homogeneous_scheme())


def g_paper() -> sp.Expr:
    """The paper's ``g(ω) = bΔt/Δx² Σ(cos ω_kΔx - 1) = -bΔtS/Δx²`` of (18)."""
    return -b * dt * S / dx ** 2


@lru_cache(maxsize=None)
def cfl_conditions() -> sp.Basic:
    """Closed-disk (|ξ| ≤ 1) Schur-Cohn conditions of the homogeneous polynomial = the root amplitude lemma (19)."""
    return schur_cohn_conditions(homogeneous_polynomial(), strict=False)


@lru_cache(maxsize=None)
def b_max() -> sp.Expr:
    """Largest stable b from :func:`cfl_conditions` solved for b at the worst frequency S = 2N: ``Δx²/(2NΔt)``."""
    region = solve_bound(cfl_conditions().subs(S, 2 * N), b)
    for r in sp.And.make_args(region):
        if isinstance(r, (sp.Le, sp.Lt)) and r.lhs == b:
            return sp.factor(r.rhs)
    raise ValueError(f"b: no upper bound in {region}")  # pragma: no cover


@lru_cache(maxsize=None)
def beta_max() -> sp.Expr:
    """(11) in SGD terms: the (η, γ, β) form of the homogeneous polynomial, closed-disk conditions at κ = 4N."""
    poly = characteristic_polynomial(_mode_scheme(0))
    region = solve_bound(schur_cohn_conditions(poly, strict=False).subs(kappa, 4 * N), beta)
    for r in sp.And.make_args(region):
        if isinstance(r, (sp.Le, sp.Lt)) and r.lhs == beta:
            return sp.factor(r.rhs)
    raise ValueError(f"beta: no upper bound in {region}")  # pragma: no cover


def _mode_scheme(hessian: sp.Expr) -> Scheme:
    """Algorithm 1 in θ-levels (u-form of (4) with (8)) with ``∇² -> -κ`` (Δx = 1) and ``∇J = H θ``, H -> hessian."""
    eqs = (sp.Eq(w_n, u_n + gamma * (u_n - u_nm1) + beta * Lap * (u_n - u_nm1)), sp.Eq(u_np1, w_n - eta * Hop * w_n))
    return Scheme((u_np1, u_n, u_nm1), eqs, {Lap: -kappa, Hop: hessian}, (w_n,))


def joint_scheme() -> Scheme:
    """The scheme with the gradient of a quadratic loss kept: ``∇J(θ) = λθ`` per shared Fourier mode."""
    return _mode_scheme(lam)


@lru_cache(maxsize=None)
def joint_polynomial() -> sp.Poly:
    """``ξ² - (1 - h)(1 + m)ξ + (1 - h)m`` with ``h = ηλ``, ``m = γ - βκ`` (the Nesterov polynomial with μ -> m)."""
    p = characteristic_polynomial(joint_scheme()).as_expr()
    p = p.subs(lam, h / eta).subs(beta, (gamma - m) / kappa)
    return sp.Poly(sp.expand(p), xi)


@lru_cache(maxsize=None)
def joint_conditions() -> sp.Basic:
    """Strict Schur-Cohn conditions of :func:`joint_polynomial` in (h, m)."""
    return schur_cohn_conditions(joint_polynomial(), strict=True)


@lru_cache(maxsize=None)
def joint_beta_max() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """``(β_max for 0 < h < 1, β_max for h > 1, upper end of h)`` from :func:`joint_conditions`.

    The conditions are solved for m with ``h = 1 - q`` (resp. ``1 + q``), q > 0; the lower
    bound on m binds at the largest κ = 4N (m = γ - 4Nβ), the upper one at κ = 0 (m = γ),
    which gives the h range ``h < 2(1+γ)/(1+2γ)`` (Nesterov's region, independent of β).
    """
    q = sp.Symbol("q", positive=True)
    out = []
    for hq in (1 - q, 1 + q):
        region = solve_bound(joint_conditions().subs(h, hq), m)
        lows = [r.rhs for r in sp.And.make_args(region) if isinstance(r, (sp.Gt, sp.Ge)) and r.lhs == m]
        lows += [r.lhs for r in sp.And.make_args(region) if isinstance(r, (sp.Lt, sp.Le)) and r.rhs == m]
        if len(lows) != 1:  # pragma: no cover
            raise ValueError(f"m: expected one lower bound, got {region}")
        mlow = lows[0].subs(q, sp.Abs(1 - h) if hq == 1 - q else h - 1)
        mlow = mlow.subs(sp.Abs(1 - h), 1 - h) if hq == 1 - q else mlow
        out.append(sp.factor(sp.simplify((gamma - mlow) / (4 * N))))
    # upper end of h at m = γ (κ = 0), γ > 0
    gp = sp.Symbol("gamma", positive=True)
    reg = solve_bound(joint_conditions().subs(m, gp), h)
    ups = [r.rhs for r in sp.And.make_args(reg) if isinstance(r, (sp.Lt, sp.Le)) and r.lhs == h]
    out.append(sp.factor(ups[0].subs(gp, gamma)))
    return tuple(out)  # type: ignore[return-value]


def steps(n: int = 2) -> list[Step]:
    """Second paper (1)-(23) in order, with ``n`` the displayed spatial dimension (any n ≥ 1 is derived)."""
    out: list[Step] = []
    add = out.append
    xs = _xs(n)
    u = sp.Function("u")(t, *xs)
    el = euler_lagrange(n)
    add(Step("euler_lagrange", "(1)", el,
             "dissipative Euler-Lagrange of (1), T = ∫½|V|², Rayleigh R = ã b/2 ∫|∇V|², ã' = aã (euler_equations)"))
    add(Step("second_order_pde", "(3)", el.subs(_btil(t), _atil(t)),
             "with b̃ = ã; the paper states b̃ = 1, which leaves -∇U/ã", stated=pde_second_order(n)))
    e2a, e2b = pde_system(n)
    V = sp.Function("V")(t, *xs)
    sys_as_3 = sp.Eq(e2b.lhs.subs(V, u.diff(t)).doit() + a * u.diff(t),
                     e2b.rhs.subs(V, u.diff(t)).doit() + a * u.diff(t))
    add(Step("first_order_system", "(2)", sys_as_3, "(2) with ∂t u = V substituted is (3)",
             stated=pde_second_order(n)))
    x = sp.Symbol("x", real=True)
    f = sp.Function("d")
    add(Step("laplacian_stencil", "(5)", sp.Eq(sp.Symbol(r"\partial_{xx}d"), laplacian_stencil()),
             "as_finite_difference on {x-Δx, x, x+Δx}, one term per axis",
             stated=sp.Eq(sp.Symbol(r"\partial_{xx}d"), (f(x + dx) - 2 * f(x) + f(x - dx)) / dx ** 2)))
    om = sp.symbols(f"omega1:{n + 1}", real=True)
    add(Step("laplacian_symbol", "(17)", sp.Eq(sp.Symbol(r"\widehat{\nabla^2}"), laplacian_symbol(n)),
             "Fourier symbol of (5): d = e^{iωx}",
             stated=sp.Eq(sp.Symbol(r"\widehat{\nabla^2}"), sum(2 * (sp.cos(o * dx) - 1) for o in om) / dx ** 2)))
    e1, e2, _ = scheme()
    du = u_n - u_nm1
    add(Step("lookahead", "(4)", e1, "central differences for u_tt, a u_t; backward for b∇²u_t; ∇² -> placeholder",
             stated=sp.Eq(w_n, u_n + (2 - a * dt) / (2 + a * dt) * du + 2 * dt / (2 + a * dt) * b * Lap * du)))
    add(Step("update", "(4)", e2, "gradient at the look-ahead w^n",
             stated=sp.Eq(u_np1, w_n - 2 * dt ** 2 / (2 + a * dt) * gradU(w_n))))
    e, g, bt = parameter_map()
    add(Step("map_eta", "(8)", sp.Eq(eta, e), "learning rate", stated=sp.Eq(eta, 2 * dt ** 2 / (2 + a * dt))))
    add(Step("map_gamma", "(8)", sp.Eq(gamma, g), "momentum", stated=sp.Eq(gamma, (2 - a * dt) / (2 + a * dt))))
    add(Step("map_beta", "(8)", sp.Eq(beta, bt), "diffusion", stated=sp.Eq(beta, 2 * b * dt / (2 + a * dt))))
    dt_e, a_e, b_e = inverse_map()
    add(Step("inverse_dt", "(9)", sp.Eq(dt, dt_e), "", stated=sp.Eq(dt, sp.sqrt(2 * eta / (gamma + 1)))))
    add(Step("inverse_a", "(9)", sp.Eq(a, a_e), "",
             stated=sp.Eq(a, (2 - 2 * gamma) / sp.sqrt(2 * eta * (gamma + 1)))))
    add(Step("inverse_b", "", sp.Eq(b, b_e), "not in (9): b = β(2 + aΔt)/(2Δt) with (9) substituted",
             stated=sp.Eq(b, 2 * beta / sp.sqrt(2 * eta * (1 + gamma)))))
    r6, r7 = theorem1_forward()
    add(Step("theorem1_residual_6", "(6)", sp.Eq(sp.Symbol("r_6"), r6), "(4) through (8): residual of (6)",
             stated=sp.Eq(sp.Symbol("r_6"), 0)))
    add(Step("theorem1_residual_7", "(7)", sp.Eq(sp.Symbol("r_7"), r7), "(4) through (8): residual of (7)",
             stated=sp.Eq(sp.Symbol("r_7"), 0)))
    r_du, r_w, i_e, i_g, i_b = theorem1_inverse()
    add(Step("theorem1_inverse", "(9)", sp.Eq(sp.Symbol("r_9"), r_du + r_w + i_e + i_g + i_b),
             "(6)-(7) through (9) satisfy (4); (8)∘(9) = id (sum of five residuals)", stated=sp.Eq(sp.Symbol("r_9"), 0)))
    add(Step("pytorch_form", "(23)", sp.Eq(sp.Symbol("r_{23}"), pytorch_form(True)),
             "appendix E: (21) with θ' = θ - η(γ + β∇²)v is (23) = (7)", stated=sp.Eq(sp.Symbol("r_{23}"), 0)))
    poly = homogeneous_polynomial()
    A = 2 + a * dt
    gp = g_paper()
    add(Step("amplifier_quadratic", "(18)", sp.Eq(sp.expand(A * poly.as_expr()), 0),
             "analyzer: ∇U = 0, w eliminated, ∇² -> -2S/Δx², S = Σ(1 - cos ω_kΔx); times A = 2 + aΔt",
             stated=sp.Eq(A * xi ** 2 - (4 + 4 * gp) * xi + (2 - a * dt + 4 * gp), 0)))
    add(Step("root_one", "", sp.Eq(sp.Symbol("p(1)"), poly.eval(1)), "ξ = 1 is always a root (constant shift of u)",
             stated=sp.Eq(sp.Symbol("p(1)"), 0)))
    c = poly.all_coeffs()
    add(Step("root_amplitude_A_ge_C", "(19)", sp.Ge(sp.expand(A * (c[0] - c[2])), 0, evaluate=False),
             "closed-disk Schur-Cohn a2 - a0 ≥ 0 (times A): A - C = 2(aΔt - 2g) ≥ 0, twice the paper's form",
             stated=sp.Ge(2 * (a * dt - 2 * gp), 0, evaluate=False)))
    pm1 = sp.expand(A * poly.eval(-1))
    add(Step("root_amplitude_A_plus_C", "(19)", sp.Ge(pm1 / 4, 0),
             "p(-1) ≥ 0 (p(1) = 0): A + C ≥ |B| reduces to 2 + 2g ≥ 0 (halved)",
             stated=sp.Ge(2 + 2 * gp, 0)))
    add(Step("cfl_frequency", "(20)", sp.Ge(sp.expand(pm1 * dx ** 2 / 8), 0),
             "from (19); the paper prints Σ(cos ω_kΔx - 1), i.e. -S: a sign typo",
             stated=sp.Ge(dx ** 2 - b * dt * S, 0)))
    add(Step("cfl", "(10)", sp.Le(b, b_max()), "analyzer conditions solved for b at S = 2N",
             stated=sp.Le(b, dx ** 2 / (2 * N * dt))))
    add(Step("beta_max", "(11)", sp.Le(beta, beta_max()), "(η, γ, β) form, κ = 4N, Δx = 1",
             stated=sp.Le(beta, (1 + gamma) / (4 * N))))
    add(Step("beta_max_from_b_max", "(11)", sp.Eq(sp.Symbol("beta_max"), sp.factor(bt.subs(b, b_max()).subs(dx, 1)
                                                                                        .subs(a, a_e).subs(dt, dt_e))),
             "(8) at b = b_max, (9)", stated=sp.Eq(sp.Symbol("beta_max"), (1 + gamma) / (4 * N))))
    jp = joint_polynomial()
    add(Step("joint_polynomial", "", sp.Eq(jp.as_expr(), 0), "gradient kept: ∇J = λθ, h = ηλ, m = γ - βκ",
             stated=sp.Eq(xi ** 2 - (1 - h) * (1 + m) * xi + (1 - h) * m, 0)))
    add(Step("joint_conditions", "", joint_conditions(), "strict Schur-Cohn in (h, m)"))
    lo, hi, hend = joint_beta_max()
    add(Step("joint_beta_max_small_h", "", sp.Lt(beta, lo), "0 < h < 1: binds at κ = 4N",
             stated=sp.Lt(beta, (gamma + (2 - h) / (2 * (1 - h))) / (4 * N))))
    add(Step("joint_beta_max_large_h", "", sp.Lt(beta, hi), "1 < h < h_max",
             stated=sp.Lt(beta, (gamma + 1 / (h - 1)) / (4 * N))))
    add(Step("joint_h_max", "", sp.Lt(h, hend), "κ = 0: Nesterov's region, independent of β",
             stated=sp.Lt(h, 2 * (1 + gamma) / (1 + 2 * gamma))))
    add(Step("joint_limit_h0", "(11)", sp.Eq(sp.Symbol("beta_max(0+)"), sp.limit(lo, h, 0, "+")),
             "h -> 0+ recovers (11)", stated=sp.Eq(sp.Symbol("beta_max(0+)"), (1 + gamma) / (4 * N))))
    add(Step("joint_slope_h0", "", sp.Eq(sp.Symbol("d ln beta_max/dh (0)"),
                                         sp.simplify(sp.diff(lo, h).subs(h, 0) / lo.subs(h, 0))),
             "relative growth of β_max with h at h = 0", stated=sp.Eq(sp.Symbol("d ln beta_max/dh (0)"),
                                                                      1 / (2 * (1 + gamma)))))
    return out


def derivation(n: int = 2) -> Derivation:
    """The second paper's accelerated PDE with diffusion as a :class:`Derivation` ((1)-(23))."""
    return Derivation("diffusion", "Accelerated PDE with diffusion: scheme, SGD-Nesterov map, CFL, joint region",
                      "Sun, Lao, Sundaramoorthi, Yezzi, 'Accelerated PDEs ... SGD Extension', eqs. (1)-(23)",
                      steps(n))
