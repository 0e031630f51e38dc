"""``workbench bench``: our paths against what a user would otherwise run, measured fairly.

Every row runs its two sides interleaved (A B A B …, :func:`workbench.benchmarks.timing.interleaved`),
reports min and median of each and the ratio of the minima, and says "within noise"
when the ratio is inside the spread of the repetitions (:data:`workbench.benchmarks.timing.NOISE_FLOOR`
at least). The machine's floor — a float64 GEMM rate and a batched real-FFT rate — is
measured at the start of the same run (:func:`workbench.benchmarks.timing.measure_floor`), and rows
that count their work (flops, FFTs, bytes, member-steps) report the achieved rate
against it. Images are a generic one (seeded noise, or the smooth image) beside the
first paper's checkerboard, whose Gram operator has rank one (Lanczos stops after two
steps there, which flatters every exact-vs-simulated comparison).

Work counted per row (valid mode, H×W image, w×w window, B batch members):
one linearized step costs 4 real FFTs of H×W per member (each ≈ 2.5·HW·log₂(HW) flops,
:func:`workbench.benchmarks.timing.fft_flops`); the dense-matrix step costs 2w⁴ flops per member;
building the dense matrix from image crops costs 2 FFTs per column (w² columns).
The simulated bounds are called only through :func:`workbench.solvers.cnn.bounds.compute_bounds`
(methods ``("exact",)`` vs ``("simulated",)``), so any implementation behind that
signature is what is measured; its member-steps are the result's ``member_steps`` (members ×
steps simulated; long horizons by repeated squaring cost far less than that many steps) and its
work the result's ``work_done`` estimate (``runs × steps`` and the per-step cost where a result
does not report them).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from workbench.benchmarks.timing import Floor, compare, fft_flops, interleaved, measure_floor

__all__ = ["run_bench", "LAST_FLOOR", "LAST_PARTS"]

#: the floor measured by the last :func:`run_bench` call (read by the CLI for its header)
LAST_FLOOR: Floor | None = None
#: seconds each part of the last :func:`run_bench` call took
LAST_PARTS: dict[str, float] = {}


def _images(n: int) -> list[tuple[str, Any]]:
    from workbench.solvers.cnn.images import checkerboard, noise

    return [(f"checkerboard:{n}", checkerboard(n)), (f"noise:{n}", noise(n, 0))]


def _member_steps(res: dict) -> int:
    if "member_steps" in res:
        return int(res["member_steps"])
    return int(res.get("runs", 0)) * int(res.get("steps", 0))


def _bounds_rows(quick: bool, repeat: int, floor: Floor | None = None) -> list[dict]:
    from workbench.solvers.cnn.bounds import compute_bounds

    n, w, dt, steps = (32, 8, 1e-6, 200) if quick else (256, 32, 1e-8, 1000)
    repeat = min(repeat, 2) if quick else repeat
    rows = []
    schemes = [("euler", {})] + ([("nesterov", {"scheme": "nesterov", "momentum": 0.9})])
    for scheme, kw in schemes:
        dt_s = dt if scheme == "euler" else (1e-3 if quick else 1e-4)
        for label, img in _images(n):
            if quick and scheme == "nesterov" and label.startswith("checkerboard"):
                continue  # quick: one Nesterov row
            box: dict = {}

            def exact(img=img, kw=kw, dt_s=dt_s) -> None:
                box["exact"] = compute_bounds(img, w, dt_s, methods=("exact",), **kw)["exact"]

            def simulated(img=img, kw=kw, dt_s=dt_s) -> None:
                box["sim"] = compute_bounds(img, w, dt_s, methods=("simulated",), rtol=1e-3, steps=steps, **kw)[
                    "simulated"]

            exact()  # warm-up of the cheap side only (lambdify, FFT plans); the slow side runs `repeat` times
            times = interleaved(exact, simulated, repeat, warmup=False)
            sim, ex = box["sim"], box["exact"]
            ms = _member_steps(sim)
            per = 2.0 * w ** 4 if sim.get("operator") == "matrix" else fft_flops(n * n, 4)
            done = float(sim.get("work_done", ms * per))
            agree = " ".join(
                f"{k.split('_')[1]} {abs(sim[k] - ex[k]) / abs(ex[k]):.1e}" for k in ("alpha_lower", "alpha_upper")
                if isinstance(sim.get(k), float) and isinstance(ex.get(k), float) and ex[k] and sim[k] == sim[k])
            rows.append(compare(
                f"{scheme} bounds, {label}: exact vs simulated", "exact (Lanczos on G)",
                f"simulated ({sim.get('runs')} runs, horizons {sim.get('steps_run', steps)}, "
                f"{sim.get('path', sim.get('operator', '?'))})", exact, simulated,
                repeat, times=times,
                note=f"w={w}, dt={dt_s:g}, rtol=1e-3; eig steps {ex.get('eig_steps')}; sim vs exact rel diff: {agree}",
                work=({"ffts": 4 * int(ex.get("eig_steps") or 0), "flops": fft_flops(n * n, 4 * int(ex["eig_steps"]))}
                      if ex.get("eig_method") == "lanczos" and ex.get("eig_steps") else None),
                floor=floor, floor_kind="fft",
            ))
            # the simulated side's own rate: member-steps/s against the floor of the operator it uses
            t_sim = min(times[1])
            kind = "gemm" if sim.get("operator") == "matrix" else "fft"
            rows[-1].update(baseline_work={"member_steps": ms, "flops": done},
                            baseline_member_steps_per_s=ms / t_sim, baseline_gflops=done / t_sim / 1e9,
                            baseline_floor_kind=kind,
                            baseline_floor_fraction=done / t_sim / 1e9 / floor.rate(kind) if floor else None)
    # the path compute_bounds takes by default: the exact bounds confirmed by 4 runs, against the full search
    from workbench.solvers.cnn.bounds import edge_gap, exact_bounds
    from workbench.solvers.cnn.simulated import simulated_bounds
    from workbench.solvers.cnn.correlation import CnnOperator
    from workbench.solvers.cnn.images import checkerboard
    from workbench.solvers.stepping.optimizers import resolve_scheme

    import array_api_compat.numpy as npx

    nb, wb_, dtb = (64, 8, 1e-6) if quick else (256, 32, 1e-8)
    op = CnnOperator(npx.asarray(checkerboard(nb)), wb_)
    gd = resolve_scheme("gd", dtb)
    ex = exact_bounds(op, gd)
    guess = {"lower": ex["alpha_lower"], "upper": ex["alpha_upper"]}
    box2: dict = {}

    def seeded() -> None:
        box2["seeded"] = simulated_bounds(op, gd, rtol=1e-3, steps=1000, guess=guess)

    def searched() -> None:
        box2["searched"] = simulated_bounds(op, gd, rtol=1e-3, steps=1000, confirm=False)

    rows.append(compare(
        f"simulated bounds, checkerboard:{nb}: seeded vs search", "seeded by the exact bounds (4 runs)",
        "scan + bisection", seeded, searched, 1 if not quick else 2, warmup=False))
    sd, sr = box2["seeded"], box2["searched"]
    gap_seeded = max(edge_gap(sd, ex, k) for k in ("lower", "upper"))
    gap_search = max(abs(sr[f"alpha_{k}"] - ex[f"alpha_{k}"]) / abs(ex[f"alpha_{k}"]) for k in ("lower", "upper"))
    rows[-1]["note"] = (f"w={wb_}, dt={dtb:g}, rtol=1e-3, 1000 steps; seeded: {sd['runs']} runs (confirmed: "
                        f"{sd['seeded']}, bracket within {gap_seeded:.1e} of exact); search: {sr['runs']} runs in "
                        f"{sr['rounds']} rounds (midpoint within {gap_search:.1e} of exact)")
    return rows


def _batch_rows(quick: bool, repeat: int, floor: Floor | None = None) -> list[dict]:
    from workbench.solvers.core.backend import get_namespace
    from workbench.solvers.cnn.correlation import CnnOperator
    from workbench.solvers.cnn.images import noise
    from workbench.solvers.cnn.schemes import run_cnn as run_linear

    xp = get_namespace("numpy")
    rows = []
    n, w, B, steps = (64, 8, 16, 50) if quick else (256, 32, 32, 40)
    op = CnnOperator(xp.asarray(noise(n)), w)
    alphas = list(np.linspace(1.0, 2.0, B) / 1e-3)
    rows.append(compare(
        "alpha batch vs loop", f"{B} alphas in one FFT batch", "one alpha at a time",
        lambda: run_linear(op, alphas, 1e-3, steps=steps),
        lambda: [run_linear(op, [a], 1e-3, steps=steps) for a in alphas],
        repeat, note=f"noise:{n}, w={w}, {steps} steps, FFT operator, same arithmetic",
        work={"member_steps": B * steps, "ffts": 4 * B * steps, "flops": fft_flops(n * n, 4 * B * steps)},
        floor=floor, floor_kind="fft"))
    return rows


def _fft_rows(quick: bool, repeat: int, floor: Floor | None = None) -> list[dict]:
    import scipy.signal

    from workbench.solvers.core.backend import Fft, get_namespace
    from workbench.solvers.cnn.correlation import CnnOperator, DenseGram
    from workbench.solvers.cnn.images import noise

    xp = get_namespace("numpy")
    n, w, B = (128, 16, 8) if quick else (256, 32, 16)
    img = noise(n, 0)
    k = xp.asarray(np.random.default_rng(0).standard_normal((B, w, w)))
    op_s = CnnOperator(xp.asarray(img), w, fft=Fft(xp, "scipy"))
    op_n = CnnOperator(xp.asarray(img), w, fft=Fft(xp, "numpy"))
    reps = 5
    g_flops = fft_flops(n * n, 4 * B * reps)
    rows = [compare(
        "FFT library", f"scipy.fft (workers={op_s.fft.workers})", "numpy.fft",
        lambda: [op_s.gram(k) for _ in range(reps)], lambda: [op_n.gram(k) for _ in range(reps)], repeat,
        note=f"Gram operator G (4 real FFTs), {B}x{n}x{n}, {reps} applications",
        work={"ffts": 4 * B * reps, "flops": g_flops}, floor=floor, floor_kind="fft")]
    dg = DenseGram(op_s)
    rows.append(compare(
        "Gram apply: dense vs FFT", f"dense {w * w}x{w * w} matrix", "4 FFTs on the image grid",
        lambda: [dg.gram(k) for _ in range(reps)], lambda: [op_s.gram(k) for _ in range(reps)], repeat,
        note=f"{B}x{n}x{n}, {reps} applications (matrix built once)",
        work={"flops": 2.0 * B * reps * w ** 4}, floor=floor, floor_kind="gemm"))

    def fft_columns() -> Any:
        eye = xp.reshape(xp.eye(w * w, dtype=xp.float64), (w * w, w, w))
        return xp.concat([xp.reshape(op_s.gram(eye[i:i + 256]), (-1, w * w)) for i in range(0, w * w, 256)], axis=0)

    built = np.asarray(DenseGram(op_s).matrix)
    ref = np.asarray(fft_columns())
    diff = float(np.max(np.abs(built - 0.5 * (ref + ref.T))) / np.max(np.abs(ref)))
    rows.append(compare(
        "dense Gram build: recursion vs unit kernels", "sliding-window recursion (w columns by FFT, 2 GEMMs)",
        "G on unit kernels, 4 FFTs/column",
        lambda: DenseGram(op_s), fft_columns, max(1, repeat - 1),
        note=f"noise:{n}, w={w} ({w * w} columns); max rel diff {diff:.1e}",
        work={"ffts": 2 * w, "flops": fft_flops(n * n, 2 * w) + 4.0 * w ** 3 * (n - w + 1)}, floor=floor,
        floor_kind="gemm"))
    kr = k[:, ::-1, ::-1]
    ours = np.asarray(op_s.response(k))
    theirs = scipy.signal.fftconvolve(img[None], np.asarray(kr), mode="valid", axes=(1, 2))
    diff = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
    rows.append(compare(
        "correlation: ours vs scipy.signal.fftconvolve", "CnnOperator.response (FFT on the image grid)",
        "scipy.signal.fftconvolve(valid, batched)",
        lambda: op_s.response(k), lambda: scipy.signal.fftconvolve(img[None], kr, mode="valid", axes=(1, 2)), repeat,
        note=f"{B} kernels {w}x{w} on noise:{n}, valid mode; max rel diff {diff:.1e}",
        work={"ffts": B + 1, "flops": fft_flops(n * n, B + 1)}, floor=floor, floor_kind="fft"))
    return rows


def _threads_rows(quick: bool, repeat: int, floor: Floor | None = None) -> list[dict]:
    from workbench.solvers.core import threads

    cores = threads.available_cores()
    if cores < 2:
        return []
    rng = np.random.default_rng(0)
    d = 267
    a = rng.standard_normal((d, d))
    h = a @ a.T

    def one() -> None:
        with threads.limit(1):
            np.linalg.eigh(h)

    def alln() -> None:
        with threads.limit(cores):
            np.linalg.eigh(h)

    return [compare(f"eigh {d}x{d}: 1 BLAS thread vs {cores}", "1 thread (workbench.solvers.core.threads.limit(1))",
                    f"{cores} threads", one, alln, max(repeat, 5),
                    note="the size of a small network's Hessian; under load extra threads oversubscribe",
                    work={"flops": 9.0 * d ** 3}, floor=floor, floor_kind="gemm")]


def _gpu_rows(quick: bool, repeat: int, floor: Floor | None = None) -> list[dict]:
    from workbench.solvers.core.backend import get_namespace, gpu_available
    from workbench.solvers.cnn.correlation import CnnOperator
    from workbench.solvers.cnn.images import noise
    from workbench.solvers.cnn.schemes import run_cnn as run_linear

    if not gpu_available():
        return []
    cp = get_namespace("cupy")
    npx = get_namespace("numpy")
    n, w, B, steps = 256, 32, 64, 100
    alphas = list(np.linspace(1.0, 2.0, B) / 1e-8)
    op_g = CnnOperator(cp.asarray(noise(n)), w)
    op_c = CnnOperator(npx.asarray(noise(n)), w)

    def gpu() -> None:
        run_linear(op_g, alphas, 1e-8, steps=steps)
        cp.cuda.Device().synchronize()

    return [compare("GPU vs CPU: batched stepping", "CuPy", "NumPy + scipy.fft", gpu,
                    lambda: run_linear(op_c, alphas, 1e-8, steps=steps), max(1, repeat - 1),
                    note=f"noise:{n}, w={w}, {B} alphas, {steps} steps (FFT operator)",
                    work={"member_steps": B * steps, "ffts": 4 * B * steps, "flops": fft_flops(n * n, 4 * B * steps),
                          "bytes": 4 * B * steps * 16 * n * (n // 2 + 1) * 2})]


def run_bench(quick: bool = False, repeat: int | None = None) -> list[dict]:
    """Run every benchmark row; ``quick`` uses smaller sizes (well under a minute on 2 cores).

    The machine floor measured first is kept in :data:`LAST_FLOOR` (the CLI prints it).
    """
    import time

    global LAST_FLOOR
    rep = repeat if repeat is not None else (3 if quick else 5)
    t0 = time.perf_counter()
    floor = measure_floor(quick)
    LAST_FLOOR = floor
    LAST_PARTS.clear()
    LAST_PARTS["floor"] = time.perf_counter() - t0
    from workbench.benchmarks.diagnostics import bench_rows as _diagnostics_rows
    from workbench.benchmarks.diffusion import bench_rows as _diffusion_rows
    from workbench.benchmarks.flows import bench_rows as _flows_rows
    from workbench.benchmarks.objectives import bench_rows as _objective_rows
    from workbench.benchmarks.perturbation import bench_rows as _perturbation_rows
    from workbench.benchmarks.sweep import bench_rows as _sweep_rows

    rows: list[dict] = []
    parts = [("bounds", _bounds_rows), ("batch", _batch_rows), ("fft", _fft_rows), ("threads", _threads_rows),
             ("gpu", _gpu_rows), ("objectives", _objective_rows), ("perturbation", _perturbation_rows),
             ("diffusion", _diffusion_rows), ("flows", _flows_rows), ("diagnostics", _diagnostics_rows),
             ("sweep", _sweep_rows)]
    for name, part in parts:
        t0 = time.perf_counter()
        rows.extend(part(quick, rep, floor=floor))
        LAST_PARTS[name] = time.perf_counter() - t0
    return rows
