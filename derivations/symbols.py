"""The SymPy symbols shared by every derivation and by the lambdify bridge.

One module holds them so that an expression derived in :mod:`derivations` and the
arguments a solver passes to its lambdified form always mean the same thing.
"""
from __future__ import annotations

import sympy as sp

__all__ = [
    "alpha", "dt", "a", "beta", "b", "y", "P", "P_min", "P_max", "u", "yhat", "g", "d",
]

#: weight decay α of the loss (2) (first paper, appendix D)
alpha = sp.Symbol("alpha", real=True)
#: time step Δt (the learning rate of gradient descent)
dt = sp.Symbol("Delta_t", positive=True)
#: a = ŷ − y, held constant in the linearization (20)
a = sp.Symbol("a", real=True)
#: Swish parameter β > 0, r(x) = x / (1 + exp(−βx)) (14)
beta = sp.Symbol("beta", positive=True)
#: sigmoid bias b, s(x) = 1 / (1 + exp(−(x − b)))
b = sp.Symbol("b", real=True)
#: label y ∈ [0, 1]
y = sp.Symbol("y", real=True)
#: power spectrum value |Î(ω)|² (≥ 0), or an eigenvalue μ of the windowed Gram operator
P = sp.Symbol("P", nonnegative=True)
#: min_ω |Î(ω)|² (or the smallest eigenvalue of the windowed operator)
P_min = sp.Symbol("P_min", nonnegative=True)
#: max_ω |Î(ω)|² (or the largest eigenvalue of the windowed operator)
P_max = sp.Symbol("P_max", nonnegative=True)
#: a pre-activation value (K ⋆ I)(x)
u = sp.Symbol("u", real=True)
#: network output ŷ ∈ (0, 1)
yhat = sp.Symbol("yhat", positive=True)
#: g(I) = ∫ r(K ⋆ I)(x) dx (3)
g = sp.Symbol("g", real=True)
#: damping coefficient of the momentum PDE (36) (appendix E)
d = sp.Symbol("d", positive=True)
