"""Linear optimizers as data: one state-space record per scheme, with its citation.

Every first-order method with momentum buffers is written in one form: a state
``s = (s_0, s_1, …)`` whose first component is the iterate θ, the gradient taken at
the point ``x = C·s``, and the update

    s' = A·s − η B·g,     g = ∇f(x),

with small coefficient matrices ``A`` (m×m), ``B`` (m×1) and ``C`` (1×m) that depend
on the hyperparameters only (buffers that carry a gradient are stored multiplied by
η, so that η enters only through ``B``).  On a quadratic with Hessian eigenvalue λ
(or on one Fourier mode of the first paper's linearized CNN, λ = z(ω), eq. (44)) the
state evolves by ``s' = (A − h B C) s`` with ``h = ηλ``, so the characteristic
polynomial is

    p(ξ) = det(ξ I − A + h B C),

and the scheme is stable at that mode iff every root lies in the open unit disk
(Schur–Cohn / Jury, :func:`workbench.derivations.von_neumann.schur_cohn_conditions`).  The
stable set in ``h`` is an interval ``h_lower < h < h_upper`` , in
closed form where SymPy reduces the conditions (:func:`closed_region`), and numerically at
given numeric hyperparameters otherwise (:func:`workbench.solvers.stepping.optimizers.h_interval`).  The numeric stepper
(:mod:`workbench.solvers.stepping.stepper`) iterates the very same ``A, B, C``.

Adding a scheme is one :func:`register` call (the entries are in :mod:`workbench.derivations.schemes.entries`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sympy as sp

from workbench.derivations.schemes import derived
from workbench.derivations.schemes.derived import HyperRange
from workbench.derivations.steps import Derivation, Step
from workbench.derivations.von_neumann import eta, h, mu, schur_cohn_conditions, solve_bound, xi

__all__ = ["Hyper", "Parametrization", "Optimizer", "LAPLACIAN", "register", "get", "names", "canonical",
           "polynomial", "closed_region", "describe", "derivation"]


@dataclass(frozen=True)
class Hyper(HyperRange):
    """A hyperparameter: name, symbol, default and valid range.

    ``lower``/``upper`` bound the range, ``*_open`` says whether the end is excluded.
    ``integer`` hyperparameters are structural (they change the size of the state,
    e.g. AggMo's K) and are passed to the record as Python ints.
    """

    name: str
    symbol: sp.Symbol
    default: float
    lower: float
    upper: float
    lower_open: bool = False
    upper_open: bool = True
    doc: str = ""
    integer: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Parametrization:
    """A named alternative parametrization: its own parameters mapped to (η, hyperparameters).

    ``maps`` holds SymPy expressions in the alternative's symbols for ``"lr"`` and for
    each hyperparameter name of the scheme; ``check`` optionally returns an error text
    (the offending parameter first) for values outside the alternative's domain.
    """

    name: str
    params: tuple[Hyper, ...]
    maps: dict[str, sp.Expr]
    doc: str = ""
    check: Callable[[dict[str, float]], str | None] | None = None


@dataclass(frozen=True)
class Optimizer:
    """One registered linear optimizer.

    Attributes
    ----------
    name : str
        Registry key (``"heavy-ball"``); ``aliases`` are accepted too.
    title, citation : str
        What it is and where it comes from.
    hypers : tuple of Hyper
        Hyperparameters besides the learning rate η.
    record : callable
        ``record(values) -> (A, B, C, kinds)``: ``values`` maps each hyperparameter name
        to its symbol (or an int for integer ones); returns SymPy matrices and, per
        state component, ``"theta"`` (starts at θ₀) or ``"buffer"`` (starts at 0).
    update : str
        The update in words/Unicode, as the source writes it.
    paper_region : callable, optional
        ``h_upper`` the source states, when it differs from the exact region (first
        paper (45) for Nesterov), as a function of the hyperparameter symbols.
    """

    name: str
    title: str
    citation: str
    hypers: tuple[Hyper, ...]
    record: Callable[[dict[str, Any]], tuple[sp.Matrix, sp.Matrix, sp.Matrix, tuple[str, ...]]]
    update: str
    aliases: tuple[str, ...] = ()
    parametrizations: tuple[Parametrization, ...] = ()
    paper_region: Callable[[dict[str, Any]], sp.Expr] | None = None
    paper_region_source: str = ""
    extra: dict = field(default_factory=dict)

    def hyper(self, name: str) -> Hyper:
        for p in self.hypers:
            if p.name == name:
                return p
        raise KeyError(name)

    def symbols(self, integers: dict[str, int] | None = None) -> dict[str, Any]:
        """Hyperparameter symbols, integer ones replaced by ``integers`` (or their defaults)."""
        ints = integers or {}
        return {p.name: (int(ints.get(p.name, p.default)) if p.integer else p.symbol) for p in self.hypers}

    def matrices(self, values: dict[str, Any] | None = None) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix, tuple]:
        """``(A, B, C, kinds)`` with symbols, or at the given values."""
        vals = self.symbols({k: v for k, v in (values or {}).items() if self._is_int(k)})
        if self.extra.get("operator"):                 # on one Fourier mode the Laplacian L acts as −κ
            vals["L"] = -self.hyper(self.extra["operator"]).symbol
        A, B, C, kinds = self.record(vals)
        if values:
            subs = {self.hyper(k).symbol: sp.nsimplify(v) if isinstance(v, sp.Basic) else _exact(v)
                    for k, v in values.items() if not self._is_int(k)}
            A, B, C = A.subs(subs), B.subs(subs), C.subs(subs)
        return A, B, C, kinds

    def operator_matrices(self) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix, tuple]:
        """``(A, B, C, kinds)`` with the record's linear operator as the symbol :data:`LAPLACIAN`.

        For a record whose coefficients involve the discrete Laplacian (``extra["operator"]`` names
        the hyperparameter κ of a Fourier mode, on which L acts as −κ; second paper (5)):
        A = A₀ + A₁L + A₂L², …; :meth:`matrices` (and so the analysis) takes them on one mode.
        """
        if not self.extra.get("operator"):
            raise ValueError(f"scheme: {self.name} has no operator coefficients")
        return self.record({**self.symbols(), "L": LAPLACIAN})

    def _is_int(self, name: str) -> bool:
        return any(p.name == name and p.integer for p in self.hypers)

    def __str__(self) -> str:
        return describe(self)

    def latex(self) -> str:
        return describe(self, latex=True)

    def _repr_latex_(self) -> str:
        return "$" + polynomial_latex(self) + "$"


#: the discrete Laplacian (second paper (5)) as it appears in a record's coefficients (:meth:`Optimizer.operator_matrices`)
LAPLACIAN = sp.Symbol("L")


def _exact(v: float) -> sp.Rational:
    """A number as the rational of its shortest decimal form (0.9 -> 9/10, as the user wrote it)."""
    return sp.Integer(v) if isinstance(v, int) else sp.Rational(repr(float(v)))


def _inactive_low(lo: sp.Expr, opt: "Optimizer") -> bool:
    """True when a lower bound in h is ≤ 0 over its hyperparameter's range (checked on 63 interior points)."""
    if lo == 0 or lo.is_nonpositive:
        return True
    syms = [p for p in opt.hypers if p.symbol in lo.free_symbols]
    if len(syms) != 1:
        return False
    p = syms[0]
    top = p.upper if p.upper != float("inf") else 1e6
    grid = [p.lower + (top - p.lower) * k / 64 for k in range(1, 64)]
    return all(float(lo.subs(p.symbol, v)) <= 0 for v in grid)


_REGISTRY: dict[str, Optimizer] = {}
_ALIASES: dict[str, str] = {}


def register(opt: Optimizer) -> Optimizer:
    """Add ``opt`` to the registry (names and aliases must be new)."""
    for key in (opt.name, *opt.aliases):
        if key in _REGISTRY or key in _ALIASES:
            raise ValueError(f"scheme: {key!r} is registered already")
    _REGISTRY[opt.name] = opt
    for al in opt.aliases:
        _ALIASES[al] = opt.name
    closed_region.cache_clear()         # keyed by name: a name registered again is solved again
    derived.invalidate()                # the data view re-reads the live registry (record hashes)
    return opt


def names() -> tuple[str, ...]:
    """Registered scheme names, in registration order (aliases excluded)."""
    return tuple(_REGISTRY)


def canonical(name: str) -> str:
    """The registry name for ``name`` or one of its aliases; ``ValueError`` if unknown."""
    if isinstance(name, str):
        if name in _REGISTRY:
            return name
        if name in _ALIASES:
            return _ALIASES[name]
    raise ValueError(f"scheme: unknown {name!r}; registered: {', '.join(names())}")


def get(name: str) -> Optimizer:
    """The optimizer registered under ``name`` (or an alias)."""
    return _REGISTRY[canonical(name)]


# -- analysis ----------------------------------------------------------------------
def polynomial(opt: Optimizer, values: dict[str, Any] | None = None) -> sp.Poly:
    """``p(ξ) = det(ξI − A + h B C)`` in :data:`xi`, with ``h = ηλ`` (monic, degree = state size)."""
    A, B, C, _ = opt.matrices(values)
    m = A.shape[0]
    M = xi * sp.eye(m) - A + h * B * C
    return sp.Poly(sp.expand(M.det(method="berkowitz")), xi)


def polynomial_latex(opt: Optimizer, values: dict[str, Any] | None = None) -> str:
    return sp.latex(sp.Eq(polynomial(opt, values).as_expr(), 0))


def _split(region: sp.Basic, var: sp.Symbol) -> tuple[list, list, list]:
    lows, highs, side = [], [], []
    for r in sp.And.make_args(region):
        if r is sp.true:
            continue
        if var not in r.free_symbols:
            side.append(r)
            continue
        r = r.reversed if isinstance(r, (sp.Gt, sp.Ge)) else r
        if not isinstance(r, (sp.Lt, sp.Le)):
            raise ValueError(f"region: unexpected condition {r}")
        if r.rhs == var:
            lows.append(r.lhs)
        elif r.lhs == var:
            highs.append(r.rhs)
        else:
            raise ValueError(f"region: {r} does not bound {var}")
    return lows, highs, side


def _solve_on_ranges(opt: Optimizer, poly: sp.Poly) -> tuple[list, list]:
    """The Schur–Cohn conditions solved for h with each bounded hyperparameter p ∈ (lo, hi) written
    p = lo + (hi − lo)·t/(1 + t), t > 0, so SymPy knows the signs the ranges imply (QHM: 1 − β > 0,
    1 + β − 2βν > 0); lower bounds ≤ 0 for every t are dropped, the rest mapped back to p.
    Opted into by ``extra["solve_on_ranges"]``; ``ValueError`` when SymPy still cannot isolate h.
    """
    fwd, back = {}, {}
    for p in opt.hypers:
        if p.lower > float("-inf") and p.upper < float("inf") and p.lower < p.upper:
            t = sp.Symbol(f"t_{p.name}", positive=True)
            lo, hi = sp.nsimplify(p.lower), sp.nsimplify(p.upper)
            fwd[p.symbol], back[t] = lo + (hi - lo) * t / (1 + t), (p.symbol - lo) / (hi - p.symbol)
    mapped = sp.Poly(sp.together(poly.as_expr().subs(fwd)), xi)
    lows, highs, _ = _split(solve_bound(schur_cohn_conditions(mapped), h), h)
    lows = [v for v in lows if not (v == 0 or sp.simplify(v).is_nonpositive)] or [sp.Integer(0)]
    return [sp.simplify(v.subs(back)) for v in lows], [sp.simplify(v.subs(back)) for v in highs]


@lru_cache(maxsize=None)
def closed_region(name: str) -> tuple[sp.Expr, sp.Expr] | None:
    """``(h_lower, h_upper)`` in the hyperparameter symbols, or ``None`` if SymPy cannot reduce it.

    The strict Schur–Cohn conditions of :func:`polynomial` solved for ``h``
    (:func:`workbench.derivations.von_neumann.solve_bound`), under the symbols' sign
    assumptions; several lower (upper) bounds are combined with ``Max`` (``Min``).
    Schemes with integer (structural) hyperparameters, and polynomials of degree > 2,
    are left to the numeric :func:`workbench.solvers.stepping.optimizers.h_interval`.
    """
    opt = get(name)
    if any(p.integer for p in opt.hypers):
        return None
    poly = polynomial(opt)
    if poly.degree() > 2:
        return None
    try:
        lows, highs, _ = _split(solve_bound(schur_cohn_conditions(poly), h), h)
    except ValueError:
        if not opt.extra.get("solve_on_ranges"):
            return None
        try:
            lows, highs = _solve_on_ranges(opt, poly)
        except ValueError:
            return None
    if not lows or not highs:
        return None
    lows = [sp.simplify(v) for v in lows if not _inactive_low(sp.simplify(v), opt)] or [sp.Integer(0)]
    lo = sp.Max(*lows)
    hi = sp.Min(*[sp.factor(sp.simplify(v)) for v in highs])
    return lo, hi


def describe(opt: Optimizer, latex: bool = False, values: dict[str, Any] | None = None) -> str:
    """The scheme as text (or LaTeX): update, state-space record, polynomial and region."""
    A, B, C, kinds = opt.matrices(values)
    poly = polynomial(opt, values).as_expr()
    closed = None if values else closed_region(opt.name)
    hyp = ", ".join(f"{p.name} ∈ {p.range_text()} (default {p.default:g})" for p in opt.hypers) or "none"
    if latex:
        lines = [rf"\text{{{opt.name}: {opt.title}}}", rf"A = {sp.latex(A)},\ B = {sp.latex(B)},\ C = {sp.latex(C)}",
                 sp.latex(sp.Eq(poly, 0))]
        if closed is not None:
            lines.append(sp.latex(sp.And(sp.Lt(closed[0], h), sp.Lt(h, closed[1]))))
        return r" \\ ".join(lines)
    pr = lambda e: sp.pretty(e, use_unicode=True, wrap_line=False)  # noqa: E731
    out = [f"{opt.name}: {opt.title}", f"  source: {opt.citation}", f"  update: {opt.update}",
           f"  hyperparameters: {hyp}", f"  state: ({', '.join(kinds)}); s' = A s − η B ∇f(C s)",
           f"  A = {sp.sstr(A.tolist())}, B = {sp.sstr(B.T.tolist()[0])}ᵀ, C = {sp.sstr(C.tolist()[0])}",
           f"  p(ξ) = {pr(poly)}   (h = ηλ)"]
    if closed is not None:
        out.append(f"  stable ⇔ {pr(closed[0])} < h < {pr(closed[1])}")
    else:
        out.append("  region: given numerically at the hyperparameters (exact Jury conditions, no closed form)")
    for par in opt.parametrizations:
        out.append(f"  parametrization {par.name!r}: " + ", ".join(
            f"{k} = {sp.sstr(v)}" for k, v in par.maps.items()))
    return "\n".join(out)


def derivation(name: str) -> Derivation:
    """The registered scheme as a derivation chain: record, iteration matrix, p(ξ), Schur–Cohn, region.

    ``workbench derive scheme-<name>`` prints it (text, ``--latex``, ``--json``);
    integer hyperparameters (AggMo's K) at their defaults.
    """
    opt = get(name)
    A, B, C, kinds = opt.matrices()
    m = A.shape[0]
    s_sym = sp.Matrix(sp.symbols(f"s_0:{m}", real=True))
    g = sp.Symbol("g", real=True)
    M = A - h * B * C
    poly = polynomial(opt)
    steps = [
        Step("update", "", sp.Eq(sp.Symbol("s'"), sp.MatAdd(sp.MatMul(A, s_sym, evaluate=False),
                                                            sp.MatMul(-eta * g, B, evaluate=False),
                                                            evaluate=False), evaluate=False),
             f"{opt.update}; state ({', '.join(kinds)}), g = ∇f(C s) with C = {sp.sstr(C.tolist()[0])}"),
        Step("iteration_matrix", "", sp.Eq(sp.Symbol("M(h)"), M, evaluate=False),
             "on a quadratic mode of curvature λ: s' = (A − h B C) s, h = ηλ"),
        Step("characteristic_polynomial", "", sp.Eq(poly.as_expr(), 0), "p(ξ) = det(ξI − A + h B C)"),
    ]
    if poly.degree() <= 2 and not any(p.integer for p in opt.hypers):
        steps.append(Step("schur_cohn", "", schur_cohn_conditions(poly), "strict Schur–Cohn (Jury) conditions"))
    closed = closed_region(opt.name)
    if closed is not None:
        steps.append(Step("region", "", sp.And(sp.Lt(closed[0], h), sp.Lt(h, closed[1])),
                          "solved for h (inactive lower bounds dropped over the hyperparameters' ranges)"))
    if opt.paper_region is not None:
        stated = opt.paper_region({p.name: p.symbol for p in opt.hypers})
        steps.append(Step("stated_region", "", sp.Lt(h, stated), opt.paper_region_source))
    return Derivation(f"scheme-{opt.name}", f"{opt.title}: state-space record and exact region", opt.citation, steps)



from workbench.derivations.schemes import entries as _entries  # noqa: E402,F401  (registers the schemes; see the package docstring)
