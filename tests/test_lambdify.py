"""The lambdify bridge: correct values on every backend, one compile per key."""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from workbench.solvers.core.backend import to_numpy
from workbench.solvers.core.lambdify import cache_info, lambdify

x, c = sp.symbols("x c", real=True)
EXPR = sp.Max(x, c) + sp.exp(-x * c) * sp.tanh(x) + sp.Abs(x) / 3


def test_python_floats():
    f = lambdify(EXPR, (x, c))
    assert math.isclose(f(0.5, 0.2), max(0.5, 0.2) + math.exp(-0.1) * math.tanh(0.5) + 0.5 / 3, rel_tol=1e-15)


def test_arrays_on_every_backend(xp):
    f = lambdify(EXPR, (x, c), xp=xp, dtype=xp.float64)
    v = np.linspace(-2, 2, 9)
    out = to_numpy(f(xp.asarray(v), 0.3))
    ref = np.maximum(v, 0.3) + np.exp(-0.3 * v) * np.tanh(v) + np.abs(v) / 3
    np.testing.assert_allclose(out, ref, rtol=1e-14)


def test_compiled_once_per_key(xp):
    e = sp.sin(x) * c + sp.Integer(7)
    lambdify(e, (x, c), xp=xp, dtype=xp.float64)
    misses = cache_info().misses
    for _ in range(5):
        lambdify(e, (x, c), xp=xp, dtype=xp.float64)
    assert cache_info().misses == misses
    lambdify(e, (x, c), xp=xp, dtype=xp.float32)  # another dtype: its own cache entry
    lambdify(e, (c, x), xp=xp, dtype=xp.float64)  # other argument order: a new compile
    assert cache_info().misses == misses + 2


def test_float32_result(xp):
    f = lambdify(x * c, (x, c), xp=xp, dtype=xp.float32)
    assert f(xp.asarray([1.0, 2.0], dtype=xp.float32), 2.0).dtype == xp.float32
