"""One console tee per process, shared by every active run that captures the console.

fd 1 and fd 2 can only be redirected once safely: two nested tees stopped in the wrong order
would leave stdout pointing at a closed pipe. So the first run that wants its console starts a
single `ConsoleTee`, whose bytes go to the `logs/user_log.txt` of every run attached at that
moment; the tee stops (and drains) when the last run detaches.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable

USER_LOG = "logs/user_log.txt"

# Re-entrant: a SIGTERM handler finishing the runs (detach) may interrupt attach() in this thread.
_lock = threading.RLock()
_tee: Any = None
_sinks: dict[str, Callable[[bytes], None]] = {}


def attach(recorder: Any, run_id: str) -> None:
    """Send the process's console output to this run too (starts the tee if needed)."""
    global _tee
    from ._console import ConsoleTee, run_log_sink
    with _lock:
        _sinks[run_id] = run_log_sink(recorder, run_id, USER_LOG)
        if _tee is None:
            tee = ConsoleTee(_dispatch)
            try:
                tee.start()
            except Exception:
                _sinks.pop(run_id, None)
                raise
            _tee = tee


def detach(run_id: str) -> None:
    """Stop sending console output to this run; the last one out stops the tee."""
    global _tee
    with _lock:  # held while stopping, so a run attaching meanwhile waits (_dispatch takes no lock)
        if run_id not in _sinks:
            return
        if len(_sinks) == 1 and _tee is not None:
            tee, _tee = _tee, None
            tee.stop()  # drains into this run's sink, which is removed only afterwards
        _sinks.pop(run_id, None)


def _dispatch(data: bytes) -> None:
    for sink in list(_sinks.values()):
        sink(data)


def _forget_in_child() -> None:
    # The parent's tee threads do not exist here; fds 1/2 still feed the parent's tee.
    global _tee, _lock
    _lock = threading.RLock()
    _tee = None
    _sinks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
