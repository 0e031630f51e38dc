"""Dask: a peer that is not a working Dask scheduler is refused in one line within --timeout."""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.jobs.sweep import run_sweep
from workbench.solvers.core.checks import ParameterError

pytest.importorskip("distributed")
SPIN = {"x": ["1"], "work": ["1"], "size": ["4"]}


def _silent_peer() -> tuple[socket.socket, list]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list = []

    def serve() -> None:
        while True:
            try:
                held.append(srv.accept()[0])              # accept and never speak
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return srv, held


def test_peer_that_never_speaks_is_refused_within_the_timeout(tmp_path):
    srv, held = _silent_peer()
    try:
        t0 = time.monotonic()
        with pytest.raises(ParameterError, match="^scheduler: no Dask scheduler answered at .* within 2 s"):
            run_sweep("spin", SPIN, tmp_path / "s", executor="dask",
                      scheduler=f"tcp://127.0.0.1:{srv.getsockname()[1]}", timeout=2)
        assert time.monotonic() - t0 < 60                # bounded, not the 900 s of a hang
    finally:
        srv.close()
        for c in held:
            c.close()


def test_http_server_is_not_a_scheduler(tmp_path):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ParameterError, match="^scheduler: ") as info:
            run_sweep("spin", SPIN, tmp_path / "s", executor="dask",
                      scheduler=f"tcp://127.0.0.1:{httpd.server_address[1]}", timeout=2)
        assert "memory" not in str(info.value)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_scheduler_without_workers_is_refused(tmp_path):
    import subprocess
    import sys
    import textwrap

    sched = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import asyncio
        from distributed import Scheduler
        async def main():
            async with Scheduler(host="127.0.0.1", port=0, dashboard_address=None) as s:
                print(s.address, flush=True)
                await asyncio.sleep(300)
        asyncio.run(main())
        """)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = sched.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:")
        with pytest.raises(ParameterError, match="^scheduler: .* has no workers after 2 s"):
            run_sweep("spin", SPIN, tmp_path / "s", executor="dask", scheduler=address, timeout=2)
    finally:
        sched.kill()
        sched.wait()
