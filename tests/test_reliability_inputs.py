"""Inputs: environment variables parsed like their flags, image headers checked before any
allocation, clean errors for odd paths, ASCII-safe output, messages that name the right thing."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench.cli.app import main
from workbench.solvers.core.checks import ParameterError
from workbench.solvers.core.threads import default_threads, parse_threads

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["0", "-1", "abc", "²", "1.5", "99999"])
def test_threads_env_is_parsed_by_the_flags_parser(monkeypatch, capsys, value):
    monkeypatch.setenv("WORKBENCH_THREADS", value)
    with pytest.raises(ParameterError, match="^WORKBENCH_THREADS: "):
        default_threads()
    with pytest.raises(ParameterError, match="^threads: "):
        parse_threads("threads", value)
    assert main(["schemes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench: error: WORKBENCH_THREADS: ") and err.count("\n") == 1
    monkeypatch.setenv("WORKBENCH_THREADS", "2")
    assert default_threads() == 2


def test_npy_header_dimensions_must_be_positive(tmp_path, monkeypatch):
    f = tmp_path / "neg.npy"
    with open(f, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (-4, 8)})
        fh.write(b"\0" * 64)
    with pytest.raises(ParameterError, match=r"shape \(-4, 8\); dimensions must be positive"):
        wb.load_image(str(f))


def _png_header_only(path: Path, h: int, w: int, depth: int, colour: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) +
                     chunk(b"IEND", b""))


def test_png_decoded_bytes_checked_before_decoding(tmp_path, monkeypatch):
    import matplotlib.image as mpimg

    monkeypatch.setattr(mpimg, "imread", lambda *a, **k: pytest.fail("decoded before the size check"))
    f = tmp_path / "big.png"
    _png_header_only(f, 8000, 8000, 16, 6)              # 16-bit RGBA, 64 Mpx (under the pixel limit)
    monkeypatch.setenv("WORKBENCH_MAX_BYTES", str(2 ** 30))
    with pytest.raises(ParameterError, match=r"8000x8000, 16-bit, colour type 6\) needs about 3.81 GiB to decode, "
                                             r"over the limit of 1 GiB; .*WORKBENCH_MAX_BYTES"):
        wb.load_image(str(f))


def test_odd_image_paths_are_clean_errors(tmp_path):
    with pytest.raises(ParameterError, match=r"^image: cannot read 'a{60}\.\.\.a{8}\.npy' \(File name too long\)"):
        wb.load_image("a" * 300 + ".npy")


def test_cli_kernel_too_large_names_kernel_not_steps(capsys):
    assert main(["bounds", "--image", "checkerboard:16", "--kernel", "8192", "--dt", "1e-3"]) == 2
    err = capsys.readouterr().err
    assert "kernel: size 8192 is larger than the image (16x16)" in err and "steps" not in err


def test_region_plot_checked_before_computing(tmp_path, capsys, monkeypatch):
    import workbench.cli.schemes as schemes

    monkeypatch.setattr(schemes, "region_result", lambda *a, **k: pytest.fail("computed before checking --plot"))
    assert main(["region", "heavy-ball", "--plot", str(tmp_path)]) == 2
    assert "plot: " in capsys.readouterr().err
    assert main(["region", "heavy-ball", "--plot", str(tmp_path / "r.png"), "--over", "nu"]) == 2
    err = capsys.readouterr().err
    assert "over: heavy-ball has no continuous hyperparameter 'nu'" in err and "choose from mu" in err


@pytest.mark.parametrize("args", [["region", "heavy-ball"], ["schemes"], ["derive", "momentum"],
                                  ["validate", "--list"]])
def test_ascii_terminal_gets_ascii_output(args):
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, env=env, capture_output=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr.decode("ascii", "replace")[-500:]
    assert res.stdout.isascii() and res.stdout.count(b"\n") >= 3 and not res.stderr
    if args[0] == "region":
        assert b"(h = eta lambda)" in res.stdout
