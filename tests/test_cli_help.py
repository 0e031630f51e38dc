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
