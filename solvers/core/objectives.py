"""Objectives: a loss over a flat parameter vector, on any array backend.

One small protocol, :class:`Objective`, is what the spectral tools
(:mod:`workbench.solvers.linalg.hessian`), the multi-layer validation case and later the principal-flow
and unstable-convergence work consume:

=====================  ===========================================================
``size``               number of parameters n (θ is a 1-D array of shape (n,))
``xp``, ``dtype``      the array namespace and floating dtype it computes in
``device``             where its arrays live (``None``: the backend's default)
``value(θ)``           E(θ) as a Python float
``gradient(θ)``        ∇E(θ), shape (n,)
``value_and_gradient`` both, sharing the forward pass where the objective can
``hvp(θ, v)``          ∇²E(θ)·v, exact where :attr:`exact_hvp` is true, otherwise a
                       central finite difference of gradients (:func:`fd_hvp`)
``hessian(θ)``         the dense n×n Hessian, refused past ``max_bytes``
``initial(seed)``      a starting flat parameter vector
=====================  ===========================================================

Implementations: :class:`SympyObjective` (any :class:`workbench.derivations.objectives.SymbolicObjective`,
lambdified once with its exact gradient and Hessian), :class:`workbench.solvers.nets.networks.NetworkObjective`
(backprop gradient, R-operator Hessian-vector product), :class:`CallableObjective`
(wrap your own callables without the workbench importing any framework) and the
PyTorch and JAX adapters ``workbench.from_torch`` / ``workbench.from_jax`` (exact HVPs
on the model's own arrays, dtype and device). :class:`BaseObjective` holds the shared
input checks and the finite-difference fallbacks.

A finite-difference HVP is never chosen silently: :class:`CallableObjective` without an
``hvp`` warns (``hvp="fd"`` chooses it explicitly and quietly).

Finite-difference step (:func:`fd_step`). The central difference
[∇E(θ + hv) − ∇E(θ − hv)]/(2h) has truncation error ≈ h²‖∇³E[v,v,v]‖/6 and rounding
error ≈ ε‖∇E‖/h (ε the dtype's machine epsilon, 2.2e-16 / 1.2e-7); the two balance
at h ∝ ε^{1/3}. Measured in the units of θ, the step is
h = ε^{1/3} · max(1, rms(θ)) / rms(v): the perturbation h·v has the size ε^{1/3} relative
to the entries of θ (and absolute for θ ≈ 0), so it is neither lost to rounding in
θ + hv nor so large that curvature changes across it. In float64 that is 6.1e-6, giving
a relative HVP error of 1e-10 to 1e-8 on smooth networks (measured: 1e-8 on a 94k-parameter
tanh MLP); in float32, 4.9e-3.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from workbench.solvers.core.backend import backend_name, get_namespace, namespace_of, to_numpy
from workbench.solvers.core.checks import ParameterError

__all__ = [
    "Objective",
    "BaseObjective",
    "SympyObjective",
    "CallableObjective",
    "Unchecked",
    "fd_step",
    "fd_hvp",
    "fd_gradient",
    "DEFAULT_MAX_HESSIAN_BYTES",
    "check_dense_size",
]

#: Dense Hessians larger than this are refused unless ``max_bytes`` is raised (1 GiB).
DEFAULT_MAX_HESSIAN_BYTES = 2 ** 30


@runtime_checkable
class Objective(Protocol):
    """A loss E(θ) over a flat parameter vector θ of shape (``size``,)."""

    size: int
    xp: Any
    dtype: Any
    exact_hvp: bool

    def value(self, theta: Any) -> float: ...

    def gradient(self, theta: Any) -> Any: ...

    def value_and_gradient(self, theta: Any) -> tuple[float, Any]: ...

    def hvp(self, theta: Any, v: Any) -> Any: ...

    def hessian(self, theta: Any, max_bytes: int = DEFAULT_MAX_HESSIAN_BYTES) -> Any: ...

    def initial(self, seed: int = 0) -> Any: ...


def _eps(xp: Any, dtype: Any) -> float:
    return 1.1920929e-07 if dtype == xp.float32 else 2.220446049250313e-16


def _rms(xp: Any, v: Any) -> float:
    n = v.shape[0]
    return float(xp.linalg.vector_norm(v)) / math.sqrt(max(n, 1))


def fd_step(theta: Any, v: Any, order: int = 2) -> float:
    """Finite-difference step h for a directional derivative along ``v`` at ``theta``.

    h = ε^{1/(order+1)} · max(1, rms(θ)) / rms(v): ε^{1/3} for the central difference
    (``order=2``), ε^{1/2} for the forward difference (``order=1``). See the module
    docstring for the error balance. Returns 0 for v = 0.
    """
    xp = namespace_of(theta, v)
    rv = _rms(xp, v)
    if rv == 0.0:
        return 0.0
    return _eps(xp, v.dtype) ** (1.0 / (order + 1)) * max(1.0, _rms(xp, theta)) / rv


def fd_hvp(grad: Callable[[Any], Any], theta: Any, v: Any, h: float | None = None) -> Any:
    """Central-difference Hessian-vector product [∇E(θ + hv) − ∇E(θ − hv)] / (2h).

    Two gradient evaluations; truncation error O(h²), see :func:`fd_step` (the default h).
    """
    hh = fd_step(theta, v, 2) if h is None else float(h)
    if hh == 0.0:
        return grad(theta) * 0.0
    return (grad(theta + hh * v) - grad(theta - hh * v)) / (2.0 * hh)


def fd_gradient(value: Callable[[Any], float], theta: Any, h: float | None = None) -> Any:
    """Central-difference gradient, one coordinate at a time: 2n evaluations (small n only).

    Step per coordinate h = ε^{1/3} · max(1, |θᵢ|) (the same balance as :func:`fd_step`).
    """
    xp = namespace_of(theta)
    n = theta.shape[0]
    eps3 = _eps(xp, theta.dtype) ** (1.0 / 3.0)
    host = to_numpy(theta)
    out = np.empty(n)
    for i in range(n):
        hi = eps3 * max(1.0, abs(float(host[i]))) if h is None else float(h)
        e = np.zeros(n)
        e[i] = hi
        d = xp.asarray(e, dtype=theta.dtype)
        out[i] = (value(theta + d) - value(theta - d)) / (2.0 * hi)
    return xp.asarray(out, dtype=theta.dtype)


def check_dense_size(n: int, itemsize: int, max_bytes: int, what: str = "hessian") -> None:
    """Refuse an n×n dense matrix larger than ``max_bytes``; the message says the size."""
    need = int(n) * int(n) * int(itemsize)
    if need > int(max_bytes):
        raise ParameterError(
            f"{what}: a dense {n}x{n} Hessian needs {need:,} bytes ({need / 2 ** 30:.3g} GiB), more than "
            f"max_bytes={int(max_bytes):,}; use Hessian-vector products instead (objective.hvp, or "
            f"workbench.solvers.linalg.hessian.sharpness / top_eigenpairs, which run Lanczos on them), or raise max_bytes"
        )


class BaseObjective:
    """Shared machinery: input checks, finite-difference fallbacks, dense Hessian by HVPs.

    Subclasses set ``size``, ``xp``, ``dtype`` and implement ``_value`` and
    ``_gradient`` (and, for exact HVPs, ``_hvp`` with ``exact_hvp = True``; for an
    analytic Hessian, ``_hessian``). The public methods check their inputs: θ and v
    must be 1-D of length ``size`` on the objective's backend and finite
    (``check_inputs = False`` skips the finiteness test, which costs one reduction and a
    host synchronisation per call). Where ``device`` is set, θ and v must be on it; where
    ``strict_dtype`` is true, they must have the objective's dtype (no silent cast).
    """

    size: int
    xp: Any
    dtype: Any
    device: Any = None
    exact_hvp: bool = False
    check_inputs: bool = True
    #: refuse θ and v of another dtype instead of casting them (the framework adapters)
    strict_dtype: bool = False

    # -- input checks ----------------------------------------------------------------
    def as_vector(self, name: str, v: Any) -> Any:
        """``v`` checked as a point of this objective: 1-D of length ``size``, on its backend, device, dtype, finite.

        Raises
        ------
        ParameterError
            Naming ``name`` and what is wrong.
        """
        xp = self.xp
        if not hasattr(v, "shape"):
            try:
                v = xp.asarray(v, dtype=self.dtype, device=self.device)
            except Exception as exc:
                raise ParameterError(f"{name}: cannot be read as an array of {self.size} numbers ({exc})") from None
        else:
            try:
                got = backend_name(namespace_of(v))
            except TypeError:
                got = type(v).__module__
            want = backend_name(xp)
            if got != want:
                raise ParameterError(
                    f"{name}: is a {got} array but the objective computes on {want}; convert it first "
                    f"(e.g. workbench.solvers.core.backend.get_namespace({want!r}).asarray(...))"
                )
        if v.ndim != 1 or v.shape[0] != self.size:
            raise ParameterError(
                f"{name}: expected a flat vector of shape ({self.size},) for this objective, got shape {tuple(v.shape)}"
            )
        if self.device is not None:
            from array_api_compat import device as _device_of

            dev = _device_of(v)
            if dev is not None and dev != self.device:
                raise ParameterError(f"{name}: is on device {dev} but the objective computes on "
                                     f"{self.device}; move it there first")
        if v.dtype != self.dtype and self.strict_dtype:
            raise ParameterError(f"{name}: has dtype {v.dtype} but the objective computes in {self.dtype}; "
                                 f"convert it first (no silent casts)")
        if v.dtype != self.dtype:
            if not xp.isdtype(v.dtype, ("real floating", "integral")):
                raise ParameterError(f"{name}: expected real floating values, got dtype {v.dtype}")
            v = xp.astype(v, self.dtype)
        if self.check_inputs and not bool(xp.all(xp.isfinite(v))):
            raise ParameterError(f"{name}: contains NaN or infinite values")
        return v

    # -- to implement ------------------------------------------------------------------
    def _value(self, theta: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _gradient(self, theta: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _value_and_gradient(self, theta: Any) -> tuple[float, Any]:
        return self._value(theta), self._gradient(theta)

    def _hvp(self, theta: Any, v: Any) -> Any:
        return fd_hvp(self._gradient, theta, v)

    def _hessian(self, theta: Any) -> Any:
        """Dense Hessian column by column from :meth:`hvp` (n products), symmetrised.

        The unit vectors are the rows of ``eye`` (no in-place writes: JAX arrays are immutable).
        """
        xp, n = self.xp, self.size
        eye = xp.eye(n, dtype=self.dtype, device=self.device)
        h = xp.stack([self._hvp(theta, eye[j, :]) for j in range(n)], axis=1)
        return 0.5 * (h + xp.permute_dims(h, (1, 0)))

    # -- public ------------------------------------------------------------------------
    @property
    def unchecked(self) -> "Unchecked":
        """This objective without input checks (:class:`Unchecked`): for iterates a stepper classifies itself."""
        return Unchecked(self)

    def value(self, theta: Any) -> float:
        """E(θ) as a Python float."""
        return float(self._value(self.as_vector("theta", theta)))

    def gradient(self, theta: Any) -> Any:
        """∇E(θ), an array of shape (size,) on the objective's backend."""
        return self._gradient(self.as_vector("theta", theta))

    def value_and_gradient(self, theta: Any) -> tuple[float, Any]:
        """(E(θ), ∇E(θ)) — one forward pass where the objective supports it."""
        val, g = self._value_and_gradient(self.as_vector("theta", theta))
        return float(val), g

    def hvp(self, theta: Any, v: Any) -> Any:
        """∇²E(θ)·v: exact if :attr:`exact_hvp`, else the central difference :func:`fd_hvp`."""
        return self._hvp(self.as_vector("theta", theta), self.as_vector("v", v))

    def hvp_fd(self, theta: Any, v: Any, h: float | None = None) -> Any:
        """∇²E(θ)·v by the central difference of two gradients, whatever :attr:`exact_hvp` is."""
        return fd_hvp(self._gradient, self.as_vector("theta", theta), self.as_vector("v", v), h)

    def hessian(self, theta: Any, max_bytes: int = DEFAULT_MAX_HESSIAN_BYTES) -> Any:
        """Dense n×n Hessian (exact where the objective has it, else from n HVPs).

        Raises
        ------
        ParameterError
            n²·itemsize exceeds ``max_bytes`` (default 1 GiB); the message gives the
            size in bytes and points to Hessian-vector products.
        """
        check_dense_size(self.size, 4 if self.dtype == self.xp.float32 else 8, max_bytes)
        return self._hessian(self.as_vector("theta", theta))

    def initial(self, seed: int = 0) -> Any:
        """A starting point: standard normal entries from ``seed`` (subclasses override)."""
        rng = np.random.default_rng(seed)
        return self.xp.asarray(rng.standard_normal(self.size), dtype=self.dtype, device=self.device)


class Unchecked:
    """The unchecked view of a :class:`BaseObjective`: its own implementation, no input checks.

    θ and v go straight to the objective's evaluation: no shape, backend, device or
    finiteness check and no cast, so a diverging iterate gives NaN/inf values for the
    caller's divergence test (:mod:`workbench.solvers.stepping.divergence`) instead of an
    error, and an objective whose implementation is analytic (a tanh/MSE network) accepts
    complex arrays (its analytic continuation, second paper §4). Results are not copied.
    """

    __slots__ = ("objective",)

    def __init__(self, objective: BaseObjective) -> None:
        self.objective = objective

    def value(self, theta: Any) -> float:
        """E(θ)."""
        return float(self.objective._value(theta))

    def gradient(self, theta: Any) -> Any:
        """∇E(θ)."""
        return self.objective._gradient(theta)

    def value_and_gradient(self, theta: Any) -> tuple[float, Any]:
        """(E(θ), ∇E(θ))."""
        val, g = self.objective._value_and_gradient(theta)
        return float(val), g

    def hvp(self, theta: Any, v: Any) -> Any:
        """∇²E(θ)·v."""
        return self.objective._hvp(theta, v)


class SympyObjective(BaseObjective):
    """A :class:`workbench.derivations.objectives.SymbolicObjective` lambdified once per backend.

    Value, gradient and Hessian are SymPy's exact expressions, compiled through
    :func:`workbench.solvers.core.lambdify.lambdify` (``cse=True``, cached); the constants of the
    objective are passed as arguments (defaults overridable by name), never
    substituted. HVPs are the exact Hessian times v.

    Parameters
    ----------
    sym : SymbolicObjective
        E.g. ``workbench.derivations.objectives.toy("tanh-quadratic")``.
    xp : namespace or str, optional
        Backend (default NumPy).
    dtype : {"float64", "float32"} or dtype
    start : sequence of float, optional
        What :meth:`initial` returns (default zeros plus ``seed``-dependent noise of 0.1).
    **params : float
        Overrides of the constants, by symbol name (``c_1=10.0``).
    """

    exact_hvp = True

    def __init__(self, sym: Any, xp: Any = None, dtype: Any = "float64", start: Sequence[float] | None = None,
                 **params: float) -> None:
        import sympy as sp

        from workbench.solvers.core.backend import float_dtype
        from workbench.solvers.core.lambdify import lambdify

        self.xp = get_namespace("numpy" if xp is None else xp) if xp is None or isinstance(xp, str) else xp
        self.dtype = float_dtype(self.xp, dtype)
        self.sym = sym
        self.size = sym.size
        names = {s.name: s for s in sym.param_symbols}
        unknown = set(params) - set(names)
        if unknown:
            raise ParameterError(f"params: unknown constant(s) {sorted(unknown)} for objective {sym.name!r}; "
                                 f"it has {sorted(names)}")
        self.params = {s.name: float(params.get(s.name, v)) for s, v in sym.params}
        for k, v in self.params.items():
            if not math.isfinite(v):
                raise ParameterError(f"{k}: must be finite, got {v!r}")
        self._start = None if start is None else [float(s) for s in start]
        if self._start is not None and len(self._start) != self.size:
            raise ParameterError(f"start: expected {self.size} values, got {len(self._start)}")
        args = tuple(sym.variables) + tuple(sym.param_symbols)
        n = self.size
        self._f = lambdify(sym.expr, args, self.xp)
        self._g = lambdify(sp.Tuple(*sym.gradient), args, self.xp)
        self._h = lambdify(sp.Tuple(*[sym.hessian[i, j] for i in range(n) for j in range(n)]), args, self.xp)
        self._consts = [self.params[s.name] for s in sym.param_symbols]

    def _args(self, theta: Any) -> list[Any]:
        return [theta[i] for i in range(self.size)] + self._consts

    def _stack(self, parts: Sequence[Any]) -> Any:
        xp = self.xp
        return xp.stack([xp.asarray(p, dtype=self.dtype) for p in parts])

    def _value(self, theta: Any) -> float:
        return float(self._f(*self._args(theta)))

    def _gradient(self, theta: Any) -> Any:
        return self._stack(self._g(*self._args(theta)))

    def _hessian(self, theta: Any) -> Any:
        return self.xp.reshape(self._stack(self._h(*self._args(theta))), (self.size, self.size))

    def _hvp(self, theta: Any, v: Any) -> Any:
        return self.xp.matmul(self._hessian(theta), v)

    def initial(self, seed: int = 0) -> Any:
        if self._start is not None:
            return self.xp.asarray(self._start, dtype=self.dtype)
        return super().initial(seed) * 0.1


class CallableObjective(BaseObjective):
    """Wrap user callables as an :class:`Objective` (no framework is imported).

    Each callable takes the flat parameter vector (after ``convert_in``) and returns a
    number (``value``) or a flat vector (the others) that ``convert_out`` turns into an
    array of the objective's namespace. Missing pieces fall back to finite differences:
    no ``gradient`` → :func:`fd_gradient` (2n values, small n only); no ``hvp`` →
    :func:`fd_hvp` (two gradients; relative error ~1e-8 in float64, ~1e-3 in float32),
    with a ``UserWarning`` unless ``hvp="fd"`` asks for it explicitly.

    For a PyTorch or JAX model use ``workbench.from_torch`` / ``workbench.from_jax``
    instead: exact HVPs, the model's dtype and device, no glue.

    Parameters
    ----------
    value : callable θ → float
    size : int
        Number of parameters.
    gradient : callable θ → vector, optional
    hvp : callable (θ, v) → vector, or "fd", optional
        Exact Hessian-vector product (e.g. ``torch.func.jvp`` over ``grad``); ``"fd"``
        selects the central difference explicitly; None selects it with a warning.
    value_and_gradient : callable θ → (float, vector), optional
    hessian : callable θ → matrix, optional
    xp : namespace or str, optional
        Backend of θ (default NumPy).
    dtype : {"float64", "float32"} or dtype
    convert_in, convert_out : callable, optional
        Map our arrays to the user's type (e.g. ``torch.from_dlpack``) and back (default
        ``xp.asarray``, which accepts anything with ``__array__`` or DLPack on CPU).
    x0 : vector, optional
        What :meth:`initial` returns.

    Examples
    --------
    A quadratic ½θᵀPθ with an exact HVP:

    >>> import numpy as np
    >>> P = np.diag([1.0, 2.0, 3.0])
    >>> obj = CallableObjective(lambda t: 0.5 * float(t @ P @ t), 3, gradient=lambda t: P @ t,
    ...                         hvp=lambda t, v: P @ v)
    >>> float(obj.hvp(np.ones(3), np.ones(3))[2])
    3.0
    """

    def __init__(self, value: Callable[[Any], Any], size: int, *, gradient: Callable[[Any], Any] | None = None,
                 hvp: Callable[[Any, Any], Any] | str | None = None,
                 value_and_gradient: Callable[[Any], tuple[Any, Any]] | None = None,
                 hessian: Callable[[Any], Any] | None = None, xp: Any = None, dtype: Any = "float64",
                 convert_in: Callable[[Any], Any] | None = None, convert_out: Callable[[Any], Any] | None = None,
                 x0: Any = None) -> None:
        from workbench.solvers.core.backend import float_dtype

        if not callable(value):
            raise ParameterError("value: must be callable (theta -> float)")
        fd_chosen = isinstance(hvp, str)
        if fd_chosen and hvp != "fd":
            raise ParameterError(f"hvp: expected a callable (theta, v) -> vector, 'fd' or None, got {hvp!r}")
        if fd_chosen:
            hvp = None
        for nm, f in (("gradient", gradient), ("hvp", hvp), ("value_and_gradient", value_and_gradient),
                      ("hessian", hessian), ("convert_in", convert_in), ("convert_out", convert_out)):
            if f is not None and not callable(f):
                raise ParameterError(f"{nm}: must be callable or None")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or int(size) < 1:
            raise ParameterError(f"size: expected an integer >= 1, got {size!r}")
        self.xp = get_namespace("numpy" if xp is None else xp) if xp is None or isinstance(xp, str) else xp
        self.dtype = float_dtype(self.xp, dtype)
        self.size = int(size)
        self._fv, self._fg, self._fh, self._fvg, self._fH = value, gradient, hvp, value_and_gradient, hessian
        self._in = convert_in or (lambda a: a)
        self._out_user = convert_out
        self.exact_hvp = hvp is not None or hessian is not None
        if hvp is None and not fd_chosen and hessian is None:
            warnings.warn("hvp: no exact Hessian-vector product given; CallableObjective uses a central finite "
                          "difference of gradients (relative error ~1e-8 in float64, ~1e-3 in float32). Pass "
                          "hvp='fd' to choose it explicitly, or an exact hvp (workbench.from_torch / from_jax "
                          "build one)", UserWarning, stacklevel=2)
        self._x0 = None if x0 is None else self.as_vector("x0", x0)

    def _out(self, r: Any, name: str, shape: tuple[int, ...]) -> Any:
        a = self._out_user(r) if self._out_user is not None else r
        try:
            a = self.xp.asarray(a, dtype=self.dtype)
        except Exception as exc:
            raise ParameterError(f"{name}: the callable returned {type(r).__name__}, not an array ({exc})") from None
        if tuple(a.shape) != shape:
            raise ParameterError(f"{name}: the callable returned shape {tuple(a.shape)}, expected {shape}")
        return a

    def _value(self, theta: Any) -> float:
        v = float(self._fv(self._in(theta)))
        if self.check_inputs and not math.isfinite(v):
            raise ParameterError(f"value: the callable returned a non-finite loss {v!r}")
        return v

    def _gradient(self, theta: Any) -> Any:
        if self._fg is not None:
            return self._out(self._fg(self._in(theta)), "gradient", (self.size,))
        if self._fvg is not None:
            return self._out(self._fvg(self._in(theta))[1], "value_and_gradient", (self.size,))
        return fd_gradient(self._value, theta)

    def _value_and_gradient(self, theta: Any) -> tuple[float, Any]:
        if self._fvg is not None:
            v, g = self._fvg(self._in(theta))
            return float(v), self._out(g, "value_and_gradient", (self.size,))
        return self._value(theta), self._gradient(theta)

    def _hvp(self, theta: Any, v: Any) -> Any:
        if self._fh is not None:
            return self._out(self._fh(self._in(theta), self._in(v)), "hvp", (self.size,))
        if self._fH is not None:
            return self.xp.matmul(self._hessian(theta), v)
        return fd_hvp(self._gradient, theta, v)

    def _hessian(self, theta: Any) -> Any:
        if self._fH is not None:
            return self._out(self._fH(self._in(theta)), "hessian", (self.size, self.size))
        return super()._hessian(theta)

    def initial(self, seed: int = 0) -> Any:
        return self._x0 if self._x0 is not None else super().initial(seed)
