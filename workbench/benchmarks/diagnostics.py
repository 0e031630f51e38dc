"""Benchmark rows: the cost of recording unstable-convergence diagnostics (``workbench bench``).

Fourth paper (Ahn, Zhang, Sra): RP (Def. 1), L(θ; η∇f) (Def. 2), sharpness and the
quadrature of Theorem 2 (4), recorded every k steps of full-batch GD by the recorders of
:mod:`workbench.solvers.dynamics.diagnostics`. Each row (``kind = "overhead"``) times training with the
recorder and plain training interleaved (A B A B …) and prints "+x % overhead"
(ours min / plain min − 1), or "within noise".

Work counted per GD step: one value-and-gradient (≈ 3.7 forward passes, see
:mod:`workbench.benchmarks.objectives`). RP and L reuse f(θₜ₊₁) and ∇f(θₜ₊₁) of the next step,
so they add O(n) dot products; sharpness adds an eigsh run (tens of HVPs ≈ 2.4 gradients
each); Theorem 2 with ``order`` nodes adds ``order`` gradients.

SGD rows (:func:`workbench.solvers.dynamics.sgd_diagnostics.run_sgd`, batch B of N samples): a plain step is
one batch gradient plus one full loss. The expected-RP recorder (Def. 3, (6), Remark 6)
over one reshuffle costs N/B batch gradients, N/B full value-and-gradients at θ − ηg,
(N/B)·order full gradients for the exact form of (6) and N/B + 1 more gradients for the
noise ratio, per record; the full-batch RP recorder costs two full value-and-gradients.
"""
from __future__ import annotations

from workbench.benchmarks.timing import Floor, compare

__all__ = ["bench_rows"]


def bench_rows(quick: bool = False, repeat: int = 3, floor: Floor | None = None) -> list[dict]:
    """Overhead of each recorder vs plain GD on a tanh MLP (spirals, MSE); ``quick`` shrinks the run."""
    from workbench.solvers.core.backend import get_namespace
    from workbench.solvers.nets.datasets import spirals
    from workbench.solvers.dynamics.diagnostics import (
        RPRecorder,
        SharpnessRecorder,
        SmoothnessRecorder,
        Theorem2Recorder,
        run_gd,
    )
    from workbench.solvers.nets.networks import NetworkObjective, mlp

    xp = get_namespace("numpy")
    n, width, steps = (64, 32, 100) if quick else (256, 64, 1000)
    d = spirals(n, classes=2, seed=0, xp=xp)
    obj = NetworkObjective(mlp([2, width, width, 2], "tanh"), d.X, d.Y, "mse")
    th0 = obj.initial(0)
    eta = 0.3
    k = 10
    what = f"MLP 2-{width}-{width}-2 tanh, MSE, N={n}, {obj.size} parameters, {steps} GD steps, eta={eta}"
    cases = [
        ("RP every step", lambda: [RPRecorder(1)]),
        ("RP + L every step", lambda: [RPRecorder(1), SmoothnessRecorder(1)]),
        (f"sharpness every {k} steps", lambda: [SharpnessRecorder(k)]),
        ("sharpness every 100 steps", lambda: [SharpnessRecorder(100)]),
        (f"Theorem 2 (4 nodes) every {k} steps", lambda: [Theorem2Recorder(k, order=4)]),
        (f"RP + L every step, sharpness every {k}", lambda: [RPRecorder(1), SmoothnessRecorder(1),
                                                             SharpnessRecorder(k)]),
    ]
    rows = []
    if quick:
        cases = [cases[0], cases[2], cases[4]]
    for name, make in cases:
        rows.append(compare(f"GD + {name}", f"GD + {name}", "plain GD",
                            lambda make=make: run_gd(obj, th0, eta, steps, make()),
                            lambda: run_gd(obj, th0, eta, steps), repeat, kind="overhead", note=what))
    rows.extend(_sgd_rows(obj, th0, n, width, steps, repeat, quick))
    return rows


def _sgd_rows(obj, th0, n: int, width: int, steps: int, repeat: int, quick: bool = False) -> list[dict]:
    """Overhead of the SGD recorders (:mod:`workbench.solvers.dynamics.sgd_diagnostics`) vs plain seeded SGD."""
    from workbench.solvers.dynamics.diagnostics import SharpnessRecorder
    from workbench.solvers.dynamics.sgd_diagnostics import ExpectedRPRecorder, FullBatchRPRecorder, run_sgd

    B = 16 if n <= 64 else 32
    epochs = max(1, steps * B // n)
    eta, k = 0.3, 10
    what = (f"MLP 2-{width}-{width}-2 tanh, MSE, N={n}, batch {B}, {epochs * n // B} SGD steps, eta={eta}")
    cases = [
        ("full-batch RP + L every step", lambda: [FullBatchRPRecorder(1)]),
        (f"E[RP] + (6) + Remark 6 (1 reshuffle, 4 nodes) every {k} steps",
         lambda: [ExpectedRPRecorder(k, epochs=1, order=4)]),
        ("E[RP] + (6) + Remark 6 every 100 steps", lambda: [ExpectedRPRecorder(100, epochs=1, order=4)]),
        (f"sharpness every {k} steps", lambda: [SharpnessRecorder(k)]),
    ]
    rows = []
    if quick:
        cases = [cases[0], cases[2]]
    for name, make in cases:
        rows.append(compare(f"SGD + {name}", f"SGD + {name}", "plain SGD",
                            lambda make=make: run_sgd(obj, th0, eta, B, epochs, make()),
                            lambda: run_sgd(obj, th0, eta, B, epochs), repeat, kind="overhead", note=what))
    return rows
