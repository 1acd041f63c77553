"""Crash detection: runs whose process stopped heartbeating become NotResponding, then Failed.

The SDK heartbeats every TAILRUN_HEARTBEAT_SECONDS (default 10 s) for each run it started. A
monitor thread in the service scans the runs that are Running or NotResponding and, for those
not supervised by this service's runner (the runner knows when its own children exit):

- no new heartbeat for `timeout` seconds            -> NotResponding
- still none for another `timeout` seconds           -> Failed, "lost contact; last heartbeat at …"
- a new heartbeat for a NotResponding run            -> Running again

"No new heartbeat" is measured on the service's own clock, as the time since the monitor last
saw `last_heartbeat` change, so a client whose clock is off, or heartbeats replayed late from a
spool, cannot make a live run look dead. After a service restart every run gets a full timeout
to reconnect before it is judged.

Changes are written like any client's: `store.apply_batch(writer="liveness:<instance uuid>",
seq, [RunPatch])`, so Watch shows them. Each patch is re-checked inside its write transaction
(the `allowed` hook): if the run finished or heartbeated meanwhile, the patch is dropped. Several
replicas may run monitors on one database; their patches are idempotent.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tailrun import _status
from tailrun.v1 import tailrun_pb2 as pb

from .errors import NotFound

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
WATCHED = (_status.RUNNING, _status.NOT_RESPONDING)


@dataclass
class _Seen:
    heartbeat: float     # the run's last_heartbeat as last read
    changed_at: float    # monotonic time when the monitor saw it change (or first saw the run)


def utc_text(unix_seconds: float) -> str:
    return datetime.fromtimestamp(unix_seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def lost_contact_error(last_heartbeat: float, start_time: float) -> str:
    if last_heartbeat > 0:
        message = f"lost contact; last heartbeat at {utc_text(last_heartbeat)}"
    else:
        since = f" (run started at {utc_text(start_time)})" if start_time > 0 else ""
        message = f"lost contact; no heartbeat was ever received{since}"
    return json.dumps({"error": {"code": "LostContact", "message": message}})


class LivenessMonitor:
    """Scans every `interval` seconds; `check_once()` is one scan (tests call it directly)."""

    def __init__(self, store: Any, timeout: float = DEFAULT_TIMEOUT, runner: Any = None,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if not timeout > 0:
            raise ValueError(f"the heartbeat timeout must be a positive number of seconds, got {timeout!r}")
        self.store = store
        self.timeout = float(timeout)
        self.runner = runner
        self.interval = interval if interval is not None else max(0.05, min(1.0, self.timeout / 4))
        self.writer = f"liveness:{uuid.uuid4()}"
        self._clock = clock
        self._seq = 0
        self._seen: dict[str, _Seen] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ thread

    def start(self) -> LivenessMonitor:
        self._thread = threading.Thread(target=self._loop, name="tailrun-liveness", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        failures = 0
        while not self._stop.wait(self.interval):
            try:
                self.check_once()
                failures = 0
            except Exception:   # a locked or restarting database must not end crash detection
                failures += 1
                if failures == 1 or failures % 60 == 0:
                    log.exception("liveness check failed (retrying)")

    # ------------------------------------------------------------------ one scan

    def check_once(self) -> list[tuple[str, str]]:
        """Judge every watched run once; returns the (run_id, new status) changes made."""
        from sqlalchemy import (
            select,  # (imported here: server.py loads SQLAlchemy only to serve)
        )

        from .store.schema import (
            runs,  # the store's table; read directly to keep the scan cheap
        )

        now = self._clock()
        query = select(runs.c.run_id, runs.c.status, runs.c.run_type, runs.c.last_heartbeat,
                       runs.c.start_time).where(runs.c.status.in_(WATCHED))
        with self.store.db.read() as conn:
            rows = conn.execute(query).all()
        supervised = self._supervised()
        changes: list[tuple[str, str]] = []
        alive: set[str] = set()
        for row in rows:
            if row.run_id in supervised:   # the runner's scripts, the orchestrator's parents
                continue
            alive.add(row.run_id)
            seen = self._seen.get(row.run_id)
            if seen is None or seen.heartbeat != row.last_heartbeat:
                heartbeat_arrived = seen is not None
                self._seen[row.run_id] = _Seen(row.last_heartbeat, now)
                if heartbeat_arrived and row.status == _status.NOT_RESPONDING:
                    changes += self._patch(row, _status.RUNNING, None)
                continue
            silent = now - seen.changed_at
            if row.status == _status.RUNNING and silent >= self.timeout:
                changes += self._patch(row, _status.NOT_RESPONDING, None)
            elif row.status == _status.NOT_RESPONDING and silent >= 2 * self.timeout:
                changes += self._patch(row, _status.FAILED,
                                       lost_contact_error(row.last_heartbeat, row.start_time))
        for run_id in set(self._seen) - alive:   # finished, or taken over by the runner
            del self._seen[run_id]
        return changes

    def _supervised(self) -> set[str]:
        if self.runner is None:
            return set()
        try:
            return set(self.runner.active_runs())
        except Exception:
            log.exception("asking the runner for its runs failed")
            return set()

    def _patch(self, row: Any, status: str, error_json: str | None) -> list[tuple[str, str]]:
        patch = pb.RunPatch(run_id=row.run_id, status=status, time=time.time())
        if error_json is not None:
            patch.error_json = error_json

        def still_as_seen(run_id: str, _event: pb.Event) -> bool:
            # Inside the write transaction: on SQLite no other write can commit before ours.
            try:
                info = self.store.get_run(run_id)
            except NotFound:
                return False
            return info.status == row.status and info.last_heartbeat == row.last_heartbeat

        # The seq is used up only by a batch the store applied: a failed one (a locked or
        # unusable store) is retried at the same seq, since the store refuses gaps.
        result = self.store.apply_batch(self.writer, self._seq + 1, [pb.Event(patch=patch)], still_as_seen)
        self._seq += 1
        if result.rejected:
            log.debug("run %s changed meanwhile; not marked %s", row.run_id, status)
            return []
        log.info("run %s: %s -> %s%s", row.run_id, row.status, status,
                 f" ({json.loads(error_json)['error']['message']})" if error_json else "")
        return [(row.run_id, status)]
