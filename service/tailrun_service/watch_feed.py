"""The bridge from the store's change notification (a blocking wait) to the Watch streams on the
asyncio loop: ONE thread waits for new events and wakes every waiting stream, so a thousand idle
Watch streams hold no thread and cost no database query until something changes.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from .repeated_log import RepeatedErrorLog

log = logging.getLogger(__name__)

STORE_WAIT_SECONDS = 0.25     # one blocking wait on the store; also how fast close() is noticed
MIN_WAKE_INTERVAL = 0.05      # under a stream of commits, wake the watchers at most this often
RETRY_SECONDS = 1.0           # after a failed store query (the database is away)


class WatchFeed:
    """`newest` is the newest event id known; `await wait(seen, timeout)` returns once it is past
    `seen`, on `wake_all()`, or at the timeout. The thread starts with the first `wait`."""

    def __init__(self, store: Any, errors: RepeatedErrorLog | None = None) -> None:
        self.store = store
        self.newest = 0
        self._errors = errors or RepeatedErrorLog(log)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    async def wait(self, seen: int, timeout: float) -> None:
        """Return when an event newer than `seen` exists, on wake_all(), or after `timeout` s."""
        if self._thread is None:
            self._start()
        if self.newest > seen:
            return
        assert self._changed is not None
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def wake_all(self) -> None:
        """Wake every waiting stream now (thread-safe): the service is stopping."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._publish, self.newest)

    def close(self, timeout: float = 5) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # ---------------------------------------------------------------- internals

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._thread = threading.Thread(target=self._follow, name="tailrun-watch-feed", daemon=True)
        self._thread.start()

    def _publish(self, newest: int) -> None:
        """On the loop: record `newest` and wake the current waiters (a fresh Event for the next)."""
        self.newest = max(self.newest, newest)
        assert self._changed is not None
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _follow(self) -> None:
        """The one thread: wait on the store for an event past the newest known, then publish."""
        assert self._loop is not None
        newest = -1   # publish the current newest once at start
        while not self._closed.is_set():
            try:
                if newest >= 0:
                    self.store.wait_for_change(newest, timeout=STORE_WAIT_SECONDS)
                latest = self.store.last_event_id()
            except Exception as exc:
                self._errors.report("following the store's changes for Watch", exc)
                self._closed.wait(RETRY_SECONDS)
                continue
            if latest != newest:
                newest = latest
                try:
                    self._loop.call_soon_threadsafe(self._publish, latest)
                except RuntimeError:   # the loop is closed: the service is gone
                    return
                self._closed.wait(MIN_WAKE_INTERVAL)   # coalesce a burst of commits into one wake-up
