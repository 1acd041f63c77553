"""Queue items -> columnar `IngestRequest` batches, as wire bytes (the sender thread's encoder).

Imported only by the sender thread (it loads protobuf). The queue items are the tuples listed in
`tailrun.wire`. Points of one (run, metric) in one batch become ONE `MetricPoints` with packed
repeated fields, placed where the metric first appears in the batch, so a metric never precedes
the `start` of its run. Speed matters here (the hot loop of a training script can queue millions
of points): points are grouped with C-level operations (`map`, `itemgetter`, slicing), packed with
`struct`, and a batch of plain float points is written as protobuf wire bytes directly (a packed
double field is the packed array as is), never parsed and serialized again; the other events go
through the generated classes. A batch is an `EncodedBatch`: its events' bytes, to which the
recorder adds the header (writer, seq) when it gives the batch its seq.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from bisect import bisect_right
from itertools import accumulate, chain, groupby
from operator import itemgetter
from typing import Any

from ._columns import (_DOUBLE, _INT64, _WIDTH, POINT_BYTES, Columns, _concat, _one_value_bytes, _unpacked,
                       all_points, extra_value_bytes, flatten, group_columns, text_bytes)
from ._split import TooLarge, split_event
from .v1 import tailrun_pb2 as pb
from .wire import (ARTIFACT, CHUNK_BYTES, DESCRIBE, EVENT, FLUSH, INT64_MAX, INT64_MIN, KIND_LIST, KIND_ROW,
                   KIND_SCALAR, KIND_SYSTEM, KIND_TABLE, LIST, MAX_TEXT_CHARS, ROW, SYSTEM, TABLE, TAG_NAMES,
                   encode_column, varint, wire_field, wire_varint_field)

MAX_BATCH_POINTS = 50_000
# Batches are sized by (an upper bound of) their encoded bytes, strings included, and kept under
# this target; only a single item bigger than the target (one row of 100 long strings, at most
# ~6.5 MB) makes a batch of its own above it. The service takes messages up to 16 MiB.
MAX_BATCH_BYTES = 2 * 1024 * 1024
SLICE_ITEMS = 8192                   # queue items encoded at a time (see Encoder.encode)
_GROUP_BYTES = 64                    # one MetricPoints beyond its names: tags, length prefixes, kind
_CELL_BYTES = 16                     # a cell of a row or table beyond its value: column framing, slack

_TERMINAL = frozenset({"Completed", "Failed", "Canceled"})
_SPECIAL = re.compile(rb"[^\x00]")   # positions of items that are not POINTs

_tag = itemgetter(0)
_time = itemgetter(5)
_EVENT_TYPES: dict[str, tuple[str, type]] = {
    "start": ("start", pb.RunStart), "patch": ("patch", pb.RunPatch), "file": ("file", pb.FileChunk),
    "experiment": ("experiment", pb.ExperimentEnsure), "heartbeat": ("heartbeat", pb.Heartbeat),
}
_PRECIOUS = frozenset({"start", "patch", "experiment"})   # events that start, finish or name a run

# Field numbers of the messages written by hand (the generated constants, never literals).
_MP = pb.MetricPoints
_EVENTS_TAG = varint(pb.IngestRequest.EVENTS_FIELD_NUMBER << 3 | 2)
_METRICS_TAG = varint(pb.Event.METRICS_FIELD_NUMBER << 3 | 2)
_COLUMNS_TAG = varint(_MP.COLUMNS_FIELD_NUMBER << 3 | 2)
_SCALAR_KIND = wire_varint_field(_MP.KIND_FIELD_NUMBER, KIND_SCALAR)


class EncodedBatch:
    """One batch: its events as `IngestRequest` wire bytes (without writer and seq), and what the
    recorder needs to know of it without parsing it back."""
    __slots__ = ("body", "events", "points", "precious")

    def __init__(self, body: bytes, events: int, points: int, precious: bool) -> None:
        self.body = body
        self.events = events       # Event messages in the batch
        self.points = points       # metric points (rows) in it
        self.precious = precious   # it starts, finishes or names a run or experiment

    def wire(self, writer: str, seq: int) -> bytes:
        """The serialized IngestRequest of this batch as batch `seq` of `writer`."""
        return request_header(writer, seq) + self.body

    def request(self, writer: str = "", seq: int = 0) -> pb.IngestRequest:
        """The batch as a message (for tests and tools; the sender only sends `wire`)."""
        return pb.IngestRequest.FromString(self.wire(writer, seq))


def request_header(writer: str, seq: int) -> bytes:
    """The writer and seq fields of an IngestRequest, on the wire."""
    return (wire_field(pb.IngestRequest.WRITER_FIELD_NUMBER, writer.encode())
            + wire_varint_field(pb.IngestRequest.SEQ_FIELD_NUMBER, seq))


def _event_bytes(event: bytes) -> bytes:
    """A serialized Event as one element of IngestRequest.events."""
    return _EVENTS_TAG + varint(len(event)) + event


def _metrics_event_bytes(points: bytes) -> bytes:
    """A serialized MetricPoints as an Event in IngestRequest.events."""
    event = _METRICS_TAG + varint(len(points)) + points
    return _EVENTS_TAG + varint(len(event)) + event



# ---------------------------------------------------------------- batches

class _Batch:
    """Slots in order: ("p", key) for a POINT group, ("o", key) for LIST/ROW/TABLE/ARTIFACT/SYSTEM, or an Event.

    `nbytes` bounds the encoded size from above (see `Encoder._groups_bytes`, `Encoder._pieces`)."""
    __slots__ = ("slots", "points", "others", "npoints", "nbytes", "columns")

    def __init__(self) -> None:
        self.slots: list[Any] = []
        self.points: dict[tuple[str, str], list[Columns]] = {}   # key -> pieces, in order
        self.others: dict[tuple, list[tuple]] = {}
        self.npoints = 0
        self.nbytes = 0
        self.columns: dict[tuple, list[Any]] = {}   # ROW/TABLE key -> [column names, rows so far]

    def _add(self, pieces: dict, slot: str, key: tuple, piece: Any) -> None:
        """Append `piece` to the key's list; a key's first piece takes the next slot."""
        have = pieces.get(key)
        if have is None:
            pieces[key] = [piece]
            self.slots.append((slot, key))
        else:
            have.append(piece)

    def add_groups(self, groups: dict[tuple[str, str], Columns], npoints: int, nbytes: int) -> None:
        for key, columns in groups.items():
            self._add(self.points, "p", key, columns)
        self.npoints += npoints
        self.nbytes += nbytes

    def padding_bytes(self, key: tuple, names: Iterable[str], rows: int) -> int:
        """Rows and tables of one metric in a batch share a column set (the union): the cells each
        one lacks are sent as None. Their bytes, for `rows` more rows with the columns `names`."""
        union, before = self.columns.get(key) or (set(), 0)
        names = set(names)
        new = names - union
        return 9 * (rows * len(union - names) + before * len(new))

    def add_other(self, key: tuple, item: tuple, rows: int, nbytes: int, names: Iterable[str] = ()) -> None:
        self._add(self.others, "o", key, item)
        if key[0] in (ROW, TABLE):
            entry = self.columns.setdefault(key, [set(), 0])
            entry[0].update(names)
            entry[1] += rows
        self.npoints += rows
        self.nbytes += nbytes


class Encoder:
    """Turns lists of queue items into IngestRequests (seq left 0) and flush markers, in order."""

    def __init__(self, writer: str, max_points: int = MAX_BATCH_POINTS, max_bytes: int = MAX_BATCH_BYTES,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.writer = writer
        self.max_points = max_points
        self.max_bytes = max_bytes
        self.on_error = on_error or (lambda msg: None)
        self.descriptions: dict[tuple[str, str], str] = {}
        self.active_runs: dict[str, None] = {}   # started and not finished: they get heartbeats
        self._steps_cache: list[Any] | None = None  # [steps of the last metric, their wire bytes]

    def encode(self, items: list[tuple]) -> list[Any]:
        """IngestRequests and FLUSH markers (the second element of a FLUSH item), in queue order."""
        out: list[Any] = []
        batch = _Batch()
        for lo in range(0, len(items), SLICE_ITEMS):
            # Slices small enough that the several passes over their tuples stay in the CPU cache.
            part = items[lo:lo + SLICE_ITEMS] if len(items) > SLICE_ITEMS else items
            flat = flatten(part)
            if all_points(part, flat):
                batch = self._add_points(batch, part, out, flat)
                continue
            tags = list(map(_tag, part))
            start = 0
            for match in _SPECIAL.finditer(bytes(tags)):
                i = match.start()
                if i > start:
                    batch = self._add_points(batch, part[start:i], out)
                batch = self._add_special(batch, part[i], out)
                start = i + 1
            if start < len(part):
                batch = self._add_points(batch, part[start:], out)
        if batch.slots:
            out.append(self._finish(batch))
        return out

    def _add_points(self, batch: _Batch, items: list[tuple], out: list[Any],
                    flat: list[Any] | None = None) -> _Batch:
        """Fill batches up to max_points / max_bytes, in order (`flat`: `flatten(items)`, if known)."""
        start, n = 0, len(items)
        while start < n:
            room = self.max_points - batch.npoints
            if batch.slots and (room <= 0 or batch.nbytes >= self.max_bytes):
                out.append(self._finish(batch))
                batch = _Batch()
                continue
            room = max(room, 1)
            whole = start == 0 and n <= room
            part = items if whole else items[start:start + room]
            part_flat = flat if whole or flat is None else flat[_WIDTH * start:_WIDTH * (start + len(part))]
            groups = group_columns(part, part_flat)
            nbytes = self._groups_bytes(groups)
            if batch.nbytes + nbytes > self.max_bytes:   # long strings: only a prefix fits
                part, groups, nbytes = self._prefix_that_fits(part, self.max_bytes - batch.nbytes)
                if not part:
                    out.append(self._finish(batch))
                    batch = _Batch()
                    continue
            batch.add_groups(groups, len(part), nbytes)
            start += len(part)
        return batch

    def _prefix_that_fits(self, items: list[tuple], room: int) -> tuple[list[tuple], dict, int]:
        """The longest prefix of `items` whose groups take at most `room` bytes (at least one item
        when `room` is a whole batch), its groups and their bytes."""
        sizes = accumulate(POINT_BYTES + (0 if type(it[3]) is float else _one_value_bytes(it[3]))
                           for it in items)
        count = bisect_right(list(sizes), room)
        while True:
            if count == 0 and room < self.max_bytes:
                return [], {}, 0
            part = items[:max(count, 1)]
            groups = group_columns(part)
            nbytes = self._groups_bytes(groups)
            if nbytes <= room or len(part) == 1:
                return part, groups, nbytes
            count = len(part) // 2   # the bound counts per-metric overhead too: shrink until it fits

    def _groups_bytes(self, groups: dict[tuple[str, str], Columns]) -> int:
        """An upper bound of the encoded bytes of POINT groups (one MetricPoints each)."""
        total = 0
        for key, (values, steps, times) in groups.items():
            n = len(times) // 8 if type(times) is bytes else len(times)
            head = _GROUP_BYTES + text_bytes(key[0]) + text_bytes(key[1])
            desc = self.descriptions.get(key)
            total += head + POINT_BYTES * n + (text_bytes(desc) if desc else 0)
            if type(values) is not bytes:
                total += extra_value_bytes(values)
            if type(steps) is not bytes:
                without = steps.count(None)
                if without and without != n:  # with and without steps alternate: a message per run
                    total += 2 * min(without, n - without) * head
        return total

    def _add_special(self, batch: _Batch, item: tuple, out: list[Any]) -> _Batch:
        tag = item[0]
        if tag == FLUSH:
            if batch.slots:
                out.append(self._finish(batch))
                batch = _Batch()
            out.append(item[1])
            return batch
        if tag == DESCRIBE:
            if len(item[3]) > MAX_TEXT_CHARS:   # the service would refuse the points with it
                self.on_error(f"the description of metric {item[2]!r} is {len(item[3])} characters, over "
                              f"the limit of {MAX_TEXT_CHARS}; the metric is stored without it")
                return batch
            self.descriptions[(item[1], item[2])] = item[3]
            return batch
        pieces: Iterable[tuple[Any, int, int]]
        try:
            pieces = self._pieces(item)
        except Exception as exc:  # a malformed item must not stop the sender
            self.on_error(f"dropped a {TAG_NAMES.get(tag, tag)} item the SDK could not encode: {exc}")
            return batch
        for kind_key, rows, nbytes in pieces:
            if isinstance(kind_key, pb.Event):
                if batch.slots and (batch.npoints + rows > self.max_points
                                    or batch.nbytes + nbytes > self.max_bytes):
                    out.append(self._finish(batch))
                    batch = _Batch()
                batch.slots.append(kind_key)
                batch.npoints += rows
                batch.nbytes += nbytes
                continue
            key, piece = kind_key
            names = piece[3].keys() if key[0] in (ROW, TABLE) else ()
            padding = batch.padding_bytes(key, names, rows) if names else 0
            if batch.slots and (batch.npoints + rows > self.max_points
                                or batch.nbytes + nbytes + padding > self.max_bytes):
                out.append(self._finish(batch))
                batch = _Batch()
                padding = 0
            batch.add_other(key, piece, rows, nbytes + padding, names)
        return batch

    def _pieces(self, item: tuple) -> list[tuple[Any, int, int]]:
        """(Event or (group key, item), rows, bytes) for one non-POINT item, split to fit a batch."""
        tag = item[0]
        if tag == EVENT:
            return [(ev, 0, ev.ByteSize() + 8) for ev in self._events(item)]
        head = _GROUP_BYTES + text_bytes(item[1]) + text_bytes(item[2])
        if tag == LIST:
            values = list(item[3])
            key = (LIST, item[1], item[2])
            extra = extra_value_bytes(values)
            sizes = ([POINT_BYTES] * len(values) if not extra else
                     [POINT_BYTES + (0 if type(v) is float else _one_value_bytes(v)) for v in values])
            return [((key, (LIST, item[1], item[2], values[lo:hi], None, item[5])), hi - lo, head + nbytes)
                    for lo, hi, nbytes in self._row_ranges(sizes, head)]
        if tag == ROW:
            row = item[3]
            return [(((ROW, item[1], item[2]), item), 1,
                     head + POINT_BYTES + sum(_CELL_BYTES + text_bytes(c) + _one_value_bytes(v)
                                              for c, v in row.items()))]
        if tag == TABLE:
            table, nrows = item[3], int(item[4] or 0)
            key = (TABLE, item[1], item[2])
            sizes = self._table_row_bytes(table, nrows)
            head += sum(_CELL_BYTES + text_bytes(c) for c in table)
            return [((key, (TABLE, item[1], item[2], {c: list(v[lo:hi]) for c, v in table.items()},
                            hi - lo, item[5])), (hi - lo) * max(1, len(table)), head + nbytes)
                    for lo, hi, nbytes in self._row_ranges(sizes, head, max(1, len(table)))]
        if tag == ARTIFACT:
            return [(((ARTIFACT, item[1], item[2], int(item[3])), item), 1,
                     head + POINT_BYTES + _one_value_bytes(str(item[4])))]
        if tag == SYSTEM:   # one sample: a point of each of its metrics, step = sample index
            run_id, index, when = item[1], int(item[4]), float(item[5])
            return [(((SYSTEM, run_id, name), (SYSTEM, run_id, name, float(value), index, when)), 1,
                     _GROUP_BYTES + text_bytes(run_id) + text_bytes(name) + POINT_BYTES)
                    for name, value in item[3].items()]
        raise ValueError(f"unknown queue item tag {tag!r}")

    def _row_ranges(self, sizes: list[int], head: int, cells: int = 1) -> list[tuple[int, int, int]]:
        """(lo, hi, bytes) ranges of rows, each within max_points cells and max_bytes (a row
        bigger than that is a range of its own)."""
        max_rows = max(1, self.max_points // cells)
        room = self.max_bytes - head
        if sizes and sizes.count(sizes[0]) == len(sizes):   # all alike: no per-row loop
            per = max(1, min(max_rows, room // max(1, sizes[0])))
            return [(lo, min(lo + per, len(sizes)), sizes[0] * (min(lo + per, len(sizes)) - lo))
                    for lo in range(0, len(sizes), per)]
        ranges = []
        lo = total = 0
        for i, size in enumerate(sizes):
            if i > lo and (i - lo >= max_rows or total + size > room):
                ranges.append((lo, i, total))
                lo, total = i, 0
            total += size
        if sizes:
            ranges.append((lo, len(sizes), total))
        return ranges

    @staticmethod
    def _table_row_bytes(table: dict[str, Any], nrows: int) -> list[int]:
        """An upper bound of each row's bytes (short columns are padded with None)."""
        sizes = [POINT_BYTES] * nrows
        for values in table.values():
            cells = list(values[:nrows])
            cells.extend([None] * (nrows - len(cells)))
            if extra_value_bytes(cells) == 0:
                sizes = [s + 8 for s in sizes]
            else:
                sizes = [s + 8 + _one_value_bytes(v) for s, v in zip(sizes, cells)]
        return sizes

    def _events(self, item: tuple) -> list[pb.Event]:
        _, run_id, kind, payload = item
        field, cls = _EVENT_TYPES[kind]
        if kind == "start":
            self.active_runs[payload.get("run_id") or run_id] = None
        elif kind == "patch" and payload.get("status") in _TERMINAL:
            self.active_runs.pop(payload.get("run_id") or run_id, None)
        if kind == "file" and len(payload.get("data", b"")) > CHUNK_BYTES:
            return [pb.Event(file=chunk) for chunk in _split_file(payload)]
        if kind not in ("start", "patch"):   # the others are small (file data comes in 1 MiB chunks)
            return [pb.Event(**{field: cls(**payload)})]
        event = pb.Event(**{field: cls(**self._without_long_values(payload))})
        try:   # a start or patch with many long tags: several events, each within a batch
            return split_event(event, self.max_bytes)
        except TooLarge as exc:
            raise ValueError(f"{exc}; the service takes at most {self.max_bytes} bytes per batch") from None

    def _without_long_values(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The service refuses a whole start or patch for one tag or property value over its
        limit (the run would never exist): such a value is left out, with a message, instead."""
        out = payload
        for name, what in (("tags", "tag"), ("properties", "property"), ("set_tags", "tag"),
                           ("add_properties", "property")):
            values = payload.get(name)
            long = [k for k, v in (values or {}).items() if len(v) > MAX_TEXT_CHARS]
            if long:
                out = dict(out) if out is payload else out
                out[name] = {k: v for k, v in values.items() if k not in long}
                self.on_error(f"run {payload.get('run_id')!r}: the value of {what} "
                              f"{long[0]!r}{' and others' if len(long) > 1 else ''} is over the limit of "
                              f"{MAX_TEXT_CHARS} characters and was left out")
        return out

    def _finish(self, batch: _Batch) -> EncodedBatch:
        parts: list[bytes] = []
        events = points = 0
        precious = False
        self._steps_cache = None
        for slot in batch.slots:
            if isinstance(slot, pb.Event):
                parts.append(_event_bytes(slot.SerializeToString()))
                events += 1
                precious = precious or slot.WhichOneof("kind") in _PRECIOUS
                continue
            where, key = slot
            try:
                if where == "p":
                    messages = self._points_messages(key, batch.points[key])
                else:
                    messages = [self._other_message(key, batch.others[key])]
            except Exception as exc:  # one bad metric must not lose the rest of the batch
                self.on_error(f"dropped points of metric {key[-1]!r} the SDK could not encode: {exc}")
                continue
            for message, n in messages:
                parts.append(_metrics_event_bytes(message if type(message) is bytes
                                                  else message.SerializeToString()))
                events += 1
                points += n
        return EncodedBatch(b"".join(parts), events, points, precious)

    def _metric(self, run_id: str, name: str, kind: int) -> pb.MetricPoints:
        mp = pb.MetricPoints(run_id=run_id, name=name, kind=kind)
        desc = self.descriptions.pop((run_id, name), None)
        if desc:
            mp.description = desc
        return mp

    def _points_messages(self, key: tuple[str, str], pieces: list[Columns]) -> list[tuple[Any, int]]:
        """(MetricPoints or its wire bytes, points) for the POINT group of one metric."""
        if len(pieces) == 1:
            values, steps, times = pieces[0]
        else:
            values, steps, times = (_concat([p[i] for p in pieces], code)
                                    for i, code in enumerate((_DOUBLE, _INT64, _DOUBLE)))
        if type(steps) is not bytes and steps.count(None) != len(steps):
            # Not plain int64 steps: some points without a step, or steps outside int64.
            return self._mixed_steps(key, _unpacked(values, _DOUBLE), steps, _unpacked(times, _DOUBLE))
        n = len(times) // 8 if type(times) is bytes else len(times)
        if type(times) is bytes and type(values) is bytes:
            # The common case, written by hand: every column is already a packed array.
            run_id, name = key
            desc = self.descriptions.pop(key, None)
            wire = [wire_field(_MP.RUN_ID_FIELD_NUMBER, run_id.encode()),
                    wire_field(_MP.NAME_FIELD_NUMBER, name.encode()), _SCALAR_KIND,
                    wire_field(_MP.TIMES_FIELD_NUMBER, times)]
            if type(steps) is bytes:
                wire.append(self._steps_wire(steps))
            column = wire_field(pb.Column.VALUES_FIELD_NUMBER, values)
            wire += (_COLUMNS_TAG, varint(len(column)), column)
            if desc:
                wire.append(wire_field(_MP.DESCRIPTION_FIELD_NUMBER, desc.encode()))
            return [(b"".join(wire), n)]
        mp = self._metric(key[0], key[1], KIND_SCALAR)
        mp.times.extend(_unpacked(times, _DOUBLE))
        if type(steps) is bytes:
            mp.MergeFromString(self._steps_wire(steps))
        encode_column(mp.columns.add(), _unpacked(values, _DOUBLE))
        return [(mp, n)]

    def _steps_wire(self, steps: bytes) -> bytes:
        """The wire form (varints) of packed int64 steps. Metrics logged together share their
        steps: the conversion is done once for the run of metrics with the same steps."""
        cache = self._steps_cache
        if cache is None or cache[0] != steps:
            wire = pb.MetricPoints(steps=_unpacked(steps, _INT64)).SerializeToString()
            cache = self._steps_cache = [steps, wire]
        return cache[1]

    def _mixed_steps(self, key: tuple[str, str], values: Sequence[Any], steps: Sequence[Any],
                     times: Sequence[Any]) -> list[tuple[Any, int]]:
        """Some points have a step, some not: one MetricPoints per consecutive run of each."""
        out: list[tuple[Any, int]] = []
        i = 0
        for has_step, run in groupby(steps, lambda s: s is not None):
            j = i + len(list(run))
            mp = self._metric(key[0], key[1], KIND_SCALAR)
            mp.times.extend(times[i:j])
            if has_step:
                try:
                    mp.steps.extend(steps[i:j])
                except ValueError:  # a step outside int64: clamp rather than lose the points
                    mp.steps.extend(min(max(int(s), INT64_MIN), INT64_MAX) for s in steps[i:j])
            encode_column(mp.columns.add(), values[i:j])
            out.append((mp, j - i))
            i = j
        return out

    def _other_message(self, key: tuple, items: list[tuple]) -> tuple[pb.MetricPoints, int]:
        tag, run_id, name = key[0], key[1], key[2]
        if tag == LIST:
            mp = self._metric(run_id, name, KIND_LIST)
            mp.times.extend(chain.from_iterable([it[5]] * len(it[3]) for it in items))
            encode_column(mp.columns.add(), list(chain.from_iterable(it[3] for it in items)))
        elif tag == ROW:
            mp = self._metric(run_id, name, KIND_ROW)
            mp.times.extend(map(_time, items))
            rows = [it[3] for it in items]
            for col in dict.fromkeys(chain.from_iterable(rows)):
                c = mp.columns.add(name=str(col))
                encode_column(c, [r.get(col) for r in rows])
        elif tag == TABLE:
            mp = self._metric(run_id, name, KIND_TABLE)
            mp.times.extend(chain.from_iterable([it[5]] * it[4] for it in items))
            for col in dict.fromkeys(chain.from_iterable(it[3] for it in items)):
                values: list[Any] = []
                for it in items:
                    part = list(it[3].get(col, ()))[:it[4]]
                    values.extend(part)
                    values.extend([None] * (it[4] - len(part)))
                encode_column(mp.columns.add(name=str(col)), values)
        elif tag == SYSTEM:
            mp = self._metric(run_id, name, KIND_SYSTEM)
            mp.times.extend(map(_time, items))
            mp.steps.extend([it[4] for it in items])
            mp.columns.add().values.extend([it[3] for it in items])
        else:  # ARTIFACT: one STR column holding the artifact URI
            mp = self._metric(run_id, name, key[3])
            mp.times.extend(map(_time, items))
            encode_column(mp.columns.add(), [it[4] for it in items])
        return mp, len(mp.times)


def _split_file(payload: dict[str, Any]) -> list[pb.FileChunk]:
    data: bytes = payload["data"]
    offset = int(payload.get("offset", 0))
    chunks = []
    for lo in range(0, len(data), CHUNK_BYTES):
        part = data[lo:lo + CHUNK_BYTES]
        last = bool(payload.get("last")) and lo + CHUNK_BYTES >= len(data)
        chunks.append(pb.FileChunk(run_id=payload["run_id"], path=payload["path"], offset=offset + lo,
                                   data=part, last=last, append=bool(payload.get("append"))))
    return chunks
