"""Running validation cases into a report folder: resumable, interruptible, one line per case.

Layout of a report folder ``DIR``::

    DIR/cases/<id>.json     one finished case: {"id", "quick", "finished", "case": {...}},
                            written atomically the moment the case finishes
    DIR/results.json        the report of the run (GUIDE section 7), with
    DIR/report.md           meta.run_id the same in all three: they are rendered into a
    DIR/report.html         staging folder first and then renamed into DIR together
    DIR/*.png               figures written by the cases

A re-run into the same folder resumes: a case whose file holds the same id and the
same ``quick`` flag is taken from disk, not recomputed (``mode="fresh"`` / ``validate
--fresh`` recomputes). Ctrl-C stops after writing the report of the cases finished so
far (:class:`ValidationInterrupted`; the CLI exits 130); SIGTERM does the same.
Leftover temporary files and staging folders of the workbench's own pattern (a kill
mid-write) are removed at the start; other programs' files are left alone. The
folder records its kind (``.workbench-folder.json``): a sweep folder is refused.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from workbench.solvers.core.checks import ParameterError

__all__ = ["ValidationRun", "ValidationInterrupted", "run_validation", "MODES", "case_file", "default_workers",
           "longest_first"]

MODES = ("resume", "fresh", "new")
CASES_DIR = "cases"
REPORT_FILES = ("results.json", "report.md", "report.html")


@dataclass
class ValidationRun:
    """Outcome of :func:`run_validation` (what ``wb.validate()`` returns).

    ``cases`` holds the case dicts (as in ``results.json``), ``files`` the report
    files; the short ``repr`` gives the counts, the verdicts and the folder.
    """

    out: Path
    quick: bool
    planned: int
    cases: list[dict] = field(repr=False)
    files: dict[str, Path] = field(repr=False)
    resumed: int = 0
    interrupted: bool = False

    @property
    def passed(self) -> bool:
        """Every planned case ran and passed its own check."""
        return not self.interrupted and len(self.cases) == self.planned and all(c["passed"] for c in self.cases)

    @property
    def failed(self) -> list[str]:
        """Ids of the cases that failed their own check (or raised)."""
        return [str(c["id"]) for c in self.cases if not c["passed"]]

    @property
    def verdicts(self) -> dict[str, int]:
        """Verdict -> number of cases (confirmed, refined, refuted, error)."""
        return dict(Counter(str(c["verdict"]) for c in self.cases))

    def __repr__(self) -> str:
        n = len(self.cases)
        done = f"{n} of {self.planned} cases" if n != self.planned else f"{n} cases"
        fails = f", {len(self.failed)} failed ({', '.join(self.failed[:5])}{'...' if len(self.failed) > 5 else ''})" \
            if self.failed else ""
        verdicts = ", ".join(f"{v} {k}" for k, v in sorted(self.verdicts.items()))
        return (f"ValidationRun({done} ({'quick' if self.quick else 'full'}): {n - len(self.failed)} passed{fails}; "
                f"{verdicts or 'no verdicts'}{'; interrupted' if self.interrupted else ''}; out={str(self.out)!r})")


class ValidationInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_validation`, raised after the report of the finished cases was written."""

    def __init__(self, run: ValidationRun):
        super().__init__("validation interrupted")
        self.run = run


def case_file(out: Path, case_id: str) -> Path:
    """``out/cases/<id>.json`` (characters other than letters, digits, ``_.-`` replaced by ``_``)."""
    return out / CASES_DIR / (re.sub(r"[^A-Za-z0-9_.-]", "_", str(case_id)) + ".json")


def _clean_tmp(out: Path) -> int:
    """Remove the workbench's own temporary files and staging folders left by a killed run; returns how many."""
    from workbench.jobs.outputs import clean_own_leftovers

    return clean_own_leftovers(out) + clean_own_leftovers(out / CASES_DIR)


def _case_quick(out: Path, case_id: str) -> bool | None:
    """The ``quick`` flag of the finished case file of ``case_id`` in ``out`` (None: no usable file)."""
    try:
        rec = json.loads(case_file(out, case_id).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return rec.get("quick") if isinstance(rec, dict) and isinstance(rec.get("quick"), bool) else None


def _load_case(out: Path, case_id: str, quick: bool) -> dict | None:
    try:
        rec = json.loads(case_file(out, case_id).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if (not isinstance(rec, dict) or rec.get("id") != case_id or rec.get("quick") is not bool(quick)
            or not isinstance(rec.get("case"), dict) or rec["case"].get("verdict") in (None, "error")):
        return None
    from workbench.validation.result import CaseResult

    try:  # a record of another layout (or a hand-edited one) is recomputed, not trusted
        CaseResult.from_dict(rec["case"])
    except (TypeError, ValueError):
        return None
    return rec["case"]


def _holds_report(out: Path) -> list[str]:
    found = [name for name in REPORT_FILES if (out / name).exists()]
    cases = out / CASES_DIR
    if cases.is_dir() and any(f.suffix == ".json" for f in cases.iterdir()):
        found.append(f"{CASES_DIR}/")
    return found


class _CaseBar:
    """A terminal line for the running case, its elapsed time refreshed every second (cases that
    wrap their loops in ``ctx.track`` get a bar of their own below it)."""

    def __init__(self, desc: str, enabled: bool):
        import threading

        from tqdm import tqdm

        self.bar = tqdm(total=None, desc=desc, bar_format="  {desc}: running {elapsed}", leave=False,
                        disable=not enabled, position=1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True) if enabled else None
        if self.thread is not None:
            self.thread.start()

    def _tick(self) -> None:
        while not self.stop.wait(1.0):
            self.bar.refresh()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        self.bar.close()


def _tracker(iterable: Any, total: int | None = None, desc: str = "") -> Any:
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=f"  {desc}", leave=False, position=2)


def _accepts(func: Callable, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


# --- scheduling -----------------------------------------------------------------------------

#: Seconds each case took in the last full-size run on the reference machine (one thread per
#: worker), written by ``python -m workbench.report.verdicts write DIR/results.json``; used only to order
#: the cases longest first. A case missing from the file is taken as the longest.
CASE_SECONDS = Path(__file__).with_name("case_seconds.json")


def default_workers() -> int:
    """Default ``validate --workers``: the cores this process may use (``WORKBENCH_THREADS`` when set)."""
    from workbench.solvers.core.threads import default_threads

    return default_threads()


def check_workers(workers: Any) -> int:
    """``workers`` as a positive int (the sweep's limits: at most 4 x the CPUs unless raised)."""
    from workbench.jobs.sweep import check_workers as check

    return check(workers)


def longest_first(ids: Sequence[str], seconds: dict[str, float] | None = None) -> list[str]:
    """``ids`` ordered by decreasing expected seconds (:data:`CASE_SECONDS`), unknown cases first.

    Longest-processing-time-first: with ``n`` workers the run ends at most 4/3 of the best
    possible end (Graham 1969), against up to 2x for an arbitrary order when the longest case
    comes last. Ties keep the given order.
    """
    if seconds is None:
        try:
            seconds = {str(k): float(v) for k, v in json.loads(CASE_SECONDS.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            seconds = {}
    return sorted(ids, key=lambda cid: -seconds.get(cid, float("inf")))


def _run_case(cid: str, out: str, quick: bool, extra: dict | None = None) -> tuple[dict, float]:
    """Run one case (here or in a worker); a case that raises becomes an ``error`` record."""
    import workbench.validation.registry as registry

    from workbench.report.render import case_to_dict, to_jsonable

    t0 = time.perf_counter()
    try:
        case = case_to_dict(registry.run_case(cid, Path(out), quick=quick, **(extra or {})))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a broken case must not lose the others' results
        case = case_to_dict({"id": cid, "verdict": "error", "passed": False,
                             "notes": f"case raised {type(exc).__name__}: {exc}"})
    return to_jsonable(case), time.perf_counter() - t0


def _run_parallel(todo: list[str], out: str, quick: bool, workers: int,
                  finish: Callable[[str, dict, float], None]) -> None:
    """Run ``todo`` in a spawn-started pool of ``workers`` one-thread processes, in the given order.

    Every case is submitted at once (the pool takes them in order); ``finish`` is called here,
    in the main process, as each one ends. Ctrl-C cancels the cases not started and waits for
    the running ones (a second Ctrl-C stops waiting); a worker that dies makes its case an
    ``error`` record.
    """
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    from workbench.jobs.executors import _worker_init

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               initializer=_worker_init, initargs=(os.getpid(),))
    futures = {pool.submit(_run_case, cid, out, quick): (cid, time.perf_counter()) for cid in todo}

    def collect(fs: Any) -> None:
        for f in fs:
            cid, t0 = futures.pop(f)
            try:
                case, elapsed = f.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker (killed, out of memory)
                from workbench.report.render import case_to_dict

                case = case_to_dict({"id": cid, "verdict": "error", "passed": False,
                                     "notes": f"worker raised {type(exc).__name__}: {exc}"})
                elapsed = time.perf_counter() - t0
            finish(cid, case, elapsed)

    try:
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            collect(done)
    except KeyboardInterrupt:
        for f in list(futures):
            if f.cancel():
                futures.pop(f)
        try:
            collect(list(futures))
        except KeyboardInterrupt:
            from workbench.jobs.executors import terminate_workers

            terminate_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _write_report_together(out: Path, cases: list[dict], meta: dict) -> dict[str, Path]:
    """Render the report into a staging folder (figures linked in), then rename its files into ``out``.

    A kill while rendering leaves the previous report untouched; the renames at the
    end take microseconds, so the three files always come from one run.
    """
    from workbench.report.render import write_report

    from workbench.jobs.outputs import STAGING_MARK

    staging = out / f".staging-{meta['run_id']}"
    staging.mkdir()
    try:
        (staging / STAGING_MARK).touch()  # the clean-up of a killed run removes only marked staging folders
        for f in out.iterdir():  # figures and other files the renderers may read, by relative path
            if not f.name.startswith(".") and f.name != CASES_DIR and f.name not in REPORT_FILES:
                os.symlink(f.absolute(), staging / f.name)
        staged = write_report(staging, cases, meta)
        for f in staging.iterdir():  # everything the renderers wrote (not the links), renamed into out
            if not f.is_symlink() and f.name != STAGING_MARK:
                target = out / f.name
                if f.is_dir() and target.is_dir():
                    shutil.rmtree(target)
                os.replace(f, target)
        return {key: out / Path(p).relative_to(staging) for key, p in staged.items()}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_validation(case_ids: Sequence[str] | None, out_dir: str | os.PathLike, quick: bool = False,
                   echo: Callable[[str], None] | None = None, *, mode: str = "resume",
                   progress: bool = False, workers: int | str = 1) -> ValidationRun:
    """Run validation cases into the report folder ``out_dir``, resumably.

    Parameters
    ----------
    case_ids : sequence of str or None
        Cases to run (None or empty: all of ``workbench.validation.registry.list_cases()``).
    out_dir : str or Path
        Report folder (checked writable and created before any case runs).
    quick : bool
        Reduced versions of the cases.
    echo : callable, optional
        Called with the plan line at once and one line per finished case (index,
        id, verdict, PASS/FAIL, seconds).
    mode : {"resume", "fresh", "new"}
        ``resume`` (the default of the CLI and of ``wb.validate``): take finished cases
        of the same ``quick`` from ``out_dir/cases``; ``fresh``: recompute the cases
        asked for; ``new``: refuse a folder that already holds a report or finished
        cases. In every mode the report covers every finished case in the folder
        (the ones asked for updated), so running some cases never shrinks it; a
        folder of the other ``quick`` kind is refused unless ``fresh``, which drops
        its cases.
    progress : bool
        Show a tqdm bar over the cases on stderr (the CLI turns it on for a terminal).
    workers : int
        Processes running cases at once (default 1; ``workbench validate`` passes
        :func:`default_workers`, the cores this process may use). With more than one, each case runs in a spawn-started worker with
        one BLAS and one FFT thread, the cases longest first (:func:`longest_first`); the
        results are the same as a serial run's (every case builds its own inputs from its
        own seeds). ``1`` runs the cases here, one after the other, with the threads set
        for this process (a script calling this needs no ``if __name__ == "__main__"`` guard).

    Returns
    -------
    ValidationRun

    Raises
    ------
    ParameterError
        unknown case, unusable folder, a folder holding a sweep, a folder of the other
        ``quick`` kind (unless ``fresh``), or (``mode="new"``) a folder holding another run.
    ValidationInterrupted
        on Ctrl-C or SIGTERM, after the report of the finished cases was written.
    """
    import workbench.validation.registry as registry

    from workbench.jobs.outputs import check_output_dir, claim_folder, folder_lock
    from workbench.validation.files import atomic_write_text
    from workbench.report.render import to_jsonable

    if mode not in MODES:
        raise ParameterError(f"mode: unknown {mode!r}; use {', '.join(MODES)}")
    n_workers = check_workers(workers)
    known = registry.list_cases()
    ids = list(dict.fromkeys(case_ids)) if case_ids else known
    unknown = [c for c in ids if c not in known]
    if unknown:
        raise ParameterError(f"case: unknown {', '.join(map(repr, unknown))}; available: {', '.join(known)}")
    out = check_output_dir("out", out_dir)
    from workbench.jobs.executors import sigterm_as_interrupt

    with folder_lock("out", out), sigterm_as_interrupt():  # one run per folder at a time; SIGTERM as Ctrl-C
        if mode == "new" and (found := _holds_report(out)):
            raise ParameterError(f"out: {str(out_dir)!r} holds another run's report ({', '.join(found)}); "
                                 "resume it (the default) or pass fresh=True to recompute")
        claim_folder("out", out, "validation")
        _clean_tmp(out)
        others = {cid: q for cid in known if (q := _case_quick(out, cid)) is not None}
        mixed = sorted(cid for cid, q in others.items() if q is not bool(quick))
        if mixed and mode != "fresh":
            raise ParameterError(f"out: {str(out_dir)!r} holds {'full' if quick else 'quick'} results "
                                 f"({', '.join(mixed[:3])}{', ...' if len(mixed) > 3 else ''}); run "
                                 f"{'without' if quick else 'with'} --quick, choose another folder, or "
                                 "--fresh to replace them")
        if mode == "fresh":
            for cid in ids + mixed:
                case_file(out, cid).unlink(missing_ok=True)
        kept = [cid for cid in known if cid not in ids and others.get(cid) is bool(quick)]
        cached = {cid: c for cid in ids if mode == "resume" and (c := _load_case(out, cid, quick)) is not None}
        say = echo or (lambda line: None)
        kind = "quick" if quick else "full"
        say(f"validate: {len(ids)} case{'s' if len(ids) != 1 else ''} ({kind}) into {out}"
            + (f"; {len(cached)} already finished there (resuming; --fresh recomputes them)" if cached else ""))

        from tqdm import tqdm

        bar = tqdm(total=len(ids), unit="case", disable=not progress, leave=False, initial=len(cached), position=0)

        def line(text: str) -> None:  # above the bar when there is one
            if progress:
                tqdm.write(text)
            else:
                say(text)

        extra = {"progress": _tracker} if progress and _accepts(registry.run_case, "progress") else {}
        cases: dict[str, dict] = {}
        t_all = time.perf_counter()
        interrupted = False
        todo = [cid for cid in ids if cid not in cached]
        n_workers = min(n_workers, max(1, len(todo)))
        done = [0]

        def finish(cid: str, case: dict, elapsed: float) -> None:
            case.setdefault("seconds", round(elapsed, 3))
            atomic_write_text(case_file(out, cid), json.dumps(to_jsonable(
                {"id": cid, "quick": bool(quick), "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "case": case}), allow_nan=False) + "\n")
            cases[cid] = case
            done[0] += 1
            bar.update(1)
            line(f"[{len(cached) + done[0]}/{len(ids)}] {cid:<28} {str(case['verdict']):<10} "
                 f"{'PASS' if case['passed'] else 'FAIL'}  ({elapsed:.1f} s)")

        for i, cid in enumerate(ids, 1):
            if cid in cached:
                cases[cid] = cached[cid]
                line(f"[{i}/{len(ids)}] {cid:<28} {str(cached[cid]['verdict']):<10} "
                     f"{'PASS' if cached[cid]['passed'] else 'FAIL'}  (finished before)")
        try:
            if n_workers <= 1:
                for cid in todo:
                    bar.set_description(cid)
                    ticker = _CaseBar(cid, progress)
                    try:
                        case, elapsed = _run_case(cid, str(out), bool(quick), extra)
                    finally:
                        ticker.close()
                    finish(cid, case, elapsed)
            else:
                bar.set_description(f"{n_workers} workers")
                _run_parallel(longest_first(todo), str(out), bool(quick), n_workers, finish)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        from workbench.report.provenance import provenance

        cases_in_order = [cases[cid] for cid in ids if cid in cases]
        meta = {
            "title": "Stability workbench validation report",
            "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run_id": uuid.uuid4().hex[:12],
            **provenance(quick),
            "cases": len(cases_in_order),
            "workers": n_workers,
            "planned": len(ids),
            "resumed": len(cached),
            "interrupted": interrupted,
            "seconds": round(time.perf_counter() - t_all, 3),
        }
        ran = {str(c["id"]): c for c in cases_in_order}  # the report covers every finished case of the folder
        for cid in kept:
            if (c := _load_case(out, cid, quick)) is not None:
                ran[cid] = c
        order = {cid: i for i, cid in enumerate(known)}
        all_cases = sorted(ran.values(), key=lambda c: order.get(str(c["id"]), len(order)))
        meta["cases"] = len(all_cases)
        meta["planned"] = len(ids) + len(all_cases) - len(cases_in_order)
        # seconds, workers and resumed describe this invocation; a partial rerun keeps other cases: say so
        meta["kept"] = len(all_cases) - len(cases_in_order)
        meta["case_seconds"] = round(sum(float(c.get("seconds") or 0.0) for c in all_cases), 3)
        files = _write_report_together(out, all_cases, meta)
        run = ValidationRun(out=out, quick=bool(quick), planned=len(ids), cases=cases_in_order, files=files,
                            resumed=len(cached), interrupted=interrupted)
        if interrupted:
            raise ValidationInterrupted(run)
        return run
