"""Check (or print) the README's verdict table against the registered validation cases.

Usage::

    python -m workbench.report.readme_table                 # check: exit 1 and say what differs
    python -m workbench.report.readme_table RESULTS.json    # also check each verdict against a run's results.json
    python -m workbench.report.readme_table --print RESULTS.json   # print a fresh table (paste it into README.md)

The table is the one under "## Verdicts at a glance", grouped by paper (a ``### Paper N``
heading and a table per paper, in the order of :data:`workbench.report.papers.ORDER`): one
row per case, its id in backticks in the first column, where in the paper in the second,
its verdict in the third and its time in seconds in the fourth. The check compares the ids
with ``workbench.validation.registry.list_cases()`` (the ids ``workbench validate --list``
prints), grouped by each case's paper; with a ``results.json`` it also compares the
verdicts. Nothing is evaluated: the README and the JSON are read as text/data.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: README.md beside workbench/
HEADING = "## Verdicts at a glance"
ROW = re.compile(r"^\| `([^`]+)` \| ([^|]*) \| ([^|]*) \| ([^|]*) \|\s*$")


def readme_rows(text: str) -> list[tuple[str, str, str, str]]:
    """(id, paper-where, verdict, seconds) of each row of the verdict table."""
    if HEADING not in text:
        raise ValueError(f"README: no {HEADING!r} section")
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    return [tuple(c.strip() for c in m.groups()) for m in map(ROW.match, section.splitlines()) if m]


def case_ids() -> list[str]:
    """The registered case ids grouped by paper (1-4, then 0, then unassigned), in list order within a paper."""
    from workbench.report.papers import ORDER
    from workbench.validation.registry import get_case, list_cases

    ids = list_cases()
    rank = {p: i for i, p in enumerate(ORDER)}
    return sorted(ids, key=lambda c: rank.get(get_case(c).paper, len(ORDER)))


def check(text: str, ids: list[str], results: dict | None = None) -> list[str]:
    """Differences between the README table and the cases (and a run's verdicts); [] when in sync."""
    rows = readme_rows(text)
    listed = [r[0] for r in rows]
    problems = []
    missing = [c for c in ids if c not in listed]
    extra = [c for c in listed if c not in ids]
    if missing:
        problems.append(f"cases missing from the README table: {', '.join(missing)}")
    if extra:
        problems.append(f"README rows for no registered case: {', '.join(extra)}")
    if not missing and not extra and listed != ids:
        problems.append("README rows are not grouped by paper in `workbench validate --list` order")
    if len(set(listed)) != len(listed):
        problems.append("README table lists a case twice")
    if results is not None:
        verdicts = {c["id"]: c["verdict"] for c in results.get("cases", [])}
        for cid, _, verdict, _ in rows:
            if cid in verdicts and verdicts[cid] != verdict.strip("*"):
                problems.append(f"{cid}: README says {verdict}, results.json says {verdicts[cid]}")
    return problems


def table(results: dict, where: dict[str, str]) -> str:
    """The verdict tables from a run's results.json, one per paper under its ``###`` heading, with its
    tally; the 'where' column from the results (else kept from the README)."""
    from workbench.report.papers import ORDER, paper
    from workbench.report.render import tally

    blocks = []
    for number in ORDER:
        cases = [c for c in results["cases"] if paper(c.get("paper")).number == number]
        if not cases:
            continue
        lines = [f"### {paper(number).heading}", "", f"{tally(cases)}.", "",
                 "| case | where | verdict | s |", "|---|---|---|---|"]
        for c in cases:
            at = c.get("where") or where.get(c["id"], "")
            lines.append(f"| `{c['id']}` | {at} | {c['verdict']} | {round(c.get('seconds') or 0)} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def main(argv: list[str]) -> int:
    printing = "--print" in argv
    args = [a for a in argv if a != "--print"]
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    results = json.loads(Path(args[0]).read_text(encoding="utf-8")) if args else None
    if printing:
        if results is None:
            print("readme_table: --print needs a results.json", file=sys.stderr)
            return 2
        print(table(results, {r[0]: r[1] for r in readme_rows(text)}))
        return 0
    problems = check(text, case_ids(), results)
    for p in problems:
        print(f"readme_table: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
