"""MkDocs hook: the CLI page's ``<!-- cli-reference -->`` marker becomes the reference generated
from the argparse parsers (``workbench.cli.reference``)."""
from __future__ import annotations

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown: str, **kwargs: object) -> str:
    if MARKER not in markdown:
        return markdown
    from workbench.cli.reference import markdown as cli_reference

    return markdown.replace(MARKER, cli_reference())
