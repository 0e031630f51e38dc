"""Readable one-line Unicode text of SymPy expressions (the text mode of ``workbench derive``).

SymPy's ``str`` shows ``Eq(\\hat{K}^{n+1}, A(\\omega)*\\hat{K}^{n})`` and ``Delta_t**2``;
:func:`unicode_text` shows ``K̂ⁿ⁺¹ = A(ω)·K̂ⁿ`` and ``Δt²``. Symbol names written in
LaTeX (``\\hat{K}^{n}``, ``\\|I\\|_{L^1}``) and plain names (``alpha``, ``Delta_t``,
``theta_1``) both become Unicode; relations print as ``=``, ``<``, ``≤``; derivatives
as ``∂K(z, t)/∂t``; integrals over the real line as ``∫ f dx``; ``Max``/``Min`` as
``max``/``min``; square roots as ``√``. One line always (matrices as nested brackets).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

__all__ = ["unicode_text", "unicode_name", "UnicodePrinter"]

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ",
    "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π", "Sigma": "Σ",
    "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
_LATEX_CMDS = {**_GREEK, "nabla": "∇", "partial": "∂", "star": "⋆", "ast": "∗", "cdot": "·", "infty": "∞",
               "ell": "ℓ", "times": "×", "left": "", "right": "", "to": "→", "sum": "Σ", "int": "∫", "|": "‖"}
_SUP = dict(zip("0123456789+-=()nitk", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵗᵏ"))
_SUB = dict(zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_ACCENT = {"hat": "\u0302", "widehat": "\u0302", "bar": "\u0304", "overline": "\u0304", "dot": "\u0307",
           "ddot": "\u0308", "tilde": "\u0303", "widetilde": "\u0303", "vec": "\u20d7"}
_SUFFIX = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "dot": "\u0307"}


def _script(text: str, table: dict[str, str], mark: str) -> str:
    if text and all(ch in table for ch in text):
        return "".join(table[ch] for ch in text)
    return f"{mark}{text}" if re.fullmatch(r"[A-Za-z0-9]+", text) else f"{mark}({text})"


def _braced(s: str, i: int) -> tuple[str, int]:
    """The group starting at ``s[i]`` (``{...}`` or one character) and the index after it."""
    if i < len(s) and s[i] == "{":
        depth, j = 0, i
        while j < len(s):
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            if depth == 0:
                return s[i + 1:j], j + 1
            j += 1
        return s[i + 1:], len(s)
    return (s[i], i + 1) if i < len(s) else ("", i)


def _latex_name(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", s[i:])
            cmd = m.group(1) if m else ""
            i += len(cmd) + 1
            if cmd.isalpha() and i < len(s) and s[i] == " ":  # the space ending a command word
                i += 1
            if cmd in _ACCENT:
                arg, i = _braced(s, i)
                inner = _latex_name(arg)
                out.append(inner + _ACCENT[cmd] if len(inner) == 1 else f"{inner}{_ACCENT[cmd]}")
            elif cmd in ("text", "mathrm", "operatorname", "mathbf"):
                arg, i = _braced(s, i)
                out.append(_latex_name(arg))
            elif cmd in (",", ";", " ", "!"):
                out.append(" " if cmd != "!" else "")
            else:
                out.append(_LATEX_CMDS.get(cmd, cmd))
        elif ch in "^_":
            arg, i = _braced(s, i + 1)
            out.append(_script(_latex_name(arg), _SUP if ch == "^" else _SUB, ch))
        elif ch in "{}":
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_NAMES = {"ell": "ℓ", "grad": "∇", "nabla": "∇", "deltaK": "δK", "oo": "∞"}


def _sub(s: str) -> str:
    """A subscript: Unicode for digits and single letters, ``_max`` for words."""
    s = _GREEK.get(s, s)
    if len(s) == 1 or s.isdigit():
        return _script(s, _SUB, "_")
    return f"_{s}"


def _plain_name(name: str) -> str:
    m = re.fullmatch(r"Delta_([A-Za-z])((?:_[A-Za-z0-9]+)*)", name)  # Delta_t -> Δt (a step, not Δ_t)
    if m:
        return "Δ" + m.group(1) + "".join(_sub(x) for x in m.group(2).split("_") if x)
    head, *subs = name.split("_")
    for suffix, mark in _SUFFIX.items():  # yhat -> ŷ, Ibar -> Ī, Fhat_max -> F̂_max
        if head.endswith(suffix) and len(head) == len(suffix) + 1:
            return head[0] + mark + "".join(_sub(x) for x in subs)
    m = re.fullmatch(r"([A-Za-z]+?)(\d+)", head)  # omega1 -> ω₁
    if m and (m.group(1) in _GREEK or len(m.group(1)) == 1):
        head, subs = m.group(1), [m.group(2)] + subs
    text = _NAMES.get(head, _GREEK.get(head, head))
    return text + "".join(_sub(x) for x in subs)


def unicode_name(name: str) -> str:
    """A symbol or function name as Unicode: ``"\\hat{K}^{n+1}"`` -> ``"K̂ⁿ⁺¹"``,
    ``"Delta_t"`` -> ``"Δt"``, ``"theta_1"`` -> ``"θ₁"``, ``"lambda_max"`` -> ``"λₘₐₓ"``."""
    if "\\" in name or "{" in name or "^" in name:
        return _latex_name(name)
    if re.fullmatch(r"[A-Za-z]+\d*(_[A-Za-z0-9]+)*", name):
        return _plain_name(name)
    # names with spaces or brackets ("grad_K g", "delta(omega)"): convert word by word
    return re.sub(r"(?<![A-Za-z])[A-Za-z]+\d*(?:_[A-Za-z0-9]+)*(?![A-Za-z])", lambda m: _plain_name(m.group()), name)


class UnicodePrinter(StrPrinter):
    """A :class:`sympy.printing.str.StrPrinter` writing one-line Unicode math."""

    printmethod = "_sympystr"
    _REL = {"==": "=", "!=": "≠", "<=": "≤", ">=": "≥", "<": "<", ">": ">"}

    def _print_Symbol(self, expr: Any) -> str:
        return unicode_name(expr.name)

    _print_Dummy = _print_Symbol

    def _print_Relational(self, expr: Any) -> str:
        op = self._REL.get(expr.rel_op, expr.rel_op)
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_Infinity(self, expr: Any) -> str:
        return "∞"

    def _print_NegativeInfinity(self, expr: Any) -> str:
        return "-∞"

    def _print_Pi(self, expr: Any) -> str:
        return "π"

    def _print_Exp1(self, expr: Any) -> str:
        return "e"

    def _print_ImaginaryUnit(self, expr: Any) -> str:
        return "i"

    def _print_And(self, expr: Any) -> str:
        return " ∧ ".join(self.parenthesize(a, PRECEDENCE["And"]) for a in expr.args)

    def _print_Or(self, expr: Any) -> str:
        return " ∨ ".join(self.parenthesize(a, PRECEDENCE["Or"]) for a in expr.args)

    def _print_Not(self, expr: Any) -> str:
        return "¬" + self.parenthesize(expr.args[0], PRECEDENCE["Not"])

    def _print_Abs(self, expr: Any) -> str:
        return f"|{self._print(expr.args[0])}|"

    def _print_MinMaxBase(self, expr: Any) -> str:
        return f"{type(expr).__name__.lower()}({', '.join(self._print(a) for a in expr.args)})"

    _print_Max = _print_MinMaxBase
    _print_Min = _print_MinMaxBase

    def _print_Function(self, expr: Any) -> str:
        name = unicode_name(expr.func.__name__)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_Derivative(self, expr: Any) -> str:
        fn = self._print(expr.expr)
        if not isinstance(expr.expr, (sp.Symbol, sp.Function, sp.core.function.AppliedUndef)):
            fn = f"({fn})"
        total = sum(n for _, n in expr.variable_count)
        d = "∂" if len(expr.expr.free_symbols) > 1 else "d"
        top = d + (_script(str(total), _SUP, "^") if total > 1 else "")
        den = "".join(f"{d}{self._print(v)}" + (_script(str(n), _SUP, "^") if n > 1 else "")
                      for v, n in expr.variable_count)
        return f"{top}{fn}/{den}"

    def _print_Integral(self, expr: Any) -> str:
        body = self.parenthesize(expr.function, PRECEDENCE["Mul"])
        signs, ds = [], []
        for lim in expr.limits:
            var = self._print(lim[0])
            if len(lim) == 3 and not (lim[1] == -sp.oo and lim[2] == sp.oo):
                signs.append(f"∫[{self._print(lim[1])}, {self._print(lim[2])}]")
            else:
                signs.append("∫")
            ds.append(f"d{var}")
        return f"{''.join(reversed(signs))} {body} {' '.join(ds)}"

    def _print_Limit(self, expr: Any) -> str:
        e, z, z0, dr = expr.args
        side = "" if str(dr) == "+-" else ("⁺" if str(dr) == "+" else "⁻")
        return f"lim[{self._print(z)} → {self._print(z0)}{side}] {self.parenthesize(e, PRECEDENCE['Mul'])}"

    def _print_Pow(self, expr: Any, rational: bool = False) -> str:
        b, e = expr.as_base_exp()
        if e is sp.S.Half:
            return f"√{self._root_arg(b)}"
        if e == -sp.S.Half:
            return f"1/√{self._root_arg(b)}"
        if e.is_number and e.is_extended_negative:
            pos = b if e == -1 else sp.Pow(b, -e, evaluate=False)
            return f"1/{self.parenthesize(pos, PRECEDENCE['Mul'], strict=True)}"
        base = self.parenthesize(b, PRECEDENCE["Pow"], strict=True)
        if isinstance(b, sp.Symbol) and any(ch in base for ch in "⁰¹²³⁴⁵⁶⁷⁸⁹ⁿ^"):
            base = f"({base})"
        if e.is_Integer:
            return base + _script(str(int(e)), _SUP, "^")
        return f"{base}^{self.parenthesize(e, PRECEDENCE['Pow'], strict=True) if not e.is_Atom else self._print(e)}"

    def _root_arg(self, b: Any) -> str:
        text = self._print(b)
        return text if (b.is_Atom or isinstance(b, sp.Function)) else f"({text})"

    def _print_Mul(self, expr: Any) -> str:
        prec = PRECEDENCE["Mul"]
        coeff, rest = expr.as_coeff_Mul()
        sign = ""
        if coeff.is_number and coeff.is_extended_negative:
            sign, coeff = "-", -coeff
        factors = ([coeff] if coeff is not sp.S.One else []) + (
            list(rest.as_ordered_factors()) if isinstance(rest, sp.Mul) else [rest])
        num, den = [], []
        for f in factors:
            if f.is_Rational:
                if f.p != 1:
                    num.append(sp.Integer(f.p))
                if f.q != 1:
                    den.append(sp.Integer(f.q))
            elif f.is_commutative and isinstance(f, sp.Pow) and f.exp.is_number and f.exp.is_extended_negative:
                den.append(sp.Pow(f.base, -f.exp, evaluate=False) if f.exp != -1 else f.base)
            elif f is not sp.S.One:
                num.append(f)
        top = "·".join(self.parenthesize(x, prec, strict=False) for x in num) or "1"
        if not den:
            return sign + top
        if len(den) == 1:
            bot = self.parenthesize(den[0], prec, strict=True)
        else:
            bot = "(" + "·".join(self.parenthesize(x, prec, strict=False) for x in den) + ")"
        return f"{sign}{top}/{bot}"

    def _print_MatrixBase(self, expr: Any) -> str:
        rows = ["[" + ", ".join(self._print(v) for v in expr.row(i)) + "]" for i in range(expr.rows)]
        return "[" + ", ".join(rows) + "]"

    _print_MutableDenseMatrix = _print_MatrixBase
    _print_ImmutableDenseMatrix = _print_MatrixBase


# heads that objects with their own ``_sympystr`` print in ASCII (workbench.derivations.cnn._fn)
_HEADS = [(re.compile(r"\bgrad_([A-Za-z]) "), r"∇_\1 "), (re.compile(r"\bdeltaK\("), "δK(")]


def _conv_sinc(text: str) -> str:
    """``conv_sinc(X)`` (forward_euler.SincConv) -> ``[X] ∗ sinc(w·/2)``, as its LaTeX reads."""
    head = "conv_sinc("
    while head in text:
        i = text.index(head)
        j, depth = i + len(head), 1
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        text = f"{text[:i]}[{text[i + len(head):j - 1]}] ∗ sinc(w·/2){text[j:]}"
    return text


def unicode_text(expr: Any) -> str:
    """One line of readable Unicode math for a SymPy object (see module docstring)."""
    text = _conv_sinc(UnicodePrinter({"order": None}).doprint(expr))
    for pat, rep in _HEADS:
        text = pat.sub(rep, text)
    return unicodedata.normalize("NFC", text)
