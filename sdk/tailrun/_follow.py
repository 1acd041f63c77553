"""Following a run's `Watch` stream until the run ends: each event goes to a callback, a dropped
stream is resumed from its cursor, and a final status seen in a replay waits for the backlog."""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from . import _status
from .exceptions import ServiceUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from .v1 import tailrun_pb2 as pb

RECONNECT_SECONDS = 1.0
RECONNECT_ATTEMPTS = 30


def follow(run: Any, on_event: "Callable[[pb.WatchEvent], None]", kinds: list[str],
           include_children: bool = False, deadline: float | None = None) -> bool:
    """Call `on_event` with each event of the run's Watch stream; True once the run has a final
    status and everything before it was delivered, False when `deadline` (time.monotonic) passes.
    ServiceUnavailable after RECONNECT_ATTEMPTS failed reconnections in a row."""
    client = run._client()
    cursor, attempts = 0, 0
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        watch = client.watch(run_id=run.id, include_children=include_children, cursor=cursor,
                             from_start=cursor == 0, kinds=kinds)
        timer = None
        if deadline is not None:
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), watch.cancel)
            timer.daemon = True
            timer.start()
        terminal = caught_up = False
        try:
            for event in watch:
                attempts = 0
                cursor = max(cursor, event.cursor)
                caught_up = caught_up or event.caught_up
                on_event(event)
                if event.WhichOneof("kind") == "run" and event.run.run_id == run.id:
                    terminal = terminal or _status.is_terminal(event.run.status)
                # A replayed run event carries today's status: finish the backlog first.
                if terminal and caught_up:
                    return True
            if terminal:
                return True
        except ServiceUnavailable:
            attempts += 1
            if attempts > RECONNECT_ATTEMPTS:
                raise
            time.sleep(RECONNECT_SECONDS)
        finally:
            if timer is not None:
                timer.cancel()
            watch.cancel()
        if _status.is_terminal(run._fetch().status):
            return True
