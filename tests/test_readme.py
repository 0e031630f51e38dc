"""README.md stays true: its verdict table lists the registered cases, it cites the four papers,
points to nothing outside the repository, and the packaging files exist."""
from __future__ import annotations

from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _tool():
    from workbench.report import readme_table

    return readme_table


def test_verdict_table_matches_validate_list():
    tool = _tool()
    assert tool.check(README, tool.case_ids()) == []


def test_table_check_catches_a_missing_case_and_a_wrong_verdict():
    tool = _tool()
    ids = tool.case_ids()
    assert any("missing" in p for p in tool.check(README, ids + ["new-case"]))
    first = tool.readme_rows(README)[0]
    other = "refuted" if first[2] != "refuted" else "confirmed"
    problems = tool.check(README, ids, {"cases": [{"id": first[0], "verdict": other}]})
    assert problems and first[0] in problems[0]


def test_readme_cites_the_four_papers_and_stays_inside_the_repository():
    for needle in ("arXiv:2206.02001", "Accelerated PDEs for", "arXiv:2302.01952", "arXiv:2204.01050",
                   "Sun, Dong Lao", "Rosca", "Ahn", "git clone", "Python ≥ 3.10", 'pip install ".[torch]"',
                   "https://download.pytorch.org/whl/cpu", "python -m pytest -q"):
        assert needle in README, needle
    assert "../shared" not in README and "shared/papers" not in README


def test_packaging_files():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    cff = (ROOT / "CITATION.cff").read_text()
    refs = [ln for ln in cff.splitlines() if ln.startswith("  - type:")]  # the four papers under references
    assert "cff-version" in cff and len(refs) == 4
    assert (ROOT / "CHANGELOG.md").exists()
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/sweep/" in ignored and "/report/" in ignored
