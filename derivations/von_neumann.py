"""A general Von Neumann analyzer: characteristic polynomials and exact Schur–Cohn stability.

A linear scheme is given as one or more recurrences in its time levels
(``u^{n+1}, u^n, u^{n-1}, ...``, newest first), possibly through auxiliary
unknowns such as Nesterov's look-ahead ``V^n``; the spatial operator acting on
a level is a placeholder symbol ``G`` multiplying it, replaced by its Fourier
symbol (``z(ω) = α + aβ|Î(ω)|²/2`` for the one-layer CNN of the first paper,
eq. (44); an eigenvalue λ for a quadratic loss).  Substituting
``u^{n+k} = ξ^k û`` gives the characteristic polynomial ``p(ξ)``; the scheme is
stable at that frequency when every root has ``|ξ| ≤ 1``.

* :func:`characteristic_polynomial`, :func:`amplification` -- ``p(ξ)``, or the
  amplification factor ``A`` of a one-level scheme ``u^{n+1} = A u^n``.
* :func:`schur_cohn_conditions` -- exact conditions (Jury's table / Schur–Cohn
  recursion) as SymPy inequalities; the degree-2 case is the "root amplitude
  lemma" of the second paper, eqs. (18)-(19).
* :func:`solve_bound` -- the conditions solved for one parameter.
* :func:`sample_check` -- max |root| at a numeric point (``Poly.nroots``).
* :func:`forward_euler_scheme`, :func:`central_difference_momentum_scheme`,
  :func:`nesterov_semi_implicit_scheme` -- the schemes of Sun et al. 2022
  (first paper), eqs. (21), (39)-(40) and (37)-(38).

Finding (first paper, appendix E, eq. (45)): for Nesterov's scheme with momentum
``μ = (2 - dΔt)/(2 + dΔt)`` and step ``η = 2Δt²/(2 + dΔt)`` the exact region is
``0 < ηz < 2(1 + μ)/(1 + 2μ)``, i.e. ``zΔt² < 4/(1 + 2μ)``.  The paper's (45),
``Δt < 2/√(3z)`` (``zΔt² < 4/3``), is its μ → 1 (d → 0) limit: sufficient but
conservative for 0 < μ < 1 (by the factor ``3/(1 + 2μ)`` on ``zΔt²``, 15/14
at μ = 0.9).  See :func:`nesterov_exact_bound` and :func:`paper_bound_45`.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

import sympy as sp

from workbench.derivations.steps import Derivation, Step
from workbench.derivations.symbols import P, a, alpha, beta, d, dt

__all__ = [
    "Scheme", "xi", "z", "G", "mu", "eta", "h", "n_step", "t_time",
    "characteristic_polynomial", "amplification", "schur_cohn_conditions",
    "solve_bound", "sample_check",
    "forward_euler_scheme", "central_difference_momentum_scheme", "nesterov_semi_implicit_scheme",
    "nesterov_exact_bound", "paper_bound_45", "steps", "derivation",
]

#: amplification factor / root of the characteristic polynomial (complex)
xi = sp.Symbol("xi")
#: Fourier symbol of the spatial operator (first paper (44): z = α + aβ|Î(ω)|²/2)
z = sp.Symbol("z", real=True)
#: placeholder for the spatial operator acting on a level, replaced by its symbol
G = sp.Symbol("G")
#: momentum coefficient μ (> 0 here; the paper's μ = (2 - dΔt)/(2 + dΔt))
mu = sp.Symbol("mu", positive=True)
#: step of the momentum schemes, η = 2Δt²/(2 + dΔt)
eta = sp.Symbol("eta", positive=True)
#: effective step h = η·z
h = sp.Symbol("h", real=True)

K_np1, K_n, K_nm1 = sp.symbols("K^{n+1} K^{n} K^{n-1}", real=True)
V_n = sp.Symbol("V^{n}", real=True)


class Scheme(NamedTuple):
    """A linear multi-level scheme written as data.

    Attributes
    ----------
    levels : tuple of sympy.Symbol
        The iterates, newest first: ``(u^{n+1}, u^n, u^{n-1}, ...)``.
    equations : tuple of sympy.Eq
        The recurrence(s); ``len(eliminate) + 1`` of them.
    symbol : dict
        Operator placeholder -> Fourier symbol, e.g. ``{G: z}``.
    eliminate : tuple of sympy.Symbol
        Auxiliary unknowns (e.g. ``V^n``) solved away before ``u^{n+k} -> ξ^k``.
    """

    levels: tuple
    equations: tuple
    symbol: dict
    eliminate: tuple = ()

    @property
    def polynomial(self) -> sp.Poly:
        """The characteristic polynomial in :data:`xi`."""
        return characteristic_polynomial(self)


def _parts(recurrence, levels, symbol_subs, eliminate):  # noqa: ANN001, ANN202
    if isinstance(recurrence, Scheme):
        return recurrence.equations, recurrence.levels, recurrence.symbol, recurrence.eliminate
    eqs = (recurrence,) if isinstance(recurrence, sp.Eq) else tuple(recurrence)
    return eqs, tuple(levels), dict(symbol_subs or {}), tuple(eliminate)


#: time index and time: a coefficient that contains either is not constant
n_step = sp.Symbol("n", integer=True, nonnegative=True)
t_time = sp.Symbol("t", real=True)


def _check_linear_constant(expr: sp.Expr, unknowns: tuple) -> None:
    """Raise unless ``expr`` is affine in ``unknowns`` with constant coefficients."""
    try:
        poly = sp.Poly(expr, *unknowns)
    except sp.PolynomialError:
        raise ValueError(f"equations: non-linear in the iterates (unsupported): {expr}") from None
    if poly.total_degree() > 1:
        raise ValueError(f"equations: non-linear in the iterates (unsupported): {expr}")
    for c in poly.coeffs():
        timed = [s for s in c.free_symbols if s.name in ("n", "t")]
        funcs = c.atoms(sp.core.function.AppliedUndef)
        if timed or funcs or c.has(*unknowns):
            what = ", ".join(sorted(map(str, [*timed, *funcs]))) or "the iterates"
            raise ValueError(f"equations: non-constant coefficient {c} (depends on {what}; unsupported)")


def characteristic_polynomial(
    recurrence: Scheme | sp.Eq | Iterable[sp.Eq],
    levels: Sequence[sp.Symbol] = (),
    symbol_subs: dict | None = None,
    eliminate: Sequence[sp.Symbol] = (),
) -> sp.Poly:
    """Monic characteristic polynomial ``p(ξ)`` of a linear scheme (Von Neumann ansatz).

    The equations are solved for the newest level and the ``eliminate``
    unknowns; with ``levels = (u^{n+m}, ..., u^n)`` the relation
    ``u^{n+m} = Σ c_k u^{n+k}`` becomes ``p(ξ) = ξ^m - Σ c_k ξ^k`` under
    ``u^{n+k} = ξ^k û``.  Terms free of the levels (forcing, e.g. the
    ``-(a/2)Δt Ī`` of the first paper's (23)) do not affect stability and are
    dropped.

    Parameters
    ----------
    recurrence : Scheme, sympy.Eq or iterable of sympy.Eq
        The scheme; if a :class:`Scheme`, the other arguments are ignored.
    levels : sequence of sympy.Symbol
        Newest first, at least two.
    symbol_subs : dict, optional
        Operator placeholder -> Fourier symbol.
    eliminate : sequence of sympy.Symbol
        Auxiliary unknowns.

    Returns
    -------
    sympy.Poly
        In :data:`xi`, degree ``len(levels) - 1``, leading coefficient 1.
    """
    eqs, levels, subs, elim = _parts(recurrence, levels, symbol_subs, eliminate)
    if len(levels) < 2:
        raise ValueError(f"levels: need at least two time levels, got {len(levels)}")
    if len(eqs) != len(elim) + 1:
        raise ValueError(f"equations: need {len(elim) + 1} (one per eliminated unknown, plus one), got {len(eqs)}")
    exprs = [sp.expand((e.lhs - e.rhs).subs(subs)) for e in eqs]
    unknowns = (*levels, *elim)
    for e in exprs:
        _check_linear_constant(e, unknowns)
    sol = sp.solve(exprs, [levels[0], *elim], dict=True)
    if len(sol) != 1:
        raise ValueError(f"equations: not uniquely solvable for {[levels[0], *elim]}")
    rhs = sp.expand(sol[0][levels[0]])
    m = len(levels) - 1
    p = xi ** m
    for k, lev in enumerate(levels[1:]):
        c = sp.diff(rhs, lev)
        if c.has(*levels, *elim):
            raise ValueError(f"equations: not linear in the level {lev}")
        p -= sp.factor(c) * xi ** (m - 1 - k)
    return sp.Poly(p, xi)


def amplification(
    recurrence: Scheme | sp.Eq | Iterable[sp.Eq],
    levels: Sequence[sp.Symbol] = (),
    symbol_subs: dict | None = None,
    eliminate: Sequence[sp.Symbol] = (),
) -> sp.Expr | sp.Poly:
    """Amplification factor ``A`` (two levels) or characteristic polynomial (more levels).

    Same arguments as :func:`characteristic_polynomial`.  For
    ``u^{n+1} = A u^n`` returns ``A`` (e.g. the first paper's (23),
    ``A(ω) = 1 - Δt z(ω)``); otherwise the monic ``p(ξ)``.
    """
    p = characteristic_polynomial(recurrence, levels, symbol_subs, eliminate)
    if p.degree() == 1:
        return -p.nth(0)
    return p


def _strip_positive(f: sp.Expr) -> sp.Expr:
    """``f`` with the factors of known sign removed (sign flipped for negative ones), so ``f > 0`` keeps its meaning."""
    f = sp.factor(sp.together(f))
    if f.is_number:
        return f
    sign, kept = 1, []
    for fac in sp.Mul.make_args(f):
        if fac.is_positive:
            continue
        if fac.is_negative:
            sign = -sign
            continue
        kept.append(fac)
    return sp.factor(sign * sp.Mul(*kept))


def _rel(f: sp.Expr, strict: bool) -> sp.Basic:
    f = _strip_positive(f)
    return sp.Gt(f, 0) if strict else sp.Ge(f, 0)


def schur_cohn_conditions(poly: sp.Poly | sp.Expr, var: sp.Symbol = xi, strict: bool = True) -> sp.Basic:
    """Exact conditions for all roots of a real polynomial to lie in the unit disk (Jury / Schur–Cohn).

    With the leading coefficient made positive (multiplying by its sign, or by
    itself when the sign is unknown), for ``p(ξ) = a_n ξ^n + ... + a_0``:

    * n = 1: ``p(1) > 0`` and ``-p(-1) > 0`` (``|a_0| < a_1``);
    * n = 2: ``p(1) > 0``, ``p(-1) > 0`` and ``a_2 - a_0 > 0`` -- the root
      amplitude lemma of the second paper (Sun et al., "Accelerated PDEs ...",
      eqs. (18)-(19): ``A ≥ C`` and ``A + C ≥ |B|`` for ``Aξ² - Bξ + C``);
    * n ≥ 3 (strict only): Jury's table, ``p(1) > 0``, ``(-1)^n p(-1) > 0``
      and ``|lead_k| > |const_k|`` (as ``lead_k² - const_k² > 0``; at the first
      level ``a_n ∓ a_0 > 0``) for the Schur–Cohn reduced polynomials
      ``p_{k-1}(ξ) = (lead_k p_k(ξ) - const_k ξ^k p_k(1/ξ))/ξ`` of degrees n, ..., 2.

    ``strict=True`` gives Schur stability, every ``|ξ| < 1``.  ``strict=False``
    (n ≤ 2 only) gives the closure, every ``|ξ| ≤ 1``; it admits repeated roots on
    the unit circle (e.g. ``(ξ - 1)²``), whose modes grow linearly, so Von
    Neumann stability in the strong sense needs those excluded separately.

    Parameters
    ----------
    poly : sympy.Poly or sympy.Expr
        Real coefficients (symbols declared real / positive as needed).
    var : sympy.Symbol
        The polynomial's variable, :data:`xi` by default.
    strict : bool
        Open (Schur) or closed unit disk.

    Returns
    -------
    sympy.Basic
        ``And`` of inequalities (``True``/``False`` when the coefficients are numbers).
    """
    p = sp.Poly(poly, var)
    n = p.degree()
    if n < 1:
        raise ValueError(f"poly: degree must be >= 1, got {n}")
    if not strict and n > 2:
        raise ValueError("strict: the closed-disk version is given for degree <= 2 only")
    lead = p.LC()
    if lead.is_negative:
        p = -p
    elif not lead.is_positive:
        p = p * sp.Poly(lead, var)             # leading coefficient lead² > 0 (lead ≠ 0)
    c = p.all_coeffs()                         # a_n, ..., a_0
    p1, pm1 = p.eval(1), (-1) ** n * p.eval(-1)
    conds = [_rel(p1, strict), _rel(pm1, strict)]
    if n == 2:
        conds.append(_rel(c[0] - c[-1], strict))
    elif n >= 3:
        conds += [_rel(c[0] - c[-1], True), _rel(c[0] + c[-1], True)]
        row = [sp.expand(v) for v in c]        # highest degree first
        while len(row) > 3:                     # reduce to degree len(row) - 2
            ln, c0 = row[0], row[-1]
            row = [sp.expand(ln * row[j] - c0 * row[-1 - j]) for j in range(len(row) - 1)]
            conds.append(_rel(row[0] ** 2 - row[-1] ** 2, True))
    return sp.And(*conds)


def solve_bound(conditions: sp.Basic, parameter: sp.Symbol, assume: dict | None = None) -> sp.Basic:
    """Solve stability conditions for one parameter (``reduce_inequalities``).

    Conditions free of ``parameter`` are kept as side conditions; the others must
    be univariate in it, with the other symbols' signs fixed by their declared
    assumptions (e.g. :data:`mu` positive) or by ``assume``.

    Parameters
    ----------
    conditions : sympy.Basic
        An ``And`` of inequalities, e.g. from :func:`schur_cohn_conditions`.
    parameter : sympy.Symbol
        What to solve for (α, Δt, z, h, ...).
    assume : dict, optional
        Substitution applied first, e.g. ``{mu: Rational(9, 10)}``.

    Returns
    -------
    sympy.Basic
        ``And`` of simple bounds on ``parameter`` (and side conditions).

    Raises
    ------
    ValueError
        When SymPy cannot solve them (e.g. a coefficient of unknown sign).
    """
    cond = conditions.subs(assume) if assume else conditions
    rels = list(cond.args) if isinstance(cond, sp.And) else [cond]
    if cond in (sp.true, sp.false):
        return cond
    rels = [_rel(r.lhs - r.rhs, isinstance(r, sp.Gt)) if isinstance(r, (sp.Gt, sp.Ge)) else r for r in rels]
    side = [r for r in rels if parameter not in r.free_symbols]
    main = [r for r in rels if parameter in r.free_symbols]
    try:
        sol = sp.reduce_inequalities(main, parameter) if main else sp.true
    except (NotImplementedError, ValueError, TypeError) as err:
        raise ValueError(f"solve_bound: cannot solve for {parameter}: {err}") from err
    parts = []
    for r in (sol.args if isinstance(sol, sp.And) else (sol,)):
        if isinstance(r, sp.core.relational.Relational) and not r.has(sp.oo, -sp.oo):
            r = r.func(sp.factor(r.lhs), sp.factor(r.rhs))
        elif isinstance(r, sp.core.relational.Relational):
            continue
        if not (isinstance(r, sp.core.relational.Relational) and parameter in (r.lhs, r.rhs)
                and not (r.lhs - r.rhs).diff(parameter).has(parameter)):
            raise ValueError(f"solve_bound: cannot isolate {parameter} in {r} (sign of its coefficient unknown?)")
        parts.append(r)
    return sp.And(*side, *parts)


def sample_check(
    poly: sp.Poly | sp.Expr, var: sp.Symbol = xi, params: dict | None = None, symbol_values: dict | None = None
) -> float:
    """Largest root modulus of ``poly`` at a numeric point (SymPy ``Poly.nroots``).

    ``params`` and ``symbol_values`` are both substitutions (scheme parameters
    and the Fourier symbol's ingredients); every symbol but ``var`` must be given.
    """
    subs = {**(params or {}), **(symbol_values or {})}
    expr = poly.as_expr() if isinstance(poly, sp.Poly) else poly
    p = sp.Poly(expr.subs(subs), var)
    if p.free_symbols - {var}:
        raise ValueError(f"params: no value for {sorted(map(str, p.free_symbols - {var}))}")
    if p.degree() < 1:
        return 0.0
    return float(max(abs(r) for r in p.nroots(n=30, maxsteps=200)))


# -- the schemes of the papers -------------------------------------------------
def forward_euler_scheme(symbol: sp.Expr | None = None) -> Scheme:
    """Forward Euler ``u^{n+1} = u^n - Δt G u^n`` (Sun et al. 2022, appendix D.3, eq. (21)).

    ``G -> symbol``, by default ``z = α + aβP/2`` (eq. (44)), so that
    :func:`amplification` gives the amplifier (23).
    """
    sym = alpha + a * beta * P / 2 if symbol is None else symbol
    eq = sp.Eq(K_np1, K_n - dt * G * K_n)
    return Scheme((K_np1, K_n), (eq,), {G: sym})


def _momentum(momentum: sp.Expr | None, step: sp.Expr | None) -> tuple[sp.Expr, sp.Expr]:
    m = (2 - d * dt) / (2 + d * dt) if momentum is None else momentum
    s = 2 * dt ** 2 / (2 + d * dt) if step is None else step
    return m, s


def central_difference_momentum_scheme(
    momentum: sp.Expr | None = None, step: sp.Expr | None = None, symbol: sp.Expr = z
) -> Scheme:
    """Heavy ball ``K^{n+1} = K^n + μ(K^n - K^{n-1}) - η G K^n`` (Sun et al. 2022, appendix E, eqs. (39)-(40)).

    Defaults: the paper's ``μ = (2 - dΔt)/(2 + dΔt)``, ``η = 2Δt²/(2 + dΔt)``;
    pass ``momentum=mu, step=eta`` for the (η, μ) form.
    """
    m, s = _momentum(momentum, step)
    eq = sp.Eq(K_np1, K_n + m * (K_n - K_nm1) - s * G * K_n)
    return Scheme((K_np1, K_n, K_nm1), (eq,), {G: symbol})


def nesterov_semi_implicit_scheme(
    momentum: sp.Expr | None = None, step: sp.Expr | None = None, symbol: sp.Expr = z
) -> Scheme:
    """Nesterov ``V^n = K^n + μ(K^n - K^{n-1})``, ``K^{n+1} = V^n - η G V^n`` (Sun et al. 2022, appendix E, eqs. (37)-(38), (42)-(43)).

    Defaults as in :func:`central_difference_momentum_scheme`; ``V^n`` is eliminated.
    """
    m, s = _momentum(momentum, step)
    eqs = (sp.Eq(V_n, K_n + m * (K_n - K_nm1)), sp.Eq(K_np1, V_n - s * G * V_n))
    return Scheme((K_np1, K_n, K_nm1), eqs, {G: symbol}, (V_n,))


@lru_cache(maxsize=None)
def nesterov_exact_bound() -> sp.And:
    """Exact stability region of Nesterov's scheme in ``h = ηz`` for ``μ > 0`` (appendix E, eqs. (42)-(44)).

    Derived: characteristic polynomial with ``z = h/η``, strict Schur–Cohn
    conditions, solved for h.  For ``0 < μ < 1`` the lower bound ``1 - 1/μ`` is
    negative and the region is ``0 < h < 2(1 + μ)/(1 + 2μ)``.
    """
    poly = nesterov_semi_implicit_scheme(mu, eta, h / eta).polynomial
    return solve_bound(schur_cohn_conditions(poly), h)


@lru_cache(maxsize=None)
def paper_bound_45() -> sp.Expr:
    """Upper bound on ``h = ηz`` implied by the first paper's (45), ``Δt < 2/√(3z)``, as a function of μ.

    (45) reads ``zΔt² < 4/3``; with ``μ = (2 - dΔt)/(2 + dΔt)`` solved for d,
    ``η = 2Δt²/(2 + dΔt) = Δt²(1 + μ)/2``, so (45) is ``h < (4/3)·η/Δt²``.
    """
    d_of_mu = sp.solve(sp.Eq(mu, (2 - d * dt) / (2 + d * dt)), d)[0]
    eta_of_mu = sp.simplify((2 * dt ** 2 / (2 + d * dt)).subs(d, d_of_mu))
    return sp.factor(sp.Rational(4, 3) * eta_of_mu / dt ** 2)


def _upper(region: sp.Basic, var: sp.Symbol) -> sp.Basic:
    """The ``var < bound`` member of an ``And`` from :func:`solve_bound`, as ``var < bound``."""
    for r in sp.And.make_args(region):
        r = r.reversed if isinstance(r, (sp.Gt, sp.Ge)) and r.rhs == var else r
        if isinstance(r, (sp.Lt, sp.Le)) and r.lhs == var:
            return r
    raise ValueError(f"region: no upper bound on {var} in {region}")


def steps() -> list[Step]:
    """Nesterov's scheme through the analyzer: scheme, p(ξ), Schur–Cohn, exact bound, (45)."""
    sch = nesterov_semi_implicit_scheme(mu, eta, z)
    poly = sch.polynomial
    conds = schur_cohn_conditions(sp.Poly(poly.as_expr().subs(z, h / eta), xi))
    exact = nesterov_exact_bound()
    upper = 2 * (1 + mu) / (1 + 2 * mu)
    return [
        Step("lookahead", "(42)", sch.equations[0].subs(sch.symbol), "look-ahead V^n, momentum μ"),
        Step("update", "(43)", sch.equations[1].subs(sch.symbol), "gradient step at V^n, G -> z(ω)"),
        Step("characteristic_polynomial", "", sp.Eq(poly.as_expr(), 0),
             "V^n eliminated, K^{n+k} -> ξ^k K̂"),
        Step("schur_cohn", "", conds, "strict Jury conditions (|ξ| < 1) in h = ηz"),
        Step("exact_bound", "", exact, "solved for h; for 0 < μ < 1 the bound 1 - 1/μ < 0 is inactive"),
        Step("exact_upper", "", _upper(exact, h), "upper bound on h = ηz", stated=sp.Lt(h, upper)),
        Step("paper_bound_45", "(45)", sp.Lt(h, paper_bound_45()),
             "(45) zΔt² < 4/3 in h, with η = Δt²(1+μ)/2; equals the exact bound only at μ = 1"),
    ]


def derivation() -> Derivation:
    """Von Neumann analysis of Nesterov's scheme (Sun et al. 2022, appendix E, eqs. (37)-(45))."""
    return Derivation("von-neumann-nesterov", "Nesterov's semi-implicit scheme: exact Schur–Cohn stability",
                      "Sun et al. 2022, appendix E, eqs. (37)-(45)", steps())
