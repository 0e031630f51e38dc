"""Registered optimizers, numerically: validated hyperparameters, coefficients and exact regions.

The records live in :mod:`workbench.derivations.schemes.registry` (``s' = A s − η B ∇f(C s)``); this
module reads them as derived data (:mod:`workbench.derivations.schemes.derived`: expression
trees, no SymPy at run time), resolves a scheme name and user-given values into numbers
(:func:`resolve`), gives the stable interval ``h_lower < ηλ < h_upper`` at those
values (:func:`h_interval`: the closed form where SymPy gave one, evaluated from its
tree, else the roots of the Jury conditions of the same polynomial, checked by root
moduli), and the largest stable learning rate for a spectrum (:func:`max_stable_lr`).

Regions without a closed form come from the unit-circle crossings of the roots
(:func:`_crossings`), classified by :func:`spectral_radius` between them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from workbench.derivations.schemes import derived as reg
from workbench.derivations.schemes.trees import evaluate, symbols_of

from workbench.solvers.core.checks import ParameterError, check_finite

__all__ = ["Resolved", "resolve", "resolve_scheme", "spectral_radius", "h_interval", "paper_h_upper", "max_stable_lr", "schemes", "Region"]


def schemes() -> tuple[str, ...]:
    """Registered scheme names (:func:`workbench.derivations.schemes.registry.names`)."""
    return reg.names()


def _opt(name: Any) -> reg.SchemeInfo:
    try:
        return reg.get(name)
    except ValueError as err:
        raise ParameterError(str(err)) from None


@dataclass(frozen=True)
class Resolved:
    """A scheme with every number fixed: learning rate, hyperparameters, coefficient matrices.

    ``given`` echoes the values as the user gave them (e.g. Nesterov's ``dt`` and
    ``d``); ``A`` (m×m), ``B`` (m,), ``C`` (m,) are float arrays; ``kinds[i]`` is
    ``"theta"`` or ``"buffer"`` for state component i.
    """

    name: str
    lr: float
    hyper: dict[str, float]
    given: dict[str, float]
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    kinds: tuple[str, ...]
    parametrization: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def optimizer(self) -> reg.SchemeInfo:
        """The scheme's record as data (:class:`workbench.derivations.schemes.derived.SchemeInfo`)."""
        return reg.get(self.name)

    def to_dict(self) -> dict:
        return {"scheme": self.name, "lr": self.lr, "params": dict(self.hyper), **dict(self.given)}


def _number(name: str, v: Any) -> float:
    if isinstance(v, bool):
        raise ParameterError(f"{name}: expected a number, got {v!r}")
    return check_finite(name, v)


def _in_range(p: reg.HyperInfo, v: float, via: str = "") -> float:
    if not p.contains(v):
        kind = "an integer in" if p.integer else "in"
        extra = f" (from {via})" if via else ""
        raise ParameterError(f"{p.name}: must lie {kind} {p.range_text()}, got {v!r}{extra}")
    return int(v) if p.integer else float(v)


def _solve_alt(name: str, alt: str, missing: str) -> Any:
    """The tree of the alternative parameter ``missing`` through the others and the hyperparameters."""
    par = next(p for p in reg.get(name).parametrizations if p.name == alt)
    return par.solve.get(missing)


def _from_alternative(opt: Any, alt_given: dict[str, float], hyper: dict[str, float], names: dict[str, Any],
                      lr: float | None) -> tuple[float | None, dict[str, float], str]:
    """(η, the alternative's values, its name) from an alternative parametrization's given values.

    Missing parameters of the alternative are solved from the given ones (and the
    hyperparameters, defaults where needed); ``hyper`` receives the mapped hyperparameters
    that were not given directly (a given one is kept exactly).
    """
    par = next(p for p in opt.parametrizations if any(q.name in alt_given for q in p.params))
    for q in par.params:
        if q.name in alt_given:
            _in_range(q, alt_given[q.name])
    missing = [q.name for q in par.params if q.name not in alt_given]
    for m in missing:
        expr = _solve_alt(opt.name, par.name, m)
        known = {q.symbol: alt_given[q.name] for q in par.params if q.name in alt_given}
        known.update({opt.hyper(k).symbol: v for k, v in hyper.items()})
        free = symbols_of(expr) if expr is not None else set()
        for p in opt.hypers:                       # e.g. dt alone: the default momentum
            if p.symbol in free and p.symbol not in known:
                known[p.symbol] = float(p.default)
                hyper[p.name] = float(p.default)
        if expr is None or not free <= set(known):
            raise ParameterError(f"{m}: needed with {', '.join(sorted(alt_given))} for {opt.name}")
        alt_given[m] = _eval(m, expr, known)
        _in_range(next(q for q in par.params if q.name == m), alt_given[m],
                  via=", ".join(sorted(map(str, known))))
    if (msg := par.check(alt_given)):
        raise ParameterError(msg)
    syms = {q.symbol: alt_given[q.name] for q in par.params}
    for hname, expr in par.maps.items():
        val = _eval(par.params[0].name, expr, syms)
        if hname == "lr":
            if val <= 0:
                raise ParameterError(f"{par.params[0].name}: " + ", ".join(
                    f"{k}={v:.6g}" for k, v in sorted(alt_given.items())) + f" gives the step lr = {val!r} "
                    "(underflow); use a larger step")
            if lr is not None and not math.isclose(lr, val, rel_tol=1e-12):
                raise ParameterError(f"lr: {lr!r} disagrees with the step {val!r} given by "
                                     f"{', '.join(sorted(alt_given))}; give one of them")
            lr = val
        elif hname in hyper and not math.isclose(hyper[hname], val, rel_tol=1e-9, abs_tol=1e-15):
            raise ParameterError(f"{hname}: {hyper[hname]!r} disagrees with {hname} = {val:.6g} given by "
                                 f"{', '.join(f'{k}={v:.6g}' for k, v in sorted(alt_given.items()))}; "
                                 "give one of them")
        elif hname not in hyper:                   # a given hyperparameter is kept exactly
            if not names[hname].contains(val):
                last = par.params[-1].name
                raise ParameterError(f"{last}: " + ", ".join(f"{k}={v:.6g}" for k, v in sorted(alt_given.items()))
                                     + f" gives {hname} = {val!r} in floating point, outside "
                                     f"{names[hname].range_text()}")
            hyper[hname] = val
    return lr, dict(alt_given), par.name


def resolve(scheme: str, lr: float | None = None, params: dict[str, Any] | None = None) -> Resolved:
    """Validate a scheme's learning rate and hyperparameters and fix its coefficients.

    Parameters
    ----------
    scheme : str
        A registered name or alias (``workbench schemes`` lists them).
    lr : float, optional
        The learning rate η > 0; may instead come from an alternative parametrization
        (Nesterov's ``dt`` and ``d``, first paper appendix E; for ``gd`` ``dt`` is η).
    params : dict
        Hyperparameters by name or alias (``momentum`` for μ), or an alternative
        parametrization's parameters.  Missing hyperparameters take their defaults.

    Raises
    ------
    ParameterError
        Unknown scheme or parameter, a value outside its range, a missing or
        non-positive learning rate, or values whose map overflows.
    """
    opt = _opt(scheme)
    params = dict(params or {})
    names = {p.name: p for p in opt.hypers}
    alias = {al: p.name for p in opt.hypers for al in p.aliases}
    alt_params = {q.name: par for par in opt.parametrizations for q in par.params}
    hyper: dict[str, float] = {}
    alt_given: dict[str, float] = {}
    for key, v in params.items():
        if v is None:
            continue
        if key in names or key in alias:
            hname = alias.get(key, key)
            if hname in hyper:
                raise ParameterError(f"{key}: {hname} given twice")
            hyper[hname] = _in_range(names[hname], _number(key, v))
        elif key in alt_params:
            alt_given[key] = _number(key, v)
        else:
            takes = [p.name for p in opt.hypers] + list(alt_params)
            raise ParameterError(f"{key}: unknown hyperparameter of {opt.name}; it takes "
                                 f"{', '.join(takes) if takes else 'only the learning rate lr'}")
    given: dict[str, float] = {}
    par_name = ""
    if alt_given:
        lr, given, par_name = _from_alternative(opt, alt_given, hyper, names, lr)
    if lr is None:
        raise ParameterError(f"lr: the learning rate of {opt.name} is required (or "
                             f"{' and '.join(q.name for par in opt.parametrizations for q in par.params) or 'lr'})")
    lr = _number("lr", lr)
    if lr <= 0:
        raise ParameterError(f"lr: must be > 0, got {lr!r}")
    for p in opt.hypers:
        hyper.setdefault(p.name, int(p.default) if p.integer else float(p.default))
    A, B, C = _matrices(opt.name, tuple(sorted(hyper.items())))
    kinds = _matrix_fn(opt.name, tuple((k, int(v)) for k, v in sorted(hyper.items()) if opt.hyper(k).integer))[2]
    return Resolved(opt.name, float(lr), hyper, given, A, B, C, kinds, par_name)



def resolve_scheme(scheme: str | Resolved = "gd", dt: float | None = None, lr: float | None = None,
                   params: dict[str, Any] | None = None, momentum: float | None = None,
                   damping: float | None = None) -> Resolved:
    """The scheme with its numbers fixed; ``dt``/``momentum``/``damping`` are the first paper's names.

    ``dt`` is the time step of the scheme's ``pde`` parametrization (η = Δt for gd;
    η = 2Δt²/(2 + dΔt), μ = (2 − dΔt)/(2 + dΔt) for Nesterov and central differences),
    ``momentum`` is μ (or QHM's β), ``damping`` is d.
    """
    if isinstance(scheme, Resolved):
        return scheme
    p = dict(params or {})
    for key, v in (("dt", dt), ("momentum", momentum), ("d", damping)):
        if v is not None:
            if key in p:
                raise ParameterError(f"{key}: given twice")
            p[key] = v
    return resolve(scheme, lr, p)


_LABELS = {"Delta_t": "dt"}


def _eval(name: str, expr: Any, values: dict) -> float:
    """A map's tree at ``values`` (symbol name -> number); ParameterError on overflow."""
    args = tuple(sorted(values, key=str))
    try:
        v = float(evaluate(expr, {a: float(values[a]) for a in args}))
    except (OverflowError, ZeroDivisionError):
        v = math.inf
    if not math.isfinite(v):
        raise ParameterError(f"{name}: the values {', '.join(f'{_LABELS.get(str(a), a)}={values[a]:.6g}' for a in args)} overflow "
                             "the map to (lr, hyperparameters)")
    return v


def _matrix_fn(name: str, ints: tuple) -> tuple[dict, tuple[str, ...], tuple[str, ...]]:
    """The record (trees of ``A, B, C``) at the integer values, its continuous hyperparameters, its kinds."""
    opt = reg.get(name)
    rec = opt.record(dict(ints))
    cont = tuple(p.name for p in opt.hypers if not p.integer)
    return rec, cont, tuple(rec["kinds"])


def _matrices(name: str, items: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    opt = reg.get(name)
    ints = tuple((k, int(v)) for k, v in items if opt.hyper(k).integer)
    rec, cont, _ = _matrix_fn(name, ints)
    vals = dict(items)
    env = {opt.hyper(k).symbol: float(vals[k]) for k in cont}
    A = [[float(evaluate(t, env)) for t in row] for row in rec["A"]]
    B = [float(evaluate(t, env)) for t in rec["B"]]
    C = [float(evaluate(t, env)) for t in rec["C"]]
    return np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64), np.asarray(C, dtype=np.float64)


@dataclass(frozen=True)
class Region:
    """Stable interval ``lower < h = ηλ < upper`` of a scheme at fixed hyperparameters."""

    lower: float
    upper: float
    closed_form: bool
    method: str

    @property
    def empty(self) -> bool:
        return not self.upper > self.lower


def h_interval(scheme: str | Resolved, **params: Any) -> Region:
    """The exact stable interval in ``h = ηλ`` at the given hyperparameters.

    From :func:`workbench.derivations.schemes.registry.closed_region` (its stored tree) where SymPy
    reduced the Schur–Cohn conditions; otherwise numerically from the same
    polynomial ``p(ξ) = det(ξI − A + hBC) = a(ξ) + h b(ξ)`` (affine in h: BC has rank
    one): stability can only change where a root crosses the unit circle, at the real
    h = −a(ξ)/b(ξ) of the unit-circle roots ξ of a·rev(b) − rev(a)·b; the interval
    containing ``0 < h ≪ 1`` is located by the eigenvalue moduli of A − hBC between
    consecutive crossings (relative precision ~1e-10).
    """
    res = scheme if isinstance(scheme, Resolved) else resolve(scheme, 1.0, params)
    return _interval(res.name, tuple(sorted(res.hyper.items())))


@lru_cache(maxsize=4096)
def _interval(name: str, items: tuple) -> Region:
    opt = reg.get(name)
    closed = opt.closed_region
    values = dict(items)
    if closed is not None:
        env = {p.symbol: float(values[p.name]) for p in opt.hypers}
        lo, hi = (float(evaluate(e, env)) for e in closed)
        return Region(lo, hi, True, "closed form (Schur-Cohn conditions reduced by SymPy)")
    A, B, C = _matrices(name, items)
    lo, hi = _numeric_interval(A, B, C)
    return Region(lo, hi, False, "numeric: unit-circle crossings of the roots in h, checked by eigenvalue moduli")


def _charpoly_coeffs(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``p(ξ, h) = p0(ξ) + h p1(ξ)``, coefficients highest degree first."""
    p0 = np.poly(A)
    p1 = np.poly(A - np.outer(B, C)) - p0
    return p0, p1


def _crossings(p0: np.ndarray, p1: np.ndarray) -> list[float]:
    """Real h at which p(ξ, h) = a(ξ) + h b(ξ) has a root on the unit circle.

    With real coefficients a root ξ = e^{iθ} at real h also solves a(1/ξ) + h b(1/ξ) = 0;
    eliminating h gives q(ξ) = ξⁿ[a(ξ)b(1/ξ) − a(1/ξ)b(ξ)] = a·rev(b) − rev(a)·b (degree ≤ 2n),
    whose unit-circle roots give h = −a(ξ)/b(ξ).
    """
    n = len(p0) - 1
    b = np.concatenate([np.zeros(n + 1 - len(p1)), p1]) if len(p1) < n + 1 else p1
    q = np.convolve(p0, b[::-1]) - np.convolve(p0[::-1], b)
    q = np.trim_zeros(np.where(np.abs(q) > 1e-14 * np.max(np.abs(q)), q, 0.0), "f") if np.any(q) else q
    out = []
    if q.size > 1:
        for xi in np.roots(q):
            if abs(abs(xi) - 1.0) > 1e-6:
                continue
            den = np.polyval(b, xi)
            if abs(den) < 1e-300:
                continue
            hh = -np.polyval(p0, xi) / den
            if abs(hh.imag) <= 1e-8 * (1.0 + abs(hh.real)):
                out.append(float(hh.real))
    for xi in (1.0, -1.0):                       # real crossings, exactly
        den = np.polyval(b, xi)
        if den != 0.0:
            out.append(float(-np.polyval(p0, xi) / den))
    return out


def spectral_radius(A: np.ndarray, B: np.ndarray, C: np.ndarray, h: float) -> float:
    """max |ξ| over the roots of p(ξ) = det(ξI − A + hBC), as the eigenvalues of A − h B Cᵀ."""
    return float(np.max(np.abs(np.linalg.eigvals(A - h * np.outer(B, C)))))


def _numeric_interval(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> tuple[float, float]:
    p0, p1 = _charpoly_coeffs(A, B, C)
    scale = max(1.0, max((abs(x) for x in _crossings(p0, p1)), default=1.0))
    cands = sorted({0.0, *(x for x in _crossings(p0, p1) if abs(x) > 1e-9 * scale)})
    big = 10 * scale
    pts = [-big] + cands + [big]
    stable = [spectral_radius(A, B, C, 0.5 * (u + v)) < 1.0 for u, v in zip(pts[:-1], pts[1:])]
    i0 = pts.index(0.0)
    if i0 >= len(stable) or not stable[i0]:            # (0, next crossing) unstable: empty
        return 0.0, 0.0
    j = i0
    while j + 1 < len(stable) and stable[j + 1]:
        j += 1
    k = i0
    while k - 1 >= 0 and stable[k - 1]:
        k -= 1
    lo, hi = pts[k], pts[j + 1]
    return (lo if k > 0 else -math.inf), (hi if j + 1 < len(pts) - 1 else math.inf)


def paper_h_upper(res: Resolved) -> float | None:
    """The upper end in h that the scheme's source states, where it differs from the exact one."""
    opt = res.optimizer
    if opt.paper_region is None:
        return None
    return float(evaluate(opt.paper_region, {p.symbol: float(res.hyper[p.name]) for p in opt.hypers}))


def max_stable_lr(lambda_min: float, lambda_max: float, scheme: str = "gd", **params: Any) -> float:
    """Largest learning rate η with ``h_lower < ηλ < h_upper`` for every λ in ``[lambda_min, lambda_max]``.

    For every registered scheme ``h_lower = 0``: directions of positive curvature set
    the limit ``η < h_upper/λ_max`` (2/λ_max for gd, 2(1+μ)/λ_max for heavy ball,
    2(1+μ)/((1+2μ)λ_max) for Nesterov), while directions of negative curvature
    (λ < 0) grow for every η > 0, so they do not enter the returned value.  The
    supremum is returned (the interval is open); ``inf`` if ``lambda_max <= 0``.

    Raises
    ------
    ParameterError
        Non-finite or ``lambda_min > lambda_max``; unknown scheme or hyperparameters.
    """
    lmin, lmax = _number("lambda_min", lambda_min), _number("lambda_max", lambda_max)
    if lmin > lmax:
        raise ParameterError(f"lambda_min: {lmin!r} > lambda_max {lmax!r}")
    reg_ = h_interval(scheme, **params)
    if reg_.empty:
        return 0.0
    if lmax <= 0:
        return math.inf
    eta = reg_.upper / lmax
    if reg_.lower > 0 and lmin > 0:                     # a positive lower end would bind at λ_min
        if eta * lmin <= reg_.lower:
            return 0.0
    return float(eta)
