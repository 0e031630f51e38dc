"""Validation reports: ``results.json``, ``report.md`` and ``report.html`` (GUIDE section 7).

One report folder holds the three files and the PNG figures the cases wrote. Each
case is a dict (``validation.registry.run_case`` result) with the keys of
:data:`CASE_KEYS`; the three files carry the same content:

* ``results.json`` -- ``{"meta": meta, "cases": cases}``, strict JSON (NaN and
  infinities become ``null``, NumPy scalars and arrays become Python numbers/lists);
* ``report.md`` -- title, summary table, then per case the claim, source, prediction,
  measurement, tolerance, verdict, numbers, tables, figure links and notes;
* ``report.html`` -- the same, figures inlined as base64 PNG, all text HTML-escaped.

Numbers in tables are shown with 4 significant digits; missing values (None, NaN)
as an em dash. All files are written atomically.
"""
from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .io import atomic_write_text

__all__ = ["CASE_KEYS", "VERDICTS", "to_jsonable", "case_to_dict", "format_cell",
           "render_markdown", "render_html", "write_report"]

VERDICTS = ("confirmed", "refined", "refuted")
CASE_KEYS = ("id", "claim", "source", "prediction", "measurement", "tolerance",
             "verdict", "passed", "numbers", "tables", "figures", "notes")
_DEFAULTS: dict[str, Any] = {"numbers": {}, "tables": [], "figures": [], "notes": ""}
DASH = "\u2014"


# --- data ---------------------------------------------------------------------------

def to_jsonable(obj: Any) -> Any:
    """Convert ``obj`` to values :func:`json.dumps` accepts with ``allow_nan=False``.

    NaN and +-inf become ``None``; NumPy scalars become Python scalars and arrays
    nested lists; tuples and sets become lists; mapping keys become strings;
    paths become strings; complex numbers ``{"real": .., "imag": ..}``; objects with
    a ``to_dict()`` method or dataclasses are converted through it; anything else
    becomes ``str(obj)``.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (complex, np.complexfloating)):
        return {"real": to_jsonable(obj.real), "imag": to_jsonable(obj.imag)}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "__array__"):  # arrays of other backends
        return to_jsonable(np.asarray(obj))
    return str(obj)


def case_to_dict(case: Any) -> dict:
    """A case result (dict, object with ``to_dict()`` or dataclass) as a plain dict
    with every key of :data:`CASE_KEYS` present (missing ones set to a default)."""
    if isinstance(case, Mapping):
        d = dict(case)
    elif hasattr(case, "to_dict"):
        d = dict(case.to_dict())
    elif dataclasses.is_dataclass(case) and not isinstance(case, type):
        d = dataclasses.asdict(case)
    else:
        raise TypeError(f"case: expected a dict, got {type(case).__name__}")
    for key in CASE_KEYS:
        if key not in d or (key in _DEFAULTS and d[key] is None):
            d[key] = _DEFAULTS.get(key, None)
    return d


def _passed(case: Mapping) -> bool:
    return bool(case.get("passed"))


# --- formatting -----------------------------------------------------------------------

def format_cell(x: Any) -> str:
    """Text of one value: floats ``.4g``, None/NaN as an em dash, the rest ``str``."""
    if x is None:
        return DASH
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return DASH if math.isnan(v) else f"{v:.4g}"
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return format_cell(x.item())
    return str(x)


def _format_value(x: Any) -> str:
    """Prediction/measurement/tolerance: scalars as cells, mappings as ``k = v``."""
    if isinstance(x, Mapping):
        return "; ".join(f"{k} = {_format_value(v)}" for k, v in x.items())
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_format_value(v) for v in x) + "]"
    return format_cell(x)


def _summary(cases: list[dict]) -> str:
    counts = {v: sum(1 for c in cases if c.get("verdict") == v) for v in VERDICTS}
    failed = sum(1 for c in cases if not _passed(c))
    parts = ", ".join(f"{n} {v}" for v, n in counts.items())
    other = len(cases) - sum(counts.values())
    if other:
        parts += f", {other} other"
    return f"{len(cases)} case(s): {parts}; {len(cases) - failed} passed, {failed} failed."


def _table(table: Any) -> tuple[str, list[str], list[list[str]]]:
    if not isinstance(table, Mapping):
        return "", ["value"], [[format_cell(table)]]
    columns = [str(c) for c in table.get("columns") or []]
    rows = [[format_cell(v) for v in (r if isinstance(r, (list, tuple)) else [r])]
            for r in table.get("rows") or []]
    width = max([len(columns)] + [len(r) for r in rows])
    columns += [""] * (width - len(columns))
    rows = [r + [""] * (width - len(r)) for r in rows]
    return str(table.get("title") or ""), columns, rows


def _numbers_rows(numbers: Any) -> list[list[str]]:
    if not isinstance(numbers, Mapping):
        return []
    rows = []
    for k, v in numbers.items():
        if isinstance(v, (Mapping, list, tuple, np.ndarray)):
            text = json.dumps(to_jsonable(v), allow_nan=False)
            text = text if len(text) <= 200 else text[:197] + "..."
        else:
            text = format_cell(v)
        rows.append([str(k), text])
    return rows


def _figure(fig: Any) -> tuple[str, str]:
    if isinstance(fig, Mapping):
        return str(fig.get("path", "")), str(fig.get("caption", ""))
    return str(fig), ""


# --- Markdown ---------------------------------------------------------------------------

def _md(text: Any) -> str:
    return format_cell(text).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _md_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_md(c) for c in columns) + " |",
           "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(_md(v) for v in r) + " |" for r in rows]
    return out


def render_markdown(cases: list[dict], meta: Mapping) -> str:
    """The Markdown report (see module docstring)."""
    cases = [case_to_dict(c) for c in cases]
    lines = [f"# {meta.get('title') or 'Validation report'}", ""]
    lines += [f"- **{k}**: {_format_value(v)}" for k, v in meta.items() if k != "title"]
    lines += ["", "## Summary", "", _summary(cases), ""]
    lines += _md_table(["case", "verdict", "check", "claim"],
                       [[str(c["id"]), str(c["verdict"]), "PASS" if _passed(c) else "FAIL",
                         format_cell(c["claim"])] for c in cases])
    for c in cases:
        lines += ["", f"## {c['id']}", ""]
        for key in ("claim", "source", "prediction", "measurement", "tolerance"):
            lines.append(f"- **{key}**: {_md(_format_value(c[key]))}")
        lines.append(f"- **verdict**: {_md(c['verdict'])} ({'PASS' if _passed(c) else 'FAIL'})")
        rows = _numbers_rows(c["numbers"])
        if rows:
            lines += ["", "**Numbers**", ""] + _md_table(["name", "value"], rows)
        for t in c["tables"] or []:
            title, cols, trows = _table(t)
            lines += [""] + ([f"**{_md(title)}**", ""] if title else []) + _md_table(cols, trows)
        for f in c["figures"] or []:
            path, caption = _figure(f)
            lines += ["", f"![{caption or Path(path).name}]({path})"]
        if c["notes"]:
            lines += ["", "**Notes.** " + str(c["notes"])]
    return "\n".join(lines) + "\n"


# --- HTML -------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#222}table{border-collapse:collapse;margin:.6rem 0}
th,td{border:1px solid #bbb;padding:.2rem .5rem;text-align:right}th{background:#eee}
td:first-child,th:first-child{text-align:left}.pass{color:#176117}.fail{color:#a11;font-weight:bold}
.confirmed{color:#176117}.refined{color:#8a5a00}.refuted{color:#a11}img{max-width:100%}
dt{font-weight:bold;float:left;clear:left;width:8rem}dd{margin-left:8.5rem}
.missing{color:#a11}"""


def _e(x: Any) -> str:
    return html.escape(format_cell(x) if not isinstance(x, str) else x, quote=True)


def _html_table(columns: list[str], rows: list[list[str]], caption: str = "") -> str:
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_figure(out_dir: Path, fig: Any) -> str:
    path, caption = _figure(fig)
    p = Path(path) if Path(path).is_absolute() else out_dir / path
    label = caption or Path(path).name
    try:
        data = base64.b64encode(p.read_bytes()).decode("ascii")
    except OSError:
        return f'<p class="missing">figure missing: {_e(path)}</p>'
    mime = "image/svg+xml" if p.suffix.lower() == ".svg" else "image/png"
    return (f'<figure><img alt="{_e(label)}" src="data:{mime};base64,{data}">'
            f"<figcaption>{_e(label)}</figcaption></figure>")


def _anchor(case_id: Any) -> str:
    return "case-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in str(case_id))


def render_html(cases: list[dict], meta: Mapping, out_dir: str | Path = ".") -> str:
    """The HTML report; figures are read from ``out_dir`` and inlined as base64."""
    out_dir = Path(out_dir)
    cases = [case_to_dict(c) for c in cases]
    title = _e(meta.get("title") or "Validation report")
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             f"<title>{title}</title><style>{_CSS}</style></head><body>", f"<h1>{title}</h1>"]
    items = "".join(f"<li><b>{_e(str(k))}</b>: {_e(_format_value(v))}</li>"
                    for k, v in meta.items() if k != "title")
    if items:
        parts.append(f"<ul>{items}</ul>")
    parts += ["<h2>Summary</h2>", f"<p>{_e(_summary(cases))}</p>",
              "<table><thead><tr><th>case</th><th>verdict</th><th>check</th><th>claim</th>"
              "</tr></thead><tbody>"]
    for c in cases:
        ok = _passed(c)
        parts.append(
            f'<tr><td><a href="#{_anchor(c["id"])}">{_e(str(c["id"]))}</a></td>'
            f'<td class="{_e(str(c["verdict"]))}">{_e(str(c["verdict"]))}</td>'
            f'<td class="{"pass" if ok else "fail"}">{"PASS" if ok else "FAIL"}</td>'
            f'<td>{_e(c["claim"])}</td></tr>')
    parts.append("</tbody></table>")
    for c in cases:
        ok = _passed(c)
        parts.append(f'<section id="{_anchor(c["id"])}"><h2>{_e(str(c["id"]))}</h2><dl>')
        for key in ("claim", "source", "prediction", "measurement", "tolerance"):
            parts.append(f"<dt>{key}</dt><dd>{_e(_format_value(c[key]))}</dd>")
        parts.append(f'<dt>verdict</dt><dd><span class="{_e(str(c["verdict"]))}">'
                     f'{_e(str(c["verdict"]))}</span> (<span class="{"pass" if ok else "fail"}">'
                     f'{"PASS" if ok else "FAIL"}</span>)</dd></dl>')
        rows = _numbers_rows(c["numbers"])
        if rows:
            parts.append(_html_table(["name", "value"], rows, "Numbers"))
        for t in c["tables"] or []:
            ttitle, cols, trows = _table(t)
            parts.append(_html_table(cols, trows, ttitle))
        parts += [_html_figure(out_dir, f) for f in c["figures"] or []]
        if c["notes"]:
            parts.append(f"<p><b>Notes.</b> {_e(str(c['notes']))}</p>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# --- files -----------------------------------------------------------------------------

def write_report(out_dir: str | Path, cases: list[dict], meta: dict) -> dict[str, Path]:
    """Write ``results.json``, ``report.md`` and ``report.html`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Report folder (created if needed); figure paths in the cases are relative to it.
    cases : list of dict
        Case results with the keys of :data:`CASE_KEYS` (missing ones get defaults).
    meta : dict
        Run information (``title`` is used as the heading; the rest is listed).

    Returns
    -------
    dict
        ``{"json": Path, "md": Path, "html": Path}``.
    """
    out = Path(out_dir)
    cases = [case_to_dict(c) for c in cases]
    data = to_jsonable({"meta": dict(meta), "cases": cases})
    paths = {"json": out / "results.json", "md": out / "report.md", "html": out / "report.html"}
    atomic_write_text(paths["json"], json.dumps(data, indent=2, allow_nan=False) + "\n")
    atomic_write_text(paths["md"], render_markdown(cases, meta))
    atomic_write_text(paths["html"], render_html(cases, meta, out))
    return paths
