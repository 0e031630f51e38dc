"""SGD-Nesterov with diffusion (second paper, Algorithm 1, eqs. (4)-(9)) over arrays, any backend.

* :func:`laplacian` -- the discrete Laplacian (5) along a chosen subset of axes, with a
  Neumann (zero-flux, cell-centred: ghost value = edge value, sums conserved) or periodic
  boundary.  Its largest eigenvalue magnitude per axis of length n is ``4/Δx²`` (periodic, n
  even) or ``(2 + 2cos(π/n))/Δx²`` (Neumann): :func:`kappa_max`.
* :class:`DiffusionNesterov` -- Algorithm 1: ``v^{n+1} = γv^n + ∇J(θ^n) + β∇²v^n``,
  ``θ^{n+1} = θ^n - η[∇J(θ^n) + γv^{n+1} + β∇²v^{n+1}]`` (6)-(7), one Laplacian per step
  (``L^{n+1}`` is kept for the next step).  With β = 0 no Laplacian is computed and the update
  is PyTorch's SGD-Nesterov (14) operation for operation, so bit for bit.
* :class:`ApdeScheme` -- the semi-implicit scheme (4) of the accelerated PDE (3) on a grid in
  (Δt, a, b, Δx); it matches the optimizer through the map (8) (``θ^n = w^n``,
  ``v^{n+1} = -Δu^n/η``).
* :func:`sgd_params` / :func:`pde_params` -- the maps (8) and (9) (with (9)'s missing
  ``b = β(2 + aΔt)/(2Δt)``); :func:`beta_max` -- (11), ``(1 + γ)/(4N)``.
* :func:`scaled_diffusion` -- the experiments' protocol (section 4.2) for "f × β_max": f ≤ 1 at
  the given (η, γ); f > 1 as ``b = f·b_max`` with Δt divided by f (a kept), mapped back by (8).

Input checks raise :class:`~workbench.solvers.core.checks.ParameterError` naming the parameter.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from workbench.solvers.core.checks import ParameterError, check_positive

__all__ = [
    "algorithm1_step",
    "DiffusionUpdate",
    "SplitDiffusionUpdate",
    "BOUNDARIES",
    "ApdeScheme",
    "DiffusionNesterov",
    "beta_max",
    "check_axes",
    "kappa_max",
    "laplacian",
    "pde_params",
    "scaled_diffusion",
    "sgd_params",
]

BOUNDARIES = ("neumann", "periodic")


def check_axes(axes: Sequence[int] | int | None, ndim: int) -> tuple[int, ...]:
    """Normalize ``axes`` (None = all axes) to sorted non-negative ints; raise if one does not exist."""
    if axes is None:
        return tuple(range(ndim))
    if isinstance(axes, int) and not isinstance(axes, bool):
        axes = (axes,)
    try:
        items = list(axes)  # type: ignore[arg-type]
    except TypeError:
        raise ParameterError(f"axes: expected an int or a sequence of ints, got {axes!r}") from None
    out = []
    for ax in items:
        if isinstance(ax, bool) or not isinstance(ax, int):
            raise ParameterError(f"axes: expected integers, got {ax!r}")
        if not -ndim <= ax < ndim:
            raise ParameterError(f"axes: axis {ax} does not exist in a tensor with {ndim} dimensions")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ParameterError(f"axes: repeated axis in {tuple(items)}")
    if not out:
        raise ParameterError("axes: empty; give at least one axis (or β = 0 for no diffusion)")
    return tuple(sorted(out))


def _check_boundary(boundary: str) -> str:
    if boundary not in BOUNDARIES:
        raise ParameterError(f"boundary: unknown boundary condition {boundary!r}; use 'neumann' or 'periodic'")
    return boundary


def _check_nonneg(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ParameterError(f"{name}: must be finite and >= 0, got {value!r}")
    return v


def _check_momentum(value: Any) -> float:
    v = _check_nonneg("momentum", value)
    if v >= 1:
        raise ParameterError(f"momentum: must lie in [0, 1), got {value!r}")
    return v


def _shift(xp: Any, x: Any, axis: int, step: int, boundary: str) -> Any:
    """``x`` at index i + step along ``axis`` (step = ±1), with the boundary's ghost value."""
    if boundary == "periodic":
        return xp.roll(x, -step, axis=axis)
    n = x.shape[axis]

    def sl(start: int | None, stop: int | None) -> tuple:
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(start, stop)
        return tuple(idx)

    if n == 1:
        return x
    if step == 1:
        return xp.concat([x[sl(1, None)], x[sl(n - 1, n)]], axis=axis)
    return xp.concat([x[sl(0, 1)], x[sl(0, n - 1)]], axis=axis)


def laplacian(x: Any, axes: Sequence[int] | int | None = None, boundary: str = "neumann", dx: float = 1.0) -> Any:
    """Discrete Laplacian (5), ``Σ_k (d(x+e_k) - 2d(x) + d(x-e_k))/Δx²`` over ``axes``.

    Parameters
    ----------
    x : array
        Any backend, any number of dimensions.
    axes : int, sequence of int or None
        Axes of the "spatial" argument (None: all).
    boundary : {"neumann", "periodic"}
        Neumann: zero flux, ghost = edge value (cell-centred; the sum of ``x`` is conserved).
    dx : float
        Spatial step Δx > 0.
    """
    xp = array_namespace(x)
    ax = check_axes(axes, x.ndim)
    boundary = _check_boundary(boundary)
    dx = check_positive("dx", dx)
    out = None
    for k in ax:
        term = (_shift(xp, x, k, 1, boundary) - 2 * x) + _shift(xp, x, k, -1, boundary)
        out = term if out is None else out + term
    return out if dx == 1.0 else out / (dx * dx)


def kappa_max(shape: Sequence[int], axes: Sequence[int] | int | None = None, boundary: str = "neumann",
              dx: float = 1.0) -> float:
    """Largest |eigenvalue| of :func:`laplacian` on ``shape``, times Δx² (κ_max of the analysis).

    Per axis of length n: periodic ``2 - 2cos(2π⌊n/2⌋/n)`` (= 4 for even n), Neumann
    ``2 + 2cos(π/n)`` (< 4); summed over the axes.  The paper's (10)-(11) use κ_max = 4N.
    """
    ax = check_axes(axes, len(shape))
    _check_boundary(boundary)
    check_positive("dx", dx)
    tot = 0.0
    for k in ax:
        n = int(shape[k])
        if n == 1:
            continue
        tot += 2 - 2 * math.cos(2 * math.pi * (n // 2) / n) if boundary == "periodic" else 2 + 2 * math.cos(math.pi / n)
    return tot


def beta_max(momentum: float, n_dims: int, kappa: float | None = None) -> float:
    """(11): ``β_max = (1 + γ)/(4N)``; with ``kappa`` (from :func:`kappa_max`) the exact ``(1 + γ)/κ_max``."""
    g = _check_momentum(momentum)
    if kappa is None:
        if isinstance(n_dims, bool) or not isinstance(n_dims, int) or n_dims < 1:
            raise ParameterError(f"n_dims: expected an integer >= 1, got {n_dims!r}")
        kappa = 4.0 * n_dims
    return (1 + g) / check_positive("kappa", kappa)


def sgd_params(dt: float, a: float, b: float = 0.0) -> dict[str, float]:
    """Map (8): ``η = 2Δt²/(2 + aΔt)``, ``γ = (2 - aΔt)/(2 + aΔt)``, ``β = 2bΔt/(2 + aΔt)``."""
    dt = check_positive("dt", dt)
    a = check_positive("a", a)
    b = _check_nonneg("b", b)
    if a * dt >= 2:
        raise ParameterError(f"a: a*dt must be < 2 for a momentum in [0, 1), got a*dt = {a * dt}")
    den = 2 + a * dt
    return {"eta": 2 * dt * dt / den, "momentum": (2 - a * dt) / den, "beta": 2 * b * dt / den}


def pde_params(eta: float, momentum: float, beta: float = 0.0) -> dict[str, float]:
    """Map (9): ``Δt = √(2η/(γ+1))``, ``a = (2 - 2γ)/√(2η(γ+1))``, and ``b = β(2 + aΔt)/(2Δt)``."""
    eta = check_positive("eta", eta)
    g = _check_momentum(momentum)
    beta = _check_nonneg("beta", beta)
    dt = math.sqrt(2 * eta / (g + 1))
    a = (2 - 2 * g) / math.sqrt(2 * eta * (g + 1))
    return {"dt": dt, "a": a, "b": beta * (2 + a * dt) / (2 * dt)}


def scaled_diffusion(eta: float, momentum: float, factor: float, n_dims: int = 1,
                     kappa: float | None = None) -> dict[str, float]:
    """SGD parameters for a diffusion of ``factor`` × the maximum stable one, the paper's way.

    Section 4.2 (Table 1): "amounts above β_max are achieved by lowering the step size ... For
    2 and 4 times of the maximum stable diffusion, we divide the time step by 2 and 4
    respectively and recalculate the corresponding learning rate and momentum".  Here the base
    (η, γ) is mapped by (9) to (Δt, a), with ``b_max = 2Δx²/(κ_max Δt)`` (= ``1/(2NΔt)``, (11),
    for κ_max = 4N, Δx = 1).  For ``factor`` ≤ 1: ``β = factor·β_max(γ)`` at the given (η, γ).
    For ``factor`` > 1: ``b = factor·b_max(Δt)``, ``Δt' = Δt/factor``, damping ``a`` kept, and
    (8) gives (η', γ', β'); then ``b·Δt' = 2/κ_max`` (the CFL (10) with equality) and
    ``β' = β_max(γ')`` exactly, while η' < η and γ' > γ: the learning rate is NOT held fixed.

    Parameters
    ----------
    eta, momentum : float
        Base learning rate η > 0 and momentum γ in [0, 1).
    factor : float
        Diffusion amount in units of β_max (> 0; 0 is allowed and returns β = 0).
    n_dims : int
        Number N of diffused axes (κ_max = 4N when ``kappa`` is None).
    kappa : float, optional
        Exact κ_max of the grid (:func:`kappa_max`) instead of 4N.

    Returns
    -------
    dict
        ``eta, momentum, beta`` (for :class:`DiffusionNesterov`), ``dt, a, b`` of the scheme (4),
        ``beta_max`` (at the returned momentum) and ``lowered`` (True when Δt was divided).
    """
    f = _check_nonneg("factor", factor)
    bm0 = beta_max(momentum, n_dims, kappa)
    kap = 4.0 * n_dims if kappa is None else float(kappa)
    base = pde_params(eta, momentum)
    if f <= 1.0:
        beta = f * bm0
        return {"eta": float(eta), "momentum": float(momentum), "beta": beta, "dt": base["dt"], "a": base["a"],
                "b": pde_params(eta, momentum, beta)["b"], "beta_max": bm0, "lowered": False}
    dt = base["dt"] / f
    b = f * 2.0 / (kap * base["dt"])
    p = sgd_params(dt, base["a"], b)
    return {"eta": p["eta"], "momentum": p["momentum"], "beta": p["beta"], "dt": dt, "a": base["a"], "b": b,
            "beta_max": beta_max(p["momentum"], n_dims, kappa), "lowered": True}


def algorithm1_step(theta: Any, v: Any, L: Any, g: Any, eta: Any, momentum: float, beta: Any,
                    lap: Callable[[Any], Any]) -> tuple[Any, Any, Any]:
    """Lines 6-8 of Algorithm 1 (second paper, (6)-(7)): ``(θ^{n+1}, v^{n+1}, L^{n+1})`` from ``(θ^n, v^n, L^n = ∇²v^n)``.

    ``v^{n+1} = (γv^n + g) + βL^n``, ``L^{n+1} = lap(v^{n+1})``, ``θ^{n+1} = θ^n − η[(g + γv^{n+1}) + βL^{n+1}]``:
    the registered scheme ``diffusion-nesterov`` (:mod:`workbench.derivations.schemes.entries`: u = ηv,
    u' = Mu + ηg, θ' = θ − M²u − η(1 + M)g with M = γ + β∇²; tests/test_diffusion_solver.py checks this step
    against that record), with one Laplacian per step (``L^{n+1}`` is kept for the next).  The only
    implementation of the step: :class:`DiffusionNesterov`, :class:`DiffusionUpdate` and
    :class:`SplitDiffusionUpdate` call it.  With β the float 0 no Laplacian is computed and it is
    PyTorch's SGD(nesterov=True) (14), operation for operation (``L`` is passed through).
    ``beta`` may be an array (one β per member, broadcast against θ).
    """
    if isinstance(beta, float) and beta == 0.0:
        v = momentum * v + g
        return theta - eta * (g + momentum * v), v, L
    v = (momentum * v + g) + beta * L
    L = lap(v)
    return theta - eta * ((g + momentum * v) + beta * L), v, L


class DiffusionNesterov:
    """Algorithm 1 (second paper): SGD-Nesterov with diffusion of the velocity, (6)-(7).

    Parameters
    ----------
    lr : float
        Learning rate η > 0.
    momentum : float
        γ in [0, 1).
    beta : float
        Diffusion β ≥ 0 (stable for β ≤ (1 + γ)/κ_max, (11)); 0 is plain SGD-Nesterov.
    axes : int, sequence of int or None
        Axes of the parameter tensor the Laplacian acts on (None: all).
    boundary : {"neumann", "periodic"}
        Boundary of the Laplacian (appendix C uses Neumann, appendix D periodic).
    dx : float
        Spatial step Δx > 0 (the paper uses 1).

    Notes
    -----
    ``step(theta, grad)`` returns θ^{n+1}; the state is ``v`` (buffer v^n, zero at first)
    and ``L`` (= ∇²v^n).  ``v`` may be set before the first step (Algorithm 1's v^0).
    """

    def __init__(self, lr: float, momentum: float, beta: float = 0.0, axes: Sequence[int] | int | None = None,
                 boundary: str = "neumann", dx: float = 1.0) -> None:
        self.lr = check_positive("lr", lr)
        self.momentum = _check_momentum(momentum)
        self.beta = _check_nonneg("beta", beta)
        self.axes = axes
        self.boundary = _check_boundary(boundary)
        self.dx = check_positive("dx", dx)
        self.v: Any = None
        self.L: Any = None

    def _lap(self, v: Any) -> Any:
        return laplacian(v, self.axes, self.boundary, self.dx)

    def step(self, theta: Any, grad: Any) -> Any:
        """One iteration of Algorithm 1 (lines 6-8) for the gradient ``grad = ∇J(θ^n)``."""
        xp = array_namespace(theta, grad)
        if self.v is None:
            check_axes(self.axes, theta.ndim)
            self.v = xp.zeros_like(theta)
        if self.beta != 0.0 and self.L is None:
            self.L = self._lap(self.v)
        theta, self.v, self.L = algorithm1_step(theta, self.v, self.L, grad, self.lr, self.momentum, self.beta,
                                                self._lap)
        return theta


class DiffusionUpdate:
    """Algorithm 1 as a batched :class:`workbench.solvers.stepping.stepper.Update`: one β per member, the Laplacian on the grid axes.

    The same operations as :meth:`DiffusionNesterov.step` with β > 0 (its Laplacian form),
    on a batch (B, …) whose leading axis holds the members; ``beta`` is one value or one
    per member.  State ``(θ, v, L = ∇²v)``; ``v0`` the starting buffer (Algorithm 1's v⁰,
    zero by default), broadcast to every member.
    """

    def __init__(self, momentum: float, beta: Any, boundary: str = "neumann", dx: float = 1.0, v0: Any = None,
                 lr: float = 1.0) -> None:
        self.momentum = _check_momentum(momentum)
        b = np.asarray(beta, dtype=np.float64).reshape(-1)
        if b.size == 0 or not np.all(np.isfinite(b)) or np.any(b < 0):
            raise ParameterError(f"beta: every diffusion coefficient must be finite and >= 0, got {beta!r}")
        self.beta = b
        self.boundary = _check_boundary(boundary)
        self.dx = check_positive("dx", dx)
        self.v0 = v0
        self.lr = float(lr)

    def start(self, theta0: Any) -> list:
        xp = array_namespace(theta0)
        B = theta0.shape[0]
        if self.beta.size not in (1, B):
            raise ParameterError(f"beta: expected one value or one per member ({B}), got {self.beta.size}")
        self._axes = tuple(range(1, theta0.ndim))
        self._b = (float(self.beta[0]) if self.beta.size == 1 else
                   xp.reshape(xp.asarray(self.beta, dtype=theta0.dtype), (B,) + (1,) * (theta0.ndim - 1)))
        v = xp.zeros_like(theta0) if self.v0 is None else theta0 * 0 + xp.asarray(self.v0, dtype=theta0.dtype)
        return [theta0, v, laplacian(v, self._axes, self.boundary, self.dx)]

    def point(self, state: list) -> Any:
        return state[0]

    def _lap(self, v: Any) -> Any:
        return laplacian(v, self._axes, self.boundary, self.dx)

    def step(self, state: list, x: Any, g: Any, eta: Any) -> list:
        th, v, L = state
        return list(algorithm1_step(th, v, L, g, eta, self.momentum, self._b, self._lap))

    def to_dict(self) -> dict:
        return {"scheme": "diffusion-nesterov", "momentum": self.momentum, "boundary": self.boundary}


class SplitDiffusionUpdate:
    """Algorithm 1 on one block of a flat parameter vector (a conv kernel), SGD-Nesterov (14) on the rest.

    A :class:`workbench.solvers.stepping.stepper.Update` for a batch (B, P) of flat parameter vectors: the
    block ``[offset, offset + prod(shape))`` is read as a tensor of ``shape`` and updated by
    :meth:`DiffusionNesterov.step` with the Laplacian on ``axes`` of it; every other entry
    by PyTorch's SGD(nesterov=True), operation for operation.  State ``(θ, v, L = ∇²v_block)``;
    ``current`` is the latest state (for observers that follow the velocity).
    """

    def __init__(self, momentum: float, beta: float, offset: int, shape: Sequence[int], axes: Sequence[int] | int,
                 boundary: str = "neumann", dx: float = 1.0, lr: float = 1.0) -> None:
        self.momentum = _check_momentum(momentum)
        self.beta = _check_nonneg("beta", beta)
        self.shape = tuple(int(n) for n in shape)
        self.axes = check_axes(axes, len(self.shape))
        self.offset, self.size = int(offset), int(np.prod(self.shape))
        self.boundary = _check_boundary(boundary)
        self.dx = check_positive("dx", dx)
        self.lr = float(lr)
        self.current: list | None = None

    def _lap(self, vk: Any) -> Any:
        return laplacian(vk, tuple(ax + 1 for ax in self.axes), self.boundary, self.dx)

    def block(self, x: Any) -> Any:
        """The block of a batch (B, P) as (B, *shape)."""
        return x[:, self.offset:self.offset + self.size] if x.ndim == 2 else x

    def start(self, theta0: Any) -> list:
        xp = array_namespace(theta0)
        v = xp.zeros_like(theta0)
        self.current = [theta0, v, xp.zeros((theta0.shape[0],) + self.shape, dtype=theta0.dtype)]
        return self.current

    def point(self, state: list) -> Any:
        return state[0]

    def step(self, state: list, x: Any, g: Any, eta: Any) -> list:
        xp = array_namespace(x)
        th, v, L = state
        mu = self.momentum
        th1, v1, _ = algorithm1_step(th, v, L, g, eta, mu, 0.0, self._lap)   # (14) everywhere; the block below
        if self.beta != 0.0:
            B, a, b = th.shape[0], self.offset, self.offset + self.size
            full = (B,) + self.shape
            thk, vk, L = algorithm1_step(xp.reshape(th[:, a:b], full), xp.reshape(v[:, a:b], full), L,
                                         xp.reshape(g[:, a:b], full), eta, mu, self.beta, self._lap)
            v1 = xp.concat([v1[:, :a], xp.reshape(vk, (B, -1)), v1[:, b:]], axis=1)
            th1 = xp.concat([th1[:, :a], xp.reshape(thk, (B, -1)), th1[:, b:]], axis=1)
        self.current = [th1, v1, L]
        return self.current

    def to_dict(self) -> dict:
        return {"scheme": "diffusion-nesterov (block)", "momentum": self.momentum, "beta": self.beta,
                "boundary": self.boundary}


class ApdeScheme:
    """The semi-implicit scheme (4) of the accelerated PDE (3) with the Laplacian (5).

    ``w^n = u^n + (2-aΔt)/(2+aΔt)Δu^{n-1} + 2Δt b/(2+aΔt) ∇²Δu^{n-1}``,
    ``u^{n+1} = w^n - 2Δt²/(2+aΔt) ∇U(w^n)``.  State: ``u`` (u^n) and ``du`` (Δu^{n-1}).
    """

    def __init__(self, dt: float, a: float, b: float = 0.0, axes: Sequence[int] | int | None = None,
                 boundary: str = "neumann", dx: float = 1.0) -> None:
        p = sgd_params(dt, a, b)
        self.dt, self.a, self.b = float(dt), float(a), float(b)
        self.axes, self.boundary, self.dx = axes, _check_boundary(boundary), check_positive("dx", dx)
        den = 2 + self.a * self.dt
        self.c_mom, self.c_diff, self.c_grad = (2 - self.a * self.dt) / den, 2 * self.dt * self.b / den, p["eta"]

    def lookahead(self, u: Any, du: Any) -> Any:
        """``w^n`` from ``u^n`` and ``Δu^{n-1}`` (first line of (4))."""
        return u + self.c_mom * du + self.c_diff * laplacian(du, self.axes, self.boundary, self.dx)

    def step(self, u: Any, du: Any, grad: Callable[[Any], Any]) -> tuple[Any, Any, Any]:
        """``(u^{n+1}, Δu^n, w^n)`` from ``(u^n, Δu^{n-1})``."""
        w = self.lookahead(u, du)
        u1 = w - self.c_grad * grad(w)
        return u1, u1 - u, w
