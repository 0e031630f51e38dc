"""SymPy derivations of the stability workbench (SymPy only; no NumPy).

Sun et al. 2022 (first paper), appendix D: the one-layer CNN's gradient PDE,
its linearization, the forward-Euler scheme, its amplifier and the stability
bounds on the weight decay α and the step Δt.

The names below are loaded on first access (PEP 562), so ``from workbench.derivations import
regions`` does not also build the registry of every derivation (start-up time of
``workbench bounds``).
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Step", "Derivation", "available", "get",
    "amplifier", "alpha_bounds", "dt_bound", "dt_bound_pointwise", "symbols",
]

_LAZY = {
    "symbols": ("symbols", None),
    "alpha_bounds": ("forward_euler", "alpha_bounds"),
    "amplifier": ("forward_euler", "amplifier"),
    "dt_bound": ("forward_euler", "dt_bound"),
    "dt_bound_pointwise": ("forward_euler", "dt_bound_pointwise"),
    "available": ("registry", "available"),
    "get": ("registry", "get"),
    "Derivation": ("steps", "Derivation"),
    "Step": ("steps", "Step"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    mod = importlib.import_module(f"{__name__}.{module}")
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
