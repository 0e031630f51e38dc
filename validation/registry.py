"""Registry of validation cases: one case per claim of a paper.

A case is a function ``f(ctx: Context) -> dict`` registered with :func:`case`, one per
module of :mod:`workbench.validation.cases`. It returns the claim's prediction and measurement
with a verdict (:func:`run_case` wraps it into a :class:`~workbench.validation.result.CaseResult`):

``confirmed``, ``refined``, ``refuted``, ``not reproduced`` or ``inconclusive``
(:mod:`workbench.validation.verdict`). ``passed`` is the case's own consistency check
(for instance: the exact windowed and the simulated bounds agree to the bisection
tolerance); it fails exactly when the verdict is ``inconclusive``, which makes
``workbench validate`` exit non-zero. A refuted paper claim is a finding, not a failure.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workbench.solvers.core.checks import ParameterError

from workbench.validation.result import VERDICTS, CaseResult

__all__ = ["Case", "CaseResult", "Context", "case", "list_cases", "get_case", "run_case", "redraw", "VERDICTS"]

REQUIRED = ("prediction", "measurement", "tolerance", "verdict", "passed")
#: what a case function may return besides :data:`REQUIRED`
OPTIONAL = ("numbers", "tables", "notes", "rule", "reason")


@dataclass(frozen=True)
class Case:
    id: str
    claim: str
    source: str
    func: Callable[["Context"], dict]
    paper: int | None = None
    where: str = ""


@dataclass
class Context:
    """What a case gets: where to write, how thorough to be, and a figure writer."""

    out_dir: Path
    quick: bool = False
    figures: list[str] = field(default_factory=list)
    captions: dict[str, str] = field(default_factory=dict)
    progress: Callable[..., Any] | None = None

    def track(self, iterable: Any, total: int | None = None, desc: str = "") -> Any:
        """Wrap a long loop of a case: a progress bar below the runner's in a terminal, else the iterable itself."""
        if self.progress is None:
            return iterable
        return self.progress(iterable, total=total, desc=desc)

    def save_figure(self, fig: Any, name: str, caption: str | None = None) -> str:
        """Write ``fig`` as ``out_dir/name`` (PNG, atomically); returns the relative path.

        ``caption`` says what the figure shows (default: from its titles, see
        :func:`workbench.validation.plots.caption_of`); the report prints it under the figure.
        """
        from workbench.validation.files import save_figure
        from workbench.validation.plots import caption_of

        self.captions[name] = caption or caption_of(fig)
        save_figure(fig, self.out_dir / name)
        self.figures.append(name)
        return name

    def save_figures(self, figures: Any) -> list[str]:
        """Save the ``(name, figure, caption)`` triples a case's ``figures(numbers)`` returns; the file names."""
        return [self.save_figure(fig, name, caption) for name, fig, caption in figures]


_CASES: dict[str, Case] = {}


def case(id: str, *, claim: str, source: str, paper: int | None = None,
         where: str = "") -> Callable[[Callable[[Context], dict]], Callable[[Context], dict]]:
    """Register a validation case under ``id`` (decorator).

    ``paper`` is 1-4 for a claim of one of the four papers, 0 for the registry and
    beyond-the-paper cases; ``where`` the section, equation, table or figure.
    """

    def deco(func: Callable[[Context], dict]) -> Callable[[Context], dict]:
        if id in _CASES:
            raise ValueError(f"case: id {id!r} registered twice")
        if paper is not None and paper not in (0, 1, 2, 3, 4):
            raise ValueError(f"case: paper must be 0-4, got {paper!r}")
        _CASES[id] = Case(id, claim, source, func, paper, where)
        return func

    return deco


def _load() -> None:
    from workbench.validation import cases  # noqa: F401  (registers the cases on import)


def list_cases() -> list[str]:
    """Ids of all registered cases, in registration order: by case module name (one case per
    module of :mod:`workbench.validation.cases`, imported alphabetically)."""
    _load()
    return list(_CASES)


def get_case(id: str) -> Case:
    _load()
    try:
        return _CASES[id]
    except KeyError:
        raise ParameterError(f"case: unknown case {id!r}; available: {', '.join(_CASES)}") from None


def redraw(case_id: str, numbers: dict) -> list[tuple[str, Any, str]]:
    """The figures of case ``case_id`` drawn again from its ``numbers`` (as ``results.json`` holds them).

    Calls the module-level ``figures(numbers)`` of the case's module; returns its
    ``(file name, matplotlib Figure, caption)`` triples, nothing recomputed.

    Raises
    ------
    ParameterError
        When the case is unknown or its module has no ``figures(numbers)``.
    """
    import sys

    c = get_case(case_id)
    draw = getattr(sys.modules[c.func.__module__], "figures", None)
    if draw is None:
        raise ParameterError(f"case: {case_id!r} cannot redraw its figures from its numbers (no figures(numbers))")
    return list(draw(numbers))


def run_case(id: str, out_dir: str | Path, quick: bool = False,
             progress: Callable[..., Any] | None = None) -> CaseResult:
    """Run one case; returns its :class:`~workbench.validation.result.CaseResult` with id, claim, source and timing.

    ``progress(iterable, total=, desc=)`` wraps the loops a case passes to :meth:`Context.track`.
    ``CaseResult.to_dict()`` is the JSON form the report folder holds.
    """
    c = get_case(id)
    ctx = Context(Path(out_dir), quick=quick, progress=progress)
    t0 = time.perf_counter()
    from workbench.validation.plots import report_style

    with report_style():  # the report's figure style, the caller's rcParams restored after
        res = c.func(ctx)
    missing = [k for k in REQUIRED if k not in res]
    unknown = [k for k in res if k not in REQUIRED + OPTIONAL]
    if missing or unknown or res.get("verdict") not in VERDICTS:
        raise RuntimeError(f"case {id!r} returned an incomplete result (missing {missing}, unknown {unknown}, "
                           f"verdict {res.get('verdict')!r})")
    if bool(res["passed"]) != (res["verdict"] != "inconclusive"):
        raise RuntimeError(f"case {id!r}: passed={res['passed']!r} with verdict {res['verdict']!r}; the self-check "
                           "fails exactly when the verdict is 'inconclusive' (return Verdict.fields())")
    return CaseResult(id=c.id, claim=c.claim, source=c.source,
                      prediction=res["prediction"], measurement=res["measurement"], tolerance=res["tolerance"],
                      verdict=res["verdict"], passed=bool(res["passed"]),
                      paper=c.paper, where=c.where, rule=res.get("rule", ""), reason=res.get("reason", ""),
                      numbers=res.get("numbers", {}), tables=res.get("tables", []), notes=res.get("notes", ""),
                      figures=list(ctx.figures), captions=dict(ctx.captions), quick=bool(quick),
                      seconds=round(time.perf_counter() - t0, 3))
