"""The CLI talks: usage on a bare ``workbench``, ``--version``, help and an example on every command."""
from __future__ import annotations

import re

import pytest

import workbench
from workbench.cli.app import build_parser, main

COMMANDS = ("derive", "bounds", "validate", "sweep", "bench")


def test_bare_workbench_prints_usage_and_commands(capsys):
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: workbench") and err == ""
    for cmd in COMMANDS:
        assert re.search(rf"^\s+{cmd}\s+\S", out, re.M), cmd
    assert "examples:" in out


def test_version(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"workbench {workbench.__version__}"
    assert re.fullmatch(r"\d+(\.\d+)*([.+-]\S*)?", workbench.__version__)


def test_description_names_all_four_papers():
    text = build_parser().format_help()
    for words in ("Surprising Instabilities", "Accelerated PDEs", "continuous time model", "unstable convergence"):
        assert words in " ".join(text.split()), words
    assert "first paper" not in text


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_has_help_text_and_an_example(cmd, capsys):
    assert main([cmd, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "examples: workbench " + cmd in out or f"examples: workbench {cmd}" in out
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[cmd]
    missing = [a.dest for a in sub._actions if a.dest != "help" and not a.help]
    assert missing == [], f"{cmd}: options without help text: {missing}"


def test_derive_text_is_unicode_and_latex_tags_are_single(capsys):
    assert main(["derive", "cnn"]) == 0
    out = capsys.readouterr().out
    assert "\\" not in out and "Eq(" not in out and "K̂ⁿ⁺¹" in out and "Δt" in out
    assert main(["derive", "cnn", "--latex"]) == 0
    tex = capsys.readouterr().out
    assert tex.count(r"\tag{18}") == 1 and tex.count(r"\tag{23}") == 1
    assert main(["derive", "momentum", "--latex"]) == 0
    tex = capsys.readouterr().out
    assert r"\tag{42–43}" in tex and r"\tag{42)-(43}" not in tex


@pytest.mark.parametrize("cmd", COMMANDS + ("report", "schemes", "region"))
def test_every_option_shows_its_default(cmd, capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[cmd]
    assert sub.description, f"{cmd}: no description"
    assert main([cmd, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    fmt = sub._get_formatter()
    for a in sub._actions:
        if a.option_strings and a.default not in (None, False, "==SUPPRESS==") and a.dest != "help":
            text = fmt._get_help_string(a)
            assert "default" in text, (cmd, a.dest)
            if "%(default)s" in text:  # appended by the formatter: the value itself is printed
                assert f"(default: {a.default})" in out, (cmd, a.dest)


def test_bounds_default_is_theory_and_exact_with_numbers_beside_empty(capsys):
    assert main(["bounds", "--image", "checkerboard:64", "--kernel", "8", "--dt", "1e-3"]) == 0
    out = capsys.readouterr().out
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("8 ")]
    assert [r[1] for r in rows] == ["theory", "exact"]  # no simulated unless asked for
    for r in rows:
        float(r[2]), float(r[3])  # numbers, also where the interval is empty
    assert "Swish β=1" in out


def test_report_command_rerenders_from_results_json(tmp_path, capsys):
    from workbench.report.render import write_report

    case = {"id": "a", "claim": "c", "source": "s", "prediction": 1, "measurement": 1, "tolerance": 0,
            "verdict": "confirmed", "passed": True, "paper": 2, "where": "Eq. (3)"}
    paths = write_report(tmp_path, [case], {"title": "T"})
    md = paths["md"].read_bytes()
    paths["md"].unlink()
    assert main(["report", str(tmp_path)]) == 0
    assert paths["md"].read_bytes() == md
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "workbench: error: dir: no results.json" in capsys.readouterr().err
