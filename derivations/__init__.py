"""SymPy derivations of the stability workbench (SymPy only; no NumPy).

Sun et al. 2022 (first paper), appendix D: the one-layer CNN's gradient PDE,
its linearization, the forward-Euler scheme, its amplifier and the stability
bounds on the weight decay α and the step Δt.
"""
__stability_workbench__ = True  # marker read by derivations/_shadow.py (name-clash check)

from . import symbols  # noqa: E402
from .forward_euler import alpha_bounds, amplifier, dt_bound, dt_bound_pointwise
from .registry import available, get
from .steps import Derivation, Step

__all__ = [
    "Step", "Derivation", "available", "get",
    "amplifier", "alpha_bounds", "dt_bound", "dt_bound_pointwise", "symbols",
]
