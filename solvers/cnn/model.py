"""The one-layer CNN model of the first paper, written once: activations, their derivatives, the loss.

First paper (Sun et al. 2022), appendix D.1: L(K) = ℓ(y, ŷ) + (α/2)‖K‖² (2), ŷ = s(Σ_x r(u)(x) − b),
u = K⋆I, r(u) = u σ(βu) the Swish (14), s = σ the sigmoid, ℓ the cross-entropy. Every CNN module
(:mod:`~workbench.solvers.cnn.schemes` for the gradient and the loss, :mod:`~workbench.solvers.cnn.cnn_hessian`
for the Hessian, :mod:`~workbench.solvers.cnn.onset` for the host references) takes these from here,
so the gradient, the Hessian and the references share their operations bit for bit.
"""
from __future__ import annotations

from typing import Any

__all__ = ["sigmoid", "softplus", "swish_derivatives", "swish_second", "cross_entropy"]


def sigmoid(xp: Any, t: Any) -> Any:
    """σ(t) = 1/(1 + e^{−t}) as ½(1 + tanh(t/2)): no overflow for any t."""
    return 0.5 * (1.0 + xp.tanh(0.5 * t))


def softplus(xp: Any, t: Any) -> Any:
    """log(1 + e^t) without overflow: max(t, 0) + log1p(e^{−|t|})."""
    return xp.maximum(t, xp.zeros_like(t)) + xp.log1p(xp.exp(-xp.abs(t)))


def swish_derivatives(xp: Any, u: Any, beta: float, second: bool = True) -> tuple[Any, ...]:
    """(σ(βu), r(u), r′(u)[, r″(u)]) for the Swish r(u) = u σ(βu) (14), written with σ = σ(βu).

    r′ = σ + βuσ(1 − σ) is eq. (15); r″ = βσ(1 − σ)(2 + βu(1 − 2σ)) the corrected (16) (checked
    against SymPy in the tests). ``second=False`` skips r″ (the gradient needs only r′). Factors
    β = 1 are not multiplied (1·x = x exactly) and βuσ = r, 1 − σ are computed once: the same
    results, bit for bit, with fewer passes over the pixel arrays.
    """
    bu = u if beta == 1.0 else beta * u
    sg = sigmoid(xp, bu)
    r = u * sg
    one_m = 1.0 - sg
    r1 = sg + (r if beta == 1.0 else bu * sg) * one_m
    if not second:
        return sg, r, r1
    return sg, r, r1, swish_second(u, sg, one_m, beta)


def swish_second(u: Any, sg: Any, one_m: Any, beta: float) -> Any:
    """r″(u) = ((βσ)(1 − σ))·(2 + (βu)(1 − 2σ)) from σ = σ(βu) and 1 − σ, in that order (β = 1: its products skipped)."""
    if beta == 1.0:
        return (sg * one_m) * (2.0 + u * (1.0 - 2.0 * sg))
    return (beta * sg * one_m) * (2.0 + beta * u * (1.0 - 2.0 * sg))


def cross_entropy(xp: Any, t: Any, y: float) -> Any:
    """ℓ(y, σ(t)) = y·softplus(−t) + (1 − y)·softplus(t), the stable log-sigmoid form of the loss (2)."""
    return y * softplus(xp, -t) + (1.0 - y) * softplus(xp, t)
