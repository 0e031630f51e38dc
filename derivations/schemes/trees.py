"""Expression trees as JSON data, and their evaluator (no SymPy, no ``eval``).

The derived closed forms of the optimizer registry (:mod:`workbench.derivations.schemes.derived`)
are stored as nested lists, one node each:

``["sym", name]``, ``["int", n]``, ``["rat", p, q]``, ``["float", "repr"]``,
``["add", *terms]``, ``["mul", *factors]``, ``["pow", base, exponent]``,
``["max", *args]``, ``["min", *args]``, ``["abs", x]``.

:func:`evaluate` walks such a tree with Python arithmetic (floats, or exact
:class:`fractions.Fraction` values where every leaf and power is rational); a node
kind it does not know is refused with :class:`TreeError`.  Nothing is compiled or
executed: the file holds data only.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Mapping

__all__ = ["TreeError", "evaluate", "symbols_of", "KINDS"]

#: the node kinds :func:`evaluate` accepts
KINDS = ("sym", "int", "rat", "float", "add", "mul", "pow", "max", "min", "abs")


class TreeError(ValueError):
    """A malformed expression tree (unknown node kind, wrong arity, unbound symbol)."""


def _num(x: Any) -> Any:
    return x if isinstance(x, (int, float, Fraction)) and not isinstance(x, bool) else None


def _pow(base: Any, ex: Any) -> Any:
    if isinstance(base, Fraction) and isinstance(ex, (int, Fraction)) and Fraction(ex).denominator == 1:
        n = int(ex)
        if base == 0 and n < 0:
            raise ZeroDivisionError("0 to a negative power")
        return base ** n
    b = float(base)
    e = float(ex)
    if e == 0.5:
        return math.sqrt(b) if b >= 0 else float("nan")
    if e == -1.0:
        return 1.0 / b
    if e.is_integer():
        return b ** int(e)
    return b ** e if b >= 0 else float("nan")


def evaluate(tree: Any, env: Mapping[str, Any], exact: bool = False) -> Any:
    """The value of ``tree`` with its symbols taken from ``env``.

    Parameters
    ----------
    tree : list
        A node as described in the module docstring.
    env : mapping
        Symbol name -> number (float, int or Fraction).
    exact : bool
        Rational leaves as :class:`~fractions.Fraction` (exact arithmetic while the
        operations allow; a non-integer power falls back to float); else floats.

    Raises
    ------
    TreeError
        Unknown node kind, wrong number of operands, a symbol missing from ``env``.
    ZeroDivisionError, OverflowError
        From the arithmetic, as Python raises them.
    """
    if not isinstance(tree, list) or not tree or not isinstance(tree[0], str):
        raise TreeError(f"tree: expected a node [kind, ...], got {tree!r}")
    kind, args = tree[0], tree[1:]
    if kind == "sym":
        if len(args) != 1 or args[0] not in env:
            raise TreeError(f"tree: symbol {args[0] if args else None!r} has no value")
        return env[args[0]]
    if kind == "int":
        if len(args) != 1 or not isinstance(args[0], int) or isinstance(args[0], bool):
            raise TreeError(f"tree: bad int node {tree!r}")
        return Fraction(args[0]) if exact else float(args[0])
    if kind == "rat":
        if len(args) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in args) or args[1] == 0:
            raise TreeError(f"tree: bad rat node {tree!r}")
        return Fraction(args[0], args[1]) if exact else args[0] / args[1]
    if kind == "float":
        if len(args) != 1 or not isinstance(args[0], str):
            raise TreeError(f"tree: bad float node {tree!r}")
        return float(args[0])
    if kind not in KINDS:
        raise TreeError(f"tree: unknown node kind {kind!r}; known: {', '.join(KINDS)}")
    if kind == "mul" and args:
        return _product(args, env, exact)
    vals = [evaluate(a, env, exact) for a in args]
    if kind == "abs" and len(vals) == 1:
        return abs(vals[0])
    if kind == "pow" and len(vals) == 2:
        return _pow(*vals)
    if not vals or kind in ("abs", "pow"):
        raise TreeError(f"tree: wrong number of operands in {tree!r}")
    if kind == "add":
        out = vals[0]
        for v in vals[1:]:
            out = out + v
        return out
    return max(vals) if kind == "max" else min(vals)


def _product(args: list, env: Mapping[str, Any], exact: bool) -> Any:
    """Factors left to right, those with a negative integer power divided out at the end:
    ``a*b/c`` as SymPy's code printers write a product (so the rounding is theirs)."""
    num: Any = None
    den: Any = None
    for a in args:
        if isinstance(a, list) and len(a) == 3 and a[0] == "pow" and isinstance(a[2], list) \
                and a[2][:1] == ["int"] and len(a[2]) == 2 and isinstance(a[2][1], int) and a[2][1] < 0:
            v = _pow(evaluate(a[1], env, exact), -a[2][1])
            den = v if den is None else den * v
        else:
            v = evaluate(a, env, exact)
            num = v if num is None else num * v
    if den is None:
        return num
    if num is None:
        num = Fraction(1) if exact else 1.0
    return num / den


def symbols_of(tree: Any) -> set[str]:
    """The symbol names a tree uses."""
    if isinstance(tree, list) and tree and tree[0] == "sym":
        return {tree[1]}
    if isinstance(tree, list):
        return set().union(*(symbols_of(a) for a in tree[1:] if isinstance(a, list))) if len(tree) > 1 else set()
    return set()
