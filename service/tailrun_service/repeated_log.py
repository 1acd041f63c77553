"""Logging an error that repeats (a full disk, a read-only database, a vanished data dir) without
flooding the log: the first occurrence is logged in full (with its traceback); later ones of the
same kind within the interval are only counted, and the count is written once per interval as
"... (repeated N times in the last M s)". Clients retry a failing batch many times a second; the
log says so in one line, and a line that comes back after a quiet interval is logged in full again.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL_SECONDS = 30.0
MAX_KINDS = 1000   # distinct errors remembered at once; beyond that the oldest is written and dropped

Key = tuple[str, str, str]   # (what failed, exception type, first line of the message)


@dataclass
class _Kind:
    window_start: float    # when the current counting window began
    repeats: int = 0       # occurrences counted but not yet written


class RepeatedErrorLog:
    """`report(what, exc)` from any thread; `flush()` writes the counts still pending (at stop)."""

    def __init__(self, logger: logging.Logger, interval: float = DEFAULT_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._kinds: dict[Key, _Kind] = {}
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def report(self, what: str, exc: BaseException, *, traceback: bool = True) -> None:
        """`what` failed with `exc` (its traceback is written with the first occurrence)."""
        # The first line names the error; later lines (SQLAlchemy's SQL and parameters) differ
        # from one batch to the next, and would make every occurrence look new.
        key = (what, type(exc).__name__, str(exc).partition("\n")[0][:300])
        now = self._clock()
        with self._lock:
            kind = self._kinds.get(key)
            if kind is not None and (kind.repeats or now - kind.window_start < self.interval):
                kind.repeats += 1
                self._schedule_flush(kind.window_start + self.interval - now)
                return
            if kind is None and len(self._kinds) >= MAX_KINDS:
                self._write(*self._pop_oldest())
            self._kinds[key] = _Kind(window_start=now)
        self.logger.error("%s failed: %s: %s", what, type(exc).__name__, exc,
                          exc_info=exc if traceback else None)

    def flush(self, everything: bool = True) -> None:
        """Write the counts not yet written: all of them, or (the timer) those whose interval is over."""
        with self._lock:
            self._timer = None
            now = self._clock()
            due = [(key, kind.repeats, now - kind.window_start) for key, kind in self._kinds.items()
                   if kind.repeats and (everything or now - kind.window_start >= self.interval)]
            for key, _count, _seconds in due:
                self._kinds[key] = _Kind(window_start=now)
            waiting = [kind.window_start + self.interval - now for kind in self._kinds.values() if kind.repeats]
            if waiting:
                self._schedule_flush(min(waiting))
        for item in due:
            self._write(*item)

    def _schedule_flush(self, delay: float) -> None:
        if self._timer is None:
            self._timer = threading.Timer(max(0.0, delay), self.flush, kwargs={"everything": False})
            self._timer.daemon = True
            self._timer.start()

    def _pop_oldest(self) -> tuple[Key, int, float]:
        key = next(iter(self._kinds))
        kind = self._kinds.pop(key)
        return key, kind.repeats, self._clock() - kind.window_start

    def _write(self, key: Key, count: int, seconds: float) -> None:
        if count:
            what, type_name, message = key
            self.logger.error("%s failed: %s: %s (repeated %d times in the last %.3g s)",
                              what, type_name, message, count, seconds)

    def close(self) -> None:
        """Write what is pending and stop the timer."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.flush()
