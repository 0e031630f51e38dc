"""Verdicts of validation cases: the vocabulary and the judged result.

A case measures numbers (``measure``), judges them by a stated rule (``judge``) and draws
figures from them (``figures``). The verdict belongs to the claim of the paper; whether the
workbench's own consistency check held is part of it too (``inconclusive``):

* ``confirmed``      the claim holds as stated, within the stated tolerance;
* ``refined``        it holds with a correction the case states (e.g. a w → ∞ bound
  replaced by the windowed one);
* ``refuted``        the measured effect, with its interval, excludes the claimed one;
* ``not reproduced`` the setting differs from the paper's, or the effect is not significant
  either way (the reason says which);
* ``inconclusive``   the case's own consistency check failed: the workbench, not the paper,
  is in doubt (``workbench validate`` exits 1).

A verdict rule that cannot come out more than one way is not a rule: every ``judge`` has a
test per outcome it can return, driven with numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

__all__ = ["VERDICTS", "ON_THE_PAPER", "Verdict", "kendall_tau", "mean_interval"]

#: every verdict, in the order reports list them
VERDICTS = ("confirmed", "refined", "refuted", "not reproduced", "inconclusive")
#: the verdicts on the paper's claim (the last of :data:`VERDICTS` is the workbench's self-check)
ON_THE_PAPER = VERDICTS[:4]


@dataclass(frozen=True)
class Verdict:
    """A judged claim: the outcome, the rule that produced it and the numbers behind it.

    Attributes
    ----------
    verdict : str
        One of :data:`VERDICTS`.
    rule : str
        The rule, as a reader can check it ("confirmed if |measured − predicted| ≤ 0.1 %
        of predicted; refuted if the 95 % interval excludes the claimed effect; …").
    reason : str
        Why this outcome, with the numbers that decided it.
    """

    verdict: str
    rule: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict: {self.verdict!r} is not one of {', '.join(VERDICTS)}")

    @property
    def passed(self) -> bool:
        """The workbench's self-check held (every verdict but ``inconclusive``)."""
        return self.verdict != "inconclusive"

    def fields(self) -> dict:
        """The keys a case function returns for it: ``verdict``, ``passed``, ``rule``, ``reason``."""
        return {"verdict": self.verdict, "passed": self.passed, "rule": self.rule, "reason": self.reason}


# two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom (scipy.stats.t.ppf(0.975, df))
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def mean_interval(samples: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its two-sided 95 % Student-t interval.

    Parameters
    ----------
    samples : sequence of float
        Independent measurements (e.g. one per seed); at least two.
    level : float
        Only 0.95 is tabulated.

    Returns
    -------
    (mean, half_width) : tuple of float
    """
    if level != 0.95:
        raise ValueError("level: only 0.95 is supported")
    xs = [float(x) for x in samples]
    n = len(xs)
    if n < 2:
        raise ValueError(f"samples: need at least 2 for an interval, got {n}")
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.960
    return m, t * sd / math.sqrt(n)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's rank correlation τ_a of two sequences (tied pairs count 0; a NaN gives NaN).

    +1 when y rises with x in every pair, −1 when it falls in every pair: the effect size of
    a monotone claim ("larger step sizes train faster") before an interval over seeds.
    """
    import numpy as np

    n = len(x)
    if n != len(y) or n < 2:
        raise ValueError(f"x, y: need two sequences of one length >= 2, got {n} and {len(y)}")
    s = sum(np.sign(x[j] - x[i]) * np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
    return float(s / (n * (n - 1) / 2))
