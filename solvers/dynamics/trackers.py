"""The named trackers of a training run: loss, gradient norm, sharpness, relative progress, smoothness.

Each is a :class:`workbench.solvers.stepping.tracking.Tracker` returning a row
``{name: value}`` at θₜ every ``every`` steps of
:func:`workbench.solvers.stepping.tracking.run_tracked`; :data:`TRACKERS` maps the names
``wb.train(track=...)`` accepts to the classes. Quantities (at θₜ, step size η):

``loss``                    E(θₜ)
``grad_norm``               ‖∇E(θₜ)‖
``sharpness``               λ_max(∇²E(θₜ)) (Lanczos on exact HVPs; Cohen et al. 2021)
``relative_progress``       RP(θₜ) = [E(θₜ − η∇E) − E(θₜ)]/(η‖∇E‖²) (fourth paper, Definition 1)
``directional_smoothness``  L(θₜ; η∇E(θₜ)) (fourth paper, Definition 2; ≈ 2/η at the edge of stability)

E(θₜ) and ∇E(θₜ) come from the visit (one evaluation shared by all trackers and the step).
"""
from __future__ import annotations

from typing import Any

from workbench.solvers.core.checks import ParameterError
from workbench.solvers.dynamics.diagnostics import gd_directional_smoothness, relative_progress

__all__ = ["TRACKERS", "Every", "LossTracker", "GradNormTracker", "SharpnessTracker", "RelativeProgressTracker",
           "DirectionalSmoothnessTracker", "make_trackers"]


class Every:
    """Base of the named trackers: a row ``{name: measure(visit)}`` at steps t with t % every == 0."""

    name = ""

    def __init__(self, every: int = 1) -> None:
        if isinstance(every, bool) or not hasattr(every, "__index__") or int(every) < 1:
            raise ParameterError(f"every: expected an integer >= 1, got {every!r}")
        self.every = int(every)

    def start(self, visit: Any) -> None:
        return None

    def finish(self, run: Any) -> None:
        return None

    def measure(self, v: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def handle(self, step: int, v: Any) -> dict | None:
        return None if step % self.every else {self.name: float(self.measure(v))}


class LossTracker(Every):
    """E(θₜ)."""

    name = "loss"

    def measure(self, v: Any) -> float:
        return v.f


class GradNormTracker(Every):
    """‖∇E(θₜ)‖."""

    name = "grad_norm"

    def measure(self, v: Any) -> float:
        return float(v.objective.xp.linalg.vector_norm(v.g))


class SharpnessTracker(Every):
    """λ_max(∇²E(θₜ)) by :func:`workbench.solvers.linalg.hessian.top_eigenpairs` (relative tolerance ``tol``)."""

    name = "sharpness"

    def __init__(self, every: int = 1, tol: float = 1e-6) -> None:
        super().__init__(every)
        self.tol = float(tol)

    def measure(self, v: Any) -> float:
        from workbench.solvers.linalg.hessian import top_eigenpairs

        return top_eigenpairs(v.objective, v.theta, 1, tol=self.tol, seed=0).value


class RelativeProgressTracker(Every):
    """RP(θₜ) (fourth paper, Definition 1; one extra loss evaluation)."""

    name = "relative_progress"

    def measure(self, v: Any) -> float:
        return relative_progress(v.objective, v.theta, v.eta, f0=v.f, g0=v.g).value


class DirectionalSmoothnessTracker(Every):
    """L(θₜ; η∇E(θₜ)) (fourth paper, Definition 2; one extra gradient)."""

    name = "directional_smoothness"

    def measure(self, v: Any) -> float:
        return gd_directional_smoothness(v.objective, v.theta, v.eta, g0=v.g).value


#: the tracker names of ``wb.train(track=...)`` and their classes
TRACKERS: dict[str, type[Every]] = {c.name: c for c in (LossTracker, GradNormTracker, SharpnessTracker,
                                                         RelativeProgressTracker, DirectionalSmoothnessTracker)}


def make_trackers(names: Any, every: int = 1, sharpness_tol: float = 1e-6) -> list[Every]:
    """Tracker objects for ``names`` (a name or a sequence of names from :data:`TRACKERS`)."""
    names = (names,) if isinstance(names, str) else tuple(names)
    out: list[Every] = []
    for n in names:
        if n not in TRACKERS:
            raise ParameterError(f"track: unknown tracker {n!r}; choose from {', '.join(TRACKERS)}")
        out.append(SharpnessTracker(every, sharpness_tol) if n == "sharpness" else TRACKERS[n](every))
    return out
