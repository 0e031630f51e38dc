"""Tracked training runs on any objective (``wb.train``): a registered scheme, recorders, divergence.

Part of the public API (:mod:`workbench.api.models`, re-exported by :mod:`workbench`). The
stepping is :func:`workbench.solvers.stepping.stepper.run`, the one loop that iterates every registered
scheme's state-space record (:mod:`workbench.derivations.schemes.registry`); this module adds the
trackers of the edge-of-stability literature (sharpness, Cohen et al. 2021; relative
progress and directional smoothness, fourth paper, Ahn, Zhang & Sra, Definitions 1-2)
and a result that loads straight into pandas.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from workbench.solvers.core.checks import ParameterError

__all__ = ["TRACKERS", "TrainRun", "train"]

#: What :func:`train` can record every ``every`` steps (each a column of ``run.records``).
TRACKERS = ("loss", "grad_norm", "sharpness", "relative_progress", "directional_smoothness")


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
        "" or how it diverged (:func:`workbench.solvers.stepping.divergence.run_verdict`): "nonfinite"
        (a NaN/inf iterate), "blowup" (an increment 1e8 times the first, or the loss 1e12 times
        its start), "nonfinite-loss", "growth" (increments still growing over the last 10% of
        the run and the loss ending above its start).
    threshold : float
        The sharpness above which the scheme is linearly unstable at this η:
        h_upper/η (2/η for GD, 2(1 + μ)/η for heavy-ball).

    Examples
    --------
    The repr is one line (sizes and the last record), never the records or θ:

    >>> TrainRun("gd", 0.1, {}, 100, [{"step": 0, "loss": 1.0}, {"step": 100, "loss": 0.25}], None, 100, False, "",
    ...          20.0, track=("loss",))
    TrainRun(gd, lr=0.1, 100/100 steps, completed, 2 records of loss; last: loss 0.25; threshold 20)
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

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        shown = ", ".join(f"{k} {last[k]:.4g}" for k in self.track if isinstance(last.get(k), (int, float)))
        status = f"diverged ({self.reason})" if self.diverged else "completed"
        return (f"TrainRun({self.scheme}, lr={self.lr:g}, {self.steps_done}/{self.steps} steps, {status}, "
                f"{len(self.records)} records of {', '.join(self.track) or 'nothing'}"
                + (f"; last: {shown}" if shown else "") + f"; threshold {self.threshold:.4g})")

    def _repr_html_(self) -> str:
        """A notebook summary: the run's line and a table of the first and last records (never all of them)."""
        from html import escape

        cols = ["step", *self.track]
        shown = self.records if len(self.records) <= 6 else [*self.records[:3], None, *self.records[-3:]]

        def cell(v: Any) -> str:
            return f"{v:.6g}" if isinstance(v, (int, float)) else escape(str(v))

        body = "".join("<tr>" + "".join(f"<td>{cell(r.get(c, ''))}</td>" for c in cols) + "</tr>" if r is not None
                       else f"<tr><td colspan='{len(cols)}'>… {len(self.records) - 6} more records …</td></tr>"
                       for r in shown)
        head = "".join(f"<th>{escape(c)}</th>" for c in cols)
        return (f"<table><caption>{escape(repr(self))}</caption><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")

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


def _from_optimizer(obj: Any, optimizer: Any) -> tuple[str, float, dict]:
    """``(scheme, lr, hyperparameters)`` of a torch.optim optimizer that :func:`train` can step."""
    from workbench.api.optimizers import _slices, scheme_of

    so = scheme_of(optimizer)
    g0 = so.groups[0]
    if g0.preconditioner:
        raise ParameterError(f"optimizer: {so.optimizer}'s preconditioner changes every step, so wb.train cannot "
                             "reproduce it with a linear scheme; use wb.stability / wb.Monitor in your own loop")
    if any(g.lr != g0.lr or g.params != g0.params for g in so.groups):
        raise ParameterError("optimizer: its param groups differ in lr or weight decay; wb.train steps one scheme "
                             "with one lr (use one param group)")
    where = _slices(obj)
    covered = {id(p) for g in so.groups for p in g.tensors}
    if set(where) - covered:
        raise ParameterError("optimizer: it does not update every trainable parameter of the objective's model; "
                             "wb.train steps them all")
    return so.scheme, so.lr, dict(g0.params)


def train(obj: Any, theta: Any = None, scheme: str | None = None, *, lr: float | None = None,
          steps: int, optimizer: Any = None,
          track: Sequence[str] = ("loss", "sharpness", "relative_progress", "directional_smoothness"),
          every: int = 10, criterion: Any = None, sharpness_tol: float = 1e-6,
          **hyperparameters: float) -> TrainRun:
    """Run a registered scheme (or your optimizer's) on the objective, recording ``track`` every ``every`` steps.

    The stepping is :func:`workbench.solvers.stepping.stepper.run` (the same scheme records the
    stability analysis uses). The recorded sequence θₜ is the first component of the
    scheme's state: for ``optimizer=torch.optim.SGD(nesterov=True)`` (scheme
    ``nesterov-lookahead``) that is the point torch stores, the look-ahead point
    Vₜ = θₜ + μ(θₜ − θₜ₋₁) of the classical form, so a torch run is reproduced step by step;
    the registry's ``nesterov`` records θₜ itself. L2 weight decay (``weight_decay``) is
    added to the gradient, as torch does. The run's divergence classification is
    :func:`workbench.solvers.stepping.divergence.run_verdict` of the losses the stepper's
    gradient calls computed (no second forward pass): a run whose loss decreased and
    stayed finite is never labelled diverged.

    Trackers (each a column of ``run.records``), at θₜ:

    ``loss``                    E(θₜ) (the stepper's own value where the gradient is taken at θₜ)
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
        A registered scheme ("gd", "heavy-ball", "nesterov", …; default "gd").
    lr : float
        Learning rate η > 0 (with ``optimizer=``: default the optimizer's).
    steps : int
        Number of updates (≥ 2).
    optimizer : torch.optim.SGD, optional
        Instead of ``scheme`` and its hyperparameters (:func:`workbench.api.optimizers.scheme_of`);
        read, never stepped. Adam/RMSprop are refused (their preconditioner moves).
    track : sequence of str
    every : int
        Record at steps t with t % every == 0 (default 10: the sharpness costs a Lanczos
        run, tens of HVPs, per record; the other trackers one or two forward passes).
    criterion : workbench.solvers.stepping.divergence.DivergenceCriterion, optional
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
    >>> run = wb.train(obj, optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True),
    ...                steps=200, every=1, track=("loss",))               # doctest: +SKIP
    >>> run.to_frame().tail()                                             # doctest: +SKIP
    """
    from array_api_compat import is_jax_namespace

    from workbench.solvers.stepping import optimizers

    from workbench.solvers.stepping import stepper
    from workbench.solvers.stepping.divergence import DivergenceCriterion, run_verdict
    from workbench.solvers.core.backend import to_numpy
    from workbench.solvers.core.checks import check_positive
    from workbench.solvers.dynamics.diagnostics import gd_directional_smoothness, relative_progress
    from workbench.solvers.linalg.hessian import top_eigenpairs

    from workbench.api.arguments import scheme_name as _scheme
    from workbench.api.arguments import theta_of as _theta

    th0 = _theta(obj, theta)
    if optimizer is not None:
        if scheme is not None or hyperparameters:
            raise ParameterError("optimizer: give either optimizer= or scheme= with its hyperparameters, not both")
        scheme, opt_lr, hyperparameters = _from_optimizer(obj, optimizer)
        lr = opt_lr if lr is None else lr
    if lr is None:
        raise ParameterError("lr: the learning rate is required (or optimizer=)")
    name = _scheme("gd" if scheme is None else scheme)
    eta = check_positive("lr", lr)
    steps = _check_int("steps", steps, 2)
    every = _check_int("every", every, 1)
    tracked = _check_track(track)
    res = optimizers.resolve(name, eta, dict(hyperparameters))  # ParameterError for a bad hyperparameter
    threshold = float(optimizers.h_interval(res).upper) / eta
    shift_name = res.optimizer.extra.get("curvature_shift", "")
    wd = float(res.hyper.get(shift_name, 0.0)) if shift_name else 0.0   # L2 decay: ∇f + wd·x
    at_theta = res.C.shape[0] >= 1 and res.C[0] == 1.0 and not res.C[1:].any()  # g is taken at θ itself
    xp = obj.xp
    # unchecked: a diverging iterate is the stepper's to classify
    raw_vg = getattr(obj, "_value_and_gradient", obj.value_and_gradient)
    # The stepper writes its per-step records in place, allocated on the default device; JAX
    # arrays are immutable and an accelerator's arrays live elsewhere, so those objectives are
    # stepped on a NumPy copy of θ (gradients still computed by the framework, on its device).
    dev = getattr(obj, "device", None)
    bridge = is_jax_namespace(xp) or (dev is not None and str(dev).split(":")[0] != "cpu")
    losses: list[float] = []   # f at each gradient point, as the gradient call computed it

    def to_obj(x: Any) -> Any:
        return xp.asarray(x, dtype=obj.dtype, device=dev) if bridge else x

    def gradient(xb: Any) -> Any:
        x = to_obj(xb[0, ...])
        f, g = raw_vg(x)
        losses.append(float(f))
        if wd:
            g = g + wd * x
        g = xp.reshape(g, (1, obj.size)) if not bridge else to_numpy(g).reshape(1, obj.size)
        return g

    def observe(t: int, thb: Any, gb: Any) -> dict:
        row: dict[str, float] = {}
        th = to_obj(thb[0, ...])
        if not bool(xp.all(xp.isfinite(th))):
            return {k: math.nan for k in tracked}
        g0, f0 = None, math.nan
        if at_theta:
            f0 = losses[-1]
            g0 = to_obj(gb[0, ...])
            if wd:
                g0 = g0 - wd * th                     # the loss's own gradient
        elif any(k in tracked for k in ("loss", "relative_progress")):
            f0, g0 = obj.value_and_gradient(th)
        elif any(k in tracked for k in ("grad_norm", "directional_smoothness")):
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
    increments = str(out.reason[0])
    reason = run_verdict(losses, increments, criterion or DivergenceCriterion())
    extra = {"increment_growth": float(out.growth[0]), "increment_reason": increments,
             "loss_first": losses[0] if losses else math.nan, "loss_last": losses[-1] if losses else math.nan}
    theta_end = to_obj(out.theta[0, ...])
    return TrainRun(name, eta, dict(res.hyper), steps, list(out.records), theta_end,
                    int(out.extra.get("steps_done", steps)), bool(reason), reason, threshold, tracked, extra)
