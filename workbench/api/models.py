"""The public API on any objective: sharpness, stable learning rates, tracked runs, flows, DAL.

Re-exported by :mod:`workbench` (``import workbench as wb``); every heavy import happens
inside the function that needs it, so ``import workbench`` stays fast and never imports
a framework.

An *objective* is anything implementing :class:`workbench.solvers.core.objectives.Objective`:
``wb.from_torch(...)``, ``wb.from_jax(...)``, a :class:`workbench.solvers.nets.networks.NetworkObjective`,
a :class:`workbench.solvers.core.objectives.SympyObjective` or :class:`~workbench.solvers.core.objectives.CallableObjective`.
``theta=None`` everywhere means the objective's starting point (``obj.theta0``, the
model's current parameters, for the adapters; else ``obj.initial()``).

Papers: sharpness and the edge of stability (Cohen et al. 2021; fourth paper, Ahn, Zhang
& Sra, footnote 1 and Definitions 1-2 for relative progress and directional smoothness);
the modified flows, the principal flow and DAL (third paper, Rosca et al. 2023, Table 1,
(12), (18)-(19)); the stable learning rate of each registered scheme from its exact
region in h = ηλ (:mod:`workbench.derivations.schemes.registry`, :mod:`workbench.solvers.stepping.optimizers`).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from workbench.solvers.core.checks import ParameterError

from workbench.api.arguments import check_obj as _check_obj
from workbench.api.arguments import scheme_name as _scheme
from workbench.api.arguments import theta_of as _theta
from workbench.api.training import TRACKERS, TrainRun, train

__all__ = ["from_torch", "from_jax", "sharpness", "max_stable_lr", "stability", "scheme_of", "train", "TrainRun",
           "TRACKERS", "principal_flow", "modified_flow", "dal"]


def from_torch(model: Any, loss_fn: Callable[[Any, Any], Any], inputs: Any, targets: Any = None) -> Any:
    """A PyTorch model's loss ``loss_fn(model(inputs), targets)`` as an Objective of its flat parameters.

    Value, exact gradient and exact Hessian-vector product (double backward), in the
    model's dtype on the model's device. ``obj.theta0`` is the model's current parameters
    (flat: ``named_parameters()`` order, each row-major); ``obj.unflatten(theta)`` gives
    ``{name: tensor}`` back and ``obj.assign(theta)`` writes θ into the model.

    Parameters
    ----------
    model : torch.nn.Module
        With at least one parameter with ``requires_grad``.
    loss_fn : callable (output, targets) -> scalar tensor
        E.g. ``torch.nn.functional.mse_loss`` (note: it divides by N·d, the workbench's
        MSE by 2N, so sharpness differs by the factor d/2).
    inputs : tensor or tuple of tensors, or an iterable of (inputs, targets) batches
        On the model's device. An iterable of batches (a ``DataLoader``, read once) with
        ``targets`` omitted gives the full-data loss, averaged exactly over the batches
        (weights n_b/N, for a mean-reduced ``loss_fn``); for one batch's sharpness pass
        that batch's tensors.
    targets : tensor (or anything ``loss_fn`` takes)

    Returns
    -------
    workbench.adapters.torch.TorchObjective

    Raises
    ------
    ParameterError
        PyTorch not installed (names the ``torch`` extra), no trainable parameters, a
        non-scalar loss, data on another device than the model, mixed parameter dtypes.

    Examples
    --------
    >>> import torch, workbench as wb                                     # doctest: +SKIP
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    >>> obj = wb.from_torch(model, torch.nn.functional.mse_loss, X, Y)    # doctest: +SKIP
    >>> wb.sharpness(obj).values[0]                                       # doctest: +SKIP
    """
    from workbench.adapters.torch import from_torch as _from_torch

    return _from_torch(model, loss_fn, inputs, targets)


def from_jax(loss_fn: Callable[..., Any], params: Any, *data: Any) -> Any:
    """A JAX loss ``loss_fn(params, *data)`` (``params`` any pytree) as an Objective of the flat parameters.

    Value and gradient by one jit-compiled ``jax.value_and_grad``; the Hessian-vector
    product exact by ``jax.jvp`` over ``jax.grad`` (jit-compiled). ``obj.theta0`` is
    ``ravel_pytree(params)[0]``; ``obj.unflatten(theta)`` gives the pytree back. float64
    needs ``jax.config.update("jax_enable_x64", True)``.

    Raises
    ------
    ParameterError
        JAX not installed (names the ``jax`` extra), an empty pytree, non-floating
        parameters, a non-scalar loss, data on another device.

    Examples
    --------
    >>> obj = wb.from_jax(loss, {"W": W, "b": b}, X, Y)                   # doctest: +SKIP
    >>> wb.max_stable_lr(obj, scheme="heavy-ball", momentum=0.9)          # doctest: +SKIP
    """
    from workbench.adapters.jax import from_jax as _from_jax

    return _from_jax(loss_fn, params, *data)


def sharpness(obj: Any, theta: Any = None, k: int = 1, *, which: str = "largest", tol: float = 1e-8,
              method: str = "auto", seed: int = 0) -> Any:
    """The k largest (or smallest) Hessian eigenpairs at θ (the sharpness λ_max and its neighbours).

    Lanczos (or ARPACK on NumPy, a dense ``eigh`` for ≤ 64 parameters) on exact
    Hessian-vector products, on the objective's own arrays and device.

    Parameters
    ----------
    obj : Objective
    theta : array, optional
        Default ``obj.theta0``.
    k : int
        Number of pairs.
    which : {"largest", "smallest", "both"}
        End of the spectrum; ``"both"`` returns ``(largest, smallest)``.
    tol : float
        Relative residual tolerance (float32: at least 1e-5).
    method : {"auto", "lanczos", "eigsh", "dense"}

    Returns
    -------
    workbench.solvers.linalg.hessian.Eigenpairs (a pair of them for ``which="both"``)
        ``.values`` (NumPy, from the wanted end inwards), ``.vectors`` (n×k on the
        objective's backend), ``.residuals`` (‖Hu − λu‖, a bound on each eigenvalue's
        error), ``.value`` = the extreme eigenvalue.

    Examples
    --------
    >>> r = wb.sharpness(obj, k=3)                                        # doctest: +SKIP
    >>> r.values, r.residuals                                             # doctest: +SKIP
    >>> top, bottom = wb.sharpness(obj, which="both")                     # doctest: +SKIP
    """
    from workbench.solvers.linalg.hessian import top_eigenpairs

    if which not in ("largest", "smallest", "both"):
        raise ParameterError(f"which: expected 'largest', 'smallest' or 'both', got {which!r}")
    th = _theta(obj, theta)
    if which == "both":
        return (top_eigenpairs(obj, th, k, which="largest", method=method, tol=tol, seed=seed),
                top_eigenpairs(obj, th, k, which="smallest", method=method, tol=tol, seed=seed))
    return top_eigenpairs(obj, th, k, which=which, method=method, tol=tol, seed=seed)


def max_stable_lr(obj: Any, theta: Any = None, scheme: str | None = None, *, optimizer: Any = None,
                  tol: float = 1e-6, **hyperparameters: float) -> float:
    """The largest learning rate η at which ``scheme`` (or your ``optimizer``) is linearly stable at θ.

    The Hessian's largest eigenvalue λ_max at θ (Lanczos on exact HVPs), then the scheme's
    exact stability region in h = ηλ (:func:`workbench.solvers.stepping.optimizers.max_stable_lr`):
    η < h_upper/λ_max. Directions of negative curvature grow for every η > 0 and do not
    enter the value; λ_min is computed only for a region with a positive lower end
    (none of the registered schemes has one). At a minimum of a quadratic this is
    2/λ_max for GD and 2(1 + μ)/λ_max for heavy-ball with momentum μ.

    With ``optimizer=`` (a ``torch.optim`` SGD, Adam, AdamW or RMSprop on the objective's
    model) the scheme and hyperparameters are the optimizer's (:func:`scheme_of`), the
    Hessian is the one it sees (L2 decay added, preconditioned by Adam's/RMSprop's current
    state: Cohen et al., arXiv 2207.14484, section 2) and the value is its (first param
    group's) learning rate limit; see :func:`stability`.

    Parameters
    ----------
    obj : Objective
    theta : array, optional
        Default ``obj.theta0``.
    scheme : str
        A registered scheme (``workbench.derivations.schemes.registry.names()``: "gd",
        "heavy-ball", "nesterov", …; default "gd").
    optimizer : torch.optim.Optimizer, optional
        Instead of ``scheme`` and its hyperparameters.
    tol : float
        Relative tolerance of the eigenvalue.
    **hyperparameters
        The scheme's own (e.g. ``momentum=0.9``).

    Returns
    -------
    float

    Examples
    --------
    >>> wb.max_stable_lr(obj, scheme="heavy-ball", momentum=0.9)          # doctest: +SKIP
    >>> wb.max_stable_lr(obj, optimizer=torch.optim.Adam(model.parameters()))  # after a step  # doctest: +SKIP
    """
    from workbench.solvers.stepping import optimizers
    from workbench.solvers.linalg.hessian import top_eigenpairs

    th = _theta(obj, theta)
    if optimizer is not None:
        if scheme is not None or hyperparameters:
            raise ParameterError("optimizer: give either optimizer= or scheme= with its hyperparameters, not both")
        from workbench.api.optimizers import optimizer_max_stable_lr

        return optimizer_max_stable_lr(obj, th, optimizer, tol)[0]
    name = _scheme("gd" if scheme is None else scheme)
    region = optimizers.h_interval(optimizers.resolve(name, 1.0, dict(hyperparameters)))
    lam_max = top_eigenpairs(obj, th, 1, which="largest", tol=tol).value
    lam_min = lam_max
    if region.lower > 0:
        lam_min = min(top_eigenpairs(obj, th, 1, which="smallest", tol=tol).value, lam_max)
    return float(optimizers.max_stable_lr(lam_min, lam_max, name, **hyperparameters))


def stability(obj: Any, theta: Any = None, *, optimizer: Any, tol: float = 1e-8) -> Any:
    """Is your optimizer, as configured and in its current state, linearly stable at θ?

    Parameters
    ----------
    obj : TorchObjective
        ``wb.from_torch`` of the model the optimizer trains.
    theta : array, optional
        Default ``obj.theta0`` (the model's parameters when the objective was built).
    optimizer : torch.optim.SGD, Adam, AdamW or RMSprop

    Returns
    -------
    workbench.api.optimizers.Stability
        ``.lr`` (the optimizer's current lr), ``.max_lr``, ``.margin`` = lr/max_lr,
        ``.sharpness`` (preconditioned for Adam/RMSprop, P = (1 − β₁ᵗ)·diag(√v̂ + ε) from the
        optimizer's state: Cohen et al., arXiv 2207.14484, section 2), ``.threshold``,
        ``.scheme``, ``.params``; its repr is one line.

    Examples
    --------
    >>> wb.stability(obj, optimizer=opt)                                  # doctest: +SKIP
    Stability(Adam as adam(beta1=0.9, decay=0, weight_decay=0): lr=0.001, max_lr=0.0113, margin=0.088 stable, ...)
    """
    from workbench.api.optimizers import stability as _stability

    return _stability(obj, _theta(obj, theta), optimizer, tol)


def scheme_of(optimizer: Any) -> Any:
    """The registered scheme and hyperparameters of a ``torch.optim`` optimizer, per param group.

    See :func:`workbench.api.optimizers.scheme_of` (SGD with momentum, dampening, nesterov
    and weight decay; Adam, AdamW, RMSprop; ``maximize`` and ``amsgrad`` refused).
    """
    from workbench.api.optimizers import scheme_of as _scheme_of

    return _scheme_of(optimizer)


def _flow_problem(obj: Any) -> Any:
    from workbench.solvers.dynamics.flows import FlowProblem

    if isinstance(obj, FlowProblem):
        return obj
    from workbench.solvers.nets.networks import NetworkObjective

    if isinstance(obj, NetworkObjective):
        from workbench.solvers.core.backend import backend_name

        if backend_name(obj.xp) == "numpy" and obj.loss == "mse":
            try:
                return FlowProblem.from_network(obj)  # analytic: the PF may go complex
            except ParameterError:
                pass
    if hasattr(obj, "expr") and hasattr(obj, "variables"):
        return FlowProblem.from_symbolic(obj)
    return FlowProblem.from_objective(_check_obj(obj))


def modified_flow(kind: str, obj: Any, theta: Any = None, h: float = 0.01, times: Sequence[float] | None = None,
                  *, rtol: float | None = None, atol: float | None = None, method: str = "DOP853",
                  **kw: Any) -> Any:
    """Integrate a continuous-time model of GD with learning rate h from θ (third paper, Table 1).

    Parameters
    ----------
    kind : {"ngf", "igr", "third", "pf", "pf+"}
        Negative gradient flow (2), implicit gradient regularisation (3), the third-order
        flow (8), the principal flow (12), the PF with the third-order correction (14).
    obj : Objective (or a NetworkObjective / SymbolicObjective / FlowProblem)
        Real objectives (``wb.from_torch``, ``wb.from_jax``, …) use their exact HVPs; the
        PF there stays real while every hλ < 1 and raises where it would turn complex
        (a tanh/linear MSE NetworkObjective or a SymbolicObjective carries it past hλ = 1).
    theta : array, optional
        θ(0) (default ``obj.theta0``).
    h : float
        The learning rate the flow models.
    times : sequence of float, optional
        Sample times (default 0, h, …, 10h: ten GD steps' worth).
    rtol, atol : float, optional
        DOP853 tolerances; default 1e-10 / 1e-12 (float64), 1e-5 / 1e-7 (float32 objectives).

    Returns
    -------
    workbench.solvers.dynamics.flows.FlowResult
        ``.t``, ``.theta`` (rows on the host, NumPy), ``.diverged``, ``.nfev``.

    Examples
    --------
    >>> r = wb.modified_flow("igr", obj, h=0.05, times=[0, 0.5, 1.0])   # doctest: +SKIP
    """
    import numpy as np

    from workbench.solvers.core.backend import to_numpy
    from workbench.solvers.core.checks import check_positive
    from workbench.solvers.dynamics.flows import FLOWS, integrate

    if kind not in FLOWS:
        raise ParameterError(f"kind: unknown flow {kind!r}; expected one of {', '.join(FLOWS)}")
    hv = check_positive("h", h)
    problem = _flow_problem(obj)
    th = theta
    if not hasattr(obj, "expr"):
        if hasattr(obj, "size") and hasattr(obj, "xp"):
            th = _theta(obj, theta)
    if th is None:
        raise ParameterError("theta: needed for this problem (it has no starting point)")
    f32 = hasattr(obj, "xp") and getattr(obj, "dtype", None) == getattr(obj.xp, "float32", object())
    rtol = (1e-5 if f32 else 1e-10) if rtol is None else float(rtol)
    atol = (1e-7 if f32 else 1e-12) if atol is None else float(atol)
    ts = hv * np.arange(11) if times is None else np.asarray(times, dtype=float)
    return integrate(problem, kind, hv, np.asarray(to_numpy(th), dtype=float), ts, rtol=rtol, atol=atol,
                     method=method, **kw)


def principal_flow(obj: Any, theta: Any = None, h: float = 0.01, times: Sequence[float] | None = None,
                   *, correction: bool = False, **kw: Any) -> Any:
    """The principal flow θ̇ = Σᵢ log(1 − hλᵢ)/(hλᵢ)·(∇Eᵀuᵢ)uᵢ (third paper, (12)) from θ.

    ``correction=True`` adds the third-order term −(h²/12)∇³E[∇E, ∇E] (PF+, (14)).
    The flow equals GD at t = nh on quadratics; where some hλ > 1 it leaves ℝᴰ (complex
    θ, for objectives with an analytic continuation). Each field evaluation costs one
    dense Hessian (D HVPs) and its eigendecomposition: meant for up to a few thousand
    parameters. See :func:`modified_flow` for the parameters and the result.

    Examples
    --------
    >>> r = wb.principal_flow(obj, h=0.05, times=[0, 0.05, 0.1])         # doctest: +SKIP
    >>> r.theta[-1]                                                       # doctest: +SKIP
    """
    return modified_flow("pf+" if correction else "pf", obj, theta, h, times, **kw)


def dal(obj: Any, theta: Any = None, steps: int = 100, *, p: float = 1.0, momentum: float = 0.0,
        max_lr: float = math.inf, **kw: Any) -> Any:
    """Gradient descent with the drift-adjusted learning rate hₜ = 2/‖∇²E ĝ‖ᵖ (third paper, (18)-(19)).

    ``momentum > 0`` runs DAL with momentum ((20)-(21), coefficient 1/(2‖∇²E ĝ‖ᵖ) as
    printed). One exact HVP per step.

    Parameters
    ----------
    obj : Objective
    theta : array, optional
        Start (default ``obj.theta0``).
    steps : int
    p : float
        DAL-p power (1: DAL).
    momentum : float
    max_lr : float
        Cap on hₜ (default none).
    **kw
        Passed to :func:`workbench.solvers.dynamics.dal.run` (``blowup``, ``drift_every``, ``keep_path``).

    Returns
    -------
    workbench.solvers.dynamics.dal.DALRun
        ``.losses``, ``.lrs``, ``.status``/``.reason``, ``.summary()``.

    Examples
    --------
    >>> r = wb.dal(obj, steps=200)                                        # doctest: +SKIP
    >>> r.summary()["lr_mean"]                                            # doctest: +SKIP
    """
    from workbench.solvers.dynamics import dal as dal_mod

    th = _theta(obj, theta)
    rule = dal_mod.dal_momentum(momentum, p=p, max_lr=max_lr) if momentum else dal_mod.dal_p(p, max_lr=max_lr)
    return dal_mod.run(obj, th, rule, steps, **kw)
