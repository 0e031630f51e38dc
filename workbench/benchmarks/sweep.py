"""Benchmark rows for sweeps: the same grid on one process, a local pool and a Dask LocalCluster.

Work: ``points`` evaluations of the ``spin`` target (``work`` normalised products with a
64×64 matrix each, small enough that BLAS stays on one thread), identical for every
executor; results are checked equal. On 2 cores the ideal speed-up is 2× minus the
start-up of the pool or cluster, which the timing includes (it is part of what a user
waits for). Each parallel executor is timed interleaved with the one-process run.
"""
from __future__ import annotations

import tempfile

from workbench.benchmarks.timing import Floor, compare

__all__ = ["bench_rows"]


def bench_rows(quick: bool, repeat: int, floor: Floor | None = None) -> list[dict]:
    from workbench.jobs.sweep import run_sweep

    points, work = (4, 20000) if quick else (8, 300000)
    grid = {"x": [str(i) for i in range(points)], "work": [str(work)]}

    results: dict[str, list] = {}

    def run(executor: str) -> None:
        with tempfile.TemporaryDirectory() as d:       # a fresh folder: nothing is skipped
            res = run_sweep("spin", grid, d, executor=executor, workers=2, progress=False)
        results[executor] = [r["result"] for r in res.records]

    reps = 1 if quick else max(1, min(repeat, 3))   # quick: a smoke test of the executors, one repetition
    note = f"{points} spin points x {work} products, start-up included"
    rows = [compare("sweep: process pool (2) vs one process", "processes, 2 workers", "local",
                    lambda: run("processes"), lambda: run("local"), reps, warmup=False, note=note)]
    if results["processes"] != results["local"]:  # pragma: no cover - would be a bug
        raise RuntimeError("sweep bench: the process pool gave different results")
    try:
        import distributed  # noqa: F401
    except ImportError:
        return rows
    rows.append(compare("sweep: Dask LocalCluster (2) vs one process", "dask, 2 workers", "local",
                        lambda: run("dask"), lambda: run("local"), reps, warmup=False, note=note))
    if results["dask"] != results["local"]:  # pragma: no cover
        raise RuntimeError("sweep bench: Dask gave different results")
    return rows
