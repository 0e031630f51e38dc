"""Benchmark rows for SGD-Nesterov with diffusion (second paper, Algorithm 1; ``workbench bench``).

Work counted per step on a tensor of n elements and N diffusion axes: SGD-Nesterov does 4
elementwise passes (γv, +g, γv, θ - η(...)); Algorithm 1 adds one Laplacian (N axes x (2 shifts,
2 adds) ≈ 5N passes incl. the concat copies of the Neumann ghost) and 2 more adds: its cost
factor over plain Nesterov should be ≈ (6 + 5N)/4, the paper's "little computational cost".
Rows (:func:`workbench.benchmarks.timing.compare`, interleaved repetitions):

* diffusion step vs plain SGD-Nesterov step (``kind = "overhead"``: "+x % overhead");
* our Laplacian (5) vs what a user would write with SciPy: ``scipy.ndimage.correlate1d``
  with the stencil (1, −2, 1) along each diffusion axis, ``mode="nearest"`` (the Neumann
  ghost cell), summed over the axes; the two agree to rounding (the note says how well).
"""
from __future__ import annotations

import numpy as np

from workbench.benchmarks.timing import Floor, compare

__all__ = ["bench_rows"]


def _scipy_laplacian(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    from scipy.ndimage import correlate1d

    out = correlate1d(x, [1.0, -2.0, 1.0], axis=axes[0], mode="nearest")
    for k in axes[1:]:
        out += correlate1d(x, [1.0, -2.0, 1.0], axis=k, mode="nearest")
    return out


def bench_rows(quick: bool, repeat: int, floor: Floor | None = None) -> list[dict]:
    """Timing rows for Algorithm 1 (numpy, float64)."""
    from workbench.solvers.dynamics.diffusion import DiffusionNesterov, laplacian

    rng = np.random.default_rng(0)
    shape = (64, 64, 3, 3) if quick else (256, 256, 3, 3)       # a conv weight (out, in, kh, kw)
    axes = (2, 3)
    th, g = rng.standard_normal(shape), rng.standard_normal(shape)
    reps = 5 if quick else 20
    plain, diff = DiffusionNesterov(0.1, 0.9, 0.0), DiffusionNesterov(0.1, 0.9, 0.2, axes=axes)
    err = float(np.abs(laplacian(th, axes) - _scipy_laplacian(th, axes)).max() / np.abs(th).max())
    what = f"tensor {'x'.join(map(str, shape))}, Laplacian on axes {axes} (spatial kernel axes), Neumann"
    nbytes = th.nbytes
    return [
        compare("diffusion step vs SGD-Nesterov step", "Algorithm 1 (beta > 0)", "SGD-Nesterov (beta = 0)",
                lambda: [diff.step(th, g) for _ in range(reps)], lambda: [plain.step(th, g) for _ in range(reps)],
                repeat, kind="overhead", note=f"{what}; {reps} steps per timing; counted (6+5N)/4 = 4x for N=2"),
        compare("Laplacian (5): ours vs scipy.ndimage", "slicing/concat Laplacian",
                "scipy.ndimage.correlate1d per axis (nearest)", lambda: laplacian(th, axes),
                lambda: _scipy_laplacian(th, axes), repeat,
                note=f"{what}; max rel diff {err:.1e}; ~{5 * len(axes)} passes of {nbytes / 1e6:.1f} MB",
                work={"bytes": 5 * len(axes) * nbytes}),
    ]
