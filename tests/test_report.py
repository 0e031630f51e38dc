"""Report rendering (Markdown, HTML, strict JSON) of workbench.report."""
from __future__ import annotations

import base64
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest

from workbench.report import format_cell, render_markdown, to_jsonable, write_report


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
    assert format_cell(123456.0) == "1.235e+05"
    assert format_cell(None) == format_cell(float("nan")) == "\u2014"
    assert format_cell(12345) == "12345"
    assert format_cell(np.int64(7)) == "7"
    assert format_cell(True) == "True"


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
    assert re.search(r"\| cnn-alpha-upper \| confirmed \| PASS \|", md)
    assert re.search(r"\| cnn-dt-bound \| refuted \| FAIL \|", md)
    assert "2 case(s): 1 confirmed, 0 refined, 1 refuted; 1 passed, 1 failed." in md
    assert "| kernel | alpha_upper | note |" in md
    assert "| 3 | 1.235 | \u2014 |" in md
    assert "| 5 | \u2014 | a\\|b |" in md  # NaN as dash, pipe escaped
    assert "**Bounds by kernel**" in md
    assert "![fig.png](fig.png)" in md
    assert "first paper, appendix D, eq. (27)" in md
    assert "alpha_upper = 19.12" in md  # prediction with 4 significant digits
    assert "theory is the w -> inf limit" in md
    for key in ("claim", "source", "prediction", "measurement", "tolerance", "verdict"):
        assert md.count(f"- **{key}**:") == 2


def test_html_content(tmp_path, cases):
    _png(tmp_path / "fig.png")
    html = write_report(tmp_path, cases, {"title": "T <&> report"})["html"].read_text()
    assert "<title>T &lt;&amp;&gt; report</title>" in html
    assert "cnn-alpha-upper" in html and "cnn-dt-bound" in html
    assert ">confirmed<" in html and ">refuted<" in html and ">FAIL<" in html
    assert "<td>1.235</td>" in html and "<td>\u2014</td>" in html
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
    assert "- **claim**: \u2014" in paths["md"].read_text()


def test_json_strict_against_nan(tmp_path):
    case = {"id": "n", "verdict": "confirmed", "passed": True,
            "measurement": float("nan"), "numbers": {"v": np.float64("inf")}}
    data = _strict_load(write_report(tmp_path, [case], {"x": math.nan})["json"])
    assert data["meta"]["x"] is None and data["cases"][0]["measurement"] is None
    assert data["cases"][0]["numbers"]["v"] is None


def test_render_markdown_is_pure():
    md = render_markdown([{"id": "a", "verdict": "confirmed", "passed": True}], {})
    assert "# Validation report" in md and "| a | confirmed | PASS |" in md
