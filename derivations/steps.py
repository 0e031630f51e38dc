"""Printable, named steps of a symbolic derivation.

A :class:`Step` holds one SymPy object (an expression, an ``Eq`` or another
relational) under a name and the paper's equation label; a :class:`Derivation`
is an ordered chain of steps.  Both print as readable one-line Unicode math
(``str``, :func:`workbench.derivations.unicode_printer.unicode_text`: ``K̂ⁿ⁺¹ = A(ω)·K̂ⁿ``), as
LaTeX (``latex()``, ready to paste into a paper), as notebook LaTeX
(``_repr_latex_``) and as JSON-safe dictionaries (``to_dict()``).

In a derivation's LaTeX every paper equation is tagged once: consecutive steps with
the same label share one tagged ``gathered`` block; a later step with a label used
before is tagged ``cf. (n)`` (``\tag*``), so no number appears twice. A label
naming a range, ``"(42)-(43)"``, is tagged as the paper writes it, ``\tag{42–43}``.

Each step may also carry ``stated``: the equation exactly as the paper prints
it, typed in by hand, kept beside the ``expr`` that SymPy derived so that tests
can check ``simplify(derived - stated) == 0``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import sympy as sp

from workbench.derivations.unicode_printer import unicode_text

__all__ = ["Step", "Derivation", "difference"]


def _tag(equation: str) -> str:
    """Equation label as a ``\\tag`` argument: ``"(23)" -> "23"``, a range
    ``"(42)-(43)" -> "42–43"`` (en dash), a list ``"(45), (46)" -> "45, 46"``,
    ``"Def. 1"`` unchanged."""
    text = equation.strip()
    parts = re.findall(r"\(([^()]*)\)", text)
    if len(parts) >= 2:
        between = re.sub(r"\([^()]*\)", "", text).strip()
        sep = "–" if between.strip(" -–") == "" and ("-" in between or "–" in between) else ", "
        return sep.join(p.strip() for p in parts)
    return text.strip("()").strip()


def _as_expr(v: Any) -> sp.Expr:
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, (int, float)):
        return sp.Integer(v) if isinstance(v, int) else sp.Float(v)
    raise TypeError(f"expected a SymPy expression or a number, got {type(v).__name__}")


def difference(derived: Any, stated: Any) -> sp.Expr:
    """Symbolic difference ``derived - stated`` of two expressions or relationals.

    Two relationals must be of the same kind (``Eq``, ``<``, ...); their
    difference is ``(lhs1 - rhs1) - (lhs2 - rhs2)``.  An ``Eq`` compared with a
    plain expression compares its right-hand side.

    Parameters
    ----------
    derived, stated : sympy.Basic
        The SymPy-derived object and the paper's printed form.

    Returns
    -------
    sympy.Expr
        Zero (after ``simplify``) exactly when the two agree.
    """
    if isinstance(derived, sp.core.relational.Relational) and isinstance(
        stated, sp.core.relational.Relational
    ):
        if type(derived) is not type(stated):
            # a > b is the same statement as b < a: compare canonical forms
            derived, stated = derived.canonical, stated.canonical
            if type(derived) is not type(stated):
                raise ValueError(
                    f"stated: relation {type(stated).__name__} does not match "
                    f"derived {type(derived).__name__}"
                )
        if isinstance(derived, sp.Eq):
            return (derived.lhs - stated.lhs) - (derived.rhs - stated.rhs)
        return (derived.lhs - derived.rhs) - (stated.lhs - stated.rhs)
    if isinstance(derived, sp.Eq):
        derived = derived.rhs
    if isinstance(stated, sp.Eq):
        stated = stated.rhs
    # both sides are SymPy objects or Python numbers built in derivations/, never user text;
    return _as_expr(derived) - _as_expr(stated)


class Step:
    """One named step of a derivation.

    Parameters
    ----------
    name : str
        Identifier, unique within its derivation (e.g. ``"amplifier"``).
    equation : str
        The paper's equation label, e.g. ``"(23)"``; ``""`` for a step the
        paper does not number.
    expr : sympy.Basic
        What SymPy derived: an expression, an ``Eq`` or another relational.
    description : str
        One sentence saying what the step is and how it was obtained.
    stated : sympy.Basic, optional
        The paper's printed form, typed in, for the tests' exact comparison.
    where : dict, optional
        Substitution under which the paper's statement is meant to hold (e.g.
        ``{a: -|a|}`` for a statement made for a < 0); it is applied to both
        ``expr`` and ``stated`` before they are compared.
    """

    __slots__ = ("name", "equation", "expr", "description", "stated", "where")

    def __init__(
        self,
        name: str,
        equation: str,
        expr: Any,
        description: str = "",
        stated: Any = None,
        where: dict | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name: must be a non-empty string, got {name!r}")
        if not isinstance(equation, str):
            raise ValueError(f"equation: must be a string such as '(23)', got {equation!r}")
        if not isinstance(expr, sp.Basic):
            raise ValueError(f"expr: must be a SymPy object, got {type(expr).__name__}")
        self.name = name
        self.equation = equation
        self.expr = expr
        self.description = description
        self.stated = stated
        self.where = dict(where or {})

    def stated_difference(self) -> sp.Expr:
        """``expr - stated``, both under ``where``; simplifies to 0 when they agree.

        Raises
        ------
        ValueError
            If the step has no stated form.
        """
        if self.stated is None:
            raise ValueError(f"stated: step {self.name!r} has no stated form")
        return difference(self.expr.subs(self.where), self.stated.subs(self.where))

    # -- printing -------------------------------------------------------------
    def text(self) -> str:
        """The expression as one line of readable Unicode math (``Δt < 2/(α + F̂)``)."""
        return unicode_text(self.expr)

    def sympy_text(self) -> str:
        """The expression as SymPy's plain-text string (``Delta_t < 2/(Fhat + alpha)``)."""
        return sp.sstr(self.expr)

    def latex_body(self) -> str:
        """The expression's LaTeX alone (no environment, no tag)."""
        return sp.latex(self.expr)

    def comment(self) -> str:
        """The LaTeX comment line naming the step: ``% name: description``."""
        text = f"% {self.name}" + (f": {self.description}" if self.description else "")
        return text.replace("\n", " ")

    def latex(self) -> str:
        """An ``equation`` environment holding the step, tagged with its label.

        The step name and description go in a LaTeX comment line above it.
        """
        if self.equation:
            return (
                f"{self.comment()}\n\\begin{{equation}}\n{self.latex_body()} "
                f"\\tag{{{_tag(self.equation)}}}\n\\end{{equation}}"
            )
        return f"{self.comment()}\n\\begin{{equation*}}\n{self.latex_body()}\n\\end{{equation*}}"

    def _repr_latex_(self) -> str:
        tag = f" \\tag{{{_tag(self.equation)}}}" if self.equation else ""
        return f"$$\\displaystyle {self.latex_body()}{tag}$$"

    def __str__(self) -> str:
        label = f"{self.equation} " if self.equation else ""
        return f"{label}{self.name}: {self.text()}"

    def __repr__(self) -> str:
        return f"Step({self.name!r}, {self.equation!r}, {self.text()!r})"

    def to_dict(self) -> dict[str, str]:
        """JSON-safe dictionary: name, equation, text (Unicode), sympy (SymPy's
        ``str``), latex, description."""
        return {
            "name": self.name,
            "equation": self.equation,
            "text": self.text(),
            "sympy": self.sympy_text(),
            "latex": self.latex_body(),
            "description": self.description,
        }


class Derivation:
    """An ordered chain of :class:`Step` objects.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"forward-euler"``.
    title : str
        Human title.
    source : str
        Citation, e.g. ``"Sun et al. 2022, appendix D.3"``.
    steps : iterable of Step
        In paper order; names must be unique.
    """

    def __init__(self, name: str, title: str, source: str, steps: Iterable[Step]) -> None:
        self.name = name
        self.title = title
        self.source = source
        self.steps: list[Step] = list(steps)
        seen: set[str] = set()
        for st in self.steps:
            if not isinstance(st, Step):
                raise ValueError(f"steps: expected Step objects, got {type(st).__name__}")
            if st.name in seen:
                raise ValueError(f"steps: duplicate step name {st.name!r}")
            seen.add(st.name)

    def names(self) -> list[str]:
        """Step names in order."""
        return [st.name for st in self.steps]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, key: str | int) -> Step:
        """Step by name, by equation label (``"(23)"`` or ``"23"``; first match) or by index."""
        if isinstance(key, int):
            return self.steps[key]
        for st in self.steps:
            if st.name == key:
                return st
        if isinstance(key, str) and re.fullmatch(r"\(?\s*[0-9]+[a-z']*\s*\)?", key):
            for st in self.steps:
                if st.equation and _tag(st.equation) == _tag(key):
                    return st
        raise KeyError(f"step {key!r} not in derivation {self.name!r}; steps: {', '.join(self.names())}")

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True

    def __str__(self) -> str:
        head = f"{self.title} [{self.name}] ({self.source})"
        width = max([len(st.equation) for st in self.steps if st.equation] or [0])
        lines = [head]
        for st in self.steps:
            label = st.equation.ljust(width) if width else ""
            lines.append(f"  {label} {st.name}: {st.text()}" if width else f"  {st.name}: {st.text()}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Derivation({self.name!r}, {len(self.steps)} steps)"

    def latex(self) -> str:
        """A LaTeX document body: one ``equation`` environment per step, each paper
        equation tagged once (see the module docstring)."""
        head = f"% {self.title} ({self.source})\n% derivation: {self.name}"
        blocks: list[str] = [head]
        seen: set[str] = set()
        i = 0
        while i < len(self.steps):
            st = self.steps[i]
            tag = _tag(st.equation) if st.equation else ""
            j = i + 1
            while tag and j < len(self.steps) and _tag(self.steps[j].equation or "") == tag:
                j += 1
            group = self.steps[i:j]
            comments = "\n".join(s.comment() for s in group)
            body = group[0].latex_body() if len(group) == 1 else (
                "\\begin{gathered}\n" + " \\\\\n".join(s.latex_body() for s in group) + "\n\\end{gathered}")
            if not tag:
                blocks.append(f"{comments}\n\\begin{{equation*}}\n{body}\n\\end{{equation*}}")
            elif tag in seen:
                blocks.append(f"{comments}\n\\begin{{equation*}}\n{body} \\tag*{{cf.~({tag})}}\n\\end{{equation*}}")
            else:
                blocks.append(f"{comments}\n\\begin{{equation}}\n{body} \\tag{{{tag}}}\n\\end{{equation}}")
            seen.add(tag)
            i = j
        return "\n\n".join(blocks) + "\n"

    def _repr_latex_(self) -> str:
        lines = []
        for st in self.steps:
            tag = f" && \\text{{{st.equation}}}" if st.equation else " &&"
            lines.append(f"& {st.latex_body()}{tag}")
        return "$$\\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}$$"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: name, title, source and the list of step dictionaries."""
        return {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "steps": [st.to_dict() for st in self.steps],
        }
