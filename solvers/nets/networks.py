"""Small networks written against the array API: backprop gradients and exact HVPs.

A :class:`Network` is a chain of layers of :mod:`workbench.solvers.nets.layers` — :class:`Dense`,
:class:`Conv2d` (CNN "valid" correlation, the first paper's convention),
:class:`Activation` (tanh, ReLU, Swish, identity) and :class:`Flatten` — over one flat
parameter vector θ. Layout: layer by
layer, each layer's weight (row-major: Dense ``(out, in)``, Conv2d
``(filters, channels, k, k)``) then its bias; :func:`workbench.derivations.objectives.mlp_loss`
writes the same network in SymPy with the same layout.

:class:`NetworkObjective` is the :class:`~workbench.solvers.core.objectives.Objective` of a network on
a fixed data set (full batch):

    E(θ) = ℓ(θ) + (α/2)‖θ‖²,   MSE ℓ = (1/2N) Σᵢ ‖f(xᵢ) − yᵢ‖²,
                                CE  ℓ = (1/N) Σᵢ [log Σ_k e^{f_k(xᵢ)} − yᵢ·f(xᵢ)],

the weight decay acting on every parameter, as in the first paper's (48)
∂ₜK = −∇ℓ − αK (appendix F). The gradient is backpropagation (one forward and one
backward pass). The Hessian-vector product ∇²E·v is exact, by Pearlmutter's
R-operator (forward-over-reverse written by hand): the forward pass carries, beside
each activation h, its directional derivative R{h} = d/dε h(θ + εv)|₀; the backward
pass carries, beside each adjoint δ, R{δ}; the R{·} of the parameter gradients is
∇²ℓ·v. Cost: one forward pass, one R-forward, one backward (adjoints only) and one
R-backward, about twice a gradient (``workbench bench`` measures the factors).

Slow references: the central finite difference of gradients
(:meth:`~workbench.solvers.core.objectives.BaseObjective.hvp_fd`) and, on tiny networks, SymPy's
exact gradient and Hessian of :func:`workbench.derivations.objectives.mlp_loss` (tests).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from workbench.solvers.core.backend import float_dtype, get_namespace, namespace_of
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.nets.layers import ACTIVATIONS, Activation, Conv2d, Dense, Flatten
from workbench.solvers.core.objectives import BaseObjective

__all__ = [
    "Dense",
    "Conv2d",
    "Activation",
    "Flatten",
    "Network",
    "mlp",
    "small_cnn",
    "NetworkObjective",
    "ACTIVATIONS",
    "LOSSES",
]

LOSSES = ("mse", "ce")


class _NumpyFast:
    """NumPy's own functions for the few array-API calls on the hot path of small networks.

    ``array_api_compat.numpy``'s ``sum``/``matmul``/``permute_dims``/``reshape`` add
    2–6 µs of Python per call (argument normalisation, ``numpy.sum``'s dispatch), which
    for networks of a few hundred parameters is most of a gradient's cost (the
    multilayer case makes 554 597 gradient calls). The replacements call the same
    ufuncs with the same arguments (``np.add.reduce`` is what ``np.sum`` ends in), so
    every result is bit-for-bit the same; every other name is the wrapped namespace's.
    """

    def __init__(self, xp: Any) -> None:
        self._xp = xp

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._xp, name)
        setattr(self, name, value)  # cached: later lookups skip __getattr__
        return value

    matmul = staticmethod(np.matmul)
    permute_dims = staticmethod(np.transpose)

    @staticmethod
    def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return np.add.reduce(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def reshape(x: Any, shape: Any) -> Any:
        return x.reshape(shape)           # what np.reshape calls, without its dispatch


def _fast(xp: Any) -> Any:
    """:class:`_NumpyFast` over ``xp`` on NumPy; ``xp`` itself on every other backend."""
    from array_api_compat import is_numpy_namespace

    return _NumpyFast(xp) if is_numpy_namespace(xp) else xp


# -- network -----------------------------------------------------------------------------


class Network:
    """A chain of layers over one flat parameter vector.

    Parameters
    ----------
    layers : sequence of layer objects
    input_shape : tuple of int
        Shape of one input (``(d,)`` for an MLP, ``(C, H, W)`` for a CNN).

    Attributes
    ----------
    size : int
        Number of parameters.
    output_shape : tuple of int
    slices : list of list of (offset, shape)
        Where each layer's parameters live in θ.
    """

    def __init__(self, layers: Sequence[Any], input_shape: Sequence[int]) -> None:
        self.layers = list(layers)
        self.input_shape = tuple(int(s) for s in input_shape)
        if not self.layers:
            raise ParameterError("layers: a network needs at least one layer")
        if min(self.input_shape, default=0) < 1:
            raise ParameterError(f"input_shape: entries must be >= 1, got {self.input_shape}")
        shape = self.input_shape
        off = 0
        self.slices: list[list[tuple[int, tuple[int, ...]]]] = []
        self._spans: list[list[tuple[int, int, tuple[int, ...]]]] = []   # (start, stop, shape): no np.prod per call
        for layer in self.layers:
            sl, sp = [], []
            for s in layer.shapes(shape):
                n = int(np.prod(s))
                sl.append((off, s))
                sp.append((off, off + n, tuple(s)))
                off += n
            self.slices.append(sl)
            self._spans.append(sp)
            shape = layer.out_shape(shape)
        self.output_shape = tuple(shape)
        self.size = off

    def __repr__(self) -> str:
        return f"Network({self.layers!r}, input_shape={self.input_shape}, size={self.size})"

    def unflatten(self, xp: Any, theta: Any) -> list[list[Any]]:
        """Per-layer parameter arrays (views/reshapes of slices of θ)."""
        return [[xp.reshape(theta[a:b], s) for a, b, s in sp] for sp in self._spans]

    def flatten(self, xp: Any, parts: list[list[Any]]) -> Any:
        """Inverse of :meth:`unflatten`: concatenate per-layer arrays into one vector."""
        flat = [xp.reshape(a, (-1,)) for layer in parts for a in layer]
        return xp.concat(flat) if flat else xp.zeros((0,))

    def init(self, seed: int = 0, xp: Any = None, dtype: Any = "float64", scale: float = 1.0) -> Any:
        """LeCun-normal weights, W ~ N(0, scale²/fan_in), zero biases; seeded, backend-independent."""
        xp = get_namespace("numpy" if xp is None else xp) if xp is None or isinstance(xp, str) else xp
        rng = np.random.default_rng(seed)
        out = np.zeros(self.size)
        for layer, sl in zip(self.layers, self.slices):
            if not sl:
                continue
            (ow, sw), (ob, sb) = sl
            nw = int(np.prod(sw))
            out[ow:ow + nw] = rng.standard_normal(nw) * (scale / math.sqrt(layer.fan_in()))
        return xp.asarray(out, dtype=float_dtype(xp, dtype))

    def forward(self, theta: Any, X: Any) -> Any:
        """Network output f(X), shape (N, *output_shape)."""
        xp = namespace_of(theta, X)
        h = X
        for layer, p in zip(self.layers, self.unflatten(xp, theta)):
            h, _ = layer.forward(xp, p, h)
        return h

    def _forward_cached(self, xp: Any, ps: list[list[Any]], X: Any) -> tuple[Any, list[Any]]:
        h, caches = X, []
        for layer, p in zip(self.layers, ps):
            h, c = layer.forward(xp, p, h)
            caches.append(c)
        return h, caches

    def _backward(self, xp: Any, ps: list[list[Any]], caches: list[Any], dout: Any) -> list[list[Any]]:
        grads: list[list[Any]] = [[] for _ in self.layers]
        d = dout
        for i in range(len(self.layers) - 1, -1, -1):
            grads[i], d = self.layers[i].backward(xp, ps[i], caches[i], d, i > 0)
        return grads

    def _rforward(self, xp: Any, ps: list[list[Any]], vs: list[list[Any]], caches: list[Any]) -> tuple[Any, list[Any]]:
        rx, rxs = None, []
        for layer, p, v, c in zip(self.layers, ps, vs, caches):
            rxs.append(rx)  # R{input} of this layer
            rx = layer.rforward(xp, p, v, c, rx)
        return rx, rxs

    def _rbackward(self, xp: Any, ps: list[list[Any]], vs: list[list[Any]], caches: list[Any], rxs: list[Any],
                   dout: Any, rdout: Any) -> list[list[Any]]:
        """R{parameter gradients} = ∇²ℓ·v; the plain adjoints are carried along, their
        parameter gradients are not formed."""
        rgrads: list[list[Any]] = [[] for _ in self.layers]
        d, rd = dout, rdout
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            need = i > 0
            rgrads[i], rd_new = layer.rbackward(xp, ps[i], vs[i], caches[i], rxs[i], d, rd, need)
            if need:
                _, d = layer.backward(xp, ps[i], caches[i], d, True, False)
            rd = rd_new
        return rgrads


def mlp(sizes: Sequence[int], activation: str = "tanh", beta: float = 1.0) -> Network:
    """Fully connected network: Dense, σ, Dense, σ, …, Dense (no activation at the output).

    ``sizes`` = (input, hidden…, output). Same layout as :func:`workbench.derivations.objectives.mlp_loss`.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ParameterError(f"sizes: need input and output widths >= 1, got {sizes}")
    layers: list[Any] = []
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(i, o))
        if k < len(sizes) - 2:
            layers.append(Activation(activation, beta))
    return Network(layers, (sizes[0],))


def small_cnn(input_shape: Sequence[int] = (1, 8, 8), channels: Sequence[int] = (4,), kernel: int = 3,
              hidden: Sequence[int] = (), outputs: int = 3, activation: str = "tanh", beta: float = 1.0) -> Network:
    """Conv2d(k×k, valid)+σ per entry of ``channels``, flatten, Dense+σ per ``hidden``, Dense(outputs)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise ParameterError(f"input_shape: expected (channels, height, width), got {shape}")
    layers: list[Any] = []
    c = shape[0]
    for f in channels:
        layers += [Conv2d(c, int(f), int(kernel)), Activation(activation, beta)]
        c = int(f)
    layers.append(Flatten())
    probe = Network(layers, shape) if layers else None
    n = int(np.prod(probe.output_shape)) if probe is not None else int(np.prod(shape))
    for h in hidden:
        layers += [Dense(n, int(h)), Activation(activation, beta)]
        n = int(h)
    layers.append(Dense(n, int(outputs)))
    return Network(layers, shape)


class NetworkObjective(BaseObjective):
    """Full-batch loss of a :class:`Network` on data (X, Y) with weight decay α.

    E(θ) = ℓ(θ) + (α/2)‖θ‖² (first paper (48), appendix F), ℓ the MSE or
    cross-entropy of the module docstring. Gradient by backpropagation, Hessian-vector
    product exact by the R-operator.

    Parameters
    ----------
    net : Network
    X : array, shape (N, *net.input_shape)
    Y : array, shape (N, *net.output_shape)
        Targets (MSE) or one-hot / probability rows (CE).
    loss : {"mse", "ce"}
    alpha : float
        Weight decay α ≥ 0.
    dtype : {"float64", "float32"}, optional
        Default: X's dtype.
    """

    exact_hvp = True

    def __init__(self, net: Network, X: Any, Y: Any, loss: str = "mse", alpha: float = 0.0,
                 dtype: Any = None) -> None:
        if not isinstance(net, Network):
            raise ParameterError(f"net: expected a workbench.solvers.nets.networks.Network, got {type(net).__name__}")
        if loss not in LOSSES:
            raise ParameterError(f"loss: unknown {loss!r}; choose one of {', '.join(LOSSES)}")
        try:
            xp = namespace_of(X, Y)
        except TypeError as exc:
            raise ParameterError(f"X, Y: must be arrays of one supported backend ({exc})") from None
        self.xp = xp
        self._fx = _fast(xp)
        self.dtype = X.dtype if dtype is None else float_dtype(xp, dtype)
        if not xp.isdtype(self.dtype, "real floating"):
            raise ParameterError(f"X: expected real floating data, got dtype {X.dtype}")
        if X.ndim == 0 or tuple(X.shape[1:]) != net.input_shape or X.shape[0] < 1:
            raise ParameterError(f"X: expected shape (N, {', '.join(map(str, net.input_shape))}) with N >= 1 for "
                                 f"this network, got {tuple(X.shape)}")
        if tuple(Y.shape) != (X.shape[0],) + net.output_shape:
            raise ParameterError(f"Y: expected shape ({X.shape[0]}, {', '.join(map(str, net.output_shape))}) "
                                 f"(one row per input, one column per output), got {tuple(Y.shape)}")
        X = xp.astype(X, self.dtype) if X.dtype != self.dtype else X
        Y = xp.astype(Y, self.dtype) if Y.dtype != self.dtype else Y
        if not bool(xp.all(xp.isfinite(X))):
            raise ParameterError("X: contains NaN or infinite values")
        if not bool(xp.all(xp.isfinite(Y))):
            raise ParameterError("Y: contains NaN or infinite values")
        a = float(alpha)
        if not (math.isfinite(a) and a >= 0):
            raise ParameterError(f"alpha: weight decay must be finite and >= 0, got {alpha!r}")
        self.net, self.X, self.Y, self.loss, self.alpha = net, X, Y, loss, a
        self.size = net.size
        self.n_samples = int(X.shape[0])

    def with_alpha(self, alpha: float) -> "NetworkObjective":
        """The same network and data with another weight decay (no copy of the data)."""
        new = object.__new__(NetworkObjective)
        new.__dict__.update(self.__dict__)
        a = float(alpha)
        if not (math.isfinite(a) and a >= 0):
            raise ParameterError(f"alpha: weight decay must be finite and >= 0, got {alpha!r}")
        new.alpha = a
        return new

    def subset(self, idx: Any) -> "NetworkObjective":
        """The same network, loss and weight decay on the samples ``idx`` (a mini-batch).

        The rows were checked when this objective was built, so only the indices are
        checked here: a 1-D integer array of positions in ``[0, N)``.
        """
        ix = np.asarray(idx)
        if ix.ndim != 1 or ix.size < 1 or not np.issubdtype(ix.dtype, np.integer):
            raise ParameterError(f"idx: expected a non-empty 1-D integer array of sample positions, got {ix!r:.80}")
        if int(ix.min()) < 0 or int(ix.max()) >= self.n_samples:
            raise ParameterError(f"idx: sample positions must lie in [0, {self.n_samples}), got {int(ix.min())}.."
                                 f"{int(ix.max())}")
        new = object.__new__(NetworkObjective)
        new.__dict__.update(self.__dict__)
        xi = self.xp.asarray(ix)
        new.X = self.xp.take(self.X, xi, axis=0)
        new.Y = self.xp.take(self.Y, xi, axis=0)
        new.n_samples = int(ix.size)
        return new

    def data_term(self) -> "NetworkObjective":
        """ℓ alone (α = 0): its Hessian is the "data term" of appendix F's F̂."""
        return self.with_alpha(0.0)

    def initial(self, seed: int = 0) -> Any:
        return self.net.init(seed, self.xp, self.dtype)

    # -- loss and its derivatives w.r.t. the output ------------------------------------
    def _loss(self, out: Any) -> tuple[Any, Any]:
        """ℓ and ∂ℓ/∂out (and, for CE, the softmax, cached for the R-pass)."""
        xp, N = self._fx, self.n_samples
        if self.loss == "mse":
            r = out - self.Y
            return xp.sum(r * r) / (2.0 * N), (r / N, None)
        m = xp.max(out, axis=-1, keepdims=True)
        e = xp.exp(out - m)
        s = xp.sum(e, axis=-1, keepdims=True)
        p = e / s
        lse = xp.log(s) + m
        val = (xp.sum(lse * xp.sum(self.Y, axis=-1, keepdims=True)) - xp.sum(self.Y * out)) / N
        # ∂/∂out of Σ_k y_k·lse − y·out = (Σ_k y_k) p − y
        return val, ((xp.sum(self.Y, axis=-1, keepdims=True) * p - self.Y) / N, p)

    def _rloss(self, rout: Any, aux: Any) -> Any:
        """R{∂ℓ/∂out}: the output-space Hessian of ℓ applied to R{out}."""
        if self.loss == "mse":
            return rout / self.n_samples
        xp = self._fx
        p = aux
        w = xp.sum(self.Y, axis=-1, keepdims=True)
        return w * (p * rout - p * xp.sum(p * rout, axis=-1, keepdims=True)) / self.n_samples

    def _decay(self, theta: Any) -> Any:
        return 0.5 * self.alpha * self._fx.sum(theta * theta)

    # -- Objective ---------------------------------------------------------------------------
    def _value(self, theta: Any) -> float:
        xp, net = self._fx, self.net
        out, _ = net._forward_cached(xp, net.unflatten(xp, theta), self.X)
        val, _ = self._loss(out)
        return float(val + self._decay(theta))

    def _backprop(self, theta: Any) -> tuple[Any, Any]:
        """(data loss, ∇E) by one forward and one backward pass; complex θ gives the analytic continuation."""
        xp, net = self._fx, self.net
        ps = net.unflatten(xp, theta)
        out, caches = net._forward_cached(xp, ps, self.X)
        val, (dout, _) = self._loss(out)
        g = net.flatten(xp, net._backward(xp, ps, caches, dout))
        if self.alpha:
            g = g + self.alpha * theta
        return val, g

    def _value_and_gradient(self, theta: Any) -> tuple[float, Any]:
        val, g = self._backprop(theta)
        return float(val + self._decay(theta)), g

    def _gradient(self, theta: Any) -> Any:
        return self._backprop(theta)[1]

    def _hvp(self, theta: Any, v: Any) -> Any:
        xp, net = self._fx, self.net
        ps = net.unflatten(xp, theta)
        vs = net.unflatten(xp, v)
        out, caches = net._forward_cached(xp, ps, self.X)
        _, (dout, aux) = self._loss(out)
        rout, rxs = net._rforward(xp, ps, vs, caches)
        rdout = self._rloss(rout, aux)
        rgrads = net._rbackward(xp, ps, vs, caches, rxs, dout, rdout)
        hv = net.flatten(xp, rgrads)
        if self.alpha:
            hv = hv + self.alpha * v
        return hv

    def forward_value(self, theta: Any) -> float:
        """One forward pass and the loss, without input checks (the benchmark's unit of cost)."""
        return self._value(theta)
