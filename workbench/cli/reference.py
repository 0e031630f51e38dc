"""The command-line reference as Markdown, generated from the argparse parsers.

``python -m workbench.cli.reference`` prints it; the documentation site builds its CLI
page from it (``docs/hooks.py``), so the page always shows the options, defaults and
examples the installed ``workbench`` has.
"""
from __future__ import annotations

import argparse
import os

__all__ = ["markdown"]


def markdown() -> str:
    """One section per command: its one-line purpose and its ``--help`` text."""
    from workbench.cli.app import build_parser

    os.environ.setdefault("COLUMNS", "100")  # help text wrapped the same way on every machine
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    parts = ["```text", parser.format_help().rstrip(), "```", ""]
    for name, p in sub.choices.items():
        parts += [f"## workbench {name}", "", f"{helps.get(name, '')[:1].upper()}{helps.get(name, '')[1:]}.", "",
                  "```text", p.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown())
