"""The standard `logging` module: `TailrunHandler`, a `logging.Handler` (no extra needed).

    logging.getLogger().addHandler(TailrunHandler())

Each record, formatted (default `2026-11-28 07:30:00,123 INFO name: message`, tracebacks
included), is appended to the run file `logs/python_logging.txt`, streamed live like the
console's `logs/user_log.txt` and through the same mechanism (`_console.run_log_sink`): queued
with the run's other data, sent by the sender thread, spooled while the service is down. `emit`
never does I/O. Each process writes its own file, so that two never write over each other's
bytes: a forked child (a DataLoader worker) `logs/python_logging.<pid>.txt`, rank N > 0 of a
torchrun job `logs/python_logging.rank<N>.txt`.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Callable

from .._console import run_log_sink
from ..run_logging import clean_artifact_path
from ._common import resolve_run

if TYPE_CHECKING:  # pragma: no cover
    from ..run import Run

LOG_FILE = "logs/python_logging.txt"
DEFAULT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# One sink per (process, run, file): handlers writing the same file share its offset.
_sinks: dict[tuple[int, str, str], Callable[[bytes], None]] = {}
_sinks_lock = threading.Lock()


class TailrunHandler(logging.Handler):
    """Write log records into a run's output.

    `run`: the run to write to; default `Run.get_context()` (the submitted run, or the script's
    recording run). `level`: as for any handler. `path`: the run file, under `logs/`; one
    process writes one file, so each further process logging into the same run needs its own
    (the default is `logs/python_logging.rank<N>.txt` where torchrun's RANK is N > 0).
    """

    def __init__(self, run: "Run | None" = None, level: int | str = logging.NOTSET,
                 path: str | None = None) -> None:
        super().__init__(level)
        path = clean_artifact_path(path, "log file path") if path is not None else default_path()
        if not path.startswith("logs/"):
            raise ValueError(f"TailrunHandler path {path!r} must be under 'logs/' (streamed live), "
                             f"e.g. {LOG_FILE!r}")
        self.run, _ = resolve_run(run)
        self.path = path
        self.setFormatter(logging.Formatter(DEFAULT_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + "\n"
            self._sink()(text.encode("utf-8", "backslashreplace"))
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _sink(self) -> Callable[[bytes], None]:
        pid, run = os.getpid(), self.run
        key = (pid, run.id, self.path)
        sink = _sinks.get(key)
        if sink is None:
            with _sinks_lock:
                sink = _sinks.get(key)
                if sink is None:
                    sink = _sinks[key] = _locked(run_log_sink(_RunQueue(run), run.id, self._path_in(pid)))
        return sink

    def _path_in(self, pid: int) -> str:
        if pid == _MAIN_PID:
            return self.path
        stem, dot, suffix = self.path.rpartition(".")
        return f"{stem}.{pid}.{suffix}" if dot and "/" not in suffix else f"{self.path}.{pid}"


def default_path() -> str:
    """`logs/python_logging.txt`, or `logs/python_logging.rank<N>.txt` on rank N > 0."""
    rank = os.environ.get("RANK", "0")
    return LOG_FILE if rank in ("", "0") or not rank.isdigit() else f"logs/python_logging.rank{rank}.txt"


class _RunQueue:
    """`run_log_sink` appends to `recorder.queue`; this hands it the run's own append instead,
    which in a forked child re-sends the run's start first (the parent's may still be unsent)."""

    def __init__(self, run: "Run") -> None:
        self.queue = self
        self._run = run

    def append(self, item: tuple) -> None:
        self._run._append(item)


def _locked(sink: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """Several handlers (each with its own lock) may share one file's offset."""
    lock = threading.Lock()

    def write(data: bytes) -> None:
        with lock:
            sink(data)
    return write


_MAIN_PID = os.getpid()


def _forget_in_child() -> None:
    # the parent's offsets are not this process's; its files get their own name (see _path_in)
    global _sinks_lock
    _sinks_lock = threading.Lock()
    _sinks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
