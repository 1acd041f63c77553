"""One system-metrics sampler thread per process, for the top-level runs this process started.

`Run._start` attaches a run that has no parent (`start_logging`, a standalone `Run.get_context()`);
a child run shares its parent's process, so only the top-level run gets the samples. The
context of a submitted run is not attached: the runner samples the script's whole process group
(each process counted once) and a second sampler would record the same figures twice.

The thread reads the process tree once per interval (TAILRUN_SYSTEM_METRICS_INTERVAL, default
5 s; TAILRUN_SYSTEM_METRICS=0 turns it off) and appends one SYSTEM item per attached run to that
run's recorder queue, off the `run.log` hot path: the sender thread encodes it (as metrics of
kind SYSTEM) with everything else. Detaching (the run finishes) takes a last sample, so a run
shorter than the interval has one too; the last run out stops the thread.

Fork safety: everything the thread uses is imported before it starts (`_procfs`, `_nvml`'s
pynvml), it reads /proc in binary (no codec imports), and a forked child forgets the parent's
sampler and runs and never calls NVML (the parent may have been inside it at the fork).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from . import _procfs, _system_metrics
from ._nvml import Gpus
from .wire import SYSTEM

_lock = threading.RLock()   # re-entrant: a SIGTERM handler finishing runs may interrupt attach()
_runs: dict[str, list[Any]] = {}   # run id -> [queue append, next sample index]
_sampler: Any = None
_gpus: Any = None
_gpus_opened = False
_thread: threading.Thread | None = None
_stop = threading.Event()
_said: set[str] = set()


def _say(message: str) -> None:
    if message not in _said:
        _said.add(message)
        try:
            print(f"tailrun: {message}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass


def attach(recorder: Any, run_id: str) -> None:
    """Sample the process into this run from now on (starts the thread if needed)."""
    global _sampler, _gpus, _gpus_opened, _thread, _stop
    on, interval, problems = _system_metrics.settings()
    for problem in problems:
        _say(problem)
    if not on:
        return
    if not _procfs.available():
        _say(f"system metrics are read from Linux's /proc; they are off on {sys.platform}")
        return
    with _lock:
        if not _gpus_opened:
            _gpus_opened = True
            _gpus = Gpus.open(_say)
        if _sampler is None:
            _sampler = _system_metrics.SystemSampler(os.getpid(), gpus=_gpus)
        _runs[run_id] = [recorder.queue.append, 0]
        if _thread is None:
            _stop = threading.Event()   # a new one per thread: an old thread stopping sees its own
            _thread = threading.Thread(target=_loop, args=(interval, _stop), name="tailrun-system-metrics",
                                       daemon=True)
            _thread.start()


def detach(run_id: str) -> None:
    """Take a last sample for this run and stop sampling it; the last run out stops the thread."""
    global _sampler, _thread
    with _lock:
        entry = _runs.get(run_id)
        if entry is None:
            return
        try:
            # Unless a sample was just taken for this run (rates over a few ms are noise), so that
            # a run shorter than the interval has one too.
            if _sampler is not None and (entry[1] == 0 or _sampler.since_last() >= _system_metrics.MIN_INTERVAL):
                _emit(_sampler.sample(), {run_id: entry})
        except Exception as exc:   # never fail the run's finish
            _say(f"system metrics: the last sample of run {run_id} failed: {exc}")
        del _runs[run_id]
        if not _runs:
            _stop.set()
            _thread, _sampler = None, None


def _emit(values: dict[str, float], runs: dict[str, list[Any]]) -> None:
    stored = {_system_metrics.PREFIX + name: value for name, value in values.items()}
    now = time.time()
    for run_id, entry in runs.items():
        entry[0]((SYSTEM, run_id, "", stored, entry[1], now))
        entry[1] += 1


def _loop(interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        with _lock:
            if stop.is_set() or _sampler is None:
                return
            try:
                _emit(_sampler.sample(), _runs)
            except Exception as exc:   # one bad reading is skipped; the thread goes on
                _say(f"system metrics: a sample failed: {type(exc).__name__}: {exc}")


def _forget_in_child() -> None:
    global _lock, _sampler, _gpus, _gpus_opened, _thread, _stop
    _lock = threading.RLock()
    _runs.clear()
    _sampler = _thread = _gpus = None
    _gpus_opened = True   # never NVML here: the parent may have been inside it at the fork
    _stop = threading.Event()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
