"""The Watch feed: rows of the `events` table (id = cursor) resolved into WatchEvent payloads,
and a change notifier that works in-process (a Condition) and across service replicas (polling)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from sqlalchemy import func, select

from tailrun.v1 import tailrun_pb2 as pb

from ..errors import InvalidArgument
from .engine import Database
from .files import file_info, read_text
from .queries import get_run
from .recent_chunks import RecentChunks
from .schema import events, experiments
from .series import load_chunk_wire

POLL_SECONDS = 0.25  # how often a waiter checks the database for commits of other processes
# WatchRequest.kinds -> the kind names of the events table (which the service's own readers use).
WATCH_KINDS = {"status": "run", "metrics": "metrics", "output": "output", "files": "file"}
TABLE_KINDS = frozenset(WATCH_KINDS.values())
ANY_KIND_NAME = {**WATCH_KINDS, **{kind: kind for kind in TABLE_KINDS}}   # what events_after accepts


def table_kinds(kinds: Iterable[str], names: dict[str, str] = ANY_KIND_NAME) -> frozenset[str]:
    """The events-table kinds of `kinds` (keys of `names`); InvalidArgument naming the unknown
    ones. Empty = none given (every kind)."""
    kinds = list(kinds)
    unknown = [k for k in kinds if k not in names]
    if unknown:
        raise InvalidArgument(f"unknown watch kind(s) {', '.join(map(repr, unknown))}; "
                              f"use {', '.join(WATCH_KINDS)}")
    return frozenset(names[k] for k in kinds)


def last_event_id(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(select(func.max(events.c.id))).scalar() or 0


def events_after(db: Database, artifacts, recent: RecentChunks | None, cursor: int,
                 run_ids: Iterable[str] | None = None, experiment: str | None = None,
                 kinds: Iterable[str] | None = None, limit: int = 500) -> list[pb.WatchEvent]:
    """Events with id > cursor, oldest first, at most `limit`, payloads resolved.

    `experiment` is a name (every experiment of that name, archived or not). A run event carries
    the run as it is now, an output event the text appended at that time, a metrics event its
    chunk: from `recent` when this service committed it lately, else read from the store."""
    query = select(events).where(events.c.id > cursor)
    if run_ids is not None:
        run_ids = list(run_ids)
        if not run_ids:
            return []
        query = query.where(events.c.run_id.in_(run_ids))
    if experiment:
        query = query.where(events.c.experiment_id.in_(
            select(experiments.c.id).where(experiments.c.name == experiment)))
    wanted = table_kinds(kinds or ())
    if wanted and wanted != TABLE_KINDS:
        query = query.where(events.c.kind.in_(sorted(wanted)))
    query = query.order_by(events.c.id).limit(max(1, limit))
    out = []
    with db.read() as conn:
        run_cache: dict[str, pb.RunInfo] = {}
        for row in conn.execute(query).all():
            event = pb.WatchEvent(cursor=row.id, run_id=row.run_id)
            if row.kind == "run":
                if row.run_id not in run_cache:
                    run_cache[row.run_id] = get_run(conn, row.run_id)
                event.run.CopyFrom(run_cache[row.run_id])
            elif row.kind == "metrics":
                wire = recent.wire(row.metric_id, row.first_index) if recent is not None else None
                if wire is None:
                    wire = load_chunk_wire(db, conn, row.metric_id, row.first_index)
                if wire is not None:
                    event.metrics.MergeFromString(wire)
            elif row.kind == "output":
                try:
                    event.output.CopyFrom(read_text(artifacts, row.run_id, row.path, row.offset,
                                                    row.offset + row.length))
                except FileNotFoundError:
                    event.output.path = row.path
            elif row.kind == "file":
                event.file.CopyFrom(file_info(conn, artifacts, row.run_id, row.path))
            out.append(event)
    return out


class ChangeNotifier:
    """Wakes waiters after a commit in this process; polls the database for other processes."""

    def __init__(self, latest: Callable[[], int]) -> None:
        self._latest = latest
        self._cond = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wait(self, after_cursor: int, timeout: float) -> bool:
        """True as soon as an event with id > after_cursor exists; False after `timeout` seconds."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            with self._cond:
                generation = self._generation  # read before the query: no lost wake-up
            if self._latest() > after_cursor:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._cond:
                if self._generation == generation:
                    self._cond.wait(min(remaining, POLL_SECONDS))
