"""The typed result of one validation case (what :func:`workbench.validation.registry.run_case` returns).

A case function returns a plain dict (its prediction, measurement, tolerance, verdict,
check and data); the registry adds the case's id, claim and source, its figures and
their captions, the ``quick`` flag and the time it took, and returns a
:class:`CaseResult`.  :meth:`CaseResult.to_dict` is the JSON form that ``results.json``
and the per-case files of a report folder hold; :meth:`CaseResult.from_dict` reads it
back (the runner's resume path).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from workbench.validation.verdict import VERDICTS

__all__ = ["CaseResult", "RESULT_KEYS", "VERDICTS"]

#: the keys of :meth:`CaseResult.to_dict`, in order
RESULT_KEYS = ("id", "claim", "source", "prediction", "measurement", "tolerance", "verdict", "passed",
               "paper", "where", "rule", "reason",
               "numbers", "tables", "notes", "figures", "captions", "quick", "seconds")


@dataclass
class CaseResult:
    """One finished validation case.

    Attributes
    ----------
    id, claim, source : str
        The case's registration (:func:`workbench.validation.registry.case`): which claim of which
        paper (equation, table) it checks.
    prediction, measurement, tolerance : Any
        What the paper (or the derivation) predicts, what the simulation measured and the
        tolerance the verdict uses (numbers or JSON-ready mappings of numbers).
    verdict : str
        One of :data:`~workbench.validation.verdict.VERDICTS` (see :mod:`workbench.validation.verdict`).
    passed : bool
        The case's own consistency check (False exactly when the verdict is ``inconclusive``).
    paper : int or None
        Which paper's claim (1-4; 0 for the registry and beyond-the-paper cases).
    where : str
        Section, equation, table or figure of the claim.
    rule, reason : str
        The verdict rule the case's ``judge`` applies, and why this outcome.
    numbers : dict
        Every number the case computed (JSON-ready).
    tables : list
        Tables shown in the report.
    notes : str
        What the case did and what the numbers mean.
    figures : list of str
        Figure files, relative to the report folder.
    captions : dict
        Figure file -> caption.
    quick : bool
        Whether the reduced version ran.
    seconds : float or None
        Run time of the case.
    """

    id: str
    claim: str
    source: str
    prediction: Any
    measurement: Any
    tolerance: Any
    verdict: str
    passed: bool
    paper: int | None = None
    where: str = ""
    rule: str = ""
    reason: str = ""
    numbers: dict = field(default_factory=dict)
    tables: list = field(default_factory=list)
    notes: str = ""
    figures: list[str] = field(default_factory=list)
    captions: dict[str, str] = field(default_factory=dict)
    quick: bool = False
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the keys of :data:`RESULT_KEYS`, in that order); values are not copied."""
        return {k: getattr(self, k) for k in RESULT_KEYS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "CaseResult":
        """Read back :meth:`to_dict`'s form (e.g. from a report folder's ``cases/<id>.json``).

        ``numbers``, ``tables``, ``notes``, ``figures``, ``captions``, ``quick`` and
        ``seconds`` may be absent (their defaults are taken); the other keys are required.

        Raises
        ------
        ValueError
            When ``d`` lacks a required key, holds one not in :data:`RESULT_KEYS`, or its
            verdict is not one of :data:`VERDICTS`.
        """
        missing = [k for k in RESULT_KEYS[:8] if k not in d]
        unknown = [k for k in d if k not in RESULT_KEYS]
        if missing or unknown:
            raise ValueError(f"case result: missing keys {missing}, unknown keys {unknown}")
        if d["verdict"] not in VERDICTS:
            raise ValueError(f"case result: verdict {d['verdict']!r} is not one of {', '.join(VERDICTS)}")
        return cls(**{k: d[k] for k in RESULT_KEYS if k in d and d[k] is not None or k in RESULT_KEYS[:8]})
