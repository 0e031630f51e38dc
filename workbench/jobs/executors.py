"""How :func:`workbench.jobs.sweep.run_sweep` distributes points: in-process, a process pool, Dask.

Each executor calls ``on_done(record)`` once per point it settles, as soon as it is
settled, and never loses a finished point:

* a point whose worker died (a killed or out-of-memory process: ``BrokenProcessPool``;
  a Dask worker lost more often than its retries, or the scheduler lost) is first
  looked up on disk (its worker may have written it just before dying); otherwise the
  process pool retries it in a fresh pool (``attempts`` times in all) and then records
  it as failed, and Dask records it as failed with the reason;
* Ctrl-C (``KeyboardInterrupt`` in the main process) cancels the points not yet
  started, waits for the running ones (a second Ctrl-C stops waiting), settles them,
  and re-raises, so the caller writes ``results.jsonl`` and the summary;
* pool workers ignore SIGINT (the main process decides) and exit when the main
  process dies (``PR_SET_PDEATHSIG`` on Linux, and a watcher thread everywhere);
  Dask's own worker processes do the same through their nanny pipe.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from workbench.solvers.core.checks import ParameterError

__all__ = ["run_local", "run_processes", "run_dask", "failed_record", "sigterm_as_interrupt", "terminate_workers"]

Todo = list[tuple[str, dict]]
OnDone = Callable[[dict], None]
#: ``load_point(out, pid, target)``: a point's finished record on disk, or None (the sweep's, passed in)
LoadPoint = Callable[[str, str, str], "dict | None"]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (Slurm, ``docker stop``, ``timeout``) raises ``KeyboardInterrupt``
    like Ctrl-C, so a run stopped that way still writes what it finished. Only in the main thread;
    the previous handler is restored on exit."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def failed_record(target: str, pid: str, params: dict, why: str) -> dict:
    """A ``failed`` record for a point whose computation was lost (not written to disk)."""
    return {"id": pid, "target": target, "params": params, "status": "failed", "error": why[:500], "seconds": None}


# --- in-process -----------------------------------------------------------------------------

def run_local(todo: Todo, target: str, out: str, on_done: OnDone, run_point: Callable) -> None:
    """One point after the other in this process (Ctrl-C abandons only the point in progress)."""
    for _, p in todo:
        on_done(run_point(target, p, out))


# --- process pool -----------------------------------------------------------------------------

def _die_with_parent(parent: int) -> None:
    try:  # Linux: the kernel kills this worker when its parent dies
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="workbench-parent-watch", daemon=True).start()


def _worker_init(parent: int) -> None:
    """Pool worker set-up: Ctrl-C is the main process's business; die with the main process; one thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    from workbench.solvers.core.threads import worker_init

    worker_init()


def run_processes(todo: Todo, target: str, out: str, on_done: OnDone, run_point: Callable, workers: int,
                  attempts: int = 3, *, load_point: LoadPoint) -> None:
    """A spawn-started process pool with at most ``workers`` points in flight (so Ctrl-C waits only
    for the running ones). A dead worker breaks the pool: the points in flight are charged one
    attempt and go first, each running alone, to a fresh pool, then the points not yet
    submitted; a point is recorded failed after ``attempts`` attempts."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    tries = {pid: 0 for pid, _ in todo}
    pending = list(todo)
    while pending:
        pool = ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=ctx,
                                   initializer=_worker_init, initargs=(os.getpid(),))
        queue = list(reversed(pending))               # pop() takes them in grid order
        inflight: dict = {}
        retry: Todo = []
        broken = False

        def submit() -> None:
            nonlocal broken
            while queue and not broken and len(inflight) < workers:
                if any(tries[i] for i, _ in inflight.values()) or (tries[queue[-1][0]] and inflight):
                    return  # a point that was in flight when a worker died runs alone: it cannot take others down
                pid, p = queue.pop()
                try:
                    inflight[pool.submit(run_point, target, p, out)] = (pid, p)
                except BrokenProcessPool:
                    queue.append((pid, p))
                    broken = True

        try:
            submit()
            while inflight:
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for f in done:
                    pid, p = inflight.pop(f)
                    try:
                        on_done(f.result())
                    except BrokenProcessPool:
                        broken = True
                        tries[pid] += 1
                        retry.append((pid, p))
                    except Exception as exc:  # noqa: BLE001 - e.g. a record that cannot be unpickled
                        on_done(failed_record(target, pid, p, f"{type(exc).__name__}: {exc}"))
                submit()
        except KeyboardInterrupt:
            try:  # wait for the running points; a second Ctrl-C stops waiting
                for f in list(inflight):
                    pid, p = inflight.pop(f)
                    try:
                        on_done(f.result())
                    except Exception:  # noqa: BLE001 - a lost point: its file may still be on disk
                        rec = load_point(out, pid, target)
                        if rec is not None:
                            on_done(rec)
            except KeyboardInterrupt:
                terminate_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True, cancel_futures=True)
        pending = []
        for pid, p in retry:
            rec = load_point(out, pid, target)
            if rec is not None:
                on_done(rec)
            elif tries[pid] >= attempts:
                on_done(failed_record(target, pid, p, f"worker process died (killed, or out of memory) "
                                                      f"in {tries[pid]} attempts"))
            else:
                pending.append((pid, p))
        pending.extend(reversed(queue))               # never submitted (or left by the isolation): no charge


# --- Dask -------------------------------------------------------------------------------------------

def _dask_client(scheduler: str | None, workers: int, timeout: float) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ParameterError("executor: 'dask' needs Dask distributed; pip install 'stability-workbench[dask]'") from None
    if scheduler:
        return _connect(Client, scheduler, timeout), None
    import dask

    from workbench.solvers.core.threads import WORKER_ENV

    # one BLAS/FFT thread per worker and a 16 MiB mmap threshold (the nanny's default
    # MALLOC_TRIM_THRESHOLD_=65536 makes every FFT buffer a fresh mmap: 2.5x slower points)
    env = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **WORKER_ENV}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
        # silence_logs: Dask's own warnings (a nanny killing a slow worker at shutdown, a port in use) are
        # not the user's business and would break the one-line error of an interrupted sweep
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               host="127.0.0.1", preload=["workbench.jobs.executors"],  # runs dask_setup in each worker
                               silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _connect(Client: Any, scheduler: str, timeout: float) -> Any:
    """A client of ``scheduler`` that answered the Dask protocol and has at least one worker, within
    ``timeout`` seconds in all; otherwise one :class:`ParameterError` line (never a hang: a peer that
    accepts and never speaks, an HTTP server, a scheduler without workers)."""
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = Client(scheduler, timeout=f"{timeout}s")
        except BaseException as exc:  # noqa: BLE001 - reported below, in the caller's thread
            box["error"] = exc

    t0 = time.monotonic()
    th = threading.Thread(target=connect, name="workbench-dask-connect", daemon=True)
    th.start()
    th.join(timeout + 1.0)
    if th.is_alive():  # the connection hangs inside Dask: leave the daemon thread, stop waiting
        raise ParameterError(f"scheduler: no Dask scheduler answered at {scheduler!r} within {timeout:g} s "
                             "(something accepts connections there but does not speak the Dask protocol)")
    exc = box.get("error")
    if isinstance(exc, ValueError):
        raise ParameterError(f"scheduler: invalid address {scheduler!r} ({exc})")
    if isinstance(exc, (OSError, TimeoutError)):
        raise ParameterError(f"scheduler: cannot reach {scheduler!r} within {timeout:g} s ({type(exc).__name__})")
    if exc is not None:  # e.g. MemoryError from an HTTP server's reply read as a Dask frame
        raise ParameterError(f"scheduler: {scheduler!r} does not answer the Dask protocol "
                             f"({type(exc).__name__}: {str(exc)[:120]})")
    client = box["client"]
    try:
        client.wait_for_workers(1, timeout=max(0.1, timeout - (time.monotonic() - t0)))
    except Exception:  # noqa: BLE001 - a TimeoutError, or the scheduler went away
        _close(client)
        raise ParameterError(f"scheduler: {scheduler!r} has no workers after {timeout:g} s; start "
                             "`dask worker ADDRESS` processes or raise --timeout") from None
    return client


def dask_setup(worker: Any) -> None:
    """Dask preload hook (LocalCluster workers): Ctrl-C in the terminal reaches the whole process
    group; the main process decides (cancel pending, wait for running), so workers ignore it."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread of the worker process
        pass


def _close(obj: Any) -> None:
    if obj is None:
        return
    try:
        obj.close(timeout=5) if "timeout" in obj.close.__code__.co_varnames else obj.close()
    except Exception:  # noqa: BLE001 - a lost scheduler cannot be closed cleanly; nothing to save there
        pass


def run_dask(todo: Todo, target: str, out: str, on_done: OnDone, run_point: Callable, workers: int,
             scheduler: str | None, timeout: float, *, load_point: LoadPoint) -> None:
    """Dask distributed: each point a task (2 retries on a lost worker); a lost scheduler
    cancels the futures, and each is recorded as failed unless its file is on disk."""
    from distributed import as_completed

    client, cluster = _dask_client(scheduler, workers, timeout)
    futs: dict = {}
    handled: set = set()
    try:
        for pid, p in todo:
            futs[client.submit(run_point, target, p, out, key=f"point-{pid}", pure=False, retries=2)] = (pid, p)
        for f in as_completed(futs):
            handled.add(f)
            pid, p = futs[f]
            try:
                rec = f.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a cancelled future (scheduler lost), ...
                rec = load_point(out, pid, target) or failed_record(
                    target, pid, p, f"{type(exc).__name__}: the Dask worker or scheduler was lost ({exc})")
            on_done(rec)
    except KeyboardInterrupt:
        try:
            busy = {k for keys in client.processing().values() for k in keys}
        except Exception:  # noqa: BLE001
            busy = set()
        rest = [f for f in futs if f not in handled]
        client.cancel([f for f in rest if f.key not in busy])
        waiting = [f for f in rest if f.key in busy]
        try:  # wait for the running points while a worker is left; a second Ctrl-C stops waiting
            while waiting:
                for f in [f for f in waiting if f.done()]:
                    waiting.remove(f)
                    pid, p = futs[f]
                    try:
                        on_done(f.result())
                    except Exception:  # noqa: BLE001 - lost: its file may still be on disk
                        rec = load_point(out, pid, target)
                        if rec is not None:
                            on_done(rec)
                if waiting:
                    time.sleep(0.2)
                    if not client.scheduler_info().get("workers"):  # Ctrl-C reached the workers too
                        break
        except KeyboardInterrupt:
            pass
        except Exception:  # noqa: BLE001 - the scheduler went away meanwhile
            pass
        raise
    finally:
        _close(client)
        _close(cluster)


def terminate_workers(pool: Any) -> None:
    """Terminate the worker processes of a ``ProcessPoolExecutor`` (a second Ctrl-C: stop waiting).

    ``concurrent.futures`` has no public call for this; its private ``_processes`` map is read
    here, in this one place, and a pool without it is left to ``shutdown``.
    """
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if hasattr(proc, "is_alive") and proc.is_alive():
            proc.terminate()
