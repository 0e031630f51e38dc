"""Timing helpers shared by the ``workbench bench`` rows (one row format everywhere)."""
from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ["best_of", "bench_row"]


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` calls (at least one), in seconds."""
    best = float("inf")
    for _ in range(max(1, int(repeat))):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_row(name: str, ours: str, baseline: str, t_ours: float, t_base: float, note: str) -> dict:
    """One benchmark row: ratio = baseline_s / ours_s (> 1 means ours is faster)."""
    return {"name": name, "ours": ours, "baseline": baseline, "ours_s": t_ours, "baseline_s": t_base,
            "ratio": t_base / t_ours if t_ours > 0 else float("inf"), "note": note}
