"""Checks shared by the public API functions: the objective, the point θ, the scheme name.

Held apart from :mod:`workbench.api.models` and :mod:`workbench.api.training` so that
neither imports the other for them.
"""
from __future__ import annotations

from typing import Any

from workbench.solvers.core.checks import ParameterError

__all__ = ["check_obj", "theta_of", "scheme_name"]


def check_obj(obj: Any) -> Any:
    """``obj`` if it looks like an Objective, else a ParameterError naming what it lacks."""
    for attr in ("size", "xp", "dtype", "gradient", "hvp"):
        if not hasattr(obj, attr):
            raise ParameterError(f"obj: expected an objective (wb.from_torch, wb.from_jax or a workbench.solvers.core.objectives "
                                 f"Objective), got {type(obj).__name__} without {attr!r}")
    return obj


def theta_of(obj: Any, theta: Any) -> Any:
    """θ checked against the objective (length, dtype, device, finite); None → its starting point."""
    check_obj(obj)
    if theta is None:
        theta = obj.theta0 if hasattr(obj, "theta0") else obj.initial()
    if hasattr(obj, "as_vector"):
        return obj.as_vector("theta", theta)
    return theta


def scheme_name(scheme: Any) -> str:
    """The registry name of ``scheme`` (or an alias); ParameterError listing the registered ones."""
    from workbench.derivations.schemes.derived import canonical, names

    try:
        return canonical(scheme)
    except ValueError:
        raise ParameterError(f"scheme: unknown {scheme!r}; registered: {', '.join(names())}") from None
