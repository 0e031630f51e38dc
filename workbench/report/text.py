"""Text of the validation report: number formatting, labels, Unicode notation, notes.

Format-independent helpers of :mod:`workbench.report.render`: they turn the values a case
returns into the strings a reader sees (the templates only escape them):

* :func:`format_number` -- 4 significant digits by default, more where two values
  that are compared would otherwise print alike (:func:`row_digits`);
* :func:`label` -- a human label for a ``numbers`` key (``theory_alpha_lower`` ->
  "theory α lower");
* :func:`pretty` -- one notation across the report: ``alpha`` -> α, ``dt`` -> Δt,
  ``eta`` -> η, ``<=`` -> ≤, ``^2`` -> ², ``a*b`` -> a·b;
* :func:`note_blocks` -- notes as short paragraphs and lists;
* :func:`inline_spans` -- ``**strong**`` and ```code``` inside a text, so each
  renderer marks them up and escapes the rest.
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = ["DASH", "format_number", "format_value", "row_digits", "rel_diff", "label", "pretty",
           "note_blocks", "inline_spans"]

DASH = "\u2014"

# --- numbers ---------------------------------------------------------------------------------


def _as_float(x: Any) -> float | None:
    if isinstance(x, (bool, np.bool_)) or x is None:
        return None
    if isinstance(x, (int, float, np.integer, np.floating)):
        return float(x)
    return None


def format_number(x: Any, digits: int = 4, pad: bool = False) -> str:
    """Text of one value.

    Floats with ``digits`` significant digits (``pad``: keep trailing zeros, so that
    ``2.00000e+06`` stands beside ``2.00015e+06``); integers exactly; None and NaN as
    an em dash, infinities as ``∞``; booleans as ``yes``/``no``; the rest ``str``.
    """
    if x is None:
        return DASH
    if isinstance(x, (bool, np.bool_)):
        return "yes" if bool(x) else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        v = float(x)
        if math.isnan(v):
            return DASH
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v == int(v) and abs(v) < 1e6 and not pad:
            return str(int(v))
        text = f"{v:#.{digits}g}" if pad else f"{v:.{digits}g}"
        if "e" in text and 1e-4 <= abs(v) < 1e7:  # keep plain notation where g switches to an exponent
            text = f"{v:.{max(digits - 1 - math.floor(math.log10(abs(v))), 0)}f}"
        if pad:
            mant, _, exp = text.partition("e")
            text = mant.rstrip(".") + (f"e{exp}" if exp else "")
        return text
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return format_number(x.item(), digits, pad)
    return str(x)


def rel_diff(a: Any, b: Any) -> float | None:
    """``|a - b| / max(|a|, |b|)``; None unless both are finite numbers; 0 for 0, 0."""
    fa, fb = _as_float(a), _as_float(b)
    if fa is None or fb is None or not (math.isfinite(fa) and math.isfinite(fb)):
        return None
    scale = max(abs(fa), abs(fb))
    return 0.0 if scale == 0 else abs(fa - fb) / scale


def _digits_to_tell(a: float, b: float, base: int) -> int:
    d = rel_diff(a, b)
    if not d or d < 1e-7:  # equal to rounding: a relative-error column says by how much
        return base
    return int(min(8, max(base, math.ceil(-math.log10(d)) + 1)))


def row_digits(values: list[Any], base: int = 4) -> list[int]:
    """Significant digits per value of a row so that close values print differently.

    Two finite floats within a factor 2 of each other are taken as a compared pair;
    each gets the digits needed to tell it from the other (at most 8; pairs equal to
    a relative 1e-7 keep ``base``).
    """
    fl = [_as_float(v) if isinstance(v, (float, np.floating)) else None for v in values]
    out = [base] * len(values)
    for i, a in enumerate(fl):
        if a is None or not math.isfinite(a) or a == 0:
            continue
        for j in range(i + 1, len(fl)):
            b = fl[j]
            if b is None or not math.isfinite(b) or b == 0 or a * b < 0:
                continue
            if 0.5 <= abs(a / b) <= 2:
                need = _digits_to_tell(a, b, base)
                out[i], out[j] = max(out[i], need), max(out[j], need)
    return out


def format_value(x: Any) -> str:
    """Prediction/measurement/tolerance text: scalars formatted, mappings as ``label = v``."""
    if isinstance(x, dict):
        return "; ".join(f"{label(k)} = {format_value(v)}" for k, v in x.items())
    if isinstance(x, (list, tuple)):
        return ", ".join(format_value(v) for v in x)
    if isinstance(x, str):
        return pretty(x)
    return format_number(x)


# --- notation --------------------------------------------------------------------------------

_GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eps": "ε", "eta": "η",
    "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "xi": "ξ", "pi": "π", "rho": "ρ",
    "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω", "Delta": "Δ", "Omega": "Ω", "Lambda": "Λ",
}
_WORDS = {**_GREEK, "dt": "Δt", "dx": "Δx", "yhat": "ŷ", "Ibar": "Ī", "infinity": "∞", "inf": "∞",
          "sqrt": "√", "Delta_t": "Δt", "Delta_x": "Δx"}
_SUP = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")
_WORD_RE = re.compile(r"(?<![A-Za-z\\])(" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True))
                      + r")(?![A-Za-z])")
_SYMBOLS = [(re.compile(r"\ba(?=(?:\^e)?_(?:min|max)\b)"), "α"),  # the first paper's a^e_min, a_max: α, not a
            (re.compile(r"(?<=[\w)\]])\*\*(-?\d{1,2})(?![\d.\w])"), lambda m: m.group(1).translate(_SUP)),
            (re.compile(r"<=>"), "⇔"), (re.compile(r"<="), "≤"), (re.compile(r">="), "≥"), (re.compile(r"!="), "≠"),
            (re.compile(r"(?<![<-])->"), "→"), (re.compile(r"(?<![\w)])\+-(?=[\s\d\w(])"), "±"), (re.compile(r"(?<![\w)])-\+(?=[\s\d\w(Ī])"), "∓"),
            (re.compile(r"(?<=\d) x (?=[\d\w(])"), " × "), (re.compile(r"(?<=\d)x(?=\d)"), "×"), (re.compile(r"\bI\^"), "Î"), (re.compile(r"(?<=[\w)|\]])\^(-?\d{1,2})(?![\d.\w])"),
                                          lambda m: m.group(1).translate(_SUP)),
            (re.compile(r"(?<=[\w)\]|²³])\*(?=[\w(|√])"), "·")]


def pretty(text: Any) -> str:
    """One notation for prose: Greek names as letters (α, β, η, λ, ...), ``dt`` as Δt,
    ``<=``/``>=``/``->`` as ≤/≥/→, small integer powers as superscripts, a product
    ``a*b`` as ``a·b``. ``**strong**`` markup is kept."""
    if not isinstance(text, str):
        return format_number(text)
    out = _WORD_RE.sub(lambda m: _WORDS[m.group(1)], text)
    for pat, rep in _SYMBOLS:
        out = pat.sub(rep, out)
    return out


_LABELS = {
    "dt": "Δt", "lr": "learning rate", "rtol": "bisection rtol", "steps": "time steps",
    "theory_alpha_lower": "theory α lower (26)", "theory_alpha_upper": "theory α upper (27)",
    "two_over_alpha": "2/α", "two_over_eta": "2/η", "q_star": "q*", "c_star": "c*",
    "max_qF_over_cstar": "max q(F(θ))/c*", "lambda0": "λ₀", "lambda0_theta0": "λ₀ at θ₀",
    "seconds": "run time (s)", "w": "kernel size w", "K": "tail length K",
    "pearson_log_drift_vs_log_Hg": "Pearson, log drift vs log ‖H∇E‖",
    "pearson_log_drift_vs_log_half_h2_Hg": "Pearson, log drift vs log (h²/2)‖H∇E‖",
    "pearson_re_sc0_vs_dE": "Pearson, Re sc₀ vs ΔE", "spearman_re_sc0_vs_dE": "Spearman, Re sc₀ vs ΔE",
    "pearson_pf_dEdt_vs_dE": "Pearson, PF dE/dt vs ΔE", "fraction_h_lambda0_above_2": "fraction with hλ₀ > 2",
    "n_train": "training samples", "n_test": "test samples", "L_first": "L at the first step",
    "L_last": "L at the last step", "z_upper_exact": "z upper (exact)", "z_upper_paper_45": "z upper, paper (45)",
}
_TOKENS = {"rel": "relative", "err": "error", "vs": "vs", "max": "max", "min": "min", "tol": "tolerance",
           "pf": "PF", "ngf": "NGF", "igr": "IGR", "dal": "DAL", "sc0": "sc₀", "d3": "D.3", "d4": "D.4",
           "pred": "predicted", "sim": "simulated", "lr": "learning rate", "lrs": "learning rates",
           "uc": "UC", "rp": "RP", "rhs5": "RHS (5)", "rhs6": "RHS (6)", "num": "number", "abs": "absolute",
           "lambda0": "λ₀", "h0": "h = 0", "n1": "n = 1", "float32": "float32", "float64": "float64"}


def label(key: Any) -> str:
    """Human label of a ``numbers`` key: an explicit entry, else words from the key."""
    k = str(key)
    if k in _LABELS:
        return _LABELS[k]
    words = [_TOKENS.get(t, t) for t in k.split("_") if t]
    return pretty(" ".join(words)) if words else k


# --- notes and inline markup ------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_ABBREV = re.compile(r"(?:\be\.g|\bi\.e|\bcf|\bvs|\bFig|\bEq|\bEqs|\bet al|\bDef|\bSec|\bapp)\.$")


def _sentences(text: str) -> list[str]:
    parts, buf = [], ""
    for piece in _SENTENCE.split(text):
        buf = f"{buf} {piece}".strip() if buf else piece
        if not _ABBREV.search(buf):
            parts.append(buf)
            buf = ""
    if buf:
        parts.append(buf)
    return parts


def note_blocks(notes: Any, long: int = 320) -> list[dict]:
    """Notes as blocks ``{"kind": "p" | "ul", "lines": [text, ...]}``.

    Paragraphs are separated by blank lines; lines starting with ``- `` or ``* ``
    form a list; a paragraph longer than ``long`` characters becomes a list of its
    sentences (grouped in twos when short), so no note is a wall of text.
    """
    if notes is None or notes == "":
        return []
    if isinstance(notes, (list, tuple)):
        return [{"kind": "ul", "lines": [pretty(str(n)) for n in notes]}]
    blocks: list[dict] = []
    for para in re.split(r"\n\s*\n", str(notes).strip()):
        lines = [ln.strip() for ln in para.splitlines() if ln.strip()]
        if lines and all(re.match(r"[-*] ", ln) for ln in lines):
            blocks.append({"kind": "ul", "lines": [pretty(ln[2:]) for ln in lines]})
            continue
        text = " ".join(lines)
        if len(text) <= long:
            blocks.append({"kind": "p", "lines": [pretty(text)]})
            continue
        sents, items, cur = _sentences(text), [], ""
        for s in sents:
            if cur and len(cur) + len(s) > 220:
                items.append(cur)
                cur = s
            else:
                cur = f"{cur} {s}".strip()
        if cur:
            items.append(cur)
        blocks.append({"kind": "ul" if len(items) > 1 else "p", "lines": [pretty(i) for i in items]})
    return blocks


_INLINE = re.compile(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])|`([^`]+)`")


def inline_spans(text: Any) -> list[tuple[str, str]]:
    """``[(kind, text)]`` with kind ``"text"``, ``"strong"`` (``**x**``) or ``"code"`` (```x```)."""
    text = str(text)
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            out.append(("text", text[pos:m.start()]))
        out.append(("strong", m.group(1)) if m.group(1) is not None else ("code", m.group(2)))
        pos = m.end()
    if pos < len(text):
        out.append(("text", text[pos:]))
    return out
