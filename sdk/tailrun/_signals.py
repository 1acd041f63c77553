"""SIGTERM and SIGINT: record that the script was stopped, then behave exactly as before.

A preempted or killed job (SIGTERM) or a Ctrl-C (SIGINT) is not a crash: the runs this process
started are marked Canceled with the signal named ("stopped by SIGTERM", "interrupted by SIGINT
(KeyboardInterrupt)"), what was logged is flushed with a bounded wait
(TAILRUN_SIGNAL_FLUSH_SECONDS, default 10 s: preemption grace periods are short), and then the
previous behaviour follows: a Python handler installed before ours is called, SIGINT's default
raises KeyboardInterrupt in the script, SIGTERM's default terminates the process with the usual
status (-15 / 143).

Installed once per process, from the main thread only (Python delivers signals there and
`signal.signal` refuses other threads), and never over a signal the script ignores (SIG_IGN).
SIGINT is left alone in a REPL or notebook, where Ctrl-C interrupts one cell and the run goes on.
A forked child inherits the handler but has no active runs (it forgets its parent's): it flushes
what it logged (a multiprocessing Pool's `terminate()`, and so `with Pool() as pool:`, ends its
workers with SIGTERM) and chains. The handler's flush takes no lock the code it interrupted may
hold (`_recorder.flush_all(..., in_signal_handler=True)`): a worker draining at exit, interrupted
inside the sender's wake-up, would otherwise wait on itself forever. A second signal while the first is being handled skips the flush and chains at once
(press Ctrl-C twice to stop waiting).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

ENV_FLUSH = "TAILRUN_SIGNAL_FLUSH_SECONDS"
DEFAULT_FLUSH_SECONDS = 10.0
REASONS = {
    signal.SIGTERM: "stopped by SIGTERM",
    signal.SIGINT: "interrupted by SIGINT (KeyboardInterrupt)",
}

_lock = threading.Lock()
_installed_pid: int | None = None
_previous: dict[int, Any] = {}
_handling = False


def install(active_runs: Callable[[], Sequence[Any]], mark_canceled: Callable[[Any, str], None],
            flush: Callable[[float], Any] | None = None) -> bool:
    """Install the SIGTERM/SIGINT handlers (once per process, main thread only).

    `active_runs()` lists the runs to mark; `mark_canceled(run, reason)` marks one Canceled with
    the reason as its error, without waiting; `flush(timeout)` waits for the data to be stored
    or spooled (default: every recorder's flush, one deadline). Returns True when installed now."""
    global _installed_pid
    if threading.current_thread() is not threading.main_thread():
        return False
    with _lock:
        if _installed_pid == os.getpid():
            return False
        _installed_pid = os.getpid()
        _previous.clear()
        handler = _make_handler(active_runs, mark_canceled, flush or _recorder_flush)
        for signum in REASONS:
            if signum == signal.SIGINT and _interactive():
                continue   # Ctrl-C in a REPL or notebook stops one cell, not the session's runs
            try:
                current = signal.getsignal(signum)
                # A forked child re-installing: chain to what was there before the parent's.
                current = getattr(current, "tailrun_previous", {}).get(signum, current)
                if current in (signal.SIG_IGN, None):  # ignored on purpose (nohup), or set from C
                    continue
                signal.signal(signum, handler)
                _previous[signum] = current
            except (ValueError, OSError):   # not the main interpreter, or an embedded Python
                continue
        handler.tailrun_previous = dict(_previous)  # type: ignore[attr-defined]
    return bool(_previous)


def uninstall() -> None:
    """Restore the handlers found at install time (for tests and embedders)."""
    global _installed_pid
    with _lock:
        if _installed_pid == os.getpid() and threading.current_thread() is threading.main_thread():
            for signum, previous in _previous.items():
                signal.signal(signum, previous)
        _previous.clear()
        _installed_pid = None


def _interactive() -> bool:
    return hasattr(sys, "ps1") or bool(sys.flags.interactive) or "IPython" in sys.modules


def flush_seconds() -> float:
    raw = os.environ.get(ENV_FLUSH, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_FLUSH_SECONDS
    except ValueError:
        return DEFAULT_FLUSH_SECONDS


def _recorder_flush(timeout: float) -> Any:
    from ._recorder import flush_all
    return flush_all(timeout, in_signal_handler=True)   # no lock the interrupted code may hold


def _make_handler(active_runs: Callable[[], Sequence[Any]], mark_canceled: Callable[[Any, str], None],
                  flush: Callable[[float], Any]) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        global _handling
        if not _handling:
            _handling = True
            try:
                if os.getpid() == _installed_pid:
                    _record_stop(signum, active_runs, mark_canceled, flush)
                else:   # a forked child (a pool worker): deliver what it logged, then stop
                    flush(flush_seconds())
            except Exception as exc:  # noqa: BLE001  (the script's own signal behaviour must follow)
                _warn(f"flushing on {signal.Signals(signum).name} failed: {exc!r}")
            finally:
                _handling = False
        _chain(signum, frame)
    return handle


def _record_stop(signum: int, active_runs: Callable[[], Sequence[Any]],
                 mark_canceled: Callable[[Any, str], None], flush: Callable[[float], Any]) -> None:
    """Mark the runs, flush; never raise (the script's own signal behaviour must follow)."""
    reason = REASONS.get(signum, f"stopped by {signal.Signals(signum).name}")
    try:
        runs = list(active_runs())
    except Exception as exc:  # noqa: BLE001  (the script's own signal behaviour must follow)
        _warn(f"cannot list the active runs on {signal.Signals(signum).name}: {exc!r}")
        return
    for run in runs:
        try:
            mark_canceled(run, reason)
        except Exception as exc:  # noqa: BLE001
            _warn(f"could not mark run {getattr(run, 'id', run)} Canceled: {exc!r}")
    if runs:
        try:
            flush(flush_seconds())
        except Exception as exc:  # noqa: BLE001
            _warn(f"flushing on {signal.Signals(signum).name} failed: {exc!r}")


def _chain(signum: int, frame: FrameType | None) -> None:
    """Do what would have happened without us."""
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)   # default_int_handler raises KeyboardInterrupt here
        return
    if previous == signal.SIG_DFL:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        # Re-deliver with the default action, so the exit status says "killed by SIGTERM".
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _warn(message: str) -> None:
    try:
        print(f"tailrun: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError, RuntimeError):   # RuntimeError: the handler interrupted a print
        pass
