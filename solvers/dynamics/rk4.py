"""Classical RK4 on the one stepper: the integrator of the flows' ``method="rk4"`` and of fixed-step flow cases.

:class:`RK4` is an :class:`~workbench.solvers.stepping.stepper.Update` (py-pde's pattern: the loop is the
stepper's, the step is RK4's); :func:`rk4_run` runs it under trackers
(:func:`~workbench.solvers.stepping.tracking.run_tracked`); :func:`rk4_samples` lands on given sample
times with h/substeps steps (:func:`workbench.solvers.dynamics.flows.integrate`).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from workbench.solvers.stepping.divergence import DivergenceCriterion
from workbench.solvers.stepping.tracking import Stop, run_tracked

__all__ = ["RK4", "rk4_run", "rk4_samples"]


class RK4:
    """Classical RK4 for θ̇ = ``field``(θ) as an :class:`~workbench.solvers.stepping.stepper.Update` of the one stepper.

    The stepper's force at θₙ is k₁ = field(θₙ) (the tracked run's ``force``); :meth:`step` adds
    k₂, k₃, k₄ and returns θₙ + (dt/6)(k₁ + 2k₂ + 2k₃ + k₄), the stepper's η being dt. So the
    loop, the non-finite check and the trackers are the stepper's; only the step is RK4's.
    ``field`` maps one trajectory (D,) to (D,) (real, or complex for the PF).
    """

    #: the force is taken at θ itself, as for a registry record with C = [1]: trackers see θₙ before it
    C = (1.0,)

    def __init__(self, field: Callable[[np.ndarray], np.ndarray], dt: float) -> None:
        self.field, self.lr = field, float(dt)

    def _f(self, x: np.ndarray) -> np.ndarray:
        return np.reshape(self.field(x[0]), (1, -1))

    def start(self, theta0: np.ndarray) -> list:
        return [theta0]

    def point(self, state: list) -> np.ndarray:
        return state[0]

    def step(self, state: list, x: np.ndarray, k1: np.ndarray, dt: float) -> list:
        k2 = self._f(x + dt / 2 * k1)
        k3 = self._f(x + dt / 2 * k2)
        k4 = self._f(x + dt * k3)
        return [x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)]

    def to_dict(self) -> dict:
        return {"scheme": "rk4", "lr": self.lr}


def rk4_run(field: Callable[[np.ndarray], np.ndarray], theta0: np.ndarray, dts: Sequence[float],
            trackers: Sequence[Any]) -> Any:
    """RK4 steps of length ``dts[n]`` from θ₀ on the one stepper, watched by ``trackers``.

    :func:`workbench.solvers.stepping.tracking.run_tracked` with :class:`RK4`; a non-finite
    iterate ends the run (``divergence == "nonfinite-iterate"``), a tracker may end it by
    raising :class:`~workbench.solvers.stepping.tracking.Stop`. Returns the ``TrackedRun``.
    """
    steps = list(map(float, dts))
    upd = RK4(field, steps[0] if steps else 1.0)
    return run_tracked(None, upd, theta0, lambda n, _v: steps[n], trackers, DivergenceCriterion(blowup=math.inf),
                       steps=len(steps), force=lambda v: field(v.theta))


class _Samples:
    """Tracker of :func:`rk4_samples`: keeps θ at the sample steps, stops once ‖θ‖ exceeds ``blowup``."""

    def __init__(self, at: dict[int, float], blowup: float) -> None:
        self.at, self.blowup = at, blowup
        self.t: list[float] = []
        self.ys: list[np.ndarray] = []

    def start(self, visit: Any) -> None:
        return None

    def handle(self, step: int, v: Any) -> None:
        if step and float(np.linalg.norm(v.theta)) > self.blowup:
            raise Stop("blowup")
        if step in self.at:
            self.t.append(self.at[step])
            self.ys.append(np.array(v.theta, copy=True))

    def finish(self, run: Any) -> None:
        return None


def rk4_samples(f: Callable[[np.ndarray], np.ndarray], y0: np.ndarray, ts: np.ndarray, substeps: float, hv: float,
         blowup: float) -> tuple[np.ndarray, np.ndarray, bool, int]:
    """Classical RK4 with step h/``substeps`` (shortened to land on each sample time), on the stepper."""
    dts: list[float] = []
    at: dict[int, float] = {0: 0.0} if ts[0] == 0 else {}
    t = 0.0
    for target in ts[ts > 0]:
        n = max(1, int(math.ceil((target - t) * substeps / hv - 1e-9)))
        dts += [(target - t) / n] * n
        t = float(target)
        at[len(dts)] = t
    nfev = [0]

    def field(y: np.ndarray) -> np.ndarray:
        nfev[0] += 1
        return f(y)

    keep = _Samples(at, blowup)
    out = rk4_run(field, y0, dts, [keep])
    diverged = bool(out.stopped) or bool(out.divergence)
    return np.array(keep.t), np.array(keep.ys), diverged, nfev[0]
