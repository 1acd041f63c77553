"""apply_batch: one ingested batch of events -> one transaction, exactly once per (writer, seq).

Sequence (contract C1): a batch is applied only at seq == committed + 1; seq <= committed is a
re-sent batch (acknowledged, nothing stored); a larger seq would skip batches never applied and
is refused (SeqGap, FAILED_PRECONDITION "writer W: expected seq N, got M"). So a writer's seq only
moves forward by batches actually applied, and nobody can push it out of reach of the real writer.

Ownership (contract C2): each writer records the principal that first wrote it. A gRPC caller
passes its principal ("admin" or "run:<run_id>"); a run-scoped one may use a new writer (it then
owns it) or one it owns, else PermissionDenied. Writer ids starting with "runner:", "liveness:" or "snapshots:"
belong to the service's in-process writers (principal None here) and are refused to any caller.

Each event is validated before it writes anything, so a bad event is rejected (one line naming the
problem) and the rest of the batch is stored. Metric chunks and Watch events are collected while
the batch is applied and written at the end; Watch events last, under a lock on PostgreSQL, so
that event ids become visible in id order (a reader's cursor never skips a late commit).
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select, update

from tailrun import _status
from tailrun.v1 import tailrun_pb2 as pb

from ..artifacts import ArtifactStore, validate_path, validate_run_id
from ..auth import ADMIN_PRINCIPAL, SERVICE_PRINCIPAL
from ..errors import InvalidArgument, PermissionDenied, SeqGap
from .engine import Database
from .ingest_metrics import MetricIngest
from .recent_chunks import RecentChunks
from .schema import runs
from .statements import Statements, statements
from .validation import (
    MAX_KEY_CHARS, MAX_TEXT_CHARS, check_map, check_status, check_text, check_time,
    validate_experiment_name,
)

LOG_PREFIXES = ("logs/", "user_logs/")  # appends under these are Watch `output` events
MAX_SEQ = 2 ** 63 - 1                   # seqs are stored as signed 64-bit integers
RESERVED_WRITER_PREFIXES = ("runner:", "liveness:", "snapshots:")   # the service's own writers

AllowedRuns = Callable[[str, pb.Event], bool]


@dataclass
class ApplyResult:
    committed_seq: int
    rejected: list[str] = field(default_factory=list)


def ensure_experiment(conn: Connection, sql: Statements, name: str, now: float) -> str:
    """The id of the active experiment `name`, created if missing (safe under concurrency)."""
    found = conn.execute(sql.active_experiment, {"name": name}).scalar()
    if found is None:
        conn.execute(sql.create_experiment, {"id": str(uuid.uuid4()), "name": name, "now": now})
        found = conn.execute(sql.active_experiment, {"name": name}).scalar_one()
    return found


def committed_seq(conn: Connection, writer: str) -> int:
    return conn.execute(statements(conn).writer_seq, {"writer": writer}).scalar() or 0


def check_writer_name(writer: str, principal: str | None) -> None:
    """A valid writer id that this caller may name at all (None = the service itself)."""
    if not writer:
        raise InvalidArgument("writer id is empty")
    check_text("writer id", writer, MAX_KEY_CHARS)
    if principal is not None and writer.startswith(RESERVED_WRITER_PREFIXES):
        raise PermissionDenied(f"writer {writer!r} is reserved for the service's own writers "
                               f"(ids starting with {' or '.join(RESERVED_WRITER_PREFIXES)})")


def check_owner(writer: str, principal: str | None, owner: str | None) -> None:
    """The service itself and admin callers may use any writer; others only their own."""
    if principal is None or principal == ADMIN_PRINCIPAL or owner is None or owner == principal:
        return
    raise PermissionDenied(f"writer {writer!r} belongs to another caller; a run-scoped token may "
                           f"only use writers it started")


def handshake(conn: Connection, writer: str, principal: str | None) -> int:
    """Where a writer resumes (its committed seq), for a caller allowed to use it."""
    check_writer_name(writer, principal)
    row = conn.execute(statements(conn).writer_row, {"writer": writer}).first()
    if row is None:
        return 0
    check_owner(writer, principal, row.owner)
    return row.last_seq


def apply_batch(db: Database, artifacts: ArtifactStore, writer: str, seq: int,
                batch: Sequence[pb.Event], allowed: AllowedRuns | None = None,
                principal: str | None = None, recent: RecentChunks | None = None) -> ApplyResult:
    """`principal`: the gRPC caller ("admin" or "run:<run_id>"), None for the service itself.
    `recent` keeps the committed metric chunks for live Watch events."""
    check_writer_name(writer, principal)
    if seq > MAX_SEQ:
        raise InvalidArgument(f"seq {seq} is over the limit of {MAX_SEQ}")
    if seq == 0:  # handshake: where should this writer resume?
        db.write_guard()  # a store that cannot take batches says so before the writer sends any
        with db.read() as conn:
            return ApplyResult(handshake(conn, writer, principal))
    with db.write() as conn:
        sql = statements(conn)
        now = time.time()
        owner = principal or SERVICE_PRINCIPAL
        conn.execute(sql.ensure_writer, {"writer": writer, "now": now, "owner": owner})
        last, recorded = conn.execute(sql.lock_writer, {"writer": writer}).one()
        if recorded is None:  # a writer older than ownership: the first caller since owns it
            conn.execute(sql.claim_writer, {"b_writer": writer, "b_owner": owner})
        check_owner(writer, principal, recorded)
        if seq <= last:  # a re-sent batch: already stored, store nothing
            return ApplyResult(last)
        if seq != last + 1:
            raise SeqGap(f"writer {writer}: expected seq {last + 1}, got {seq}")
        applier = _BatchApplier(conn, sql, artifacts, now)
        applier.prefetch_metrics(batch)
        rejected = []
        for event in batch:
            try:
                applier.apply(event, allowed)
            except InvalidArgument as exc:
                rejected.append(str(exc))
        applier.finish(db)
        conn.execute(sql.set_writer, {"b_writer": writer, "b_seq": seq, "b_now": now})
    if recent is not None and applier.chunk_rows:   # committed: Watch may serve them from memory
        recent.add(applier.committed_chunks())
    return ApplyResult(seq, rejected)


class _BatchApplier(MetricIngest):
    def __init__(self, conn: Connection, sql: Statements, artifacts: ArtifactStore, now: float) -> None:
        self.conn = conn
        self.sql = sql
        self.artifacts = artifacts
        self.now = now
        self.run_experiment: dict[str, str] = {}  # run_id -> experiment_id, for runs seen
        self.touched: set[str] = set()
        self.watch: list[dict] = []
        self._init_metrics()

    def apply(self, event: pb.Event, allowed: AllowedRuns | None) -> None:
        which = event.WhichOneof("kind")
        if which is None:
            raise InvalidArgument("empty event (no kind set)")
        if which == "experiment":  # names no run: a run-scoped token may ensure experiments
            ensure_experiment(self.conn, self.sql, validate_experiment_name(event.experiment.name), self.now)
            return
        payload = getattr(event, which)
        run_id = payload.run_id
        if not run_id:
            raise InvalidArgument(f"{which} event without a run id")
        validate_run_id(run_id)   # before any query: PostgreSQL refuses a NUL in a parameter
        if allowed is not None and not allowed(run_id, event):
            raise InvalidArgument(f"token may not write run {run_id!r}")
        getattr(self, "_" + which)(payload)

    def _experiment_of(self, run_id: str) -> str:
        exp = self.run_experiment.get(run_id)
        if exp is None:
            exp = self.conn.execute(self.sql.run_experiment, {"run_id": run_id}).scalar()
            if exp is None:
                raise InvalidArgument(f"unknown run {run_id!r} (no start event for it)")
            self.run_experiment[run_id] = exp
        return exp

    def _watch(self, run_id: str, kind: str, *, metric_id: int | None = None, first_index: int | None = None,
               path: str | None = None, offset: int | None = None, length: int | None = None) -> None:
        self.watch.append({"run_id": run_id, "experiment_id": self.run_experiment[run_id], "kind": kind,
                           "metric_id": metric_id, "first_index": first_index, "path": path,
                           "offset": offset, "length": length, "time": self.now})

    def finish(self, db: Database) -> None:
        self._finish_metrics()
        if self.touched:
            self.conn.execute(self.sql.touch_runs, {"b_ids": sorted(self.touched), "b_now": self.now})
        if self.watch:
            db.lock_events(self.conn)
            self.conn.execute(self.sql.insert_events, self.watch)

    # ------------------------------------------------------------ runs

    def _start(self, ev: pb.RunStart) -> None:
        validate_run_id(ev.run_id)
        validate_experiment_name(ev.experiment)
        status = check_status(ev.status or _status.RUNNING)
        for what, value in (("display name", ev.display_name), ("description", ev.description),
                            ("submitted_by", ev.submitted_by), ("target", ev.target), ("script", ev.script),
                            *(("argument", a) for a in ev.arguments)):
            check_text(what, value)
        check_text("run definition", ev.run_definition_json, 16 * MAX_TEXT_CHARS)
        check_text("run type", ev.run_type, 32)
        check_time("RunStart.time", ev.time)
        if ev.parent_run_id:
            validate_run_id(ev.parent_run_id)
        tags = check_map("tag", ev.tags)
        properties = check_map("property", ev.properties)
        existing = self.conn.execute(self.sql.run_experiment, {"run_id": ev.run_id}).scalar()
        if existing is not None:  # idempotent: a re-sent or repeated start changes nothing
            self.run_experiment[ev.run_id] = existing
            return
        exp_id = ensure_experiment(self.conn, self.sql, ev.experiment, self.now)
        number = self.conn.execute(self.sql.next_run_number, {"b_id": exp_id}).scalar_one()
        when = ev.time or self.now
        inserted = self.conn.execute(self.sql.create_run, dict(
            run_id=ev.run_id, experiment_id=exp_id, number=number,
            parent_run_id=ev.parent_run_id or None, display_name=ev.display_name,
            description=ev.description, status=status, run_type=ev.run_type, created_time=when,
            start_time=when if status == _status.RUNNING else 0,
            end_time=when if status in _status.TERMINAL else 0,
            last_activity=self.now, tags_json=json.dumps(tags), properties_json=json.dumps(properties),
            submitted_by=ev.submitted_by, run_definition_json=ev.run_definition_json,
            target=ev.target, script=ev.script, arguments_json=json.dumps(list(ev.arguments)),
        ))
        if inserted.rowcount == 0:  # another writer created it a moment ago
            self._experiment_of(ev.run_id)
            return
        self.run_experiment[ev.run_id] = exp_id
        self._watch(ev.run_id, "run")

    def _patch(self, ev: pb.RunPatch) -> None:
        self._experiment_of(ev.run_id)
        row = self.conn.execute(select(runs).where(runs.c.run_id == ev.run_id).with_for_update()).one()
        values: dict = {}
        when = check_time("RunPatch.time", ev.time) or self.now
        if ev.HasField("status"):
            status = check_status(ev.status)
            if status != row.status:
                values["status"] = status
                if status in _status.TERMINAL:
                    values["end_time"] = when
                if status == _status.RUNNING and not row.start_time:
                    values["start_time"] = when
        for name in ("display_name", "description", "error_json"):
            if ev.HasField(name):
                check_text(name.replace("_", " "), getattr(ev, name))
                values[name] = getattr(ev, name)
        if ev.set_tags or ev.remove_tags:
            tags = json.loads(row.tags_json)
            tags.update(check_map("tag", ev.set_tags))
            for key in ev.remove_tags:
                tags.pop(key, None)
            values["tags_json"] = json.dumps(tags)
        if ev.add_properties:
            props = json.loads(row.properties_json)
            for key, value in check_map("property", ev.add_properties).items():
                if key in props and props[key] != value:
                    raise InvalidArgument(
                        f"run {ev.run_id!r}: property {key!r} is already {props[key]!r}; "
                        "properties cannot be changed once added")
                props[key] = value
            values["properties_json"] = json.dumps(props)
        if ev.warnings:
            for warning in ev.warnings:
                check_text("warning", warning, MAX_TEXT_CHARS)
            values["warnings_json"] = json.dumps(json.loads(row.warnings_json) + list(ev.warnings))
        if values:
            self.conn.execute(update(runs).where(runs.c.run_id == ev.run_id).values(**values))
        self.touched.add(ev.run_id)
        self._watch(ev.run_id, "run")

    def _heartbeat(self, ev: pb.Heartbeat) -> None:
        self._experiment_of(ev.run_id)
        when = check_time("Heartbeat.time", ev.time) or self.now
        self.conn.execute(self.sql.heartbeat, {"b_run": ev.run_id, "b_time": when})

    # ------------------------------------------------------------ files

    def _file(self, ev: pb.FileChunk) -> None:
        self._experiment_of(ev.run_id)
        validate_path(ev.path)
        size = self.artifacts.write_chunk(ev.run_id, ev.path, ev.offset, ev.data, truncate=ev.last)
        self.conn.execute(self.sql.upsert_file, {"run_id": ev.run_id, "path": ev.path, "size": size,
                                                 "mtime": self.now, "complete": ev.last, "live": ev.append})
        self.touched.add(ev.run_id)
        if ev.append and ev.data and ev.path.startswith(LOG_PREFIXES):
            self._watch(ev.run_id, "output", path=ev.path, offset=ev.offset, length=len(ev.data))
        if ev.last:
            self._watch(ev.run_id, "file", path=ev.path)
