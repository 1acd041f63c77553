"""The metrics part of a batch: validate, pack into chunks, and write them all at the end.

A metric's row is read (and locked, on PostgreSQL) once per batch; its chunks, the updated row
and the Watch events are written with one multi-row statement each when the batch finishes. A new
metric costs one INSERT: the batch's prefetch already knows it is missing, and a run's number of
metrics (its limit) is counted once per batch, not once per new name (which was quadratic).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection

from tailrun import wire
from tailrun.v1 import tailrun_pb2 as pb

from ..errors import InvalidArgument
from . import chunks
from .recent_chunks import CommittedChunk
from .statements import Statements
from .validation import check_text


@dataclass
class _MetricState:
    id: int
    kind: int
    has_steps: bool | None
    count: int
    columns: list[str]
    description: str
    last_value: float | None
    dirty: bool = False


class MetricIngest:
    """Mixed into the batch applier; expects conn, sql, _experiment_of, _watch, touched."""

    conn: Connection
    sql: Statements
    touched: set[str]

    def _init_metrics(self) -> None:
        self.metric_states: dict[tuple[str, str], _MetricState] = {}
        self.chunk_rows: list[dict] = []
        self.chunk_metrics: list[tuple[str, str]] = []   # (run_id, name) of each of chunk_rows
        self.absent: set[tuple[str, str]] = set()        # (run_id, name) the prefetch found no row for
        self.metric_counts: dict[str, int] = {}          # run_id -> its number of metrics, once counted

    def _metrics(self, mp: pb.MetricPoints) -> None:
        self._experiment_of(mp.run_id)
        label = f"metric {mp.name!r} of run {mp.run_id!r}"
        if not mp.name:
            raise InvalidArgument(f"run {mp.run_id!r}: metric name is empty")
        if len(mp.name) > wire.MAX_NAME_CHARS:
            raise InvalidArgument(f"run {mp.run_id!r}: metric name {mp.name[:40]!r}... is longer than "
                                  f"{wire.MAX_NAME_CHARS} characters")
        check_text(f"run {mp.run_id!r}: metric name", mp.name)          # (NUL)
        check_text(f"{label}: description", mp.description)
        kind = mp.kind or pb.METRIC_KIND_SCALAR
        if kind not in chunks.KNOWN_METRIC_KINDS:
            raise InvalidArgument(f"{label}: unknown metric kind {kind}")
        packed = chunks.pack_points(mp)
        has_steps = packed.steps is not None
        state = self._metric_state(mp.run_id, mp.name, kind, mp.description, label)
        if state.kind != kind:
            raise InvalidArgument(f"{label} is a {chunks.kind_name(state.kind)} metric; "
                                  f"cannot log it as {chunks.kind_name(kind)} (metric kind mismatch)")
        if packed.count:
            if state.has_steps is not None and state.has_steps != has_steps:
                raise InvalidArgument(f"{label}: steps present in some points but not others "
                                      f"(earlier points {'have' if state.has_steps else 'have no'} steps)")
            if state.count + packed.count > wire.MAX_POINTS_PER_METRIC:
                raise InvalidArgument(f"{label}: over {wire.MAX_POINTS_PER_METRIC} points (the limit)")
            new = [c for c in packed.columns if c not in state.columns]
            if len(state.columns) + len(new) > wire.MAX_COLUMNS:
                raise InvalidArgument(f"{label}: over {wire.MAX_COLUMNS} columns (the limit)")
            self.chunk_rows.append({
                "metric_id": state.id, "first_index": state.count, "count": packed.count,
                "columns_json": json.dumps(packed.columns), "times": packed.times, "steps": packed.steps,
                "values": packed.values, "kinds": packed.kinds, "ints": packed.ints,
                "strs_json": packed.strs_json, "min_value": packed.min_value, "max_value": packed.max_value,
            })
            self.chunk_metrics.append((mp.run_id, mp.name))
            self._watch(mp.run_id, "metrics", metric_id=state.id, first_index=state.count)
            state.count += packed.count
            state.has_steps = has_steps
            state.columns += new
            if packed.last_value is not None:
                state.last_value = packed.last_value
            state.dirty = True
            self.touched.add(mp.run_id)
        if mp.description and mp.description != state.description:
            state.description = mp.description
            state.dirty = True

    def prefetch_metrics(self, batch) -> None:
        """Read (and lock, in id order) the rows of every metric the batch writes, in one query."""
        pairs = {(e.metrics.run_id, e.metrics.name) for e in batch if e.WhichOneof("kind") == "metrics"
                 and "\0" not in e.metrics.run_id + e.metrics.name}  # (rejected later, one by one)
        if not pairs:
            return
        runs_ = sorted({r for r, _ in pairs})
        names = sorted({n for _, n in pairs})
        for row in self.conn.execute(self.sql.metric_rows, {"runs": runs_, "names": names}):
            if (row.run_id, row.name) in pairs:
                self.metric_states[(row.run_id, row.name)] = self._state_of(row)
        self.absent = pairs - self.metric_states.keys()

    @staticmethod
    def _state_of(row) -> _MetricState:
        return _MetricState(id=row.id, kind=row.kind, has_steps=row.has_steps, count=row.count,
                            columns=json.loads(row.columns_json), description=row.description,
                            last_value=row.last_value)

    def _metric_state(self, run_id: str, name: str, kind: int, description: str, label: str) -> _MetricState:
        key = (run_id, name)
        state = self.metric_states.get(key)
        if state is not None:
            return state
        row = None if key in self.absent else \
            self.conn.execute(self.sql.metric_row, {"run_id": run_id, "name": name}).first()
        if row is None:
            count = self.metric_counts.get(run_id)
            if count is None:
                count = self.conn.execute(self.sql.run_metric_count, {"run_id": run_id}).scalar_one()
            if count >= wire.MAX_METRICS_PER_RUN:
                raise InvalidArgument(f"{label}: the run already has {wire.MAX_METRICS_PER_RUN} "
                                      "metrics (the limit)")
            row = self.conn.execute(self.sql.create_metric, {"run_id": run_id, "name": name, "kind": kind,
                                                             "description": description}).first() \
                or self.conn.execute(self.sql.metric_row, {"run_id": run_id, "name": name}).one()
            self.metric_counts[run_id] = count + 1
        state = self.metric_states[key] = self._state_of(row)
        return state

    def committed_chunks(self) -> list[CommittedChunk]:
        """The batch's chunks with their metrics as the batch left them (for RecentChunks)."""
        out = []
        for row, key in zip(self.chunk_rows, self.chunk_metrics):
            state = self.metric_states[key]
            out.append(CommittedChunk(row, key[0], key[1], state.kind, state.description, list(state.columns)))
        return out

    def _finish_metrics(self) -> None:
        if self.chunk_rows:
            self.conn.execute(self.sql.insert_chunks, self.chunk_rows)
        updates = [{"b_id": s.id, "b_count": s.count, "b_has_steps": s.has_steps,
                    "b_columns": json.dumps(s.columns), "b_last": s.last_value, "b_description": s.description}
                   for s in self.metric_states.values() if s.dirty]
        if updates:
            self.conn.execute(self.sql.update_metric, updates)
