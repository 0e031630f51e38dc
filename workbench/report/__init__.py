"""Reports: rendering results.json into Markdown and HTML, and the README verdict table."""
