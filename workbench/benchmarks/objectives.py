"""Benchmark rows for objectives, networks and Hessian spectra (``workbench bench``).

Rows are :func:`workbench.benchmarks.timing.compare` rows (both sides interleaved ``repeat`` times,
min and median, ratio = baseline min / ours min, "within noise" judged from the spread).

Work counted (MLP d-h-h-c on N samples, tanh, cross-entropy), in matrix products of
the size of the forward pass's three: a forward pass is 3; backprop adds a weight
gradient per layer and an input adjoint per layer but the first (5), so a gradient is
≈ 8/3 = 2.7 forward passes. The R-operator HVP runs the forward (3), the R-forward
(x·vWᵀ per layer plus R{x}·Wᵀ past the first: 5), the backward adjoints only (2) and
the R-backward (R{dW}: 5, R{dx}: 4): 19 products ≈ 6.3 forward passes ≈ 2.4 gradients.
Elementwise work (tanh, softmax) and Python overhead come on top. The cost-factor rows
put the gradient or the HVP as "ours" and one forward pass as the baseline (``kind =
"factor"``: the table prints the cost in forward passes). Flops of a forward pass:
2N·Σ(in·out) over the Dense layers.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from workbench.benchmarks.timing import Floor, compare

__all__ = ["bench_rows"]


def _problem(xp: Any, sizes: tuple[int, ...], n: int, seed: int = 0) -> Any:
    from workbench.solvers.nets.networks import NetworkObjective, mlp

    rng = np.random.default_rng(seed)
    X = xp.asarray(rng.standard_normal((n, sizes[0])))
    Y = xp.asarray(np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)])
    return NetworkObjective(mlp(sizes, "tanh"), X, Y, "ce", alpha=1e-3)


def _forward_flops(sizes: tuple[int, ...], n: int) -> float:
    return 2.0 * n * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def _cost_rows(quick: bool, repeat: int, floor: Floor | None) -> list[dict]:
    from workbench.solvers.core.backend import get_namespace

    xp = get_namespace("numpy")
    sizes, n = ((32, 64, 64, 10), 128) if quick else ((100, 256, 256, 10), 512)
    obj = _problem(xp, sizes, n)
    th = obj.initial(0)
    v = xp.asarray(np.random.default_rng(1).standard_normal(obj.size))
    reps = 3 if quick else 20
    h_ex, h_fd = obj.hvp(th, v), obj.hvp_fd(th, v)
    err = float(xp.linalg.vector_norm(h_ex - h_fd) / xp.linalg.vector_norm(h_ex))
    what = f"MLP {'-'.join(map(str, sizes))} tanh, CE, N={n}, {obj.size} parameters"
    f1 = _forward_flops(sizes, n)

    def fwd() -> None:
        for _ in range(reps):
            obj.value(th)

    def grad() -> None:
        for _ in range(reps):
            obj.gradient(th)

    def hvp() -> None:
        for _ in range(reps):
            obj.hvp(th, v)

    def hvp_fd() -> None:
        for _ in range(reps):
            obj.hvp_fd(th, v)

    return [
        compare("gradient cost vs one forward pass", "backprop gradient", "forward pass (loss value)", grad, fwd,
                repeat, kind="factor", note=f"{what}; {reps} calls per timing; counted ~8/3 forward passes",
                work={"flops": reps * 3.0 * f1}, floor=floor, floor_kind="gemm"),
        compare("HVP cost vs one forward pass", "exact HVP (R-operator)", "forward pass (loss value)", hvp, fwd,
                repeat, kind="factor", note=f"{what}; counted ~6.3 forward passes",
                work={"flops": reps * 19.0 / 3.0 * f1}, floor=floor, floor_kind="gemm"),
        compare("HVP: exact vs finite difference", "R-operator", "central difference of 2 gradients", hvp, hvp_fd,
                repeat, note=f"{what}; relative difference {err:.1e} (FD step eps^(1/3)*max(1,rms theta)/rms v)"),
    ]


def _sharpness_rows(quick: bool, repeat: int, floor: Floor | None) -> list[dict]:
    from workbench.solvers.core.backend import get_namespace
    from workbench.solvers.linalg.hessian import top_eigenpairs

    xp = get_namespace("numpy")
    rows = []
    # ~1e5 parameters: our array-API Lanczos vs scipy's ARPACK, both on exact HVPs
    sizes, n = ((16, 32, 32, 10), 64) if quick else ((100, 256, 256, 10), 512)
    obj = _problem(xp, sizes, n)
    th = obj.initial(0)
    lz = top_eigenpairs(obj, th, 1, method="lanczos", tol=1e-8)
    es = top_eigenpairs(obj, th, 1, method="eigsh", tol=1e-8)
    rows.append(compare("sharpness: Lanczos vs scipy eigsh", "array-API Lanczos on HVPs",
                        "scipy eigsh (ARPACK) on HVPs",
                        lambda: top_eigenpairs(obj, th, 1, method="lanczos", tol=1e-8),
                        lambda: top_eigenpairs(obj, th, 1, method="eigsh", tol=1e-8), repeat, warmup=False,
                        note=f"MLP {'-'.join(map(str, sizes))}, {obj.size} parameters; lambda_max {lz.value:.6g} "
                     f"(|diff| {abs(lz.value - es.value):.1e}, residual {lz.error:.1e}); {lz.matvecs} vs "
                     f"{es.matvecs} HVPs"))
    # small enough for a dense Hessian: Lanczos vs dense eigh
    sizes, n = ((6, 12, 12, 3), 48) if quick else ((16, 32, 32, 4), 128)
    obj = _problem(xp, sizes, n)
    th = obj.initial(0)
    lz = top_eigenpairs(obj, th, 1, method="lanczos", tol=1e-10)
    de = top_eigenpairs(obj, th, 1, method="dense")
    rows.append(compare("sharpness: Lanczos vs dense", "Lanczos on HVPs", f"dense Hessian ({obj.size} HVPs) + eigh",
                        lambda: top_eigenpairs(obj, th, 1, method="lanczos", tol=1e-10),
                        lambda: top_eigenpairs(obj, th, 1, method="dense"), repeat, warmup=False,
                        note=f"MLP {'-'.join(map(str, sizes))}, {obj.size} parameters; relative error "
                     f"{abs(lz.value - de.value) / abs(de.value):.1e}"))
    return rows


def _gpu_rows(quick: bool, repeat: int, floor: Floor | None) -> list[dict]:
    from workbench.solvers.core.backend import get_namespace, gpu_available
    from workbench.solvers.linalg.hessian import top_eigenpairs

    if not gpu_available():
        return []
    cp, npx = get_namespace("cupy"), get_namespace("numpy")
    sizes, n = (100, 256, 256, 10), 512
    og, oc = _problem(cp, sizes, n), _problem(npx, sizes, n)
    tg, tc = og.initial(0), oc.initial(0)
    return [compare("sharpness on GPU vs CPU", "Lanczos, CuPy", "Lanczos, NumPy",
                    lambda: top_eigenpairs(og, tg, 1, method="lanczos"),
                    lambda: top_eigenpairs(oc, tc, 1, method="lanczos"),
                    repeat, note=f"MLP {'-'.join(map(str, sizes))}, {oc.size} parameters")]


def bench_rows(quick: bool = False, repeat: int = 3, floor: Floor | None = None) -> list[dict]:
    """Benchmark rows of this module (cost factors, HVP, sharpness); ``quick`` shrinks sizes."""
    rows: list[dict] = []
    for part in (_cost_rows, _sharpness_rows, _gpu_rows):
        rows.extend(part(quick, repeat, floor))
    return rows
