"""Benchmark rows for sweeps: the same grid on one process, a local pool and a Dask LocalCluster.

Work: ``points`` evaluations of the ``spin`` target (``work`` normalised products with a
64×64 matrix each, small enough that BLAS stays on one thread), identical for every
executor; results are checked equal. On 2 cores the ideal speed-up is 2× minus the
start-up of the pool or cluster, which the timing includes (it is part of what a user
waits for).
"""
from __future__ import annotations

import tempfile

from .timing import best_of as _best, bench_row as _row

__all__ = ["bench_rows"]


def bench_rows(quick: bool, repeat: int) -> list[dict]:
    from .sweep import run_sweep

    points, work = (4, 20000) if quick else (8, 300000)
    grid = {"x": [str(i) for i in range(points)], "work": [str(work)]}

    def timed(executor: str) -> tuple[float, list]:
        box: dict = {}

        def go() -> None:
            with tempfile.TemporaryDirectory() as d:       # a fresh folder: nothing is skipped
                box["res"] = run_sweep("spin", grid, d, executor=executor, workers=2, progress=False)

        t = _best(go, repeat)
        return t, [r["result"] for r in box["res"].records]

    t_local, ref = timed("local")
    rows = []
    t_proc, res = timed("processes")
    if res != ref:  # pragma: no cover - would be a bug
        raise RuntimeError("sweep bench: the process pool gave different results")
    note = f"{points} spin points x {work} products, start-up included"
    rows.append(_row("sweep: process pool (2) vs one process", "processes, 2 workers", "local", t_proc, t_local, note))
    try:
        import distributed  # noqa: F401
    except ImportError:
        return rows
    t_dask, res = timed("dask")
    if res != ref:  # pragma: no cover
        raise RuntimeError("sweep bench: Dask gave different results")
    rows.append(_row("sweep: Dask LocalCluster (2) vs one process", "dask, 2 workers", "local", t_dask, t_local, note))
    return rows
