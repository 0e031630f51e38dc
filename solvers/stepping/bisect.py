"""One batched scan-and-bisect for every "largest stable …" search.

A search looks for the edges of the stable set along one parameter p (a weight
decay α, a learning rate, a diffusion coefficient, a time step): ``classify(ps)``
runs one batch, one member per value, and returns True where the run is stable.
The stable set is assumed to be an interval ``[lower, upper]`` (a threshold search
asks for the upper edge only).

* **Seeded** (``guess``): a predicted edge g (e.g. the exact windowed bound) is
  confirmed in one batch by g moved inward and outward by ``rtol/2`` relative; if
  both sides classify as predicted, the edge lies in that bracket of relative width
  ``rtol``.  An edge whose check disagrees falls back to the search below, and the
  result says so.
* **Search**: ``scan`` values on [lo, hi] (linear or log spacing) in one batch; the
  outermost stable values and their unstable neighbours bracket the edges; then
  every unfinished bracket gets ``points`` interior values per batched round, the
  bracket shrinking to the sub-interval where the classification changes, until
  its width is at most ``rtol`` × its magnitude (or ``atol``).

The reported edge is the bracket midpoint.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from workbench.solvers.core.checks import ParameterError

__all__ = ["Edge", "Search", "stable_interval", "largest_stable", "bracket_gap"]


@dataclass
class Edge:
    """One edge: ``bracket = (unstable side, stable side)``; ``value`` its midpoint (nan if not found)."""

    value: float
    bracket: tuple[float | None, float | None]
    found: bool
    seeded: bool = False
    notes: list[str] = field(default_factory=list)
    runs: int = 0
    rounds: int = 0
    empty: bool = False

    def to_dict(self) -> dict:
        return {"value": self.value, "bracket": list(self.bracket), "found": self.found, "seeded": self.seeded}


@dataclass
class Search:
    """Result of :func:`stable_interval`: the edges asked for, effort and notes."""

    edges: dict[str, Edge]
    runs: int
    rounds: int
    empty: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def lower(self) -> Edge | None:
        return self.edges.get("lower")

    @property
    def upper(self) -> Edge | None:
        return self.edges.get("upper")


def _check(rtol: float, scan: int, points: int, lo: float, hi: float) -> None:
    if not (isinstance(rtol, (int, float)) and math.isfinite(rtol) and 0 < rtol < 1):
        raise ParameterError(f"rtol: must lie in (0, 1), got {rtol!r}")
    if int(scan) < 3:
        raise ParameterError(f"scan: need at least 3 scan points, got {scan}")
    if int(points) < 1:
        raise ParameterError(f"points: need at least 1 point per bracket and round, got {points}")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParameterError(f"interval: need finite lo < hi, got [{lo!r}, {hi!r}]")


def _narrow(br: list, rtol: float, atol: float, resolution: float = 0.0) -> bool:
    u, s = br
    return (u is None or abs(s - u) <= max(rtol * max(abs(u), abs(s)), atol)
            or max(abs(u), abs(s)) <= resolution)           # an edge at 0 on the interval's scale


def stable_interval(
    classify: Callable[[np.ndarray], np.ndarray],
    lo: float,
    hi: float,
    *,
    rtol: float = 1e-3,
    atol: float = 0.0,
    scan: int = 16,
    points: int = 1,
    edges: Sequence[str] = ("lower", "upper"),
    guess: dict[str, float] | None = None,
    spacing: str = "linear",
    max_rounds: int = 60,
    resolution: float = 0.0,
) -> Search:
    """Edges of the stable set of ``classify`` on ``[lo, hi]`` (see the module docstring).

    Parameters
    ----------
    classify : callable
        ``classify(values) -> bool array``, one batched run.
    lo, hi : float
        The search interval (the stable set is assumed inside it).
    rtol, atol : float
        Stop when a bracket is narrower than ``max(rtol·|edge|, atol)``.
    edges : sequence of {"lower", "upper"}
        Which edges to find.
    guess : dict, optional
        Predicted edges to confirm first (seeded mode).
    spacing : {"linear", "log"}
        Scan spacing (log needs ``lo > 0``).
    resolution : float
        Distance from 0 below which ``classify`` cannot tell stable from unstable
        (e.g. the finite horizon of a run): an edge whose bracket lies inside
        ``[-resolution, resolution]`` is finished (it is at 0 on the interval's scale),
        and a predicted edge that close to 0 is searched rather than confirmed.

    Every value ``classify`` called stable is kept: the edges bracket the outermost
    of them, so a stable set with an observed stable point is never reported empty.
    """
    lo, hi = float(lo), float(hi)
    _check(rtol, scan, points, lo, hi)
    edges = tuple(edges)
    if not edges or any(e not in ("lower", "upper") for e in edges):
        raise ParameterError(f"edges: choose from 'lower', 'upper', got {edges!r}")
    runs = rounds = 0
    notes: list[str] = []
    brackets: dict[str, list] = {}
    seeded: dict[str, bool] = {}
    seen: list[tuple[float, bool]] = []                 # every (value, stable) observed
    resolution = max(float(resolution), 0.0)
    if guess:
        batch, owner = [], []
        for e in edges:
            g = guess.get(e)
            if g is None or not math.isfinite(g) or abs(g) <= resolution:
                continue
            step = 0.5 * rtol * max(abs(g), atol / rtol if atol else 0.0)
            inner, outer = (g + step, g - step) if e == "lower" else (g - step, g + step)
            batch += [inner, outer]
            owner += [e, e]
        if batch:
            st = np.asarray(classify(np.asarray(batch)), dtype=bool)
            runs, rounds = len(batch), 1
            seen += list(zip(batch, st.tolist()))
            for e in set(owner):
                (i_in, i_out) = [k for k, o in enumerate(owner) if o == e]
                if st[i_in] and not st[i_out]:
                    brackets[e] = [batch[i_out], batch[i_in]]
                    seeded[e] = True
                else:
                    notes.append(f"{e}: the predicted edge {guess[e]:.6g} was not confirmed (inside "
                                 f"{'stable' if st[i_in] else 'unstable'}, outside "
                                 f"{'stable' if st[i_out] else 'unstable'}); searched instead")
    todo = [e for e in edges if e not in brackets]
    if todo:
        if spacing == "log":
            if lo <= 0:
                raise ParameterError(f"interval: log spacing needs lo > 0, got {lo!r}")
            grid = np.geomspace(lo, hi, int(scan))
        elif spacing == "linear":
            grid = np.linspace(lo, hi, int(scan))
        else:
            raise ParameterError(f"spacing: use 'linear' or 'log', got {spacing!r}")
        stable = np.asarray(classify(grid), dtype=bool)
        runs += len(grid)
        rounds += 1
        seen += list(zip(grid.tolist(), stable.tolist()))
        good = sorted(x for x, ok in seen if ok)
        if not good:
            found = {e: Edge(math.nan, (None, None), False) for e in edges}
            return Search(found, runs, rounds, empty=True, notes=notes + [
                f"no stable value among {scan} in [{lo:.6g}, {hi:.6g}]: the stable set is empty or narrower than "
                "the scan spacing"])
        if not stable.any():
            notes.append(f"no stable value among the {scan} scanned in [{lo:.6g}, {hi:.6g}]; the stable values "
                         "observed while checking the predicted edges were used")
        bad = [x for x, ok in seen if not ok]
        if any(good[0] < x < good[-1] for x in bad):
            notes.append("the scan found unstable values between stable ones; the outermost stable values were used")
        if "lower" in todo:
            below = [x for x in bad if x < good[0]]
            brackets["lower"] = [max(below) if below else None, good[0]]
        if "upper" in todo:
            above = [x for x in bad if x > good[-1]]
            brackets["upper"] = [min(above) if above else None, good[-1]]
        for e in todo:
            if brackets[e][0] is None:
                notes.append(f"{e}: the end of the search interval is stable; the edge lies beyond it")
    while not all(_narrow(brackets[e], rtol, atol, resolution) for e in edges) and rounds < max_rounds:
        batch, owner = [], []
        for e in edges:
            if _narrow(brackets[e], rtol, atol, resolution):
                continue
            u, s = brackets[e]
            pts = np.linspace(u, s, int(points) + 2)[1:-1]          # from the unstable side to the stable one
            batch += pts.tolist()
            owner += [e] * len(pts)
        st = np.asarray(classify(np.asarray(batch)), dtype=bool)
        runs += len(batch)
        rounds += 1
        for e in edges:
            mine = [(x, ok) for x, ok, o in zip(batch, st, owner) if o == e]
            if not mine:
                continue
            br = brackets[e]
            for x, ok in mine:                                      # ordered unstable -> stable side
                if ok:
                    br[1] = x
                    break
                br[0] = x
    if not all(_narrow(brackets[e], rtol, atol, resolution) for e in edges):
        notes.append(f"stopped after {max_rounds} rounds before reaching rtol")
    out = {}
    for e in edges:
        u, s = brackets[e]
        out[e] = Edge(math.nan if u is None else 0.5 * (u + s), (None if u is None else float(u), float(s)),
                      u is not None, seeded.get(e, False))
    return Search(out, runs, rounds, notes=notes)


def largest_stable(classify: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, **kw) -> Edge:
    """The upper edge of the stable set on ``[lo, hi]`` (a threshold: stable below, unstable above).

    Keywords as :func:`stable_interval`; ``guess`` may be a float.  The
    returned :class:`Edge` carries the search's ``notes``, ``runs``, ``rounds`` and ``empty``.
    """
    g = kw.pop("guess", None)
    if g is not None and not isinstance(g, dict):
        g = {"upper": float(g)}
    s = stable_interval(classify, lo, hi, edges=("upper",), guess=g, **kw)
    edge = s.upper
    edge.notes, edge.runs, edge.rounds, edge.empty = s.notes, s.runs, s.rounds, s.empty
    return edge


def bracket_gap(bracket: Sequence[float | None], reference: float) -> float:
    """Largest relative distance from ``reference`` to the ends of a measured bracket.

    The edge lies inside the bracket, so this bounds |edge − reference|/|reference|.  Use
    it, not the midpoint, when the search was seeded by ``reference``: a confirmed seeded
    bracket has the reference as its midpoint by construction, and rtol/2 is what was
    measured.  ``inf`` for a missing end.
    """
    if any(b is None for b in bracket) or not math.isfinite(reference) or reference == 0:
        return math.inf
    return max(abs(float(b) - reference) for b in bracket) / abs(reference)
