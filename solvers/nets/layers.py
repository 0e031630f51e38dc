"""Layers of :class:`workbench.solvers.nets.networks.Network`, written against the array API.

:class:`Dense`, :class:`Conv2d` (CNN "valid" correlation, the first paper's convention,
by im2col), :class:`Activation` (tanh, ReLU, Swish, identity) and :class:`Flatten`. Each
layer gives its forward and backward pass and the R-operator passes (Pearlmutter) used
for exact Hessian-vector products; see :mod:`workbench.solvers.nets.networks` for the parameter layout
and the objective.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.solvers.core.checks import ParameterError

__all__ = ["Dense", "Conv2d", "Activation", "Flatten", "ACTIVATIONS"]

ACTIVATIONS = ("tanh", "relu", "swish", "linear")


# -- layers -----------------------------------------------------------------------------
# Each layer implements
#   shapes(in_shape)                 -> list of parameter shapes
#   out_shape(in_shape)              -> output shape (without the batch axis)
#   forward(xp, p, x)                -> (y, cache)
#   backward(xp, p, cache, dy, need_dx, need_grads=True) -> (grads, dx)
#   rforward(xp, p, vp, cache, rx)   -> ry                     (rx None: input does not move)
#   rbackward(xp, p, vp, cache, rx, dy, rdy, need_dx) -> (rgrads, rdx)
# with p / vp the layer's parameters / direction as lists of arrays.


@dataclass(frozen=True)
class Dense:
    """Fully connected layer y = x Wᵀ + b, W of shape (out, in), x of shape (N, in)."""

    n_in: int
    n_out: int

    def shapes(self, in_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        if tuple(in_shape) != (self.n_in,):
            raise ParameterError(f"layers: Dense({self.n_in}, {self.n_out}) gets input shape {tuple(in_shape)}")
        return [(self.n_out, self.n_in), (self.n_out,)]

    def fan_in(self) -> int:
        return self.n_in

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.n_out,)

    def forward(self, xp: Any, p: list[Any], x: Any) -> tuple[Any, Any]:
        W, b = p
        return xp.matmul(x, xp.permute_dims(W, (1, 0))) + b, x

    def backward(self, xp: Any, p: list[Any], x: Any, dy: Any, need_dx: bool,
                 need_grads: bool = True) -> tuple[list[Any], Any]:
        W, _ = p
        grads = [xp.matmul(xp.permute_dims(dy, (1, 0)), x), xp.sum(dy, axis=0)] if need_grads else []
        dx = xp.matmul(dy, W) if need_dx else None
        return grads, dx

    def rforward(self, xp: Any, p: list[Any], vp: list[Any], x: Any, rx: Any) -> Any:
        W, _ = p
        vW, vb = vp
        ry = xp.matmul(x, xp.permute_dims(vW, (1, 0))) + vb
        if rx is not None:
            ry = ry + xp.matmul(rx, xp.permute_dims(W, (1, 0)))
        return ry

    def rbackward(self, xp: Any, p: list[Any], vp: list[Any], x: Any, rx: Any, dy: Any, rdy: Any,
                  need_dx: bool) -> tuple[list[Any], Any]:
        W, _ = p
        vW, _ = vp
        rdW = xp.matmul(xp.permute_dims(rdy, (1, 0)), x)
        if rx is not None:
            rdW = rdW + xp.matmul(xp.permute_dims(dy, (1, 0)), rx)
        rdb = xp.sum(rdy, axis=0)
        rdx = xp.matmul(rdy, W) + xp.matmul(dy, vW) if need_dx else None
        return [rdW, rdb], rdx


def _im2col(xp: Any, x: Any, k: int) -> Any:
    """(N, C, H, W) → (N, C·k², Ho·Wo) patches of the valid correlation, row c·k² + i·k + j."""
    N, C, H, W = x.shape
    Ho, Wo = H - k + 1, W - k + 1
    cols = [x[:, :, i:i + Ho, j:j + Wo] for i in range(k) for j in range(k)]
    return xp.reshape(xp.stack(cols, axis=2), (N, C * k * k, Ho * Wo))


def _col2im(xp: Any, cols: Any, shape: tuple[int, int, int, int], k: int) -> Any:
    """Adjoint of :func:`_im2col`: scatter-add the patches back onto the image grid."""
    N, C, H, W = shape
    Ho, Wo = H - k + 1, W - k + 1
    c = xp.reshape(cols, (N, C, k * k, Ho, Wo))
    out = xp.zeros(shape, dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i:i + Ho, j:j + Wo] = out[:, :, i:i + Ho, j:j + Wo] + c[:, :, i * k + j, :, :]
    return out


@dataclass(frozen=True)
class Conv2d:
    """CNN layer without padding: y[n, f] = Σ_{c,i,j} W[f, c, i, j] x[n, c, ·+i, ·+j] + b[f].

    The "valid" correlation of the first paper (appendix D), with ``filters`` output
    channels; computed as one matrix product over k×k patches (im2col).
    """

    channels: int
    filters: int
    kernel: int

    def shapes(self, in_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        if len(in_shape) != 3 or in_shape[0] != self.channels:
            raise ParameterError(f"layers: Conv2d({self.channels} channels) gets input shape {tuple(in_shape)}")
        if self.kernel > min(in_shape[1], in_shape[2]):
            raise ParameterError(f"kernel: size {self.kernel} is larger than the input {in_shape[1]}x{in_shape[2]}")
        return [(self.filters, self.channels, self.kernel, self.kernel), (self.filters,)]

    def fan_in(self) -> int:
        return self.channels * self.kernel ** 2

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.filters, in_shape[1] - self.kernel + 1, in_shape[2] - self.kernel + 1)

    def _w2(self, xp: Any, W: Any) -> Any:
        return xp.reshape(W, (self.filters, self.channels * self.kernel ** 2))

    def _out(self, xp: Any, flat: Any, x_shape: tuple[int, ...]) -> Any:
        N, _, H, W = x_shape
        return xp.reshape(flat, (N, self.filters, H - self.kernel + 1, W - self.kernel + 1))

    def forward(self, xp: Any, p: list[Any], x: Any) -> tuple[Any, Any]:
        W, b = p
        P = _im2col(xp, x, self.kernel)
        y = xp.matmul(self._w2(xp, W), P) + b[:, None]
        return self._out(xp, y, x.shape), (P, tuple(x.shape))

    def backward(self, xp: Any, p: list[Any], cache: Any, dy: Any, need_dx: bool,
                 need_grads: bool = True) -> tuple[list[Any], Any]:
        W, _ = p
        P, shape = cache
        N = shape[0]
        d = xp.reshape(dy, (N, self.filters, -1))
        grads = []
        if need_grads:
            dW = xp.sum(xp.matmul(d, xp.permute_dims(P, (0, 2, 1))), axis=0)
            grads = [xp.reshape(dW, W.shape), xp.sum(d, axis=(0, 2))]
        dx = None
        if need_dx:
            dx = _col2im(xp, xp.matmul(xp.permute_dims(self._w2(xp, W), (1, 0)), d), shape, self.kernel)
        return grads, dx

    def rforward(self, xp: Any, p: list[Any], vp: list[Any], cache: Any, rx: Any) -> Any:
        W, _ = p
        vW, vb = vp
        P, shape = cache
        ry = xp.matmul(self._w2(xp, vW), P) + vb[:, None]
        if rx is not None:
            ry = ry + xp.matmul(self._w2(xp, W), _im2col(xp, rx, self.kernel))
        return self._out(xp, ry, shape)

    def rbackward(self, xp: Any, p: list[Any], vp: list[Any], cache: Any, rx: Any, dy: Any, rdy: Any,
                  need_dx: bool) -> tuple[list[Any], Any]:
        W, _ = p
        vW, _ = vp
        P, shape = cache
        N = shape[0]
        d = xp.reshape(dy, (N, self.filters, -1))
        rd = xp.reshape(rdy, (N, self.filters, -1))
        rdW = xp.matmul(rd, xp.permute_dims(P, (0, 2, 1)))
        if rx is not None:
            rdW = rdW + xp.matmul(d, xp.permute_dims(_im2col(xp, rx, self.kernel), (0, 2, 1)))
        rdW = xp.sum(rdW, axis=0)
        rdb = xp.sum(rd, axis=(0, 2))
        rdx = None
        if need_dx:
            t = xp.permute_dims(self._w2(xp, W), (1, 0))
            tv = xp.permute_dims(self._w2(xp, vW), (1, 0))
            rdx = _col2im(xp, xp.matmul(t, rd) + xp.matmul(tv, d), shape, self.kernel)
        return [xp.reshape(rdW, W.shape), rdb], rdx


def _sigmoid(xp: Any, z: Any) -> Any:
    """1/(1 + e^{−z}) without overflow: e^{−|z|} ≤ 1 on both branches."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass(frozen=True)
class Activation:
    """Elementwise σ: ``"tanh"``, ``"relu"`` (σ″ = 0, σ′(0) = 0), ``"swish"``
    r(z) = z/(1 + e^{−βz}) (first paper (14)) or ``"linear"`` (identity)."""

    name: str
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in ACTIVATIONS:
            raise ParameterError(f"activation: unknown {self.name!r}; choose one of {', '.join(ACTIVATIONS)}")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise ParameterError(f"beta: must be finite and > 0, got {self.beta!r}")

    def shapes(self, in_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        return []

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(in_shape)

    def derivs(self, xp: Any, z: Any, order: int) -> tuple[Any, Any, Any]:
        """σ(z), σ′(z) and (order 2) σ″(z); None for what is not asked."""
        n = self.name
        if n == "tanh":
            t = xp.tanh(z)
            d1 = 1.0 - t * t
            return t, d1, (-2.0 * t * d1 if order >= 2 else None)
        if n == "relu":
            pos = z > 0
            zero = xp.zeros_like(z)
            return xp.where(pos, z, zero), xp.astype(pos, z.dtype), (zero if order >= 2 else None)
        if n == "linear":
            one = xp.ones_like(z)
            return z, one, (xp.zeros_like(z) if order >= 2 else None)
        bz = self.beta * z
        s = _sigmoid(xp, bz)
        d1 = s + bz * s * (1.0 - s)
        d2 = self.beta * s * (1.0 - s) * (2.0 + bz * (1.0 - 2.0 * s)) if order >= 2 else None
        return z * s, d1, d2

    def forward(self, xp: Any, p: list[Any], z: Any) -> tuple[Any, Any]:
        a, d1, _ = self.derivs(xp, z, 1)
        return a, (z, d1)

    def backward(self, xp: Any, p: list[Any], cache: Any, dy: Any, need_dx: bool,
                 need_grads: bool = True) -> tuple[list[Any], Any]:
        return [], cache[1] * dy

    def rforward(self, xp: Any, p: list[Any], vp: list[Any], cache: Any, rx: Any) -> Any:
        return None if rx is None else cache[1] * rx

    def rbackward(self, xp: Any, p: list[Any], vp: list[Any], cache: Any, rx: Any, dy: Any, rdy: Any,
                  need_dx: bool) -> tuple[list[Any], Any]:
        z, d1 = cache
        out = d1 * rdy
        if rx is not None:
            _, _, d2 = self.derivs(xp, z, 2)
            out = out + d2 * rx * dy
        return [], out


@dataclass(frozen=True)
class Flatten:
    """(N, C, H, W) → (N, C·H·W)."""

    def shapes(self, in_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        return []

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(in_shape)),)

    def forward(self, xp: Any, p: list[Any], x: Any) -> tuple[Any, Any]:
        return xp.reshape(x, (x.shape[0], -1)), tuple(x.shape)

    def backward(self, xp: Any, p: list[Any], shape: Any, dy: Any, need_dx: bool,
                 need_grads: bool = True) -> tuple[list[Any], Any]:
        return [], xp.reshape(dy, shape)

    def rforward(self, xp: Any, p: list[Any], vp: list[Any], shape: Any, rx: Any) -> Any:
        return None if rx is None else xp.reshape(rx, (rx.shape[0], -1))

    def rbackward(self, xp: Any, p: list[Any], vp: list[Any], shape: Any, rx: Any, dy: Any, rdy: Any,
                  need_dx: bool) -> tuple[list[Any], Any]:
        return [], xp.reshape(rdy, shape)
