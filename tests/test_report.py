"""Report rendering (Markdown, HTML, strict JSON) of workbench.report.render."""
from __future__ import annotations

import base64
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

from workbench.report.render import build_document, format_cell, render_html, render_markdown, to_jsonable, write_report
from workbench.report.text import label, note_blocks, pretty, row_digits


def _strict_load(path: Path):
    def refuse(token):
        raise AssertionError(f"non-strict JSON token {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _png(path: Path) -> None:
    import matplotlib.image as mpimg

    mpimg.imsave(path, np.zeros((4, 4, 3)))


@pytest.fixture
def cases():
    return [
        {
            "id": "cnn-alpha-upper",
            "claim": "alpha_upper = 2/dt - a*beta*P_min/2 <bound>",
            "source": "first paper, appendix D, eq. (27)",
            "prediction": {"alpha_upper": np.float64(19.123456)},
            "measurement": {"alpha_upper": 19.12},
            "tolerance": 1e-3,
            "verdict": "confirmed",
            "passed": np.bool_(True),
            "numbers": {"ratio": np.float32(0.5), "bad": float("nan"), "big": float("inf"),
                        "series": np.array([1.0, np.nan])},
            "tables": [{"title": "Bounds by kernel", "columns": ["kernel", "alpha_upper", "note"],
                        "rows": [[3, 1.23456789, None], [np.int64(5), float("nan"), "a|b"]]}],
            "figures": ["fig.png"],
            "notes": "theory is the w -> inf limit",
        },
        {
            "id": "cnn-dt-bound",
            "claim": "dt < 2/(alpha + a*beta*P/2)",
            "source": "first paper, eq. (24)",
            "prediction": 0.1,
            "measurement": 0.2,
            "tolerance": 0.01,
            "verdict": "refuted",
            "passed": False,
            "numbers": {},
            "tables": [],
            "figures": [],
            "notes": "",
        },
    ]


def test_format_cell():
    assert format_cell(1.23456789) == "1.235"
    assert format_cell(np.float32(1e-7)) == "1e-07"
    assert format_cell(123456.0) == "123456"  # a whole float below 1e6 prints as an integer
    assert format_cell(1234567.0) == "1234567" and format_cell(12345678.9) == "1.235e+07"
    assert format_cell(257203.85) == "257204"  # plain notation below 1e7, not 2.572e+05
    assert format_cell(None) == format_cell(float("nan")) == "\u2014"
    assert format_cell(12345) == "12345"
    assert format_cell(np.int64(7)) == "7"
    assert format_cell(True) == "yes" and format_cell(np.bool_(False)) == "no"


def test_to_jsonable():
    data = to_jsonable({1: np.float64("nan"), "x": (np.int64(2), np.float32(0.5), float("-inf")),
                        "a": np.array([[1, 2]]), "b": np.bool_(True), "p": Path("f.png"),
                        "c": 1 + 2j})
    assert data == {"1": None, "x": [2, 0.5, None], "a": [[1, 2]], "b": True, "p": "f.png",
                    "c": {"real": 1.0, "imag": 2.0}}
    assert type(data["x"][0]) is int and type(data["b"]) is bool
    json.dumps(data, allow_nan=False)


def test_write_report_files(tmp_path, cases):
    _png(tmp_path / "fig.png")
    paths = write_report(tmp_path, cases, {"title": "Test report", "quick": True})
    assert set(paths) == {"json", "md", "html"}
    assert sorted(os.listdir(tmp_path)) == ["fig.png", "report.html", "report.md", "results.json"]

    data = _strict_load(paths["json"])
    assert data["meta"] == {"title": "Test report", "quick": True}
    c0, c1 = data["cases"]
    assert c0["id"] == "cnn-alpha-upper" and c1["verdict"] == "refuted"
    assert c0["passed"] is True and c1["passed"] is False
    assert c0["numbers"] == {"ratio": 0.5, "bad": None, "big": None, "series": [1.0, None]}
    assert c0["tables"][0]["rows"][1] == [5, None, "a|b"]
    assert c0["prediction"] == {"alpha_upper": 19.123456}


def test_markdown_content(tmp_path, cases):
    _png(tmp_path / "fig.png")
    md = write_report(tmp_path, cases, {"title": "Test report"})["md"].read_text()
    assert md.startswith("# Test report")
    assert re.search(r"\| \[cnn-alpha-upper\]\(#case-cnn-alpha-upper\) \| — \| confirmed \| held \|", md)
    assert re.search(r"\| \[cnn-dt-bound\]\(#case-cnn-dt-bound\) \| — \| refuted \| failed \|", md)
    assert ("2 cases: 1 confirmed, 0 refined, 1 refuted, 0 not reproduced, 0 inconclusive. "
            "Self-check held in 1, failed in 1.") in md
    assert "| kernel | α_upper | note |" in md  # one notation (α); an intra-word _ needs no escape in GFM
    assert "| 3 | 1.235 | \u2014 |" in md
    assert "| 5 | \u2014 | a\\|b |" in md  # NaN as dash, pipe escaped
    assert "**Bounds by kernel**" in md
    assert "![Figure 1](fig.png)" in md and "*Figure 1.* fig" in md
    assert "first paper, appendix D, eq. (27)" in md
    # prediction beside measurement, with the digits that tell them apart and the relative difference
    assert "| α upper | 19.123 | 19.120 | 1.81e-04 |" in md
    assert "theory is the w → ∞ limit" in md
    for key in ("Claim", "Source", "Prediction", "Measurement", "Tolerance"):
        assert md.count(f"- **{key}**:") == 2
    assert "series" in md and "[1.0, null]" not in md  # nested data only named, kept in the JSON


def test_html_content(tmp_path, cases):
    _png(tmp_path / "fig.png")
    html = write_report(tmp_path, cases, {"title": "T <&> report"})["html"].read_text()
    assert "<title>T &lt;&amp;&gt; report</title>" in html
    assert "cnn-alpha-upper" in html and "cnn-dt-bound" in html
    assert ">confirmed<" in html and ">refuted<" in html and ">failed<" in html
    assert '<td class="num">1.235</td>' in html and '<td class="text">\u2014</td>' in html
    assert "&lt;bound&gt;" in html and "<bound>" not in html
    m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert m, "figure not inlined"
    assert base64.b64decode(m.group(1)) == (tmp_path / "fig.png").read_bytes()


def test_html_escapes_case_text(tmp_path):
    case = {"id": "x", "claim": "<script>alert(1)</script>", "verdict": "refined", "passed": True,
            "notes": "a & b", "tables": [{"title": "<t>", "columns": ["<c>"], "rows": [["<v>"]]}]}
    html = write_report(tmp_path, [case], {})["html"].read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a &amp; b" in html and "&lt;c&gt;" in html and "&lt;v&gt;" in html


def test_missing_figure_and_missing_keys(tmp_path):
    case = {"id": "only-id", "verdict": "refined", "passed": True, "figures": ["nope.png"]}
    paths = write_report(tmp_path / "new", [case], {})
    html = paths["html"].read_text()
    assert "figure missing: nope.png" in html and "base64" not in html
    data = _strict_load(paths["json"])
    assert data["cases"][0]["tables"] == [] and data["cases"][0]["claim"] is None
    assert "- **Claim**: \u2014" in paths["md"].read_text()


def test_json_strict_against_nan(tmp_path):
    case = {"id": "n", "verdict": "confirmed", "passed": True,
            "measurement": float("nan"), "numbers": {"v": np.float64("inf")}}
    data = _strict_load(write_report(tmp_path, [case], {"x": math.nan})["json"])
    assert data["meta"]["x"] is None and data["cases"][0]["measurement"] is None
    assert data["cases"][0]["numbers"]["v"] is None


def test_render_markdown_is_pure():
    md = render_markdown([{"id": "a", "verdict": "confirmed", "passed": True}], {})
    assert "# Validation report" in md and "| [a](#case-a) | — | confirmed | held |" in md


# --- the report a reader sees (issue 17) ------------------------------------------------------

def test_close_values_get_the_digits_their_comparison_needs():
    # Table 5: exact 1428571.43 vs simulated 1428504.65 printed alike at 4 digits (1.429e+06)
    table = {"title": "t", "columns": ["kernel", "exact upper", "simulated upper"],
             "rows": [[8, 1428571.4285714286, 1428504.6517857146]]}
    doc = build_document([{"id": "x", "verdict": "confirmed", "passed": True, "tables": [table]}], {})
    row = doc["cases"][0]["tables"][0]["rows"][0]
    assert row[1] != row[2] and row[1] == "1428571" and row[2] == "1428505"
    table["rows"] = [[8, 142857142.85714287, 142850465.17857146]]
    doc = build_document([{"id": "x", "verdict": "confirmed", "passed": True, "tables": [table]}], {})
    assert doc["cases"][0]["tables"][0]["rows"][0][1:] == ["1.42857e+08", "1.42850e+08"]
    assert row_digits([1.0, 1.0 + 1e-12, 3.0]) == [4, 4, 4]  # equal to rounding: no digit inflation
    assert row_digits([0.5, 100.0]) == [4, 4]  # not a compared pair


def test_compare_column_never_and_numeric_alignment(tmp_path):
    table = {"columns": ["lr", "first iter rel L1>1e-3", "exact", "simulated"],
             "rows": [[0.01, -1, 2.0, 2.002], [0.02, 17, 4.0, 4.0]], "compare": [["exact", "simulated"]]}
    case = {"id": "x", "verdict": "confirmed", "passed": True, "tables": [table]}
    t = build_document([case], {})["cases"][0]["tables"][0]
    assert t["columns"][-1] == "rel. diff. simulated vs exact"
    assert t["rows"][0][1] == "never" and t["rows"][1][1] == "17"
    assert t["rows"][0][-1] == "0.000999" and t["rows"][1][-1] == "0"
    assert all(t["numeric"])
    html = write_report(tmp_path, [case], {})["html"].read_text()
    # every data table sits in a box that scrolls horizontally instead of leaving the page
    assert html.count('<div class="scroll"><table class="data') == html.count('<table class="data')
    assert "overflow-x: auto" in html and "@media print" in html
    assert re.search(r"th, td \{[^}]*text-align: left", html)  # prose left-aligned; numbers right via .num


def test_markdown_escapes_and_html_renders_notes(tmp_path):
    notes = "Bound **exact** here: a * b_c stays literal. " + " ".join(
        f"Sentence {i} says something about the measured bound and its tolerance." for i in range(8))
    case = {"id": "x", "verdict": "refined", "passed": True, "notes": notes}
    paths = write_report(tmp_path, [case], {})
    md, html = paths["md"].read_text(), paths["html"].read_text()
    assert "a * b_c" in md and "**exact**" in md  # a lone star and an intra-word _ are literal in GFM
    assert "<strong>exact</strong>" in html and "**" not in html
    assert html.count("<li>") >= 3  # a long note becomes a list, not a wall of text
    blocks = note_blocks(notes)
    assert blocks[0]["kind"] == "ul" and all(len(x) <= 300 for x in blocks[0]["lines"])


def test_labels_notation_and_nested_numbers():
    assert label("theory_alpha_lower") == "theory α lower (26)"
    assert label("dt") == "Δt" and label("max_rel_error_sharp") == "max relative error sharp"
    assert pretty("alpha <= 2/dt - a*beta/2*max|I^|^2, eta -> 0") == "α ≤ 2/Δt - a·β/2·max|Î|², η → 0"
    assert pretty("beta_max and theta") == "β_max and θ" and pretty("a > 0 <=> b") == "a > 0 ⇔ b"
    assert pretty("-beta**3*u**3/12 on a 256x256 image") == "-β³·u³/12 on a 256×256 image"  # powers, not bold
    doc = build_document([{"id": "x", "verdict": "confirmed", "passed": True,
                           "numbers": {"dt": 0.1, "ok": True, "runs": [1, 2], "by": {"a": 1}}}], {})
    c = doc["cases"][0]
    assert [r[:2] for r in c["numbers"]] == [("Δt", "0.1"), ("ok", "yes")]
    assert c["nested"] == ["runs", "by"]


def test_figure_captions_from_the_case(tmp_path):
    _png(tmp_path / "a.png")
    _png(tmp_path / "b_curve.png")
    case = {"id": "x", "verdict": "confirmed", "passed": True, "figures": ["a.png", "b_curve.png"],
            "captions": {"a.png": "Stable alpha per kernel"}}
    html = write_report(tmp_path, [case], {})["html"].read_text()
    assert "<b>Figure 1.</b> Stable α per kernel" in html
    assert "<b>Figure 2.</b> b curve" in html
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="Stable α per kernel" width="4">', html)


def test_context_records_captions_from_figure_titles(tmp_path):
    from workbench.validation.plots import caption_of, figure
    from workbench.validation.registry import Context

    fig, axes = figure(1, 2)
    axes[0].set_title("loss")
    axes[1].set_title("sharpness")
    fig.suptitle("GD at η = 0.1")
    assert caption_of(fig) == "GD at η = 0.1. panels: (a) loss; (b) sharpness"
    ctx = Context(tmp_path)
    ctx.save_figure(fig, "f.png")
    assert ctx.figures == ["f.png"] and ctx.captions == {"f.png": "GD at η = 0.1. panels: (a) loss; (b) sharpness"}
    assert fig.get_size_inches()[0] == pytest.approx(7.0)


def _paper_cases():
    base = {"claim": "c", "source": "s", "prediction": 1.0, "measurement": 1.0, "tolerance": 0.1}
    return [{**base, "id": "p3-a", "paper": 3, "where": "Eq. (5)", "verdict": "refuted", "passed": True},
            {**base, "id": "p1-a", "paper": 1, "where": "Table 5", "verdict": "confirmed", "passed": True},
            {**base, "id": "p1-b", "paper": 1, "where": "D.3", "verdict": "inconclusive", "passed": False},
            {**base, "id": "reg", "paper": 0, "verdict": "not reproduced", "passed": True},
            {**base, "id": "legacy", "paper": None, "verdict": "refined", "passed": True}]


def test_summary_grouped_by_paper_with_tallies_and_legend(tmp_path):
    paths = write_report(tmp_path, _paper_cases(), {"title": "T"})
    md, html = paths["md"].read_text(), paths["html"].read_text()
    heads = [ln for ln in md.splitlines() if ln.startswith("### ")]
    assert heads == ["### Paper 1: Surprising instabilities (Sun et al., NeurIPS 2022)",
                     "### Paper 3: A continuous time model of gradient descent (Rosca et al., TMLR 2023)",
                     "### Beyond the papers", "### Other"]
    assert "1 confirmed, 0 refined, 0 refuted, 0 not reproduced, 1 inconclusive." in md  # paper 1's tally
    assert "0 confirmed, 0 refined, 1 refuted, 0 not reproduced, 0 inconclusive." in md  # paper 3's
    assert "Self-check: the workbench's own consistency check" in md and "Self-check:" in html
    # case sections follow the paper order, not the input order
    order = [md.index(f'<a id="case-{i}">') for i in ("p1-a", "p1-b", "p3-a", "reg", "legacy")]
    assert order == sorted(order)
    assert "| [p1-a](#case-p1-a) | Table 5 | confirmed | held |" in md
    assert "PASS" not in md and "PASS" not in html


def test_markdown_has_no_table_row_glued_to_a_following_block(tmp_path):
    md = write_report(tmp_path, _paper_cases(), {})["md"].read_text()
    lines = md.splitlines()
    for a, b in zip(lines, lines[1:]):
        if a.startswith("|"):  # a table line is followed by another table line or a blank line
            assert b.startswith("|") or b == "", (a, b)


def test_css_is_applied_not_escaped(tmp_path):
    html = write_report(tmp_path, _paper_cases(), {})["html"].read_text()
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert '"Segoe UI"' in style and "&#34;" not in style and "&quot;" not in style


def test_rerender_is_byte_identical(tmp_path):
    import matplotlib

    from workbench.report.render import rerender

    fig = matplotlib.figure.Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1])
    from workbench.validation.files import save_figure
    save_figure(fig, tmp_path / "fig.png")
    cases = _paper_cases()
    cases[0]["figures"] = ["fig.png"]
    meta = {"title": "T", "quick": True, "version": "0.2.0", "commit": None, "numpy": "2"}
    paths = write_report(tmp_path, cases, meta)
    before = {k: p.read_bytes() for k, p in paths.items()}
    for p in paths.values():
        if p.suffix != ".json":
            p.unlink()
    again = rerender(tmp_path)
    assert {k: p.read_bytes() for k, p in again.items()} == before
    assert "git commit: not run from a git checkout" in before["md"].decode()


def test_png_shown_at_natural_size_from_its_resolution(tmp_path):
    import matplotlib

    from workbench.report.render import _png_width
    from workbench.validation.files import save_figure

    fig = matplotlib.figure.Figure(figsize=(7, 2))
    fig.add_subplot().plot([0, 1])
    save_figure(fig, tmp_path / "f.png")
    import struct
    px = struct.unpack(">I", (tmp_path / "f.png").read_bytes()[16:20])[0]
    assert px > 1000  # saved at 2x the display resolution
    assert abs(_png_width(tmp_path / "f.png") - px / 2) <= 1
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")


def test_provenance_fields():
    from workbench.report.provenance import provenance

    meta = provenance(quick=True)
    assert list(meta) == ["quick", "version", "commit", "python", "numpy", "scipy", "sympy", "machine", "threads"]
    assert meta["quick"] is True and meta["numpy"] == np.__version__
    assert isinstance(meta["threads"], int) and meta["threads"] >= 1


def test_table5_headers_write_alpha_not_a():
    assert pretty("published a^e_min") == "published α^e_min"
    assert pretty("published a_max (46)") == "published α_max (46)"
    assert pretty("a = -0.5, dt = 1e-4, eta = 0.1") == "a = -0.5, Δt = 1e-4, η = 0.1"  # the coefficient a stays a


def test_markdown_escapes_only_what_would_become_markup():
    from workbench.report.render import _md

    assert _md("*x*") == "\\*x\\*" and _md("_x_") == "\\_x\\_"  # would be emphasis
    assert _md("alpha_upper, 2 * 3, [0, 1), x < 3") == "alpha_upper, 2 * 3, [0, 1), x < 3"  # literal as is
    assert _md("<b>") == "&lt;b>" and _md("# h") == "\\# h" and _md("3. x") == "3\\. x"
