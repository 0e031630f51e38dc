"""The committed verdict file ``validation/verdicts.json`` (case id -> verdict) and its check.

Usage::

    python -m workbench.report.verdicts check RESULTS.json    # exit 1, one line, when a verdict changed
    python -m workbench.report.verdicts write RESULTS.json    # rewrite the verdict file from a full run

CI (``.ci/run``) runs the full-size ``workbench validate`` and then ``check``: a verdict
that differs from the committed one, a case the file does not list, or a listed case
the run does not hold fails CI until the file is updated in the same change. ``write``
also records each case's seconds in ``workbench/jobs/case_seconds.json``, the order in
which ``validate --workers`` starts the cases (longest first). Only full-size runs count:
a ``results.json`` of ``validate --quick`` is refused. The files are read as JSON data;
nothing in them is evaluated.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1]  # workbench/ (its validation/ is the checkout's, linked or installed)
VERDICTS = PACKAGE / "validation" / "verdicts.json"
SECONDS = PACKAGE / "jobs" / "case_seconds.json"

__all__ = ["VERDICTS", "run_verdicts", "compare", "load_verdicts", "main"]


class VerdictFileError(ValueError):
    """A verdict file or results.json that cannot be used (named in the message)."""


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise VerdictFileError(f"{what}: cannot read {str(path)!r} ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise VerdictFileError(f"{what}: {str(path)!r} is not JSON ({exc})") from None


def run_verdicts(results: dict, *, allow_quick: bool = False) -> dict[str, str]:
    """Case id -> verdict of a ``results.json`` document (refused when quick or interrupted)."""
    if not isinstance(results, dict) or not isinstance(results.get("cases"), list):
        raise VerdictFileError("results: no 'cases' list; pass the results.json of a `workbench validate` run")
    meta = results.get("meta", {}) if isinstance(results.get("meta"), dict) else {}
    if meta.get("quick") and not allow_quick:
        raise VerdictFileError("results: a --quick run; the verdict file holds the full-size verdicts")
    if meta.get("interrupted"):
        raise VerdictFileError("results: an interrupted run; finish it (re-run the same command) first")
    out: dict[str, str] = {}
    for c in results["cases"]:
        if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not isinstance(c.get("verdict"), str):
            raise VerdictFileError(f"results: a case without a string id and verdict: {str(c)[:80]}")
        out[c["id"]] = c["verdict"]
    return out


def load_verdicts(path: Path = VERDICTS) -> dict[str, str]:
    """The committed case id -> verdict mapping."""
    doc = _read_json(path, "verdicts")
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        raise VerdictFileError(f"verdicts: {str(path)!r} must map case ids to verdict strings")
    return dict(doc)


def compare(committed: dict[str, str], measured: dict[str, str]) -> list[str]:
    """Differences, one short phrase each: changed verdicts, cases the file lacks, cases the run lacks."""
    changed = [f"{c}: {committed[c]} -> {measured[c]}" for c in committed if c in measured and committed[c] != measured[c]]
    new = [c for c in measured if c not in committed]
    gone = [c for c in committed if c not in measured]
    problems = []
    if changed:
        problems.append(f"{len(changed)} verdict{'s' if len(changed) > 1 else ''} changed ({'; '.join(changed)})")
    if new:
        problems.append(f"not in the verdict file: {', '.join(new)}")
    if gone:
        problems.append(f"not in the run: {', '.join(gone)}")
    return problems


def _write(path: Path, doc: dict) -> None:
    from workbench.validation.files import atomic_write_text

    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """``check RESULTS.json [VERDICTS.json]`` or ``write RESULTS.json [VERDICTS.json]``; exit 0, 1 (differs) or 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (2, 3) or args[0] not in ("check", "write"):
        print("usage: python -m workbench.report.verdicts {check,write} RESULTS.json [VERDICTS.json]", file=sys.stderr)
        return 2
    path = Path(args[2]) if len(args) == 3 else VERDICTS
    try:
        results = _read_json(Path(args[1]), "results")
        measured = run_verdicts(results)
        if args[0] == "write":
            _write(path, measured)
            if len(args) == 2:
                _write(SECONDS, {c["id"]: round(float(c.get("seconds", 0.0)), 1) for c in results["cases"]})
            print(f"verdicts: wrote {len(measured)} verdicts to {path}")
            return 0
        problems = compare(load_verdicts(path), measured)
    except VerdictFileError as exc:
        print(f"verdicts: error: {exc}", file=sys.stderr)
        return 2
    if problems:
        print(f"verdicts: {'; '.join(problems)}; if intended, run `python -m workbench.report.verdicts write "
              f"{args[1]}` and update the README table in the same change", file=sys.stderr)
        return 1
    print(f"verdicts: {len(measured)} cases agree with {path.name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
