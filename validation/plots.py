"""Figures shared by the validation cases (matplotlib ``Figure`` objects; numbers always in the JSON too).

No function here changes the caller's matplotlib backend, its pyplot state or its
``rcParams``: figures are ``matplotlib.figure.Figure`` objects made without pyplot, and
the report style is applied inside :func:`report_style` (``matplotlib.rc_context``), so a
notebook's inline plots work the same after ``wb.validate()``.

Conventions every case figure follows, so that the report shows it legibly:

* width :data:`WIDTH` inches (7 in at 110 dpi is about 770 px, the width the HTML report
  shows figures at; :func:`workbench.validation.files.save_figure` writes them at 2x and as SVG), so text
  keeps its point size; :func:`figure` makes such a figure with the report style
  (:data:`STYLE`: 9.5 pt text, 8.5 pt legends and ticks);
* one notation: α (weight decay), Δt (time step), η (learning rate), λ (eigenvalue);
* axes labelled with units or "(dimensionless)" quantities named; integer axes
  (iterations, kernel sizes) get integer ticks (:func:`integer_axis`);
* values that cannot be drawn (infinite, NaN, clipped by the axis limits) are marked
  (:func:`mark_nonfinite`, :func:`mark_clipped`), never silently dropped;
* :func:`caption_of` turns a figure's titles into the report caption when a case gives none.

Plotting functions are public and return the ``Figure``; a case saves it with
``ctx.save_figure(fig, name, caption=...)``.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["pyplot", "report_style", "figure", "STYLE", "WIDTH", "caption_of", "integer_axis", "mark_nonfinite",
           "mark_clipped", "interval_plot", "interval_figure"]

WIDTH = 7.0
STYLE = {"font.size": 9.5, "axes.titlesize": 9.5, "axes.labelsize": 9.5, "legend.fontsize": 8.5,
         "xtick.labelsize": 8.5, "ytick.labelsize": 8.5, "figure.titlesize": 10}


def report_style() -> Any:
    """A context in which figures get the report style :data:`STYLE` (``matplotlib.rc_context``);
    the caller's ``rcParams`` are restored on exit."""
    import matplotlib

    return matplotlib.rc_context(STYLE)


class _Figures:
    """The part of the pyplot interface the cases use, on ``Figure`` objects (no pyplot, no backend)."""

    @staticmethod
    def _figure(figsize: Any = None, layout: Any = None, dpi: Any = None) -> Any:
        from matplotlib.figure import Figure

        with report_style():
            return Figure(figsize=figsize, layout=layout, dpi=dpi)

    def figure(self, figsize: Any = None, layout: Any = None, dpi: Any = None) -> Any:
        """A new ``Figure``."""
        return self._figure(figsize, layout, dpi)

    def subplots(self, nrows: int = 1, ncols: int = 1, *, figsize: Any = None, layout: Any = None,
                 dpi: Any = None, **kw: Any) -> tuple[Any, Any]:
        """``(fig, axes)`` as ``pyplot.subplots`` returns them."""
        fig = self._figure(figsize, layout, dpi)
        with report_style():
            return fig, fig.subplots(nrows, ncols, **kw)

    def subplot_mosaic(self, mosaic: Any, *, figsize: Any = None, layout: Any = None, dpi: Any = None,
                       **kw: Any) -> tuple[Any, Any]:
        """``(fig, axes_by_name)`` as ``pyplot.subplot_mosaic`` returns them."""
        fig = self._figure(figsize, layout, dpi)
        with report_style():
            return fig, fig.subplot_mosaic(mosaic, **kw)

    @staticmethod
    def get_cmap(name: str) -> Any:
        """A registered colormap."""
        import matplotlib

        return matplotlib.colormaps[name]

    @staticmethod
    def close(fig: Any = None) -> None:
        """Nothing to release: these figures are not registered with pyplot."""


_FIGURES = _Figures()


def pyplot() -> Any:
    """An object with the pyplot calls the cases use (``subplots``, ``subplot_mosaic``,
    ``figure``, ``get_cmap``, ``close``) that makes ``Figure`` objects in the report style
    without touching pyplot, the backend or the global ``rcParams``."""
    return _FIGURES


def figure(nrows: int = 1, ncols: int = 1, height: float | None = None, **kw: Any) -> tuple[Any, Any]:
    """``plt.subplots`` at the report width :data:`WIDTH` (height ~2.6 in per row by default)."""
    plt = pyplot()
    h = height if height is not None else 0.4 + 2.6 * nrows
    kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(WIDTH, h), **kw)


def caption_of(fig: Any) -> str:
    """A caption from the figure's suptitle and panel titles (``"A: (a) x; (b) y"``)."""
    parts = []
    sup = getattr(fig, "_suptitle", None)
    if sup is not None and sup.get_text().strip():
        parts.append(sup.get_text().strip())
    titles = [ax.get_title().strip() for ax in fig.axes if ax.get_title().strip()]
    if len(titles) == 1 and not parts:
        return titles[0]
    if titles:
        panel = "; ".join(f"({chr(97 + i)}) {t}" for i, t in enumerate(titles))
        parts.append(("panels: " if parts else "") + panel)
    return ". ".join(parts) if parts else ""


def integer_axis(ax: Any, which: str = "x") -> None:
    """Integer tick labels only (iterations, steps, kernel sizes)."""
    from matplotlib.ticker import MaxNLocator

    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(MaxNLocator(integer=True))


def mark_nonfinite(ax: Any, x: Sequence[float], y: Sequence[float], label: str = "not finite",
                   color: str = "black") -> int:
    """Mark points whose y is NaN/±inf with an ``x`` at the top edge of the axes.

    Returns the number of marked points (0 draws nothing and adds no legend entry).
    """
    xs = [xi for xi, yi in zip(x, y) if yi is None or not math.isfinite(float(yi))]
    if xs:
        ax.plot(xs, [1.0] * len(xs), "x", color=color, ms=6, clip_on=False,
                transform=ax.get_xaxis_transform(), label=f"{label} ({len(xs)})")
    return len(xs)


def mark_clipped(ax: Any, x: Sequence[float], y: Sequence[float], label: str = "above the axis",
                 color: str = "black") -> int:
    """After the y limits are set, mark finite points above/below them with ▲/▼ at the edge."""
    lo, hi = ax.get_ylim()
    lo, hi = min(lo, hi), max(lo, hi)
    up = [xi for xi, yi in zip(x, y) if yi is not None and math.isfinite(float(yi)) and yi > hi]
    down = [xi for xi, yi in zip(x, y) if yi is not None and math.isfinite(float(yi)) and yi < lo]
    tr = ax.get_xaxis_transform()
    if up:
        ax.plot(up, [1.0] * len(up), "^", color=color, ms=5, clip_on=False, transform=tr,
                label=f"{label} ({len(up)})")
    if down:
        ax.plot(down, [0.0] * len(down), "v", color=color, ms=5, clip_on=False, transform=tr,
                label=f"below the axis ({len(down)})")
    return len(up) + len(down)


_COLORS = {"theory": "tab:red", "theory_exact": "tab:orange", "exact": "tab:blue", "simulated": "tab:green"}
_NAMES = {"theory": "theory (Fourier, w → ∞)", "theory_exact": "theory, exact region",
          "exact": "exact windowed", "simulated": "simulated (bisection)"}


def interval_plot(rows: Sequence[dict], methods: Sequence[str], title: str) -> Any:
    """Stable α intervals, one band per (kernel, method), log axis; an empty interval is dotted.

    ``rows`` are :func:`workbench.solvers.cnn.bounds.compute_bounds` results (``wb.bounds``), e.g.
    ``interval_plot(wb.bounds("checkerboard:64", [8, 16], 1e-6), ("theory", "exact"), "GD")``.
    Returns the ``Figure``.
    """
    fig, ax = figure(height=1.1 + 0.75 * len(rows))
    k = len(methods)
    for i, r in enumerate(rows):
        for j, m in enumerate(methods):
            lo, hi = r[m]["alpha_lower"], r[m]["alpha_upper"]
            yv = i + (j - (k - 1) / 2) * 0.6 / max(k - 1, 1)
            name_m = _NAMES.get(m, m)
            if lo < hi:
                ax.plot([lo, hi], [yv, yv], color=_COLORS.get(m), lw=5, solid_capstyle="butt",
                        label=name_m if i == 0 else None)
            else:
                ax.plot([hi, lo], [yv, yv], color=_COLORS.get(m), lw=1.2, ls=":",
                        label=f"{name_m}: empty (lower > upper)" if i == 0 else None)
    ax.set_xscale("log")
    ax.set_yticks(range(len(rows)), [f"{r['kernel']}×{r['kernel']}" for r in rows])
    ax.set_ylabel("kernel w×w")
    ax.set_xlabel("weight decay α (stable interval, log scale)")
    ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=2, frameon=False)
    return fig


def interval_figure(ctx: Any, rows: Sequence[dict], methods: Sequence[str], title: str, name: str) -> str:
    """:func:`interval_plot` saved through ``ctx`` (a validation
    :class:`~workbench.validation.registry.Context`) with its caption; returns the file name."""
    return ctx.save_figure(interval_plot(rows, methods, title), name, caption=interval_caption(title))


def interval_caption(title: str) -> str:
    """The caption of an :func:`interval_plot` titled ``title``."""
    return (f"{title}. Each band is the interval of α in which the scheme is stable, per kernel size and "
            "method; a dotted line marks an empty interval (its lower bound above its upper bound).")
