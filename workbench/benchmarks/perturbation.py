"""Benchmark rows for the perturbed gradient-descent sweep (the restrained-instabilities setting).

Rows of :func:`workbench.benchmarks.timing.compare` (interleaved repetitions, min/median, ratio of
minima, noise). Both paths do the same work: every
(lr, k) member of the sweep for the same number of iterations in both precisions, with
the same histories (loss, relative L1/L2 per iteration). *Ours* runs each precision as
one batch (:func:`workbench.solvers.cnn.perturbation.run_perturbed` over lr × k, one FFT batch per
step); the *baseline* is the obvious nested Python loop, one run per (lr, k, precision)
plus its k = 1 reference.

Work per step and member (valid mode, H×W image): one response and one backprojection,
4 real FFTs of H×W (≈ 4 · 2.5·HW·log₂(HW) flops), plus O(w²) elementwise updates.
The looped baseline runs every member alone (``reference_k`` = its own k, so its
divergence history is computed against itself: the same O(w²) elementwise work, the same
4 FFTs per step), so both paths do the same arithmetic.
"""
from __future__ import annotations

from typing import Any

from workbench.benchmarks.timing import Floor, compare, fft_flops

__all__ = ["bench_rows"]


def _sweep_rows(xp: Any, backend: str, quick: bool, repeat: int, floor: Floor | None) -> list[dict]:
    from workbench.solvers.cnn.correlation import CnnOperator
    from workbench.solvers.cnn.images import checkerboard
    from workbench.solvers.cnn.perturbation import run_perturbed

    lrs = [round(0.01 * i, 2) for i in (range(1, 14, 3) if quick else range(1, 14))]
    ks = (1, 3)
    sizes = [(32, 8, 60)] if quick else [(32, 8, 200), (256, 32, 50)]
    rows = []
    for n, w, steps in sizes:
        ops = {p: CnnOperator(xp.asarray(checkerboard(n), dtype=getattr(xp, p)), w) for p in ("float32", "float64")}

        def batched() -> None:
            for op in ops.values():
                run_perturbed(op, lrs, ks, 20.0, 0, steps=steps)

        def looped() -> None:
            for op in ops.values():
                for lr in lrs:
                    for k in ks:
                        run_perturbed(op, [lr], [k], 20.0, 0, steps=steps, reference_k=k)

        members = len(lrs) * len(ks) * 2
        rows.append(compare(
            f"perturbed sweep lr x k x precision ({backend})",
            f"{members} members, 2 batches (one per dtype)", f"{members} single-member runs, nested loops",
            batched, looped, max(1, repeat - 1) if n > 64 else repeat,
            note=f"checkerboard:{n} (the case's image), w={w}, {steps} iterations, "
                 f"lr {lrs[0]}..{lrs[-1]} ({len(lrs)}) x k {{1,3}} x float32/float64, "
                 "histories kept; same FFT work in both paths",
            work={"member_steps": members * steps, "ffts": 4 * members * steps,
                  "flops": fft_flops(n * n, 4 * members * steps)}, floor=floor, floor_kind="fft",
        ))
    return rows


def bench_rows(quick: bool, repeat: int, floor: Floor | None = None) -> list[dict]:
    """Batched vs looped perturbed sweep; a CuPy row is added when a GPU is present."""
    from workbench.solvers.core.backend import get_namespace, gpu_available

    rows = _sweep_rows(get_namespace("numpy"), "numpy", quick, repeat, floor)
    if gpu_available():
        rows += _sweep_rows(get_namespace("cupy"), "cupy", quick, repeat, floor)
    return rows
