"""A JAX loss over a parameter pytree as an :class:`~workbench.solvers.core.objectives.Objective` (``wb.from_jax``).

The loss is E(θ) = ``loss_fn(params, *data)``, a scalar, as a function of the flat
vector θ = ``jax.flatten_util.ravel_pytree(params)[0]``: the leaves in
``jax.tree_util.tree_leaves`` order (dict keys sorted), each flattened row-major,
concatenated (promoted to one dtype). :meth:`JaxObjective.unflatten` gives the pytree back.

θ, gradients and Hessian-vector products are ``jax.Array`` of the parameters' dtype on
their device. The value and gradient are one jit-compiled ``jax.value_and_grad``; the
Hessian-vector product is exact, forward-over-reverse (``jax.jvp`` of ``jax.grad``,
jit-compiled), the cheapest exact HVP in JAX. ``data`` is passed to the compiled
functions as arguments (not baked in as constants).

float64 needs ``jax.config.update("jax_enable_x64", True)`` before the parameters are
created (JAX's default is float32); the objective computes in the dtype the flat
parameters have.

JAX is imported only when :func:`from_jax` is called (the ``jax`` extra:
``pip install 'stability-workbench[jax]'``).
"""
from __future__ import annotations

from typing import Any, Callable

from workbench.solvers.core.checks import BackendUnavailable, ParameterError
from workbench.solvers.core.objectives import BaseObjective

__all__ = ["JaxObjective", "from_jax", "import_jax"]


def import_jax() -> Any:
    """``jax``, or a :class:`~workbench.solvers.core.checks.BackendUnavailable` naming the extra to install."""
    try:
        import jax
    except ImportError:
        raise BackendUnavailable("loss_fn: from_jax needs JAX, which is not installed: "
                                 "pip install 'stability-workbench[jax]'") from None
    return jax


class JaxObjective(BaseObjective):
    """E(θ) = loss_fn(unflatten(θ), *data) over a flat parameter vector (build with :func:`from_jax`).

    Attributes: ``size``, ``xp`` (``jax.numpy``), ``dtype``, ``device``, :attr:`theta0`
    (the given parameters, flat). θ and v passed in must be ``jax.Array`` of that dtype.
    """

    exact_hvp = True
    strict_dtype = True

    def __init__(self, loss_fn: Callable[..., Any], params: Any, *data: Any) -> None:
        jax = import_jax()
        import jax.numpy as jnp
        import numpy as np
        from array_api_compat import device as device_of
        from jax.flatten_util import ravel_pytree

        if not callable(loss_fn):
            raise ParameterError("loss_fn: must be callable as loss_fn(params, *data)")
        leaves = jax.tree_util.tree_leaves(params)
        if not leaves:
            raise ParameterError("params: the pytree has no leaves: there are no parameters to differentiate")
        for leaf in leaves:
            dt = jnp.asarray(leaf).dtype
            if not jnp.issubdtype(dt, jnp.floating):
                raise ParameterError(f"params: a leaf has dtype {dt}; parameters must be floating point")
        flat, unravel = ravel_pytree(params)
        if flat.dtype not in (jnp.float32, jnp.float64):
            raise ParameterError(f"params: dtype {flat.dtype}; the workbench computes in float32 or float64")
        self.xp = jnp
        self.dtype = flat.dtype
        self.device = device_of(flat)
        data = tuple(jax.tree_util.tree_map(lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a, d)
                     for d in data)
        for i, d in enumerate(data):
            for leaf in jax.tree_util.tree_leaves(d):
                if isinstance(leaf, jax.Array) and device_of(leaf) != self.device:
                    raise ParameterError(f"data: argument {i} is on device {device_of(leaf)} but the parameters are "
                                         f"on {self.device}; move it with jax.device_put")
        self._jax, self._unravel, self._data = jax, unravel, data
        self.size = int(flat.shape[0])
        self._theta0 = flat
        self.loss_fn = loss_fn

        def f(th: Any, *d: Any) -> Any:
            return loss_fn(unravel(th), *d)

        try:
            out = jax.eval_shape(f, flat, *data)
        except Exception as exc:
            raise ParameterError(f"loss_fn: calling loss_fn(params, *data) failed ({type(exc).__name__}: {exc})") \
                from None
        if not hasattr(out, "shape") or tuple(out.shape) != ():
            raise ParameterError(f"loss_fn: returned shape {tuple(getattr(out, 'shape', ()))!r}, expected a scalar; "
                                 "reduce it (e.g. jnp.mean)")
        if not jnp.issubdtype(out.dtype, jnp.floating):
            raise ParameterError(f"loss_fn: returned dtype {out.dtype}, expected a floating scalar")
        grad = jax.grad(f)
        self._f = jax.jit(f)
        self._vg = jax.jit(jax.value_and_grad(f))
        self._g = jax.jit(grad)
        self._jhvp = jax.jit(lambda th, v, *d: jax.jvp(lambda t: grad(t, *d), (th,), (v,))[1])
        self._jhess = jax.jit(jax.hessian(f))
        val, g0 = self._vg(flat, *data)
        if not bool(jnp.isfinite(val)):
            raise ParameterError(f"loss_fn: the loss at the given parameters is {float(val)}; the analysis needs a "
                                 "finite loss")
        if not bool(jnp.any(g0 != 0)):
            probe = jnp.asarray(np.random.default_rng(0).standard_normal(self.size), dtype=self.dtype)
            if not bool(jnp.any(self._jhvp(flat, probe, *data) != 0)):
                raise ParameterError("loss_fn: the loss has no gradient path to the parameters (its gradient and "
                                     "Hessian are zero: jax.lax.stop_gradient?); there is nothing to analyse")

    @property
    def theta0(self) -> Any:
        """The given parameters, flat."""
        return self._theta0

    def unflatten(self, theta: Any) -> Any:
        """θ back to the parameter pytree (``ravel_pytree``'s inverse; leaves keep their own dtypes).

        Inside a JAX transformation (a traced θ) the input checks are skipped.
        """
        if isinstance(theta, self._jax.core.Tracer):
            return self._unravel(theta)
        return self._unravel(self.as_vector("theta", theta))

    def flatten(self, params: Any) -> Any:
        """A parameter pytree of the same structure to the flat θ."""
        from jax.flatten_util import ravel_pytree

        return ravel_pytree(params)[0]

    def initial(self, seed: int = 0) -> Any:
        """:attr:`theta0` (``seed`` is ignored)."""
        return self._theta0

    def _value(self, theta: Any) -> float:
        return float(self._f(theta, *self._data))

    def _value_and_gradient(self, theta: Any) -> tuple[float, Any]:
        v, g = self._vg(theta, *self._data)
        return float(v), g

    def _gradient(self, theta: Any) -> Any:
        return self._g(theta, *self._data)

    def _hvp(self, theta: Any, v: Any) -> Any:
        return self._jhvp(theta, v, *self._data)

    def _hessian(self, theta: Any) -> Any:
        """Dense Hessian by ``jax.hessian`` (jit-compiled), symmetrised."""
        H = self._jhess(theta, *self._data)
        return 0.5 * (H + H.T)

    def __repr__(self) -> str:
        return f"JaxObjective({getattr(self.loss_fn, '__name__', 'loss_fn')}, {self.size} parameters, {self.dtype})"


def from_jax(loss_fn: Callable[..., Any], params: Any, *data: Any) -> JaxObjective:
    """The loss ``loss_fn(params, *data)`` as an Objective of the flat parameters (see :class:`JaxObjective`)."""
    return JaxObjective(loss_fn, params, *data)
