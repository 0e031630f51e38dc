"""Validation reports: ``results.json``, ``report.md`` and ``report.html`` (GUIDE section 7).

One report folder holds the three files and the PNG figures the cases wrote. Each
case is a :class:`workbench.validation.result.CaseResult` (what ``workbench.validation.registry.run_case``
returns) or its ``to_dict()`` form, with the keys of :data:`CASE_KEYS`. The reports are one document model (:func:`build_document`)
rendered through two Jinja2 templates (``workbench/templates/report.{html,md}.j2``):

* ``results.json`` -- ``{"meta": meta, "cases": cases}``, strict JSON (NaN and
  infinities become ``null``, NumPy scalars and arrays become Python numbers/lists);
  the only place nested data (per-run lists, curves) appear;
* ``report.md`` -- title, summary table, then per case the claim, source, prediction,
  measurement, tolerance, verdict, scalar numbers with human labels, tables, figures
  with captions and notes; ``*``, ``_`` and ``|`` in case text are escaped;
* ``report.html`` -- the same, figures inlined as base64 PNG shown at their native
  size, all text HTML-escaped, ``**strong**`` in notes rendered; tables scroll inside
  their box; a print style sheet.

Numbers get 4 significant digits, more where two values of a table row that are
compared (within a factor 2) would otherwise print alike; missing values (None, NaN)
show as an em dash. A prediction and a measurement with a common numeric key are put
side by side with their relative difference; a table may name compared columns
(``"compare": [["exact", "simulated"], ...]``) to get a relative-difference column.
All files are written atomically.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import math
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workbench.validation.files import atomic_write_text
from workbench.validation.verdict import VERDICTS
from workbench.report.papers import ORDER, paper
from workbench.report.text import (DASH, format_number, format_value, inline_spans, label, note_blocks, pretty, rel_diff,
                          row_digits)

__all__ = ["CASE_KEYS", "VERDICTS", "LEGEND", "tally", "rerender", "to_jsonable", "case_to_dict", "format_cell", "build_document",
           "render_markdown", "render_html", "write_report"]

CASE_KEYS = ("id", "claim", "source", "prediction", "measurement", "tolerance",
             "verdict", "passed", "paper", "where", "rule", "reason", "numbers", "tables", "figures", "notes")
_DEFAULTS: dict[str, Any] = {"numbers": {}, "tables": [], "figures": [], "notes": "", "where": "", "rule": "",
                             "reason": ""}


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

def format_cell(x: Any, digits: int = 4) -> str:
    """Text of one value: floats with ``digits`` significant digits (whole floats below
    10^6 as integers), None/NaN as an em dash, booleans ``yes``/``no``, the rest ``str``."""
    return format_number(x, digits)


def tally(cases: list[Mapping]) -> str:
    """``"3 confirmed, 1 refined, 0 refuted, 0 not reproduced, 0 inconclusive"`` (and any other verdict)."""
    counts = {v: sum(1 for c in cases if c.get("verdict") == v) for v in VERDICTS}
    parts = [f"{n} {v}" for v, n in counts.items()]
    others = sorted({str(c.get("verdict")) for c in cases} - set(VERDICTS))
    parts += [f"{sum(1 for c in cases if str(c.get('verdict')) == v)} {v}" for v in others]
    return ", ".join(parts)


def _summary(cases: list[dict]) -> str:
    failed = sum(1 for c in cases if not _passed(c))
    return (f"{len(cases)} case{'s' if len(cases) != 1 else ''}: {tally(cases)}. "
            f"Self-check held in {len(cases) - failed}, failed in {failed}.")


#: what the two columns of the summary mean
LEGEND = ("Verdict: what the measurement says about the paper's claim (confirmed; refined: holds with "
          "a stated correction; refuted: the measured effect excludes the claimed one; not reproduced: "
          "a different setting, or no significant effect either way). Self-check: the workbench's own "
          "consistency check (for instance exact and simulated bounds agree); when it fails the verdict "
          "is inconclusive: the workbench, not the paper, is in doubt.")


_NEVER = re.compile(r"first iter|steps? to|first step", re.I)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _cell_text(x: Any) -> str:
    if isinstance(x, (Mapping, list, tuple, np.ndarray)):
        return json.dumps(to_jsonable(x), allow_nan=False, ensure_ascii=False)
    return pretty(x) if isinstance(x, str) else format_number(x)


def _table(table: Any) -> dict:
    """A case table as ``{"title", "columns", "rows", "numeric"}`` of display strings."""
    if not isinstance(table, Mapping):
        return {"title": "", "columns": ["value"], "rows": [[_cell_text(table)]], "numeric": [_is_num(table)]}
    columns = [str(c) for c in table.get("columns") or []]
    raw = []
    for r in table.get("rows") or []:
        if isinstance(r, Mapping):
            raw.append([r.get(c) for c in columns] if columns else list(r.values()))
        else:
            raw.append(list(r) if isinstance(r, (list, tuple)) else [r])
    width = max([len(columns)] + [len(r) for r in raw])
    columns += [""] * (width - len(columns))
    raw = [r + [""] * (width - len(r)) for r in raw]
    for a, b in table.get("compare") or []:  # add a relative-difference column after b
        if a in columns and b in columns:
            ia, ib = columns.index(a), columns.index(b)
            columns.insert(ib + 1, f"rel. diff. {b} vs {a}")
            for r in raw:
                r.insert(ib + 1, rel_diff(r[ia], r[ib]))
    rows = []
    for r in raw:
        digits = row_digits(r)
        cells = []
        for j, (v, d) in enumerate(zip(r, digits)):
            if _is_num(v) and v == -1 and _NEVER.search(columns[j]):
                cells.append("never")
            elif _is_num(v) and isinstance(v, (float, np.floating)):
                cells.append(format_number(v, d, pad=d > 4))
            else:
                cells.append(_cell_text(v))
        rows.append(cells)
    numeric = [sum(_is_num(r[j]) for r in raw) * 2 >= max(1, sum(r[j] not in ("", None) for r in raw))
               and any(_is_num(r[j]) for r in raw) for j in range(len(columns))]
    return {"title": pretty(str(table.get("title") or "")), "columns": [pretty(c) for c in columns],
            "rows": rows, "numeric": numeric}


def _compared(pred: Any, meas: Any) -> list[dict]:
    """Numeric entries a prediction and a measurement have in common, with their relative difference."""
    if isinstance(pred, Mapping) and isinstance(meas, Mapping):
        pairs = [(label(k), pred[k], meas[k]) for k in pred if k in meas]
    elif _is_num(pred) and _is_num(meas):
        pairs = [("value", pred, meas)]
    else:
        return []
    out = []
    for name, p, m in pairs:
        if not (_is_num(p) and _is_num(m)):
            continue
        dp, dm = row_digits([float(p), float(m)])
        d = rel_diff(p, m)
        out.append({"label": name, "predicted": format_number(p, dp, pad=dp > 4),
                    "measured": format_number(m, dm, pad=dm > 4),
                    "rel": DASH if d is None else f"{d:.2e}" if d else "0"})
    return out


def _numbers(numbers: Any) -> tuple[list[tuple[str, str, bool]], list[str]]:
    """Scalar entries of ``numbers`` as (label, text, numeric) rows; names of the nested ones."""
    if not isinstance(numbers, Mapping):
        return [], []
    rows, nested = [], []
    for k, v in numbers.items():
        if isinstance(v, (Mapping, list, tuple, set, np.ndarray)) and not (
                isinstance(v, np.ndarray) and v.ndim == 0):
            nested.append(str(k))
        else:
            rows.append((label(k), _cell_text(v), _is_num(v)))
    return rows, nested


#: the resolution at which a figure is shown at its natural size (a 7 in figure is 770 CSS pixels)
SHOW_DPI = 110


def _png_width(p: Path) -> int | None:
    """The width to show a PNG at: its pixel width scaled by ``SHOW_DPI`` / its own resolution
    (pHYs chunk), so a figure saved at 2x is shown at its natural size and sharp."""
    try:
        data = p.read_bytes()
    except OSError:
        return None
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width = int(struct.unpack(">I", data[16:20])[0])
    i = data.find(b"pHYs", 8, 4096)
    if i > 0:
        ppm, _, unit = struct.unpack(">IIB", data[i + 4:i + 13])
        if unit == 1 and ppm > 0:
            return round(width * SHOW_DPI / (ppm * 0.0254))
    return width


def _default_caption(path: str) -> str:
    return Path(path).stem.replace("_", " ").replace("-", " ")


def _figures(case: Mapping, out_dir: Path | None, start: int) -> list[dict]:
    captions = case.get("captions") or {}
    out = []
    for i, fig in enumerate(case.get("figures") or []):
        if isinstance(fig, Mapping):
            path, caption = str(fig.get("path", "")), fig.get("caption")
        else:
            path, caption = str(fig), None
        caption = caption or (captions.get(path) if isinstance(captions, Mapping) else None) or _default_caption(path)
        item = {"number": start + i, "path": path, "caption": pretty(str(caption)), "src": None, "width": None,
                "svg": None}
        if out_dir is not None:
            p = Path(path) if Path(path).is_absolute() else out_dir / path
            try:
                data = base64.b64encode(p.read_bytes()).decode("ascii")
            except OSError:
                pass
            else:
                mime = "image/svg+xml" if p.suffix.lower() == ".svg" else "image/png"
                item["src"] = f"data:{mime};base64,{data}"
                item["width"] = _png_width(p)
                svg = p.with_suffix(".svg")
                item["svg"] = str(Path(path).with_suffix(".svg")) if svg.is_file() and svg != p else None
        out.append(item)
    return out


def _anchor(case_id: Any) -> str:
    return "case-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in str(case_id))


_META_LABELS = {"generated": "generated (UTC)", "quick": "mode", "cases": "cases",
                "seconds": "run time (this invocation)", "workers": "workers (this invocation)",
                "kept": "cases kept from earlier runs", "case_seconds": "case time, every case in the report",
                "python": "Python", "platform": "platform", "version": "workbench version", "commit": "git commit",
                "numpy": "NumPy", "scipy": "SciPy", "sympy": "SymPy", "machine": "machine", "threads": "threads",
                "run_id": "run id", "planned": "cases planned", "resumed": "cases resumed (this invocation)",
                "interrupted": "interrupted"}


def _meta_rows(meta: Mapping) -> list[tuple[str, str]]:
    rows = []
    for k, v in meta.items():
        if k == "title":
            continue
        if k == "quick":
            text = "quick (reduced sizes)" if v else "full"
        elif k == "commit" and v is None:
            text = "not run from a git checkout"
        elif k in ("seconds", "case_seconds") and _is_num(v):
            text = f"{float(v):.0f} s ({float(v) / 60:.1f} min)"
        else:
            text = format_value(v) if not isinstance(v, str) else v
        rows.append((_META_LABELS.get(k, label(k)), text))
    return rows


def build_document(cases: list[Any], meta: Mapping, out_dir: str | Path | None = None) -> dict:
    """The document model both templates render.

    Parameters
    ----------
    cases : list
        Case results (see :func:`case_to_dict`).
    meta : Mapping
        Run information; ``title`` is the heading, the rest a labelled list.
    out_dir : str or Path, optional
        Where the figures are; when given they are read and inlined (``src``).

    Returns
    -------
    dict
        ``{"title", "meta": [(label, text)], "summary", "cases": [...]}``; each case
        holds display strings only (labels, formatted numbers, captions, note blocks).
    """
    cases = [case_to_dict(c) for c in cases]
    folder = Path(out_dir) if out_dir is not None else None
    doc_cases, fig_no = [], 1
    for c in cases:
        numbers, nested = _numbers(c["numbers"])
        figs = _figures(c, folder, fig_no)
        fig_no += len(figs)
        secs = c.get("seconds")
        fields = [(name.capitalize(), format_value(c.get(name)))
                  for name in ("claim", "where", "source", "prediction", "measurement", "tolerance", "rule", "reason")
                  if name in CASE_KEYS[:6] or c.get(name) not in (None, "")]
        doc_cases.append({
            "id": str(c["id"]), "anchor": _anchor(c["id"]), "paper": c.get("paper"),
            "where": pretty(str(c.get("where") or "")) or DASH,
            "verdict": str(c["verdict"]), "vclass": str(c["verdict"]).replace(" ", "-"),
            "passed": _passed(c), "check": "held" if _passed(c) else "failed",
            "claim": format_value(c["claim"]),
            "seconds": f"{float(secs):.1f}" if _is_num(secs) else DASH,
            "fields": fields,
            "compared": _compared(c["prediction"], c["measurement"]),
            "numbers": numbers, "nested": nested,
            "tables": [_table(t) for t in c["tables"] or []],
            "figures": figs,
            "notes": note_blocks(c["notes"]),
        })
    groups = []
    for number in ORDER:
        members = [(d, c) for d, c in zip(doc_cases, cases) if paper(c.get("paper")).number == number]
        if members:
            p = paper(number)
            groups.append({"heading": p.heading, "citation": p.citation if p.authors else "",
                           "tally": tally([c for _, c in members]), "cases": [d for d, _ in members]})
    ordered = [d for g in groups for d in g["cases"]]
    return {"title": str(meta.get("title") or "Validation report"), "meta": _meta_rows(meta),
            "summary": _summary(cases), "legend": LEGEND, "groups": groups, "cases": ordered}


# --- templates ------------------------------------------------------------------------------

_MD_RULES = (
    (re.compile(r"([\\`])"), r"\\\1"),                         # backslash, code span
    (re.compile(r"\*(?!\s)|(?<!\s)\*|^\*"), r"\\*"),                # a star that could open/close emphasis
    (re.compile(r"(?<![\w\\])_|_(?!\w)"), lambda m: "\\_"),      # _ only where it could open/close emphasis
    (re.compile(r"<(?=[A-Za-z/!?])"), "&lt;"),                 # what could start an HTML tag
    (re.compile(r"\](?=[(\[])"), r"\\]"),                      # ](  ][ : what could close a link
    (re.compile(r"^([#>+-])(?=\s)"), r"\\\1"),                  # block markers at the start
    (re.compile(r"^(\d+)([.)])(?=\s)"), r"\1\\\2"),
)


def _md(text: Any) -> str:
    """Markdown (GFM) text that shows ``text`` literally, with as few escapes as possible: only
    characters that would start markup where they stand are escaped."""
    out = str(text)
    for pat, rep in _MD_RULES:
        out = pat.sub(rep, out)
    return out


def _md_inline(text: Any) -> str:
    out = []
    for kind, t in inline_spans(text):
        if kind == "strong":
            out.append(f"**{_md(t)}**")
        elif kind == "code":
            out.append(f"`{t.replace('`', '')}`")
        else:
            out.append(_md(t))
    return "".join(out)


def _html_inline(text: Any) -> Any:
    from markupsafe import Markup, escape

    out = []
    for kind, t in inline_spans(text):
        if kind == "strong":
            out.append(Markup("<strong>%s</strong>") % t)
        elif kind == "code":
            out.append(Markup("<code>%s</code>") % t)
        else:
            out.append(escape(t))
    return Markup("").join(out)


def _cell(text: Any) -> str:
    """A Markdown table cell: no line breaks, pipes escaped (idempotent on ``\\|``)."""
    s = " ".join(str(text).split())
    return re.sub(r"(?<!\\)\|", r"\\|", s)


def _oneline(text: Any) -> str:
    return " ".join(str(text).split())


_ENVS: dict[str, Any] = {}


def _env(kind: str) -> Any:
    if kind not in _ENVS:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
            autoescape=(kind == "html"), trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
        env.filters.update(md=_md, mdinline=_md_inline, inline=_html_inline, cell=_cell, oneline=_oneline)
        _ENVS[kind] = env
    return _ENVS[kind]


_CSS_FILE = Path(__file__).parent / "templates" / "report.css"


def render_markdown(cases: list[dict], meta: Mapping) -> str:
    """The Markdown report (see module docstring); figures are linked, not inlined."""
    doc = build_document(cases, meta)
    text = _env("md").get_template("report.md.j2").render(doc=doc)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def render_html(cases: list[dict], meta: Mapping, out_dir: str | Path = ".") -> str:
    """The HTML report; figures are read from ``out_dir`` and inlined as base64."""
    doc = build_document(cases, meta, out_dir)
    return _env("html").get_template("report.html.j2").render(doc=doc, css=_CSS_FILE.read_text("utf-8"))


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


def rerender(out_dir: str | Path) -> dict[str, Path]:
    """Render ``report.md`` and ``report.html`` again from ``out_dir/results.json`` alone.

    Figures are redrawn from each case's numbers where the validation registry offers
    ``redraw(case_id, numbers)`` (a list of figures in the order of the case's
    ``figures``); otherwise the figure files already in ``out_dir`` are used. A report
    written by :func:`write_report` comes out byte-identical when its figures are unchanged.

    Raises
    ------
    ParameterError
        When ``out_dir/results.json`` is missing or is not a results file.
    """
    from workbench.solvers.core.checks import ParameterError

    out = Path(out_dir)
    try:
        data = json.loads((out / "results.json").read_text(encoding="utf-8"))
        meta, cases = data["meta"], data["cases"]
    except FileNotFoundError:
        raise ParameterError(f"dir: no results.json in {str(out)!r}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ParameterError(f"dir: {str(out / 'results.json')!r} is not a results file ({exc})") from None
    _redraw(out, cases)
    paths = {"json": out / "results.json", "md": out / "report.md", "html": out / "report.html"}
    atomic_write_text(paths["md"], render_markdown(cases, meta))
    atomic_write_text(paths["html"], render_html(cases, meta, out))
    return paths


def _redraw(out: Path, cases: list[dict]) -> None:
    """Each case's figures drawn again from its numbers (``registry.redraw``: the case module's
    ``figures(numbers)``), in the report style, over the files of the same names."""
    from workbench.solvers.core.checks import ParameterError
    from workbench.validation import registry
    from workbench.validation.files import save_figure
    from workbench.validation.plots import report_style

    for c in cases:
        names = {str(f.get("path") if isinstance(f, Mapping) else f) for f in c.get("figures") or []}
        try:
            registry.get_case(str(c.get("id")))
        except ParameterError:  # a case this version does not know: its figure files are kept as they are
            continue
        if not names:
            continue
        with report_style():
            for name, fig, _caption in registry.redraw(c["id"], c.get("numbers") or {}):
                if name in names:  # a figure the case wrote; redraw never adds files to a report
                    save_figure(fig, out / name)