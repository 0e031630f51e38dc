"""Benchmark rows for SGD-Nesterov with diffusion (second paper, Algorithm 1; ``workbench bench``).

Work counted per step on a tensor of n elements and N diffusion axes: SGD-Nesterov does 4
elementwise passes (γv, +g, γv, θ - η(...)); Algorithm 1 adds one Laplacian (N axes x (2 shifts,
2 adds) ≈ 5N passes incl. the concat copies of the Neumann ghost) and 2 more adds: its cost
factor over plain Nesterov should be ≈ (6 + 5N)/4, the paper's "little computational cost".
Rows (dict format of :func:`workbench.timing.bench_row`, ratio = baseline_s/ours_s):

* diffusion step vs plain SGD-Nesterov step (ratio < 1 = the overhead factor's inverse);
* vectorized Laplacian (5) vs a per-element Python loop over the same stencil (small tensor).
"""
from __future__ import annotations

import numpy as np

from .timing import best_of, bench_row

__all__ = ["bench_rows"]


def _loop_laplacian(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    out = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        s = 0.0
        for k in axes:
            n = x.shape[k]
            up, dn = list(idx), list(idx)
            up[k], dn[k] = min(idx[k] + 1, n - 1), max(idx[k] - 1, 0)
            s += x[tuple(up)] - 2 * x[idx] + x[tuple(dn)]
        out[idx] = s
    return out


def bench_rows(quick: bool, repeat: int) -> list[dict]:
    """Timing rows for Algorithm 1 (numpy, float64)."""
    from solvers.diffusion import DiffusionNesterov, laplacian

    rng = np.random.default_rng(0)
    shape = (64, 64, 3, 3) if quick else (256, 256, 3, 3)       # a conv weight (out, in, kh, kw)
    axes = (2, 3)
    th, g = rng.standard_normal(shape), rng.standard_normal(shape)
    reps = 5 if quick else 20
    plain, diff = DiffusionNesterov(0.1, 0.9, 0.0), DiffusionNesterov(0.1, 0.9, 0.2, axes=axes)
    t_plain = best_of(lambda: [plain.step(th, g) for _ in range(reps)], repeat) / reps
    t_diff = best_of(lambda: [diff.step(th, g) for _ in range(reps)], repeat) / reps
    small = rng.standard_normal((8, 8, 3, 3) if quick else (16, 16, 3, 3))
    ref = _loop_laplacian(small, axes)
    err = float(np.abs(laplacian(small, axes) - ref).max())
    t_vec = best_of(lambda: laplacian(small, axes), repeat)
    t_loop = best_of(lambda: _loop_laplacian(small, axes), max(1, repeat // 3))
    what = f"tensor {'x'.join(map(str, shape))}, Laplacian on axes {axes} (spatial kernel axes), Neumann"
    return [
        bench_row("diffusion step vs SGD-Nesterov step", "Algorithm 1 (beta > 0)", "SGD-Nesterov (beta = 0)",
                  t_diff, t_plain, f"{what}; overhead factor {t_diff / t_plain:.2f} (counted ~(6+5N)/4 = 4 for N=2)"),
        bench_row("Laplacian (5): vectorized vs loop", "slicing/concat Laplacian", "per-element Python loop",
                  t_vec, t_loop, f"tensor {'x'.join(map(str, small.shape))}, axes {axes}; max abs diff {err:.1e}"),
    ]
