"""Benchmark rows for objectives, networks and Hessian spectra (``workbench bench``).

Rows use the dict format of :func:`workbench.benchmarks._row` (name, ours, baseline,
ours_s, baseline_s, ratio = baseline_s/ours_s, note). Best of ``repeat``.

Work counted (MLP d-h-h-c on N samples, tanh, cross-entropy), in matrix products of
the size of the forward pass's three: a forward pass is 3; backprop adds a weight
gradient per layer and an input adjoint per layer but the first (5), so a gradient is
≈ 8/3 = 2.7 forward passes. The R-operator HVP runs the forward (3), the R-forward
(x·vWᵀ per layer plus R{x}·Wᵀ past the first: 5), the backward adjoints only (2) and
the R-backward (R{dW}: 5, R{dx}: 4): 19 products ≈ 6.3 forward passes ≈ 2.4 gradients.
Elementwise work (tanh, softmax) and Python overhead come on top. The cost-factor rows
put the gradient or the HVP as "ours" and one forward pass as the baseline, so their
``ratio`` is the inverse of the cost factor, which the note states.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .timing import best_of as _best, bench_row as _row

__all__ = ["bench_rows"]


def _problem(xp: Any, sizes: tuple[int, ...], n: int, seed: int = 0) -> Any:
    from solvers.networks import NetworkObjective, mlp

    rng = np.random.default_rng(seed)
    X = xp.asarray(rng.standard_normal((n, sizes[0])))
    Y = xp.asarray(np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)])
    return NetworkObjective(mlp(sizes, "tanh"), X, Y, "ce", alpha=1e-3)


def _cost_rows(quick: bool, repeat: int) -> list[dict]:
    from solvers.backend import get_namespace

    xp = get_namespace("numpy")
    sizes, n = ((32, 64, 64, 10), 128) if quick else ((100, 256, 256, 10), 512)
    obj = _problem(xp, sizes, n)
    th = obj.initial(0)
    v = xp.asarray(np.random.default_rng(1).standard_normal(obj.size))
    reps = 5 if quick else 20
    t_f = _best(lambda: [obj.value(th) for _ in range(reps)], repeat) / reps
    t_g = _best(lambda: [obj.gradient(th) for _ in range(reps)], repeat) / reps
    t_h = _best(lambda: [obj.hvp(th, v) for _ in range(reps)], repeat) / reps
    t_fd = _best(lambda: [obj.hvp_fd(th, v) for _ in range(reps)], repeat) / reps
    h_ex, h_fd = obj.hvp(th, v), obj.hvp_fd(th, v)
    err = float(xp.linalg.vector_norm(h_ex - h_fd) / xp.linalg.vector_norm(h_ex))
    what = f"MLP {'-'.join(map(str, sizes))} tanh, CE, N={n}, {obj.size} parameters"
    return [
        _row("gradient cost vs one forward pass", "backprop gradient", "forward pass (loss value)", t_g, t_f,
             f"{what}; gradient = {t_g / t_f:.2f} forward passes"),
        _row("HVP cost vs one forward pass", "exact HVP (R-operator)", "forward pass (loss value)", t_h, t_f,
             f"{what}; HVP = {t_h / t_f:.2f} forward passes = {t_h / t_g:.2f} gradients"),
        _row("HVP: exact vs finite difference", "R-operator", "central difference of 2 gradients", t_h, t_fd,
             f"{what}; relative difference {err:.1e} (FD step eps^(1/3)*max(1,rms theta)/rms v)"),
    ]


def _sharpness_rows(quick: bool, repeat: int) -> list[dict]:
    from solvers.backend import get_namespace
    from solvers.hessian import top_eigenpairs

    xp = get_namespace("numpy")
    rows = []
    # ~1e5 parameters: our array-API Lanczos vs scipy's ARPACK, both on exact HVPs
    sizes, n = ((32, 64, 64, 10), 128) if quick else ((100, 256, 256, 10), 512)
    obj = _problem(xp, sizes, n)
    th = obj.initial(0)
    lz = top_eigenpairs(obj, th, 1, method="lanczos", tol=1e-8)
    es = top_eigenpairs(obj, th, 1, method="eigsh", tol=1e-8)
    t_l = _best(lambda: top_eigenpairs(obj, th, 1, method="lanczos", tol=1e-8), repeat)
    t_e = _best(lambda: top_eigenpairs(obj, th, 1, method="eigsh", tol=1e-8), repeat)
    rows.append(_row("sharpness: Lanczos vs scipy eigsh", "array-API Lanczos on HVPs", "scipy eigsh (ARPACK) on HVPs",
                     t_l, t_e,
                     f"MLP {'-'.join(map(str, sizes))}, {obj.size} parameters; lambda_max {lz.value:.6g} "
                     f"(|diff| {abs(lz.value - es.value):.1e}, residual {lz.error:.1e}); {lz.matvecs} vs "
                     f"{es.matvecs} HVPs"))
    # small enough for a dense Hessian: Lanczos vs dense eigh
    sizes, n = ((8, 16, 16, 3), 64) if quick else ((16, 32, 32, 4), 128)
    obj = _problem(xp, sizes, n)
    th = obj.initial(0)
    lz = top_eigenpairs(obj, th, 1, method="lanczos", tol=1e-10)
    de = top_eigenpairs(obj, th, 1, method="dense")
    t_l = _best(lambda: top_eigenpairs(obj, th, 1, method="lanczos", tol=1e-10), repeat)
    t_d = _best(lambda: top_eigenpairs(obj, th, 1, method="dense"), 1)
    rows.append(_row("sharpness: Lanczos vs dense", "Lanczos on HVPs", f"dense Hessian ({obj.size} HVPs) + eigh",
                     t_l, t_d,
                     f"MLP {'-'.join(map(str, sizes))}, {obj.size} parameters; relative error "
                     f"{abs(lz.value - de.value) / abs(de.value):.1e}"))
    return rows


def _gpu_rows(quick: bool, repeat: int) -> list[dict]:
    from solvers.backend import get_namespace, gpu_available
    from solvers.hessian import top_eigenpairs

    if not gpu_available():
        return []
    cp, npx = get_namespace("cupy"), get_namespace("numpy")
    sizes, n = (100, 256, 256, 10), 512
    og, oc = _problem(cp, sizes, n), _problem(npx, sizes, n)
    tg, tc = og.initial(0), oc.initial(0)
    top_eigenpairs(og, tg, 1, method="lanczos")  # warm-up (kernels, cuBLAS handles)
    t_g = _best(lambda: top_eigenpairs(og, tg, 1, method="lanczos"), repeat)
    t_c = _best(lambda: top_eigenpairs(oc, tc, 1, method="lanczos"), 1)
    return [_row("sharpness on GPU vs CPU", "Lanczos, CuPy", "Lanczos, NumPy", t_g, t_c,
                 f"MLP {'-'.join(map(str, sizes))}, {oc.size} parameters")]


def bench_rows(quick: bool = False, repeat: int = 3) -> list[dict]:
    """Benchmark rows of this module (cost factors, HVP, sharpness); ``quick`` shrinks sizes."""
    rows: list[dict] = []
    for part in (_cost_rows, _sharpness_rows, _gpu_rows):
        rows.extend(part(quick, repeat))
    return rows
