"""Derive the registry's closed forms with SymPy and store them as data (``derived.json``).

:func:`build` turns every registered :class:`~workbench.derivations.schemes.registry.Optimizer`
into the JSON record that :mod:`workbench.derivations.schemes.derived` reads without SymPy:
metadata, the coefficient matrices and characteristic polynomial (one record per
stored value of the integer hyperparameters), the closed-form region
(:func:`~workbench.derivations.schemes.registry.closed_region`), the parametrization maps
and their inverses, and the printed forms.  Expressions become trees
(:func:`to_tree`), never pickled or printed code.

Each record carries :func:`record_hash`, a hash of its canonical serialisation (names,
texts, hyperparameters with their symbols' assumptions, ``srepr`` of the matrices, maps
and stated region), and the SymPy version; a stored derivation is reused only when both
match.

Regenerate the committed file after changing an entry::

    python -m workbench.derivations.schemes.cache write     # rewrite derived.json
    python -m workbench.derivations.schemes.cache check     # exit 1 if it is stale
"""
from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import sympy as sp

from workbench.derivations.schemes import derived
from workbench.derivations.schemes import registry as reg
from workbench.derivations.von_neumann import h, xi

__all__ = ["to_tree", "cse_tree", "record_hash", "derive", "derive_record", "build", "main"]

#: integer hyperparameters are stored for every value when there are at most this many combinations
MAX_INTEGER_RECORDS = 16


def to_tree(expr: Any, bound: dict | None = None) -> list:
    """A SymPy expression as a JSON tree (:mod:`workbench.derivations.schemes.trees`).

    ``bound`` maps symbols to trees put in their place (the subexpressions of :func:`cse_tree`).
    Raises ``ValueError`` for an expression outside the tree language.
    """
    e = sp.sympify(expr) if isinstance(expr, (int, float)) else expr
    if bound and e in bound:
        return bound[e]
    if isinstance(e, sp.Symbol):
        return ["sym", e.name]
    if isinstance(e, sp.Integer):
        return ["int", int(e)]
    if isinstance(e, sp.Rational):
        return ["rat", int(e.p), int(e.q)]
    if isinstance(e, sp.Float):
        return ["float", repr(float(e))]
    for cls, kind in ((sp.Add, "add"), (sp.Mul, "mul"), (sp.Max, "max"), (sp.Min, "min")):
        if isinstance(e, cls):
            return [kind, *(to_tree(a, bound) for a in e.args)]
    if isinstance(e, sp.Pow):
        return ["pow", to_tree(e.base, bound), to_tree(e.exp, bound)]
    if isinstance(e, sp.Abs):
        return ["abs", to_tree(e.args[0], bound)]
    raise ValueError(f"to_tree: {type(e).__name__} ({e}) is not in the tree language")


def cse_tree(expr: Any) -> list:
    """:func:`to_tree` of ``expr`` grouped as ``sympy.cse`` groups it: the order of operations of
    the ``lambdify(..., cse=True)`` that the solvers used before (same floating-point rounding)."""
    reps, (reduced,) = sp.cse(sp.sympify(expr))
    bound: dict = {}
    for sym, sub in reps:
        bound[sym] = to_tree(sub, bound)
    return to_tree(reduced, bound)


def _hyper(p: Any) -> dict:
    from workbench.derivations.unicode_printer import unicode_name

    return {"name": p.name, "unicode": unicode_name(p.name), "symbol": p.symbol.name, "default": p.default, "lower": p.lower,
            "upper": None if p.upper == float("inf") else p.upper, "lower_open": p.lower_open,
            "upper_open": p.upper_open, "doc": p.doc, "integer": p.integer, "aliases": list(p.aliases)}


def _check_name(par: Any) -> str | None:
    if par.check is None:
        return None
    for name, fn in derived.CHECKS.items():
        if fn is par.check:
            return name
    raise ValueError(f"parametrization {par.name!r}: its check is not in derived.CHECKS; add it there so the "
                     "data can name it")


def _integer_keys(opt: Any) -> list[dict[str, int]]:
    ints = [p for p in opt.hypers if p.integer]
    combos: list[dict[str, int]] = [{}]
    for p in ints:
        span = range(int(p.lower), int(p.upper) + 1) if p.upper != float("inf") else range(0)
        vals = list(span) if 0 < len(span) <= MAX_INTEGER_RECORDS else [int(p.default)]
        combos = [{**c, p.name: v} for c in combos for v in vals]
    if len(combos) > MAX_INTEGER_RECORDS:
        combos = [{p.name: int(p.default) for p in ints}]
    return combos


def _key(ints: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in ints.items())


def record_hash(opt: Any) -> str:
    """SHA-256 of the record's canonical serialisation (everything the derivation reads)."""
    hyp = [[p.name, sp.srepr(p.symbol), p.default, p.lower, repr(p.upper), p.lower_open, p.upper_open, p.doc,
            p.integer, list(p.aliases)] for p in opt.hypers]
    recs = {_key(i): sp.srepr(opt.matrices(dict(i))) for i in _integer_keys(opt)}
    pars = [[par.name, [sp.srepr(q.symbol) for q in par.params], [_hyper(q) for q in par.params],
             {k: sp.srepr(v) for k, v in par.maps.items()}, par.doc, _check_name(par)] for par in opt.parametrizations]
    stated = sp.srepr(opt.paper_region({p.name: p.symbol for p in opt.hypers})) if opt.paper_region else None
    doc = [opt.name, opt.title, opt.citation, opt.update, list(opt.aliases), hyp, recs, pars, stated,
           opt.paper_region_source, opt.extra]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _record(opt: Any, ints: dict[str, int]) -> dict:
    A, B, C, kinds = opt.matrices(dict(ints))
    poly = reg.polynomial(opt, dict(ints)) if ints else reg.polynomial(opt)
    coeffs = []
    for c in poly.all_coeffs():
        ph = sp.Poly(sp.expand(c), h)
        if ph.degree() > 1:
            raise ValueError(f"{opt.name}: p(ξ) is not affine in h")
        c1 = ph.coeff_monomial(h)
        coeffs.append([to_tree(sp.expand(c - c1 * h)), to_tree(c1)])
    return {"A": [[to_tree(v) for v in A.row(i)] for i in range(A.rows)], "B": [to_tree(v) for v in B],
            "C": [to_tree(v) for v in C], "kinds": list(kinds), "poly": coeffs}


def _solve(opt: Any, par: Any) -> dict:
    """Each parameter of ``par`` through the others and the hyperparameters (first map that has one root)."""
    out: dict[str, Any] = {}
    sym = {q.name: q.symbol for q in par.params}
    for missing in sym:
        out[missing] = None
        for hname, expr in par.maps.items():
            if hname == "lr" or sym[missing] not in expr.free_symbols:
                continue
            sol = sp.solve(sp.Eq(opt.hyper(hname).symbol, expr), sym[missing])
            if len(sol) == 1:
                out[missing] = cse_tree(sol[0])
                break
    return out


def derive(opt: Any) -> dict:
    """The JSON record of one optimizer (SymPy: the region solve takes the time)."""
    from workbench.derivations.unicode_printer import unicode_text

    closed = reg.closed_region(opt.name)
    texts = {"polynomial_symbolic": sp.sstr(reg.polynomial(opt).as_expr())}
    if closed is not None:
        texts["region_symbolic"] = f"{sp.sstr(closed[0])} < h < {sp.sstr(closed[1])}"
        texts["region_text"] = f"{unicode_text(closed[0])} < h < {unicode_text(closed[1])}"
    stated = opt.paper_region({p.name: p.symbol for p in opt.hypers}) if opt.paper_region else None
    return {
        "name": opt.name, "title": opt.title, "citation": opt.citation, "update": opt.update,
        "aliases": list(opt.aliases), "hypers": [_hyper(p) for p in opt.hypers],
        "parametrizations": [{"name": par.name, "params": [_hyper(q) for q in par.params],
                              "maps": {k: cse_tree(v) for k, v in par.maps.items()}, "solve": _solve(opt, par),
                              "doc": par.doc, "check": _check_name(par)} for par in opt.parametrizations],
        "paper_region": None if stated is None else cse_tree(stated), "paper_region_source": opt.paper_region_source,
        "extra": dict(opt.extra),
        "closed_region": None if closed is None else [cse_tree(closed[0]), cse_tree(closed[1])],
        "records": {_key(i): _record(opt, i) for i in _integer_keys(opt)},
        "texts": texts, "record_hash": record_hash(opt), "sympy": sp.__version__,
    }


def derive_record(name: str, key: str) -> dict:
    """One record at integer hyperparameters outside the stored ones (``key`` like ``"K=12"``)."""
    opt = reg.get(name)
    ints = {k: int(v) for k, v in (item.split("=") for item in key.split(",") if item)}
    return _record(opt, ints)


def build(*previous: dict | None) -> dict:
    """The data of every registered scheme, reusing records of the ``previous`` data (first match)
    whose record hash and SymPy version match; the others are derived."""
    from workbench.derivations.regions import alpha_bounds_z

    schemes = []
    for name in reg.names():
        opt = reg.get(name)
        key = record_hash(opt)
        found = [d for doc in previous if doc for d in doc.get("schemes", [])
                 if d.get("name") == name and d.get("record_hash") == key and d.get("sympy") == sp.__version__]
        schemes.append(found[0] if found else derive(opt))
    lo, hi = alpha_bounds_z()
    return {"format": derived.FORMAT, "sympy": sp.__version__, "source_key": derived.source_key(),
            "schemes": schemes, "alpha_bounds_z": [cse_tree(lo), cse_tree(hi)]}


def main(argv: list[str] | None = None) -> int:
    """``write``: regenerate ``derived.json`` from a fresh derivation; ``check``: exit 1 if it is stale."""
    args = sys.argv[1:] if argv is None else argv
    if args not in (["write"], ["check"]):
        print("usage: python -m workbench.derivations.schemes.cache {write|check}", file=sys.stderr)
        return 2
    fresh = build()
    if args == ["write"]:
        derived.write(derived.PACKAGE_FILE, fresh)
        print(f"wrote {derived.PACKAGE_FILE} ({len(fresh['schemes'])} schemes, SymPy {fresh['sympy']})")
        return 0
    stored = derived.read(derived.PACKAGE_FILE)
    if stored != json.loads(json.dumps(fresh, sort_keys=True)):
        print(f"{derived.PACKAGE_FILE} is stale: run python -m workbench.derivations.schemes.cache write",
              file=sys.stderr)
        return 1
    print(f"{derived.PACKAGE_FILE} is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
