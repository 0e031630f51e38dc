"""Lambdify bridge: SymPy expressions from :mod:`derivations` to backend callables.

Each (expression, arguments, backend, dtype) is compiled once (``cse=True``) and
cached. Constants are passed as arguments, never substituted. Only expressions built
by :mod:`derivations` go through here; nothing a user typed is ever parsed.

With ``xp=None`` the callable works on Python floats (``math``); with a namespace it
evaluates elementwise on that backend's arrays, the SymPy function names being mapped
to the namespace's functions (``Max`` → ``maximum``, ``Abs`` → ``abs``…).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import sympy as sp

from workbench.solvers.core.backend import backend_name

__all__ = ["lambdify", "cache_info"]

_ELEMENTWISE = ("exp", "log", "log1p", "expm1", "sqrt", "tanh", "sinh", "cosh", "sin", "cos", "tan", "atan")


def _reduce(f: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    def g(*args: Any) -> Any:
        return functools.reduce(f, args)

    return g


def _table(xp: Any) -> dict[str, Any]:
    table: dict[str, Any] = {name: getattr(xp, name) for name in _ELEMENTWISE}
    table.update(
        Abs=xp.abs,
        Max=_reduce(xp.maximum),
        Min=_reduce(xp.minimum),
        sign=xp.sign,
        pi=math.pi,
        E=math.e,
    )
    return table


@functools.lru_cache(maxsize=512)
def _compile(expr: sp.Basic, args: tuple[sp.Symbol, ...], backend: str, dtype: str, xp: Any) -> Callable[..., Any]:
    if xp is None:
        modules: list[Any] = [{"Max": max, "Min": min, "Abs": abs}, "math"]
    else:
        modules = [_table(xp)]
    return sp.lambdify(args, expr, modules=modules, cse=True)


def lambdify(expr: sp.Basic, args: Sequence[sp.Symbol], xp: Any = None, dtype: Any = None) -> Callable[..., Any]:
    """Compile ``expr`` as a function of ``args`` for a backend, cached.

    Parameters
    ----------
    expr : sympy expression
        Built by :mod:`derivations` (never from user text).
    args : sequence of Symbol
        Positional arguments of the callable, in order.
    xp : namespace, optional
        Array namespace; ``None`` for Python floats.
    dtype : dtype, optional
        With ``xp``: the result is converted to this dtype.
    """
    args = tuple(args)
    if xp is None:
        return _compile(expr, args, "python", "float", None)
    fn = _compile(expr, args, backend_name(xp), str(dtype), xp)
    if dtype is None:
        return fn

    def cast(*vals: Any) -> Any:
        return xp.asarray(fn(*vals), dtype=dtype)

    return cast


def cache_info() -> Any:
    """Hit/miss statistics of the compile cache (``functools.lru_cache`` info)."""
    return _compile.cache_info()
