"""One Watch stream: the backlog after the client's cursor, one caught_up marker, then live events.

Its store queries run in the servicer's watch pool (`blocking`); between changes it awaits the
service's WatchFeed, holding no thread. A watched run with `include_children` follows the runs
started under it (found by their `run` events, and re-listed now and then as a safety net).
"""
from __future__ import annotations

import threading
import time
from typing import Any, AsyncIterator, Awaitable, Callable

from tailrun.v1 import tailrun_pb2 as pb

from .errors import InvalidArgument, ShuttingDown
from .store.watch import WATCH_KINDS, table_kinds
from .watch_feed import WatchFeed

POLL_SECONDS = 5.0               # an idle Watch wakes this often (children refresh), without a query
CHILDREN_REFRESH_SECONDS = 5.0   # safety net: re-query a watched run's children this often
EVENTS_PAGE = 500                # events per store query; a full page means more backlog

Blocking = Callable[..., Awaitable[Any]]   # run a blocking call in the watch pool: blocking(fn, *args)


class WatchSession:
    """`events()` yields the stream's WatchEvents; it ends with ShuttingDown when the service stops."""

    def __init__(self, request: pb.WatchRequest, store: Any, feed: WatchFeed, stopping: threading.Event,
                 blocking: Blocking) -> None:
        self.request = request
        self.store = store
        self.feed = feed
        self.stopping = stopping
        self.blocking = blocking
        # Validated here, once: the store's queries get the events table's kind names.
        wanted = table_kinds(request.kinds, WATCH_KINDS)
        self.kinds = sorted(wanted) or None
        self.payloads = wanted or frozenset(WATCH_KINDS.values())
        self.experiment = request.experiment or None
        self.run_ids: set[str] | None = None
        self.tree = bool(request.run_id and request.include_children)
        self.cursor = request.cursor
        self.refreshed = 0.0

    def _open(self) -> None:
        """Blocking: check the run and the cursor, find the watched run's children."""
        request = self.request
        if request.run_id:
            run = self.store.get_run(request.run_id)   # NotFound for a wrong id
            self.run_ids = {request.run_id}
            if self.tree:
                # Children are found by their `run` events, which need the whole experiment.
                self.experiment = run.experiment
                self._refresh_children()
        if self.cursor == 0 and not request.from_start:
            self.cursor = self.store.last_event_id()
        elif self.cursor:
            # A cursor from another service's database would wait forever for events that never come.
            newest = self.store.last_event_id()
            if self.cursor > newest:
                raise InvalidArgument(f"cursor {self.cursor} is past the newest event ({newest}) of this "
                                      "service; watch again from cursor 0")

    def _refresh_children(self) -> None:
        req = pb.ListRunsRequest(parent_run_id=self.request.run_id, recursive=True, select_metrics=True)
        assert self.run_ids is not None
        self.run_ids.update(run.run_id for run in self.store.list_runs(req))
        self.refreshed = time.monotonic()

    def _page(self) -> list[pb.WatchEvent]:
        if not self.tree:
            return self.store.events_after(self.cursor, list(self.run_ids) if self.run_ids else None,
                                           self.experiment, self.kinds, limit=EVENTS_PAGE)
        return self.store.events_after(self.cursor, None, self.experiment, None, limit=EVENTS_PAGE)

    def _wanted(self, event: pb.WatchEvent) -> bool:
        if not self.tree:
            return True
        assert self.run_ids is not None
        kind = event.WhichOneof("kind")
        if kind == "run" and event.run_id not in self.run_ids and event.run.parent_run_id in self.run_ids:
            self.run_ids.add(event.run_id)   # a new child (or grandchild) of the watched run
        return event.run_id in self.run_ids and kind in self.payloads

    def _check_stopping(self) -> None:
        if self.stopping.is_set():
            raise ShuttingDown(f"the service is shutting down; resume from cursor {self.cursor}")

    async def events(self) -> AsyncIterator[pb.WatchEvent]:
        blocking = self.blocking
        await blocking(self._open)
        caught_up = False
        while True:
            self._check_stopping()
            seen = self.feed.newest   # read before the query: a commit after it wakes us (no lost wake-up)
            page = await blocking(self._page)
            for event in page:
                self.cursor = max(self.cursor, event.cursor)
                if self._wanted(event):
                    yield event
            if len(page) >= EVENTS_PAGE:
                continue   # more backlog
            if not caught_up:
                caught_up = True
                yield pb.WatchEvent(caught_up=True, cursor=self.cursor)
            # Idle: no thread and no query until the feed reports a newer event.
            while True:
                await self.feed.wait(seen, timeout=POLL_SECONDS)
                self._check_stopping()
                if self.tree and time.monotonic() - self.refreshed > CHILDREN_REFRESH_SECONDS:
                    await blocking(self._refresh_children)
                if self.feed.newest > seen:
                    break
