"""A screen's Watch feed: the SDK client's `Follow` run in a worker thread, its events kept for
the screen to drain in ~100 ms batches (one message per batch, not per event) with the state
for the status line."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tailrun.client import Follow, FollowState
from tailrun.exceptions import ServiceError
from tailrun.v1 import tailrun_pb2 as pb


@dataclass
class FeedBatch:
    events: list[pb.WatchEvent] = field(default_factory=list)
    state: FollowState = field(default_factory=FollowState)


class WatchFeed:
    """`run()` blocks (call it from a worker thread); `drain()` and `stop()` from the UI thread."""

    def __init__(self, follow: Follow) -> None:
        self._follow = follow
        self._events: list[pb.WatchEvent] = []
        self._lock = threading.Lock()

    def run(self) -> None:
        try:
            for event in self._follow:
                with self._lock:
                    self._events.append(event)
        except ServiceError:
            pass   # refused, or a request no reconnect can fix: the state says so on the status line

    def drain(self) -> FeedBatch:
        with self._lock:
            events, self._events = self._events, []
        return FeedBatch(events, self._follow.state)

    def stop(self) -> None:
        self._follow.stop()
