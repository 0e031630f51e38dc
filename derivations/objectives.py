"""Symbolic objectives E(θ) with their exact gradients and Hessians.

The toy losses of the fourth paper (Ahn, Zhang, Sra, "Understanding the unstable
convergence of gradient descent") and two classics, each a :class:`SymbolicObjective`
holding the loss, its parameter vector θ = (θ₁, …, θ_n) and its constants (passed to
the lambdified form as arguments, never substituted):

* :func:`quadratic` — ½θᵀPθ + qᵀθ + r; the default P = diag(40, 2) is Example 1 /
  Fact 1, f = 20θ₁² + θ₂², L = λ_max = 40;
* :func:`tanh_quadratic` — Example 2, the "flattened" quadratic tanh(20θ₁² + θ₂²);
* :func:`single_neuron` — Example 3, (θ₁·σ(x θ₂) − y)² with σ = identity (linear
  network) or tanh, data (x, y) = (1, 0);
* :func:`rosenbrock` — (a − θ₁)² + b(θ₂ − θ₁²)²;
* :func:`mlp_loss` — a tiny fully-connected network written out symbolically, in the
  parameter layout of :mod:`workbench.solvers.nets.networks`, the slow reference of its backprop
  gradient and R-operator Hessian-vector product.

The first paper's appendix F, eqs. (48)–(51), is derived in
:func:`workbench.derivations.linearizations.derivation_f` (registry name ``multilayer-f``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import sympy as sp

from workbench.derivations.steps import Derivation, Step

__all__ = [
    "SymbolicObjective",
    "theta_symbols",
    "quadratic",
    "tanh_quadratic",
    "single_neuron",
    "rosenbrock",
    "mlp_loss",
    "TOYS",
    "toy",
]

def theta_symbols(n: int, name: str = "theta") -> tuple[sp.Symbol, ...]:
    """Real symbols θ₁ … θ_n (``theta_1`` …), the flat parameter vector."""
    if int(n) < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    return tuple(sp.Symbol(f"{name}_{i + 1}", real=True) for i in range(int(n)))


@dataclass(frozen=True)
class SymbolicObjective:
    """A loss E(θ) over a flat parameter vector, with constants kept symbolic.

    Parameters
    ----------
    name : str
        Short identifier (``"quadratic"``…).
    expr : sympy.Expr
        E as a function of ``variables`` and of the symbols in ``params``.
    variables : tuple of Symbol
        θ₁ … θ_n in order: the flat parameter vector.
    params : tuple of (Symbol, value)
        Constants with default values; the numeric side passes them as arguments.
    source : str
        Paper and equation / example.
    minimizer : tuple, optional
        A known minimizer (exact), used by :meth:`derivation` for the sharpness there.
    """

    name: str
    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]
    params: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()
    source: str = ""
    minimizer: tuple[sp.Expr, ...] | None = None

    @property
    def size(self) -> int:
        """Number of parameters n."""
        return len(self.variables)

    @property
    def param_symbols(self) -> tuple[sp.Symbol, ...]:
        return tuple(s for s, _ in self.params)

    @property
    def defaults(self) -> dict[sp.Symbol, sp.Expr]:
        return dict(self.params)

    @cached_property
    def gradient(self) -> sp.ImmutableMatrix:
        """∇E as an n×1 matrix (exact, by ``sympy.diff``)."""
        return sp.ImmutableMatrix([sp.diff(self.expr, v) for v in self.variables])

    @cached_property
    def hessian(self) -> sp.ImmutableMatrix:
        """∇²E as an n×n symmetric matrix (exact)."""
        g = self.gradient
        n = self.size
        rows = [[sp.diff(g[i], self.variables[j]) if j >= i else None for j in range(n)] for i in range(n)]
        for i in range(n):
            for j in range(i):
                rows[i][j] = rows[j][i]
        return sp.ImmutableMatrix(rows)

    def at(self, point: Sequence[Any], with_defaults: bool = True) -> dict[sp.Symbol, Any]:
        """Substitution dict θ → ``point`` (plus the default constants)."""
        if len(point) != self.size:
            raise ValueError(f"point: expected {self.size} values, got {len(point)}")
        sub = dict(zip(self.variables, (_num(p) for p in point)))
        if with_defaults:
            sub.update(self.defaults)
        return sub

    def sharpness_at_minimizer(self) -> sp.Expr | None:
        """λ_max(∇²E(θ*)) at :attr:`minimizer`, constants at their defaults (exact)."""
        if self.minimizer is None:
            return None
        h = self.hessian.subs(self.at(self.minimizer))
        ev = list(sp.Matrix(h).eigenvals())
        return sp.Max(*[sp.simplify(e) for e in ev])

    def derivation(self) -> Derivation:
        """The loss, its gradient and Hessian (and the sharpness at θ*) as printable steps."""
        steps = [
            Step("loss", "", sp.Eq(sp.Symbol("E"), self.expr), f"the objective ({self.source})"),
            Step("gradient", "", self.gradient, "exact gradient, d E / d theta_i"),
            Step("hessian", "", self.hessian, "exact Hessian, d^2 E / d theta_i d theta_j"),
        ]
        lam = self.sharpness_at_minimizer()
        if lam is not None:
            steps.append(Step("sharpness_at_minimizer", "", sp.Eq(sp.Symbol("lambda_max"), lam),
                              f"largest Hessian eigenvalue at theta* = {tuple(self.minimizer)}; GD is linearly "
                              "stable there iff the step is < 2/lambda_max (4th paper, Fact 1)"))
        return Derivation(f"objective-{self.name}", f"Objective {self.name}: gradient and Hessian",
                          self.source, steps)


def _num(v: Any) -> Any:
    """A Python number as an exact SymPy number (floats keep their binary value)."""
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {v!r}")
    if isinstance(v, int):
        return sp.Integer(v)
    if isinstance(v, float):
        return sp.Float(v)
    return v


def quadratic(P: Sequence[Sequence[Any]] = ((40, 0), (0, 2)), q: Sequence[Any] | None = None,
              r: Any = 0) -> SymbolicObjective:
    """E(θ) = ½θᵀPθ + qᵀθ + r; default Example 1 of the 4th paper, f = 20θ₁² + θ₂² (L = 40).

    ``P``, ``q`` and ``r`` are numbers (they become exact SymPy numbers); P must be
    square. Fact 1: GD diverges if an eigenvalue of P exceeds 2/η (iff for convex P).
    """
    Pm = sp.Matrix([[_num(v) for v in row] for row in P])
    if Pm.rows != Pm.cols:
        raise ValueError(f"P: must be square, got {Pm.rows}x{Pm.cols}")
    n = Pm.rows
    th = sp.Matrix(theta_symbols(n))
    qv = sp.zeros(n, 1) if q is None else sp.Matrix([_num(v) for v in q])
    if qv.rows != n:
        raise ValueError(f"q: expected {n} entries, got {qv.rows}")
    expr = sp.expand((th.T * Pm * th)[0, 0] / 2 + (qv.T * th)[0, 0] + _num(r))
    minimizer = None
    if Pm.det() != 0:
        minimizer = tuple(-Pm.inv() * qv)
    return SymbolicObjective("quadratic", expr, tuple(th), (), "Ahn et al., Example 1 / Fact 1 (4th paper)",
                             minimizer)


_c1, _c2 = sp.symbols("c_1 c_2", positive=True)


def tanh_quadratic() -> SymbolicObjective:
    """Example 2 of the 4th paper: E = tanh(c₁θ₁² + c₂θ₂²), c₁ = 20, c₂ = 1 by default.

    tanh′(0) = 1 and tanh″(0) = 0, so at θ* = 0 the Hessian equals that of the
    quadratic, diag(2c₁, 2c₂): the same sharpness 40, yet GD with η = 2/39 > 2/40 does
    not diverge because the landscape flattens away from 0.
    """
    th = theta_symbols(2)
    expr = sp.tanh(_c1 * th[0] ** 2 + _c2 * th[1] ** 2)
    return SymbolicObjective("tanh-quadratic", expr, th, ((_c1, sp.Integer(20)), (_c2, sp.Integer(1))),
                             "Ahn et al., Example 2 (4th paper)", (0, 0))


_x, _y = sp.symbols("x y", real=True)


def single_neuron(activation: str = "tanh") -> SymbolicObjective:
    """Example 3 of the 4th paper: E = (θ₁·σ(x θ₂) − y)², data (x, y) = (1, 0).

    ``activation`` is ``"linear"`` (σ = identity, the linear network) or ``"tanh"``.
    The paper starts GD at θ⁰ = (13, 0.01) with η = 2/150.
    """
    th = theta_symbols(2)
    if activation == "linear":
        act = _x * th[1]
    elif activation == "tanh":
        act = sp.tanh(_x * th[1])
    else:
        raise ValueError(f"activation: expected 'linear' or 'tanh', got {activation!r}")
    expr = (th[0] * act - _y) ** 2
    return SymbolicObjective(f"single-neuron-{activation}", expr, th, ((_x, sp.Integer(1)), (_y, sp.Integer(0))),
                             "Ahn et al., Example 3 (4th paper)", (0, 0))


_ra, _rb = sp.symbols("a b", positive=True)


def rosenbrock() -> SymbolicObjective:
    """E = (a − θ₁)² + b(θ₂ − θ₁²)², a = 1, b = 100; minimizer (a, a²), λ_max ≈ 1001.6."""
    th = theta_symbols(2)
    expr = (_ra - th[0]) ** 2 + _rb * (th[1] - th[0] ** 2) ** 2
    return SymbolicObjective("rosenbrock", expr, th, ((_ra, sp.Integer(1)), (_rb, sp.Integer(100))),
                             "Rosenbrock (1960)", (1, 1))


def _activation(name: str, beta: Any) -> Any:
    if name == "tanh":
        return sp.tanh
    if name == "swish":
        return lambda u: u / (1 + sp.exp(-beta * u))
    if name == "linear":
        return lambda u: u
    if name == "relu":
        return lambda u: sp.Max(0, u)
    raise ValueError(f"activation: expected tanh, swish, relu or linear, got {name!r}")


def mlp_loss(sizes: Sequence[int], activation: str, X: Sequence[Sequence[Any]], Y: Sequence[Sequence[Any]],
             loss: str = "mse", weight_decay: Any = 0, beta: Any = 1) -> SymbolicObjective:
    """A fully-connected network's loss written out in SymPy (the slow reference).

    Layer l maps h ↦ σ(W_l h + b_l) (no activation after the last layer); the flat
    parameter vector is, layer by layer, W_l row-major (shape out×in) then b_l, exactly
    the layout of :func:`workbench.solvers.nets.networks.mlp`.

    Parameters
    ----------
    sizes : sequence of int
        Widths (input, hidden…, output).
    activation : {"tanh", "swish", "relu", "linear"}
    X, Y : nested sequences of numbers
        N inputs of length ``sizes[0]`` and N targets of length ``sizes[-1]``
        (one-hot rows or distributions for ``loss="ce"``).
    loss : {"mse", "ce"}
        MSE: (1/2N) Σᵢ‖f(xᵢ) − yᵢ‖²; CE: (1/N) Σᵢ [log Σ_k e^{f_k(xᵢ)} − yᵢ·f(xᵢ)].
    weight_decay : number
        α in + (α/2)‖θ‖² (first paper, (48): the decay term −αK of the gradient PDE).
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes: need at least input and output widths >= 1, got {sizes}")
    if loss not in ("mse", "ce"):
        raise ValueError(f"loss: expected 'mse' or 'ce', got {loss!r}")
    if len(X) != len(Y) or len(X) == 0:
        raise ValueError(f"X, Y: need the same non-zero number of rows, got {len(X)} and {len(Y)}")
    act = _activation(activation, _num(beta))
    n = sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))
    th = theta_symbols(n)
    layers = []
    k = 0
    for i, o in zip(sizes[:-1], sizes[1:]):
        W = sp.Matrix(o, i, th[k:k + o * i])
        k += o * i
        b = sp.Matrix(th[k:k + o])
        k += o
        layers.append((W, b))
    total = sp.Integer(0)
    for xrow, yrow in zip(X, Y):
        h = sp.Matrix([_num(v) for v in xrow])
        for li, (W, b) in enumerate(layers):
            z = W * h + b
            h = z.applyfunc(act) if li < len(layers) - 1 else z
        yv = [_num(v) for v in yrow]
        if loss == "mse":
            total += sum((h[j] - yv[j]) ** 2 for j in range(len(yv))) / 2
        else:
            total += sp.log(sum(sp.exp(h[j]) for j in range(len(yv)))) - sum(yv[j] * h[j] for j in range(len(yv)))
    expr = total / len(X) + _num(weight_decay) / 2 * sum(t ** 2 for t in th)
    return SymbolicObjective(f"mlp-{activation}-{loss}", expr, th, (),
                             "fully-connected network (reference for workbench.solvers.nets.networks)")


TOYS = {
    "quadratic": quadratic,
    "tanh-quadratic": tanh_quadratic,
    "single-neuron-linear": lambda: single_neuron("linear"),
    "single-neuron-tanh": lambda: single_neuron("tanh"),
    "rosenbrock": rosenbrock,
}


def toy(name: str) -> SymbolicObjective:
    """A toy objective by name: one of :data:`TOYS`."""
    if name not in TOYS:
        raise ValueError(f"objective: unknown toy {name!r}; available: {', '.join(TOYS)}")
    return TOYS[name]()
