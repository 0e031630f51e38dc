"""Timing for ``workbench bench``: interleaved repetitions, noise, work counts, the machine floor.

Every row times two sides, *ours* and a *baseline*, alternately (warm-up A, warm-up B,
then A B A B … ``repeat`` times), so a change of machine load hits both sides alike.
It keeps every time and reports, per side, the minimum and the median; the ratio is
baseline_min / ours_min. The spread of a side is how far its minimum is from being
reproduced: (second smallest − smallest)/smallest. A row is **within noise** only when
both sides' minima are within max(:data:`NOISE_FLOOR`, either side's spread) of each
other, so a loaded machine (medians far above the minima) cannot turn a slowdown into
"within noise". The verdict must also reproduce: with four or more repetitions the
first and second halves of the interleaved run are judged apart, and a row whose halves
disagree (one faster, the other within noise or slower) is reported "unsettled", not
given the better of the two.

Rows say what kind of comparison they are (``kind``):

* ``"speedup"``  — two ways to the same result: "N× faster" / "N× slower";
* ``"overhead"`` — the same work plus a feature (ours) against without it: "+x % overhead";
* ``"factor"``   — a cost in units of the baseline (an HVP in forward passes): "N× the baseline".

``work`` counts what one call of *ours* does (``flops``, ``ffts``, ``bytes``,
``member_steps``); with a measured :class:`Floor` (a GEMM and an FFT rate from the same
run) the row reports the achieved rate and its fraction of the floor.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["NOISE_FLOOR", "Floor", "measure_floor", "interleaved", "compare", "result_text", "format_report",
           "best_of", "fft_flops"]

#: smallest relative difference a ratio must show to be called faster/slower
NOISE_FLOOR = 0.03


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` calls (at least one), in seconds."""
    best = float("inf")
    for _ in range(max(1, int(repeat))):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def fft_flops(n: int, batch: int = 1) -> float:
    """Nominal flops of ``batch`` real 2-D FFTs of n points: 2.5·n·log₂n each (half a complex FFT)."""
    import math

    return 2.5 * n * math.log2(max(n, 2)) * batch


@dataclass(frozen=True)
class Floor:
    """The machine's rates measured at the start of a bench run (GFLOP/s)."""

    gemm_gflops: float
    fft_gflops: float
    gemm_what: str
    fft_what: str

    def rate(self, kind: str) -> float:
        return self.gemm_gflops if kind == "gemm" else self.fft_gflops


def measure_floor(quick: bool = False) -> Floor:
    """GEMM (float64, n×n, 2n³ flops) and real-FFT (batched 2-D rfft2+irfft2) rates, best of a few."""
    import numpy as np
    import scipy.fft

    from workbench.solvers.core.threads import fft_workers

    rng = np.random.default_rng(0)
    n = 384 if quick else 768
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    a @ b
    t = best_of(lambda: a @ b, 3 if quick else 5)
    gemm = 2.0 * n ** 3 / t / 1e9
    B, m = 8, 256
    x = rng.standard_normal((B, m, m))
    w = fft_workers()
    scipy.fft.irfft2(scipy.fft.rfft2(x, workers=w), s=(m, m), workers=w)
    t = best_of(lambda: scipy.fft.irfft2(scipy.fft.rfft2(x, workers=w), s=(m, m), workers=w), 3 if quick else 5)
    fft = fft_flops(m * m, 2 * B) / t / 1e9
    return Floor(gemm, fft, f"GEMM {n}x{n} float64", f"rfft2+irfft2 {B}x{m}x{m} float64, {w} workers")


def interleaved(fa: Callable[[], Any], fb: Callable[[], Any], repeat: int, warmup: bool = True
                ) -> tuple[list[float], list[float]]:
    """Times of ``fa`` and ``fb`` called alternately ``repeat`` times each (after one warm-up each)."""
    if warmup:
        fa()
        fb()
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(max(1, int(repeat))):
        for f, out in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            f()
            out.append(time.perf_counter() - t0)
    return ta, tb


def _noise(ts: list[float]) -> float:
    """Spread of a side's minimum: (second smallest − smallest)/smallest (0 with one time)."""
    s = sorted(ts)
    if len(s) < 2 or s[0] <= 0:
        return 0.0
    return (s[1] - s[0]) / s[0]


def _verdict(ta: list[float], tb: list[float]) -> tuple[float, float, str]:
    """(ratio, noise, "faster" | "slower" | "within") of ours ``ta`` against the baseline ``tb``."""
    a, b = min(ta), min(tb)
    noise = max(_noise(ta), _noise(tb), NOISE_FLOOR)
    ratio = b / a if a > 0 else float("inf")
    if a > 0 and b > 0 and max(a, b) / min(a, b) - 1.0 <= noise:  # symmetric: the slower minimum within noise
        return ratio, noise, "within"
    return ratio, noise, "faster" if ratio > 1 else "slower"


def compare(name: str, ours: str, baseline: str, fa: Callable[[], Any], fb: Callable[[], Any], repeat: int, *,
            kind: str = "speedup", note: str = "", work: dict | None = None, floor: Floor | None = None,
            floor_kind: str | None = None, warmup: bool = True, times: tuple[list[float], list[float]] | None = None,
            ) -> dict:
    """Time ``fa`` (ours) against ``fb`` (baseline) interleaved and return one bench row.

    ``times`` supplies already measured (ours, baseline) times instead of running them.
    """
    ta, tb = times if times is not None else interleaved(fa, fb, repeat, warmup)
    a, b = min(ta), min(tb)
    ratio, noise, verdict = _verdict(ta, tb)
    half = len(ta) // 2
    halves = [_verdict(ta[:half], tb[:half])[2], _verdict(ta[half:], tb[half:])[2]] if half >= 2 else [verdict] * 2
    row: dict[str, Any] = {
        "name": name, "kind": kind, "ours": ours, "baseline": baseline,
        "ours_min_s": a, "ours_median_s": statistics.median(ta), "baseline_min_s": b,
        "baseline_median_s": statistics.median(tb), "ours_times_s": ta, "baseline_times_s": tb,
        "repeat": len(ta), "ratio": ratio, "noise": noise,
        "within_noise": verdict == "within", "halves": halves, "settled": halves[0] == halves[1] == verdict,
        "note": note,
        # kept for readers of the old format
        "ours_s": a, "baseline_s": b,
    }
    if work:
        row["work"] = dict(work)
        if work.get("flops"):
            row["gflops"] = work["flops"] / a / 1e9
            if floor is not None and floor_kind:
                row["floor_kind"] = floor_kind
                row["floor_fraction"] = row["gflops"] / floor.rate(floor_kind)
        if work.get("member_steps"):
            row["member_steps_per_s"] = work["member_steps"] / a
    return row


def result_text(row: dict) -> str:
    """The row's verdict in words: "3.1× faster", "+25 % overhead", "2.4× base" (a cost factor), "within noise"."""
    r, kind = row["ratio"], row.get("kind", "speedup")
    if kind == "factor":
        return f"{1.0 / r:.3g}× base" if r > 0 else "-"
    if row.get("settled") is False:
        return "unsettled (halves: " + " / ".join(row.get("halves", [])) + ")"
    if row.get("within_noise"):
        return "within noise"
    if kind == "overhead":
        return f"{1.0 / r - 1.0:+.0%} overhead".replace("%", " %")
    return f"{r:.3g}× faster" if r >= 1 else f"{1.0 / r:.3g}× slower"


def _ms(x: Any) -> str:
    if not isinstance(x, (int, float)):
        return "-"
    v = 1e3 * float(x)
    return f"{v:.3g}" if v < 1000 else f"{v:,.0f}"


def format_report(rows: list[dict], floor: Floor | None = None, width: int = 100) -> str:
    """The bench table: one kind of number per column, lines ≤ ``width``; details listed below it.

    Columns: row number, name (shortened; the full one is in the list below the table),
    ours min and median (ms), baseline min and median (ms), the result in words
    (:func:`result_text`), the noise of the repetitions (%), and the achieved GFLOP/s of
    ours with its fraction of the machine floor (``gemm`` or ``fft``).
    """
    import textwrap

    out: list[str] = []
    if floor is not None:
        out.extend(textwrap.wrap(f"machine floor (this run): {floor.gemm_gflops:.3g} GFLOP/s {floor.gemm_what}; "
                                 f"{floor.fft_gflops:.3g} GFLOP/s {floor.fft_what}", width))
    out.append("ratio = baseline min / ours min over interleaved repetitions (A B A B ...); 'within noise'")
    out.append(f"when the minima are within max({NOISE_FLOOR:.0%}, (2nd smallest - min)/min of either side);"
               .replace("%", " %"))
    out.append("'unsettled': the two halves of the run disagree; 'N× base': ours costs N baselines")
    head = ["#", "row", "ours ms", "med", "base ms", "med", "result", "noise", "GFLOP/s", "floor"]
    cells = []
    for i, r in enumerate(rows, 1):
        name = str(r.get("name", ""))
        name = name if len(name) <= 27 else name[:26] + "…"
        ours = r.get("ours_min_s", r.get("ours_s"))
        base = r.get("baseline_min_s", r.get("baseline_s"))
        res = result_text(r) if "ratio" in r and ("noise" in r or r.get("kind")) else (
            f"{r['ratio']:.3g}× faster" if isinstance(r.get("ratio"), (int, float)) and r["ratio"] >= 1 else
            (f"{1 / r['ratio']:.3g}× slower" if isinstance(r.get("ratio"), (int, float)) and r["ratio"] > 0 else "-"))
        noise = f"{100 * r['noise']:.0f}%" if isinstance(r.get("noise"), float) else "-"
        gf = f"{r['gflops']:.3g}" if isinstance(r.get("gflops"), float) else "-"
        fl = f"{100 * r['floor_fraction']:.0f}% {r.get('floor_kind', '')}" if isinstance(
            r.get("floor_fraction"), float) else "-"
        cells.append([str(i), name, _ms(ours), _ms(r.get("ours_median_s")), _ms(base), _ms(r.get("baseline_median_s")),
                      res, noise, gf, fl])
    widths = [max(len(h), *(len(c[j]) for c in cells)) if cells else len(h) for j, h in enumerate(head)]
    right = {0, 2, 3, 4, 5, 7, 8}

    def line(vals: list[str]) -> str:
        return " ".join(v.rjust(w) if j in right else v.ljust(w) for j, (v, w) in enumerate(zip(vals, widths))).rstrip()

    out.append(line(head))
    out.append(" ".join("-" * w for w in widths))
    out.extend(line(c) for c in cells)
    out.append("")
    for i, r in enumerate(rows, 1):
        text = f"[{i}] {r.get('name', '')}: ours = {r.get('ours', '')}; baseline = {r.get('baseline', '')}"
        if r.get("repeat"):
            text += f"; {r['repeat']} interleaved repetitions"
        if r.get("member_steps_per_s"):
            text += f"; {r['member_steps_per_s']:.3g} member-steps/s"
        if r.get("baseline_member_steps_per_s"):
            text += (f"; baseline {r['baseline_member_steps_per_s']:.3g} member-steps/s = "
                     f"{r.get('baseline_gflops', 0):.3g} GFLOP/s = {100 * r.get('baseline_floor_fraction', 0):.0f} % "
                     f"of the {r.get('baseline_floor_kind', '')} floor")
        if r.get("note"):
            text += f"; {r['note']}"
        out.extend(textwrap.wrap(text, width, subsequent_indent="    "))
    return "\n".join(out)
