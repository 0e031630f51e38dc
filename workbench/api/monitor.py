"""Watch the stability of your own PyTorch training loop (``wb.Monitor``).

>>> mon = wb.Monitor(model, loss_fn, opt, data=(X, Y), every=50)     # doctest: +SKIP
>>> for step in range(n):                                            # doctest: +SKIP
...     opt.zero_grad(); loss_fn(model(X), Y).backward(); opt.step()
...     mon.step()
>>> mon.to_frame(); wb.plot.sharpness(mon)                           # doctest: +SKIP

Every ``every`` calls the monitor builds ``wb.from_torch(model, loss_fn, *data)`` at the
model's current parameters (evaluated in eval mode on a copy of its buffers: the model's
parameters, buffers, gradients and ``.training`` flags are never changed) and records, for
the optimizer as configured and in its current state (:mod:`workbench.api.optimizers`):

``sharpness``          λ₁ of the Hessian the optimizer sees (L2 decay added, preconditioned
                       by Adam's/RMSprop's state: Cohen et al., arXiv 2207.14484, section 2),
                       by Lanczos warm-started from the previous record's eigenvector
``threshold``          the scheme's sharpness limit h_upper/lr at the current lr
``max_lr``, ``margin`` the largest stable lr and lr/max_lr
``relative_progress``  RP(θ) = [E(θ − η∇E) − E(θ)]/(η‖∇E‖²) at the current lr (fourth paper,
                       Ahn, Zhang & Sra, Definition 1)
``loss``               E(θ) on ``data``

and flags ``lr_above_limit`` (margin ≥ 1) and ``at_edge`` (the sharpness within ``edge``
= 5 % of the threshold over the last ``window`` records: the edge of stability).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from workbench.solvers.core.checks import ParameterError

__all__ = ["Monitor", "MONITOR_TRACKERS"]

#: What a :class:`Monitor` can record (besides ``loss`` and ``threshold``, always recorded).
MONITOR_TRACKERS = ("sharpness", "max_lr", "relative_progress")


class Monitor:
    """Stability records of a PyTorch training loop; call :meth:`step` after each ``optimizer.step()``.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable (output, targets) -> scalar tensor
    optimizer : torch.optim.SGD, Adam, AdamW or RMSprop
        Read at every record (lr, hyperparameters, state), never stepped.
    data : tuple (inputs, targets)
        The batch the loss and its Hessian are evaluated on (a fixed batch: records are
        comparable across steps).
    every : int
        Record when the number of :meth:`step` calls is a multiple of ``every``.
    track : sequence of str
        From :data:`MONITOR_TRACKERS`.
    window : int
        Records over which ``at_edge`` is judged.
    edge : float
        Relative distance to the threshold that counts as "at the edge".
    tol : float
        Relative Lanczos residual tolerance of the sharpness (default 1e-3: the edge flag
        works at 5 %).

    Attributes
    ----------
    records : list of dict
        One row per record: ``step``, ``lr``, ``loss``, ``threshold``, the tracked columns,
        ``lr_above_limit``, ``at_edge``, ``hvps`` (the HVPs the sharpness took).
    alerts : list of str
        One line per flag raised (``"step 300: lr 0.1 above the stable limit 0.093"``).
    """

    def __init__(self, model: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any, *, data: Sequence[Any],
                 every: int = 50, track: Sequence[str] = MONITOR_TRACKERS, window: int = 5, edge: float = 0.05,
                 tol: float = 1e-3) -> None:
        from workbench.api.optimizers import scheme_of

        if isinstance(track, str):
            track = (track,)
        self.track = tuple(track)
        for t in self.track:
            if t not in MONITOR_TRACKERS:
                raise ParameterError(f"track: unknown tracker {t!r}; choose from {', '.join(MONITOR_TRACKERS)}")
        for name, v, lo in (("every", every, 1), ("window", window, 1)):
            if isinstance(v, bool) or not hasattr(v, "__index__") or int(v) < lo:
                raise ParameterError(f"{name}: expected an integer >= {lo}, got {v!r}")
        if not (isinstance(edge, (int, float)) and 0 < edge < 1):
            raise ParameterError(f"edge: expected a fraction in (0, 1), got {edge!r}")
        if not isinstance(data, (list, tuple)) or len(data) != 2:
            raise ParameterError("data: expected a pair (inputs, targets), the batch the loss is evaluated on")
        scheme_of(optimizer)                      # refuses an unsupported optimizer now, not at the first record
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.data = tuple(data)
        self.every, self.window, self.edge, self.tol = int(every), int(window), float(edge), float(tol)
        self.records: list[dict] = []
        self.alerts: list[str] = []
        self.steps = 0
        self._start = None
        self.scheme = scheme_of(optimizer).scheme

    # -- TrainRun-like view (wb.plot.sharpness) ---------------------------------------------
    @property
    def lr(self) -> float:
        return float(self.records[-1]["lr"]) if self.records else math.nan

    @property
    def threshold(self) -> float:
        return float(self.records[-1]["threshold"]) if self.records else math.nan

    diverged = False
    reason = ""

    def column(self, name: str) -> Any:
        """One recorded quantity as a NumPy array (``"step"`` for the steps)."""
        import numpy as np

        if self.records and name not in self.records[0]:
            raise ParameterError(f"name: {name!r} was not recorded; recorded: {', '.join(self.records[0])}")
        return np.asarray([float(r.get(name, math.nan)) for r in self.records], dtype=float)

    def to_frame(self) -> Any:
        """The records as a ``pandas.DataFrame``; needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ParameterError("to_frame: needs pandas (pip install pandas); mon.records is the same data as a "
                                 "list of dicts") from None
        return pd.DataFrame.from_records(self.records)

    # -- the loop hook -----------------------------------------------------------------------
    def step(self) -> dict | None:
        """Count one optimizer step; every ``every`` steps record a row (returned), else None."""
        self.steps += 1
        if self.steps % self.every:
            return None
        row = self.record()
        return row

    def _objective(self, from_torch: Any) -> Any:
        """The objective on ``data``, built once (layout, checks) and refreshed with the model's buffers."""
        obj = getattr(self, "_obj", None)
        if obj is None or [n for n, p in self.model.named_parameters() if p.requires_grad] != obj.names:
            obj = self._obj = from_torch(self.model, self.loss_fn, *self.data)
        else:
            obj.refresh_buffers()
        return obj

    def record(self) -> dict:
        """Record a row now (what :meth:`step` does every ``every`` steps)."""
        from workbench.adapters.torch import from_torch
        from workbench.api.optimizers import _diagonals, _max_lr, _preconditioned_top, _threshold, scheme_of
        from workbench.solvers.dynamics.diagnostics import relative_progress

        obj = self._objective(from_torch)
        th = obj.current()
        so = scheme_of(self.optimizer)
        lr = so.lr
        op = obj.hvp_operator(th)                 # one graph for the loss, the gradient and every HVP
        f0, g0 = op.value, op.gradient
        thr = _threshold(so, lr)
        row: dict[str, Any] = {"step": self.steps, "lr": lr, "loss": float(f0), "threshold": thr}
        if "sharpness" in self.track or "max_lr" in self.track:
            scale, shift = _diagonals(obj, self.optimizer, so)
            start = self._start if self._start is not None and self._start.shape[0] == obj.size else None
            top = _preconditioned_top(obj, th, scale, shift, self.tol, start=start, hvp=op, check_every=2)
            self._start = top.vectors[:, 0]
            lam = float(top.values[0])
            row["sharpness"] = lam
            row["hvps"] = int(top.matvecs)
            if "max_lr" in self.track:
                max_lr = _max_lr(so, lam)
                row["max_lr"] = max_lr
                row["margin"] = lr / max_lr if max_lr > 0 else math.inf
        if "relative_progress" in self.track:
            row["relative_progress"] = relative_progress(obj, th, lr, f0=f0, g0=g0).value
        above = bool(row.get("margin", 0.0) >= 1.0)
        recent = [r.get("sharpness", math.nan) / r["threshold"] for r in self.records[-(self.window - 1):]] \
            if self.window > 1 else []
        ratios = recent + [row.get("sharpness", math.nan) / thr]
        at_edge = len(ratios) >= self.window and all(abs(q - 1.0) <= self.edge for q in ratios)
        row["lr_above_limit"], row["at_edge"] = above, at_edge
        if above:
            self.alerts.append(f"step {self.steps}: lr {lr:.6g} above the stable limit {row['max_lr']:.6g} "
                               f"of {so.scheme}")
        if at_edge:
            self.alerts.append(f"step {self.steps}: sharpness {row['sharpness']:.6g} within {self.edge:.0%} of the "
                               f"threshold {thr:.6g} over the last {self.window} records (edge of stability)")
        self.records.append(row)
        return row

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        tail = (f", last: step {last['step']} sharpness {last.get('sharpness', math.nan):.4g} / threshold "
                f"{last['threshold']:.4g}") if last else ""
        return f"Monitor({type(self.optimizer).__name__} as {self.scheme}, every={self.every}, " \
               f"{len(self.records)} records{tail})"
