"""The public API on any objective: sharpness, stable learning rates, tracked runs, flows, DAL.

Re-exported by :mod:`workbench` (``import workbench as wb``); every heavy import happens
inside the function that needs it, so ``import workbench`` stays fast and never imports
a framework.

An *objective* is anything implementing :class:`solvers.objectives.Objective`:
``wb.from_torch(...)``, ``wb.from_jax(...)``, a :class:`solvers.networks.NetworkObjective`,
a :class:`solvers.objectives.SympyObjective` or :class:`~solvers.objectives.CallableObjective`.
``theta=None`` everywhere means the objective's starting point (``obj.theta0``, the
model's current parameters, for the adapters; else ``obj.initial()``).

Papers: sharpness and the edge of stability (Cohen et al. 2021; fourth paper, Ahn, Zhang
& Sra, footnote 1 and Definitions 1-2 for relative progress and directional smoothness);
the modified flows, the principal flow and DAL (third paper, Rosca et al. 2023, Table 1,
(12), (18)-(19)); the stable learning rate of each registered scheme from its exact
region in h = ηλ (:mod:`derivations.optimizers`, :mod:`solvers.optimizers`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from solvers.checks import ParameterError

__all__ = ["from_torch", "from_jax", "sharpness", "max_stable_lr", "train", "TrainRun", "TRACKERS",
           "principal_flow", "modified_flow", "dal"]

#: What :func:`train` can record every ``every`` steps (each a column of ``run.records``).
TRACKERS = ("loss", "grad_norm", "sharpness", "relative_progress", "directional_smoothness")


def from_torch(model: Any, loss_fn: Callable[[Any, Any], Any], inputs: Any, targets: Any) -> Any:
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
    inputs : tensor or tuple of tensors
        On the model's device.
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
    from .adapters.torch import from_torch as _from_torch

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
    from .adapters.jax import from_jax as _from_jax

    return _from_jax(loss_fn, params, *data)


def _check_obj(obj: Any) -> Any:
    for attr in ("size", "xp", "dtype", "gradient", "hvp"):
        if not hasattr(obj, attr):
            raise ParameterError(f"obj: expected an objective (wb.from_torch, wb.from_jax or a solvers.objectives "
                                 f"Objective), got {type(obj).__name__} without {attr!r}")
    return obj


def _theta(obj: Any, theta: Any) -> Any:
    """θ checked against the objective (length, dtype, device, finite); None → its starting point."""
    _check_obj(obj)
    if theta is None:
        theta = obj.theta0 if hasattr(obj, "theta0") else obj.initial()
    if hasattr(obj, "_vector"):
        return obj._vector("theta", theta)
    return theta


def sharpness(obj: Any, theta: Any = None, k: int = 1, *, tol: float = 1e-8, method: str = "auto",
              seed: int = 0) -> Any:
    """The k largest Hessian eigenpairs at θ (the sharpness λ_max and its neighbours).

    Lanczos (or ARPACK on NumPy, a dense ``eigh`` for ≤ 64 parameters) on exact
    Hessian-vector products, on the objective's own arrays and device.

    Parameters
    ----------
    obj : Objective
    theta : array, optional
        Default ``obj.theta0``.
    k : int
        Number of pairs.
    tol : float
        Relative residual tolerance (float32: at least 1e-5).
    method : {"auto", "lanczos", "eigsh", "dense"}

    Returns
    -------
    solvers.hessian.Eigenpairs
        ``.values`` (NumPy, largest first), ``.vectors`` (n×k on the objective's backend),
        ``.residuals`` (‖Hu − λu‖, a bound on each eigenvalue's error), ``.value`` = λ_max.

    Examples
    --------
    >>> r = wb.sharpness(obj, k=3)                                        # doctest: +SKIP
    >>> r.values, r.residuals                                             # doctest: +SKIP
    """
    from solvers.hessian import top_eigenpairs

    th = _theta(obj, theta)
    return top_eigenpairs(obj, th, k, which="largest", method=method, tol=tol, seed=seed)


def _scheme(scheme: Any) -> str:
    from derivations.optimizers import canonical, names

    try:
        return canonical(scheme)
    except ValueError:
        raise ParameterError(f"scheme: unknown {scheme!r}; registered: {', '.join(names())}") from None


def max_stable_lr(obj: Any, theta: Any = None, scheme: str = "gd", *, tol: float = 1e-6,
                  **hyperparameters: float) -> float:
    """The largest learning rate η at which ``scheme`` is linearly stable at θ.

    The Hessian's extreme eigenvalues λ_min, λ_max at θ (Lanczos on exact HVPs), then
    the scheme's exact stability region in h = ηλ (:func:`solvers.optimizers.max_stable_lr`):
    every h = ηλ, λ ∈ [λ_min, λ_max], must lie in it. At a minimum of a quadratic this
    is 2/λ_max for GD and 2(1 + μ)/λ_max for heavy-ball with momentum μ.

    Parameters
    ----------
    obj : Objective
    theta : array, optional
        Default ``obj.theta0``.
    scheme : str
        A registered scheme (``derivations.optimizers.names()``: "gd", "heavy-ball",
        "nesterov", …).
    tol : float
        Relative tolerance of the two eigenvalues.
    **hyperparameters
        The scheme's own (e.g. ``momentum=0.9``).

    Returns
    -------
    float

    Examples
    --------
    >>> wb.max_stable_lr(obj, scheme="heavy-ball", momentum=0.9)          # doctest: +SKIP
    """
    from solvers import optimizers
    from solvers.hessian import top_eigenpairs

    name = _scheme(scheme)
    th = _theta(obj, theta)
    lam_max = top_eigenpairs(obj, th, 1, which="largest", tol=tol).value
    lam_min = top_eigenpairs(obj, th, 1, which="smallest", tol=tol).value
    return float(optimizers.max_stable_lr(lam_min, lam_max, name, **hyperparameters))


@dataclass
class TrainRun:
    """A tracked training run (:func:`train`).

    Attributes
    ----------
    scheme, lr, hyper, steps : what was run
    records : list of dict
        One row per recorded step: ``{"step": t, <tracker>: value, …}`` at θₜ (loads
        straight into pandas: :meth:`to_frame`).
    theta : array
        The last iterate (on the objective's backend).
    steps_done : int
    diverged : bool
    reason : str
        "" or how it diverged (:mod:`solvers.divergence`): "nonfinite" (a NaN/inf iterate),
        "blowup" (an increment 1e8 times the first), "growth" (increments still growing over
        the last 10% of the run and the loss, if tracked, ending above its start).
    threshold : float
        The sharpness above which the scheme is linearly unstable at this η:
        h_upper/η (2/η for GD, 2(1 + μ)/η for heavy-ball).
    """

    scheme: str
    lr: float
    hyper: dict
    steps: int
    records: list[dict]
    theta: Any
    steps_done: int
    diverged: bool
    reason: str
    threshold: float
    track: tuple[str, ...] = field(default_factory=tuple)
    extra: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        """"diverged" or "completed"."""
        return "diverged" if self.diverged else "completed"

    def column(self, name: str) -> Any:
        """One tracked quantity as a NumPy array (``"step"`` for the steps)."""
        import numpy as np

        if name != "step" and name not in self.track:
            raise ParameterError(f"name: {name!r} was not tracked; tracked: {', '.join(self.track)}")
        return np.asarray([r.get(name, math.nan) for r in self.records], dtype=float)

    def to_frame(self) -> Any:
        """The records as a ``pandas.DataFrame`` (one row per recorded step); needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ParameterError("to_frame: needs pandas (pip install pandas); run.records is the same data as a "
                                 "list of dicts") from None
        return pd.DataFrame.from_records(self.records)

    def summary(self) -> dict:
        """Scheme, η, steps done, divergence and the last record."""
        return {"scheme": self.scheme, "lr": self.lr, "hyper": dict(self.hyper), "steps_done": self.steps_done,
                "diverged": self.diverged, "reason": self.reason, "threshold": self.threshold,
                "last": dict(self.records[-1]) if self.records else {}}


def _check_track(track: Any) -> tuple[str, ...]:
    if isinstance(track, str):
        track = (track,)
    out = tuple(track)
    for t in out:
        if t not in TRACKERS:
            raise ParameterError(f"track: unknown tracker {t!r}; choose from {', '.join(TRACKERS)}")
    return out


def _check_int(name: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not hasattr(v, "__index__") or int(v) < lo:
        raise ParameterError(f"{name}: expected an integer >= {lo}, got {v!r}")
    return int(v)


def train(obj: Any, theta: Any = None, scheme: str = "gd", *, lr: float, steps: int,
          track: Sequence[str] = ("loss", "sharpness", "relative_progress", "directional_smoothness"),
          every: int = 10, criterion: Any = None, sharpness_tol: float = 1e-6,
          **hyperparameters: float) -> TrainRun:
    """Run a registered scheme on the objective, recording ``track`` every ``every`` steps.

    The stepping is :func:`solvers.stepper.run` (the same scheme records the stability
    analysis uses); divergence is detected on purpose and classified (``run.reason``).

    Trackers (each a column of ``run.records``), at θₜ:

    ``loss``                    E(θₜ)
    ``grad_norm``               ‖∇E(θₜ)‖
    ``sharpness``               λ_max(∇²E(θₜ)) (Lanczos on exact HVPs; the costly one)
    ``relative_progress``       RP(θₜ) = [E(θₜ − η∇E) − E(θₜ)]/(η‖∇E‖²) (fourth paper, Def. 1)
    ``directional_smoothness``  L(θₜ; η∇E(θₜ)) (fourth paper, Def. 2; ≈ 2/η at the edge of stability)

    Parameters
    ----------
    obj : Objective
    theta : array, optional
        Start (default ``obj.theta0``).
    scheme : str
        A registered scheme ("gd", "heavy-ball", "nesterov", …).
    lr : float
        Learning rate η > 0.
    steps : int
        Number of updates (≥ 2).
    track : sequence of str
    every : int
        Record at steps t with t % every == 0 (default 10: the sharpness costs a Lanczos
        run, tens of HVPs, per record; the other trackers one or two forward passes).
    criterion : solvers.divergence.DivergenceCriterion, optional
        Divergence thresholds (default: blow-up at 1e8 × the first increment).
    sharpness_tol : float
        Relative Lanczos tolerance of the tracked sharpness.
    **hyperparameters
        The scheme's own (``momentum=0.9``).

    Returns
    -------
    TrainRun
        ``.records`` (list of dicts), ``.to_frame()``, ``.diverged``/``.reason``,
        ``.threshold`` (the sharpness limit h_upper/η); ``wb.plot.sharpness(run)`` plots it.

    Examples
    --------
    >>> run = wb.train(obj, lr=0.05, steps=500, every=10)                 # doctest: +SKIP
    >>> run.to_frame().tail()                                             # doctest: +SKIP
    """
    from array_api_compat import is_jax_namespace

    from solvers import optimizers, stepper
    from solvers.backend import to_numpy
    from solvers.checks import check_positive
    from solvers.diagnostics import gd_directional_smoothness, relative_progress
    from solvers.hessian import top_eigenpairs

    name = _scheme(scheme)
    eta = check_positive("lr", lr)
    steps = _check_int("steps", steps, 2)
    every = _check_int("every", every, 1)
    tracked = _check_track(track)
    th0 = _theta(obj, theta)
    res = optimizers.resolve(name, eta, dict(hyperparameters))  # ParameterError for a bad hyperparameter
    threshold = float(optimizers.h_interval(res).upper) / eta
    at_theta = res.C.shape[0] >= 1 and res.C[0] == 1.0 and not res.C[1:].any()  # g is taken at θ itself
    xp = obj.xp
    raw_grad = getattr(obj, "_gradient", obj.gradient)  # unchecked: a diverging iterate is the stepper's to classify
    # The stepper writes its per-step records in place, allocated on the default device; JAX
    # arrays are immutable and an accelerator's arrays live elsewhere, so those objectives are
    # stepped on a NumPy copy of θ (gradients still computed by the framework, on its device).
    dev = getattr(obj, "device", None)
    bridge = is_jax_namespace(xp) or (dev is not None and str(dev).split(":")[0] != "cpu")

    def to_obj(x: Any) -> Any:
        return xp.asarray(x, dtype=obj.dtype, device=dev) if bridge else x

    def gradient(xb: Any) -> Any:
        g = raw_grad(to_obj(xb[0, ...]))
        g = xp.reshape(g, (1, obj.size)) if not bridge else to_numpy(g).reshape(1, obj.size)
        return g

    def observe(t: int, thb: Any, gb: Any) -> dict:
        row: dict[str, float] = {}
        th = to_obj(thb[0, ...])
        if not bool(xp.all(xp.isfinite(th))):
            return {k: math.nan for k in tracked}
        g0 = to_obj(gb[0, ...]) if at_theta else None
        f0 = math.nan
        if any(k in tracked for k in ("loss", "relative_progress")):
            if g0 is None:
                f0, g0 = obj.value_and_gradient(th)
            else:
                f0 = obj.value(th)
        elif g0 is None and any(k in tracked for k in ("grad_norm", "directional_smoothness")):
            g0 = obj.gradient(th)
        if "loss" in tracked:
            row["loss"] = float(f0)
        if "grad_norm" in tracked:
            row["grad_norm"] = float(xp.linalg.vector_norm(g0))
        if "sharpness" in tracked:
            row["sharpness"] = top_eigenpairs(obj, th, 1, tol=sharpness_tol, seed=0).value
        if "relative_progress" in tracked:
            row["relative_progress"] = relative_progress(obj, th, eta, f0=f0, g0=g0).value
        if "directional_smoothness" in tracked:
            row["directional_smoothness"] = gd_directional_smoothness(obj, th, eta, g0=g0).value
        return row

    start = to_numpy(th0).reshape(1, obj.size) if bridge else xp.reshape(th0, (1, obj.size))
    out = stepper.run(res, gradient, start, eta, steps, criterion=criterion,
                      observe=observe if tracked else None, every=every)
    reason = str(out.reason[0])
    extra = {"increment_growth": float(out.growth[0])}
    if reason == "growth":
        # The stepper's growth test (increments still growing over the last 10%) is exact for
        # linear iterations; a nonlinear run at the edge of stability oscillates and can pass it
        # without diverging. It counts here only if the loss also ended above where it started.
        losses = [r.get("loss", math.nan) for r in out.records]
        if len(losses) >= 2 and math.isfinite(losses[0]) and math.isfinite(losses[-1]) \
                and losses[-1] <= losses[0]:
            extra["note"] = "increments grew over the last window but the loss decreased: not counted as divergence"
            reason = ""
    theta_end = to_obj(out.theta[0, ...])
    return TrainRun(name, eta, dict(res.hyper), steps, list(out.records), theta_end,
                    int(out.extra.get("steps_done", steps)), bool(reason), reason, threshold, tracked, extra)


def _flow_problem(obj: Any) -> Any:
    from solvers.flows import FlowProblem

    if isinstance(obj, FlowProblem):
        return obj
    from solvers.networks import NetworkObjective

    if isinstance(obj, NetworkObjective):
        from solvers.backend import backend_name

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
    solvers.flows.FlowResult
        ``.t``, ``.theta`` (rows on the host, NumPy), ``.diverged``, ``.nfev``.

    Examples
    --------
    >>> r = wb.modified_flow("igr", obj, h=0.05, times=[0, 0.5, 1.0])   # doctest: +SKIP
    """
    import numpy as np

    from solvers.backend import to_numpy
    from solvers.checks import check_positive
    from solvers.flows import FLOWS, integrate

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
        Passed to :func:`solvers.dal.run` (``blowup``, ``drift_every``, ``keep_path``).

    Returns
    -------
    solvers.dal.DALRun
        ``.losses``, ``.lrs``, ``.status``/``.reason``, ``.summary()``.

    Examples
    --------
    >>> r = wb.dal(obj, steps=200)                                        # doctest: +SKIP
    >>> r.summary()["lr_mean"]                                            # doctest: +SKIP
    """
    from solvers import dal as dal_mod

    th = _theta(obj, theta)
    rule = dal_mod.dal_momentum(momentum, p=p, max_lr=max_lr) if momentum else dal_mod.dal_p(p, max_lr=max_lr)
    return dal_mod.run(obj, th, rule, steps, **kw)
