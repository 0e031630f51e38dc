"""The four papers whose claims the validation cases check, named one way everywhere.

Each paper has a number (the ``paper`` field of a case result: 1-4; 0 for the optimizer
registry and the cases that go beyond the papers), a short title for headings and a
citation (authors, title, venue, year) for the report, the README and the docs.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Paper", "PAPERS", "paper", "ORDER"]


@dataclass(frozen=True)
class Paper:
    """One paper: ``number``, ``authors``, ``title``, ``short`` title, ``venue``, ``year``, ``url``."""

    number: int | None
    authors: str
    title: str
    short: str
    venue: str
    year: int | None
    url: str = ""

    @property
    def heading(self) -> str:
        """``"Paper 1: Surprising instabilities (Sun et al., NeurIPS 2022)"``; the others' heading."""
        if self.number is None or self.number == 0:
            return self.short
        first = self.authors.split(",")[0].split()[-1]
        return f"Paper {self.number}: {self.short} ({first} et al., {self.venue} {self.year})"

    @property
    def citation(self) -> str:
        """Authors, "title", venue year."""
        if not self.authors:
            return self.title
        return f"{self.authors}, \u201c{self.title}\u201d, {self.venue} {self.year}."


PAPERS: dict[int | None, Paper] = {
    1: Paper(1, "Yuxin Sun, Dong Lao, Ganesh Sundaramoorthi, Anthony Yezzi",
             "Surprising Instabilities in Training Deep Networks and a Theoretical Analysis",
             "Surprising instabilities", "NeurIPS", 2022, "https://arxiv.org/abs/2206.02001"),
    2: Paper(2, "Yuxin Sun, Dong Lao, Ganesh Sundaramoorthi, Anthony Yezzi",
             "Accelerated PDEs for Construction and Theoretical Analysis of an SGD Extension",
             "Accelerated PDEs and an SGD extension", "NeurIPS DLDE workshop", 2021,
             "https://openreview.net/forum?id=j3nedszy5Vc"),
    3: Paper(3, "Mihaela Rosca, Yan Wu, Chongli Qin, Benoit Dherin",
             "On a continuous time model of gradient descent dynamics and instability in deep learning",
             "A continuous time model of gradient descent", "TMLR", 2023, "https://arxiv.org/abs/2302.01952"),
    4: Paper(4, "Kwangjun Ahn, Jingzhao Zhang, Suvrit Sra",
             "Understanding the unstable convergence of gradient descent",
             "Unstable convergence of gradient descent", "ICML", 2022, "https://arxiv.org/abs/2204.01050"),
    0: Paper(0, "", "Optimizer registry and claims beyond the papers", "Beyond the papers", "", None),
    None: Paper(None, "", "Cases not yet assigned to a paper", "Other", "", None),
}

#: the order in which reports list the papers
ORDER: tuple[int | None, ...] = (1, 2, 3, 4, 0, None)


def paper(number: object) -> Paper:
    """The :class:`Paper` of a case's ``paper`` field (anything unknown: "Other")."""
    return PAPERS.get(number if isinstance(number, int) and not isinstance(number, bool) else None, PAPERS[None])
