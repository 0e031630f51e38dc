"""The one thread setting (workbench.solvers.core.threads): BLAS pools and the FFT wrapper follow it."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from workbench.solvers.core import threads
from workbench.solvers.core.backend import Fft, get_namespace
from workbench.solvers.core.checks import ParameterError


def _blas_threads() -> set[int]:
    np.ones((4, 4)) @ np.ones((4, 4))   # make sure the BLAS library is loaded
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_limit_sets_blas_and_fft_and_restores():
    fft = Fft(get_namespace("numpy"))
    before_fft, before_blas = fft.workers, _blas_threads()
    assert before_fft == threads.default_threads()
    with threads.limit(1) as n:
        assert n == 1
        assert fft.workers == 1                      # an operator built before the limit follows it
        assert _blas_threads() <= {1}
    assert fft.workers == before_fft and _blas_threads() == before_blas


def test_explicit_fft_workers_win():
    with threads.limit(1):
        assert Fft(get_namespace("numpy"), workers=3).workers == 3


def test_worker_init_gives_one_thread(monkeypatch):
    saved = dict(threads._state)
    try:
        threads.worker_init()
        assert threads.fft_workers() == 1 and _blas_threads() <= {1}
    finally:
        ctl = threads._state["controller"]
        if ctl is not None:
            ctl.restore_original_limits()
        threads._state.update(saved)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_thread_counts(bad):
    with pytest.raises(ParameterError, match="threads"):
        with threads.limit(bad):
            pass


def test_available_cores_is_the_affinity():
    import os

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert threads.available_cores() == expected


def test_env_default(monkeypatch):
    monkeypatch.setenv("WORKBENCH_THREADS", "1")
    assert threads.default_threads() == 1 and threads.fft_workers() in (1, threads._state["fft"])
    monkeypatch.setenv("WORKBENCH_THREADS", "zero")                 # refused like --threads zero, not ignored
    with pytest.raises(ParameterError, match="^WORKBENCH_THREADS: expected an integer"):
        threads.default_threads()
    monkeypatch.delenv("WORKBENCH_THREADS")
    assert threads.default_threads() == threads.available_cores()


def test_cli_threads_option(capsys):
    from workbench.cli.app import main

    assert main(["--threads", "0", "bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "0.1"]) == 2
    assert "workbench: error: threads: must be in [1, 4096], got '0'" in capsys.readouterr().err
    saved = dict(threads._state)
    try:
        assert main(["--threads", "1", "bounds", "--image", "checkerboard:8", "--kernel", "2", "--dt", "0.1",
                     "--methods", "theory"]) == 0
        assert threads.fft_workers() == 1
    finally:
        ctl = threads._state["controller"]
        if ctl is not None:
            ctl.restore_original_limits()
        threads._state.update(saved)


def test_tune_allocator_reports_whether_it_applied():
    import sys

    ok = threads.tune_allocator()
    assert isinstance(ok, bool)
    if sys.platform.startswith("linux"):
        import platform

        if platform.libc_ver()[0] == "glibc":
            assert ok


def test_torch_pool_follows_the_setting():
    torch = pytest.importorskip("torch")
    from workbench.solvers.core import threads

    before = torch.get_num_threads()
    try:
        with threads.limit(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == before        # restored on exit
        threads.set_threads(1)
        torch.set_num_threads(3)                         # a pool changed behind the setting's back ...
        threads.cover_torch()                            # ... is brought back by the adapter's call
        assert torch.get_num_threads() == 1
    finally:
        threads.set_threads(None)
        torch.set_num_threads(before)
