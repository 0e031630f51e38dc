"""``workbench bench``: performance as ratios against the obvious alternative, in one run.

Each row times our path and a baseline on the same machine in the same process and
reports baseline_s / ours_s (best of ``repeat``). Absolute seconds are printed for
context only; they depend on the machine. GPU rows appear only when CuPy and a
device are present.

Work counted per row (valid mode, H×W image, w×w window, B batch members):
one linearized step costs 4 real FFTs of H×W per member (≈ 4 · 2.5·HW·log₂(HW) flops);
the dense-matrix step costs w⁴ multiply-adds per member after a one-off w² FFT columns.
"""
from __future__ import annotations

import numpy as np

from .timing import best_of as _best, bench_row as _row

__all__ = ["run_bench"]


def _bounds_rows(quick: bool, repeat: int) -> list[dict]:
    from solvers.backend import get_namespace
    from solvers.bounds import exact_bounds, resolve_scheme, simulated_bounds
    from solvers.correlation import CnnOperator
    from solvers.images import checkerboard

    xp = get_namespace("numpy")
    n, kernels, dt = (64, (8, 16), 1e-6) if quick else (256, (16, 32, 64), 1e-8)
    ops = [CnnOperator(xp.asarray(checkerboard(n)), w) for w in kernels]
    gd = resolve_scheme("gd", dt)
    exact_bounds(ops[0], gd)  # warm-up: the one-off SymPy lambdify compile is not part of either path
    t_ex = _best(lambda: [exact_bounds(op, gd) for op in ops], repeat)
    t_sim = _best(lambda: [simulated_bounds(op, gd, rtol=1e-3, steps=1000) for op in ops], 1)
    rows = [_row("bounds: exact vs simulated", "Lanczos on G", "time stepping + bisection", t_ex, t_sim,
                 f"checkerboard:{n}, kernels {','.join(map(str, kernels))}, dt={dt:g}, rtol=1e-3, 1000 steps")]
    # Nesterov (37)-(38): the same eigen-analysis through the analyzer's exact region vs its own simulation
    dt_m = 1e-3 if quick else 1e-4
    nes = resolve_scheme("nesterov", dt_m, momentum=0.9)
    exact_bounds(ops[0], nes)
    t_ex = _best(lambda: [exact_bounds(op, nes) for op in ops], repeat)
    t_sim = _best(lambda: [simulated_bounds(op, nes, rtol=1e-3, steps=1000) for op in ops], 1)
    rows.append(_row("nesterov bounds: exact vs simulated", "Lanczos on G + exact region",
                     "semi-implicit stepping + bisection", t_ex, t_sim,
                     f"checkerboard:{n}, kernels {','.join(map(str, kernels))}, dt={dt_m:g}, momentum 0.9, "
                     "rtol=1e-3, 1000 steps"))
    return rows


def _batch_rows(quick: bool, repeat: int) -> list[dict]:
    from solvers.backend import get_namespace
    from solvers.correlation import CnnOperator
    from solvers.images import checkerboard
    from solvers.schemes import run_cnn as run_linear

    xp = get_namespace("numpy")
    rows = []
    sizes = [(32, 8)] if quick else [(32, 8), (256, 32)]
    for n, w in sizes:
        op = CnnOperator(xp.asarray(checkerboard(n)), w)
        B, steps = 32, 40 if n > 64 else 200
        alphas = list(np.linspace(1.0, 2.0, B) / 1e-3)
        t_b = _best(lambda: run_linear(op, alphas, 1e-3, steps=steps), repeat)
        t_l = _best(lambda: [run_linear(op, [a], 1e-3, steps=steps) for a in alphas], repeat)
        rows.append(_row("alpha batch vs loop", f"{B} alphas in one FFT batch", "one alpha at a time", t_b, t_l,
                         f"checkerboard:{n}, w={w}, {steps} steps, same total work"))
    return rows


def _fft_rows(quick: bool, repeat: int) -> list[dict]:
    from solvers.backend import Fft, get_namespace
    from solvers.correlation import CnnOperator
    from solvers.images import checkerboard

    xp = get_namespace("numpy")
    n, w, B = (128, 16, 8) if quick else (256, 32, 16)
    k = xp.asarray(np.random.default_rng(0).standard_normal((B, w, w)))
    op_s = CnnOperator(xp.asarray(checkerboard(n)), w, fft=Fft(xp, "scipy"))
    op_n = CnnOperator(xp.asarray(checkerboard(n)), w, fft=Fft(xp, "numpy"))
    reps = 5
    t_s = _best(lambda: [op_s.gram(k) for _ in range(reps)], repeat)
    t_n = _best(lambda: [op_n.gram(k) for _ in range(reps)], repeat)
    rows = [_row("FFT library", f"scipy.fft (workers={op_s.fft.workers})", "numpy.fft", t_s, t_n,
                 f"Gram operator, {B}x{n}x{n}, {reps} applications")]
    from solvers.correlation import DenseGram

    dg = DenseGram(op_s)
    t_d = _best(lambda: [dg.gram(k) for _ in range(reps)], repeat)
    rows.append(_row("Gram apply: dense vs FFT", f"dense {w * w}x{w * w} matrix", "4 FFTs on the image grid", t_d, t_s,
                     f"{B}x{n}x{n}, {reps} applications (matrix built once)"))
    from solvers.correlation import correlate_direct

    img = xp.asarray(checkerboard(n))
    t_c = _best(lambda: op_s.response(k), repeat)
    t_dir = _best(lambda: correlate_direct(k, img, "valid"), 1)
    rows.append(_row("correlation: FFT vs direct sum", "FFT", "direct sum over w^2 offsets", t_c, t_dir,
                     f"{B}x{n}x{n}, w={w}"))
    return rows


def _gpu_rows(quick: bool, repeat: int) -> list[dict]:
    from solvers.backend import get_namespace, gpu_available
    from solvers.correlation import CnnOperator
    from solvers.images import checkerboard
    from solvers.schemes import run_cnn as run_linear

    if not gpu_available():
        return []
    cp = get_namespace("cupy")
    npx = get_namespace("numpy")
    n, w, B, steps = 256, 32, 64, 100
    alphas = list(np.linspace(1.0, 2.0, B) / 1e-8)
    op_g = CnnOperator(cp.asarray(checkerboard(n)), w)
    op_c = CnnOperator(npx.asarray(checkerboard(n)), w)
    run_linear(op_g, alphas, 1e-8, steps=5)  # warm-up: cuFFT plans
    t_g = _best(lambda: run_linear(op_g, alphas, 1e-8, steps=steps), repeat)
    t_c = _best(lambda: run_linear(op_c, alphas, 1e-8, steps=steps), 1)
    return [_row("GPU vs CPU: batched stepping", "CuPy", "NumPy + scipy.fft", t_g, t_c,
                 f"checkerboard:{n}, w={w}, {B} alphas, {steps} steps")]


def run_bench(quick: bool = False, repeat: int | None = None) -> list[dict]:
    """Run every benchmark row; ``quick`` uses smaller sizes (seconds, for smoke tests)."""
    rep = repeat if repeat is not None else (1 if quick else 3)
    rows: list[dict] = []
    from .bench_objectives import bench_rows as _objective_rows
    from .bench_perturbation import bench_rows as _perturbation_rows
    from .bench_diagnostics import bench_rows as _diagnostics_rows
    from .bench_diffusion import bench_rows as _diffusion_rows
    from .bench_flows import bench_rows as _flows_rows
    from .bench_sweep import bench_rows as _sweep_rows

    parts = (_bounds_rows, _batch_rows, _fft_rows, _gpu_rows, _objective_rows, _perturbation_rows, _diffusion_rows,
             _flows_rows, _diagnostics_rows, _sweep_rows)
    for part in parts:
        rows.extend(part(quick, rep))
    return rows
