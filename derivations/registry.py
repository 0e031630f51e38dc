"""Named derivations: ``available()`` lists them, ``get(name)`` builds one.

* ``"cnn"``: Sun et al. 2022, appendix D.1-D.3, eqs. (1)-(27) -- model, gradient,
  gradient PDE, linearization, forward-Euler scheme, DFT, amplifier and
  stability conditions, one chain in paper order.
* ``"forward-euler"``: appendix D.3 only, eqs. (20)-(27).
* ``"von-neumann-nesterov"``: appendix E, the semi-implicit (Nesterov) scheme (37)-(38)
  through the general Von Neumann analyzer: characteristic polynomial, Schur-Cohn
  conditions, exact stability region, and the paper's (45) beside it.
* ``"momentum"``: appendix E, eqs. (36)-(47): momentum PDE, central-difference and
  semi-implicit schemes, the (Δt, d) <-> (η, μ) map, exact region vs (45)-(47).
* ``"linearization-d4"``, ``"activated-d5"``, ``"multilayer-f"``: appendix D.4 (28)-(33),
  D.5 (34)-(35) and F (48)-(51) (:mod:`workbench.derivations.linearizations`).
* ``"bea-principal-flow"``: third paper, BEA of GD to order 5, Theorems 3.1/3.2, PF (12)/(14), (16), 6.1
  (:mod:`workbench.derivations.bea`).
* ``"diffusion"``: second paper, (1)-(23): accelerated PDE with diffusion, scheme (4)-(5), Theorem 1 both
  ways, CFL (10)-(11) through the analyzer, joint region with a quadratic loss (:mod:`workbench.derivations.diffusion`).
* ``"unstable-convergence"``: fourth paper, RP (Def. 1), directional smoothness (Def. 2),
  Theorem 2 identity (4), approximation (5) (:mod:`workbench.derivations.unstable_convergence`).
* ``"scheme-<name>"``: a registered optimizer (:mod:`workbench.derivations.schemes.registry`): its state-space
  record, iteration matrix, characteristic polynomial, Schur–Cohn conditions and region.
* ``"objective-<toy>"``: a symbolic toy objective (quadratic, tanh-quadratic,
  single-neuron networks, Rosenbrock; :mod:`workbench.derivations.objectives`): loss, exact
  gradient, Hessian, sharpness at the minimizer.
"""
from __future__ import annotations

from collections.abc import Callable

from workbench.derivations import (bea, cnn, diffusion, forward_euler, linearizations, momentum, objectives,
                                   unstable_convergence, von_neumann)
from workbench.derivations.schemes import registry as optimizers
from workbench.derivations.steps import Derivation

__all__ = ["available", "get"]


def _cnn() -> Derivation:
    """Sun et al. 2022, appendix D.1-D.3, eqs. (1)-(27) as one chain."""
    return Derivation(
        "cnn",
        "One-layer CNN: gradient PDE, linearization, forward Euler and its stability",
        "Sun et al. 2022, appendix D.1-D.3, eqs. (1)-(27)",
        cnn.steps() + forward_euler.steps(include_pde=False),
    )


_REGISTRY: dict[str, Callable[[], Derivation]] = {
    "cnn": _cnn,
    "forward-euler": forward_euler.derivation,
    "von-neumann-nesterov": von_neumann.derivation,
    "momentum": momentum.derivation,
    "linearization-d4": linearizations.derivation_d4,
    "activated-d5": linearizations.derivation_d5,
    "multilayer-f": linearizations.derivation_f,
    "unstable-convergence": unstable_convergence.derivation,
    "bea-principal-flow": bea.derivation,
    "diffusion": diffusion.derivation,
    **{f"objective-{name}": (lambda name=name: objectives.toy(name).derivation()) for name in objectives.TOYS},
    **{f"scheme-{name}": (lambda name=name: optimizers.derivation(name)) for name in optimizers.names()},
}


def available() -> list[str]:
    """Names accepted by :func:`get`, in registry order."""
    return list(_REGISTRY)


def get(name: str) -> Derivation:
    """Build the derivation registered under ``name``.

    Raises
    ------
    ValueError
        ``"derivation: unknown 'x'; available: cnn, forward-euler"``.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"derivation: unknown {name!r}; available: {', '.join(available())}")
    return _REGISTRY[name]()
