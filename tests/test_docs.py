"""README and documentation examples are executed, so their printed outputs cannot drift;
the CLI reference is generated from the parsers; no page describes how the project was built."""
from __future__ import annotations

import doctest
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
BLOCK = re.compile(r"^```pycon\n(.*?)^```", re.M | re.S)


def _examples(path: Path) -> str:
    return "\n".join(BLOCK.findall(path.read_text(encoding="utf-8")))


WITH_EXAMPLES = [p for p in PAGES if _examples(p).strip()]


def test_pages_with_examples_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in WITH_EXAMPLES}
    assert {"README.md", "docs/tutorials/repl.md"} <= names


@pytest.mark.parametrize("path", WITH_EXAMPLES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_examples_print_what_the_page_says(path):
    """Each page's ``pycon`` blocks run as one doctest session (names carry from block to block)."""
    text = _examples(path)
    test = doctest.DocTestParser().get_doctest(text, {}, path.name, str(path), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)


def test_package_docstring_examples():
    import workbench

    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    ran = 0
    for test in finder.find(workbench, "workbench", globs={"wb": workbench}):
        if test.name in ("workbench", "workbench.bounds"):
            runner.run(test, out=out.append)
            ran += len(test.examples)
    assert ran >= 5 and runner.failures == 0, "".join(out)


def test_cli_reference_covers_every_command_with_its_defaults():
    from workbench.cli.app import build_parser
    from workbench.cli.reference import markdown

    text = markdown()
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert f"## workbench {name}\n" in text, name
    assert "default: theory,exact,simulated" not in " ".join(text.split())  # the fast default, not the old one
    assert "(default: 1e-3)" in text and "--methods" in text


def test_readme_is_short_and_docs_do_not_describe_how_the_project_was_built():
    assert len((ROOT / "README.md").read_bytes()) <= 10 * 1024
    words = re.compile(r"\b(helper|session|previous release|earlier build)s?\b", re.I)
    for page in PAGES:
        found = words.findall(page.read_text(encoding="utf-8"))
        assert not found, (page.name, found)


def test_mkdocs_config_lists_every_page():
    config = (ROOT / "mkdocs.yml").read_text()
    for page in (ROOT / "docs").rglob("*.md"):
        assert page.relative_to(ROOT / "docs").as_posix() in config, page


def test_readme_own_model_example_runs(capsys):
    """The README's PyTorch example (a ``python`` block: torch is an extra) runs as printed."""
    pytest.importorskip("torch")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("**Your own model.**", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)  # our own README text, not user input
    printed = capsys.readouterr().out
    assert printed.startswith("Stability(") or "max_lr" in printed or "margin" in printed, printed
    mon = ns["mon"]
    assert [r["step"] for r in mon.records] == [100, 200, 300, 400, 500]
    assert all(math.isfinite(r["sharpness"]) and r["sharpness"] > 0 for r in mon.records)
    assert ns["fig"].axes
