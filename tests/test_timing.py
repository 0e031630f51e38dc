"""workbench.benchmarks.timing: interleaving, the noise rule, the result words and the table width (no timed assertions)."""
from __future__ import annotations

from workbench.benchmarks.timing import NOISE_FLOOR, Floor, compare, format_report, interleaved, result_text


def test_interleaved_alternates_after_warmup():
    calls: list[str] = []
    ta, tb = interleaved(lambda: calls.append("a"), lambda: calls.append("b"), 3)
    assert calls == ["a", "b"] * 4 and len(ta) == len(tb) == 3


def _row(ta: list[float], tb: list[float], kind: str = "speedup") -> dict:
    return compare("r", "ours", "base", lambda: None, lambda: None, len(ta), kind=kind, times=(ta, tb))


def test_ratio_of_minima_and_noise():
    r = _row([1.0, 1.2, 3.0], [2.0, 2.1, 2.2])
    assert r["ratio"] == 2.0 and r["ours_median_s"] == 1.2
    assert abs(r["noise"] - 0.2) < 1e-12                      # ours: (1.2 - 1.0)/1.0
    assert result_text(r) == "2× faster" and not r["within_noise"]


def test_within_noise_and_floor():
    assert result_text(_row([1.0, 1.3], [1.1, 1.1])) == "within noise"     # 10 % < 15 % spread
    r = _row([1.0, 1.0], [1.0 + NOISE_FLOOR / 2, 1.0 + NOISE_FLOOR / 2])    # no spread: the 3 % floor
    assert r["within_noise"] and result_text(r) == "within noise"


def test_overhead_and_factor_words():
    assert result_text(_row([1.25, 1.25], [1.0, 1.0], "overhead")) == "+25 % overhead"
    assert result_text(_row([3.0, 3.0], [1.0, 1.0], "factor")) == "3× base"
    assert result_text(_row([2.0, 2.0], [1.0, 1.0])) == "2× slower"


def test_rate_against_floor_and_line_width():
    floor = Floor(10.0, 2.0, "GEMM", "FFT")
    r = compare("a very long benchmark row name that will not fit in the table column", "x" * 60, "y" * 60,
                lambda: None, lambda: None, 2, work={"flops": 4e9}, floor=floor, floor_kind="fft",
                note="z " * 80, times=([1.0, 1.0], [2.0, 2.0]))
    assert r["gflops"] == 4.0 and r["floor_fraction"] == 2.0
    text = format_report([r, r], floor)
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "200% fft" in text and "2× faster" in text


def test_loaded_medians_cannot_hide_a_slowdown():
    """Medians far above the minima (a loaded machine) do not widen the noise: 7.4x slower stays slower."""
    ours = [93.5, 300.0, 310.0, 320.0]
    base = [12.6, 12.7, 80.0, 90.0]
    r = _row(ours, base)
    assert not r["within_noise"] and result_text(r).endswith("slower")


def test_halves_that_disagree_are_unsettled():
    ours = [1.0, 1.0, 2.0, 2.0]          # first half twice as fast as the baseline, second half equal
    base = [2.0, 2.0, 2.0, 2.0]
    r = _row(ours, base)
    assert r["halves"] == ["faster", "within"] and r["settled"] is False
    assert result_text(r).startswith("unsettled")
    assert _row([1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0])["settled"] is True
