"""What happens to the runs this process started when the script ends without finishing them.

- An uncaught exception (`sys.excepthook`, chained, installed once per process) marks every
  active run Failed with the traceback, children first.
- At interpreter exit (`atexit`), runs still active are completed: Azure ML leaves them Running
  until they time out; tailrun records the truth (the script ended) and documents it.
- A forked child forgets its parent's runs: finishing them is the parent's job.
- SIGTERM / SIGINT (`_signals`, installed from the main thread at the first run): active runs
  are marked Canceled with the signal named, flushed, and the signal then acts as before.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _signals, _status

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run


# Re-entrant: the SIGTERM/SIGINT handler (active_runs, unregister) may interrupt this thread while
# it holds the lock (in register); a plain Lock would wait on itself forever.
_lock = threading.RLock()
_active: dict[str, "Run"] = {}
_installed_pid: int | None = None
_previous_hook: Any = None


def register(run: "Run") -> None:
    """Track a run started by this process until it is finished."""
    _install()
    _signals.install(active_runs, _mark_canceled)   # once per process, main thread only
    with _lock:
        _active[run.id] = run


def unregister(run: "Run") -> None:
    with _lock:
        _active.pop(run.id, None)


def active_runs() -> list["Run"]:
    """Runs still active, most recently started first (children before their parents)."""
    with _lock:
        return list(reversed(_active.values()))


def _install() -> None:
    global _installed_pid, _previous_hook
    with _lock:
        if _installed_pid is not None:
            return
        _installed_pid = os.getpid()
        _previous_hook = sys.excepthook
        sys.excepthook = _excepthook
        # Registered after tailrun._recorder is imported, so (atexit being LIFO) this runs before
        # its exit drain; it calls that drain itself once the runs are finished.
        atexit.register(_at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_in_child)


def _mark_canceled(run: "Run", reason: str) -> None:
    """SIGTERM/SIGINT (see _signals): Canceled with the signal named; the flush is _signals' job."""
    from .run import _error_json
    run._finish(_status.CANCELED, _error_json(reason, "Canceled"), wait=False)


def _forget_in_child() -> None:
    for run in _active.values():   # the child may log into them: see Run._after_fork_in_child
        run._after_fork_in_child()
    _active.clear()


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    # The traceback is printed first, so that the console capture still records it.
    try:
        (_previous_hook or sys.__excepthook__)(exc_type, exc, tb)
    finally:
        if os.getpid() == _installed_pid and not issubclass(exc_type, SystemExit):
            if exc.__traceback__ is None and tb is not None:
                exc = exc.with_traceback(tb)
            for run in active_runs():
                try:
                    run._finish_failed(exc, wait=False)
                except Exception as err:
                    print(f"tailrun: could not mark run {run.id} Failed: {err}", file=sys.stderr)


def _at_exit() -> None:
    if os.getpid() != _installed_pid:
        return
    for run in active_runs():
        try:
            run._finish_completed(wait=False)
        except Exception as err:
            print(f"tailrun: could not complete run {run.id} at exit: {err}", file=sys.stderr)
    try:   # every recorder (one per workspace target), one shared TAILRUN_EXIT_TIMEOUT deadline
        from ._recorder import drain_at_exit
        drain_at_exit()
    except Exception as err:
        print(f"tailrun: flushing at exit failed: {err}", file=sys.stderr)
