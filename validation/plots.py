"""Figures shared by the validation cases (matplotlib, Agg backend; numbers always in the JSON too)."""
from __future__ import annotations

from typing import Any, Sequence

__all__ = ["pyplot", "interval_figure"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_COLORS = {"theory": "tab:red", "theory_exact": "tab:orange", "exact": "tab:blue", "simulated": "tab:green"}


def interval_figure(ctx: Any, rows: Sequence[dict], methods: Sequence[str], title: str, name: str) -> str:
    """Stable α intervals, one band per (kernel, method), log axis; an empty interval is dotted.

    ``rows`` are :func:`solvers.bounds.compute_bounds` results; ``ctx`` a validation
    :class:`~validation.registry.Context`. Returns the figure's file name.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.8 * len(rows)))
    k = len(methods)
    for i, r in enumerate(rows):
        for j, m in enumerate(methods):
            lo, hi = r[m]["alpha_lower"], r[m]["alpha_upper"]
            yv = i + (j - (k - 1) / 2) * 0.6 / max(k - 1, 1)
            if lo < hi:
                ax.plot([lo, hi], [yv, yv], color=_COLORS.get(m), lw=5, solid_capstyle="butt",
                        label=m if i == 0 else None)
            else:
                ax.plot([hi, lo], [yv, yv], color=_COLORS.get(m), lw=1, ls=":",
                        label=f"{m} (empty: lower > upper)" if i == 0 else None)
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)), [f"{r['kernel']}×{r['kernel']}" for r in rows])
    ax.set_xlabel("weight decay α (stable interval)")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ctx.save_figure(fig, name)
