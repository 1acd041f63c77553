"""The concurrency limit: at most `limit` runs execute at once; the others wait as Queued and
start in submit order."""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable


class RunQueue:
    def __init__(self, limit: int, start: Callable[[str], None]) -> None:
        if limit < 1:
            raise ValueError(f"max concurrent runs must be at least 1, got {limit}")
        self.limit = limit
        self._start = start
        self._waiting: deque[str] = deque()
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def push(self, run_id: str) -> None:
        with self._lock:
            self._waiting.append(run_id)
        self._pump()

    def occupy(self, run_id: str) -> None:
        """Count a run that is already executing (adopted after a restart) against the limit."""
        with self._lock:
            self._active.add(run_id)

    def remove(self, run_id: str) -> bool:
        """Take a waiting run out of the queue; False if it is not waiting."""
        with self._lock:
            try:
                self._waiting.remove(run_id)
                return True
            except ValueError:
                return False

    def finished(self, run_id: str) -> None:
        with self._lock:
            self._active.discard(run_id)
        self._pump()

    def waiting(self) -> list[str]:
        with self._lock:
            return list(self._waiting)

    def drain(self) -> list[str]:
        """Empty the queue (the service is stopping); returns the runs that were waiting."""
        with self._lock:
            waiting = list(self._waiting)
            self._waiting.clear()
            return waiting

    def _pump(self) -> None:
        while True:
            with self._lock:
                if not self._waiting or len(self._active) >= self.limit:
                    return
                run_id = self._waiting.popleft()
                self._active.add(run_id)
            self._start(run_id)
