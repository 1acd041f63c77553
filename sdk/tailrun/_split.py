"""Splitting events and batches that are too large for one gRPC message (the service takes 16 MiB).

The encoder sizes its batches well below the limit; this module covers what sizing alone cannot:
one event over the budget (a run start or patch carrying many large tags) and batches that an
older version wrote to a spool (`_upload.upload_folder` replays them as parts). Splitting is
deterministic, so the same batch always gives the same parts: a replay that is interrupted and
repeated sends the same parts again, and the service stores each of them once.

Imported only off the caller's thread (it loads protobuf).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from .v1 import tailrun_pb2 as pb
from .wire import K_BIGINT, K_INT, K_STR
from .wire import MAX_MESSAGE_BYTES as MESSAGE_LIMIT
PART_BYTES = 4 * 1024 * 1024       # the parts of a split batch: well below the limit
_EVENT_FRAME = 8                   # an Event's field tag and length prefix inside the request


class TooLarge(ValueError):
    """An event that cannot be split below the limit (one row, one tag value, ...)."""


def split_events(events: Sequence[pb.Event], limit: int = PART_BYTES,
                 on_too_large: Callable[[pb.Event, TooLarge], None] | None = None) -> list[list[pb.Event]]:
    """Consecutive groups of `events`, each at most `limit` bytes, in order; an event over the
    limit is split first. One that cannot be is passed to `on_too_large` and left out (or, without
    it, TooLarge is raised)."""
    parts: list[list[pb.Event]] = []
    current: list[pb.Event] = []
    size = 0
    for event in events:
        try:
            pieces = split_event(event, limit)
        except TooLarge as exc:
            if on_too_large is None:
                raise
            on_too_large(event, exc)
            continue
        for piece in pieces:
            n = piece.ByteSize() + _EVENT_FRAME
            if current and size + n > limit:
                parts.append(current)
                current, size = [], 0
            current.append(piece)
            size += n
    if current:
        parts.append(current)
    return parts


def split_event(event: pb.Event, limit: int) -> list[pb.Event]:
    """`event` as consecutive events of at most `limit` bytes that store the same thing."""
    if event.ByteSize() + _EVENT_FRAME <= limit:
        return [event]
    kind = event.WhichOneof("kind")
    budget = limit - _EVENT_FRAME
    if kind == "metrics":
        return [pb.Event(metrics=m) for m in _split_metric(event.metrics, budget)]
    if kind == "file":
        return [pb.Event(file=f) for f in _split_file(event.file, budget)]
    if kind == "start":
        return _split_start(event.start, budget)
    if kind == "patch":
        return [pb.Event(patch=p) for p in _split_patch(event.patch, budget)]
    raise TooLarge(f"a {kind} event of {event.ByteSize()} bytes cannot be split")


# ---------------------------------------------------------------- metrics: by rows

def _split_metric(mp: pb.MetricPoints, budget: int) -> list[pb.MetricPoints]:
    rows = max([len(mp.times)] + [len(c.values) for c in mp.columns])
    if not rows:
        raise TooLarge(f"metric {mp.name!r}: {mp.ByteSize()} bytes without a row")
    count = min(rows, -(-mp.ByteSize() // budget) + 1)   # even ranges first; halved while too big
    bounds = [rows * i // count for i in range(count + 1)]
    pending = [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo][::-1]
    out: list[pb.MetricPoints] = []
    while pending:   # depth-first from the end of the list: the rows stay in order
        lo, hi = pending.pop()
        part = _metric_rows(mp, lo, hi)
        if part.ByteSize() <= budget:
            out.append(part)
        elif hi - lo <= 1:
            raise TooLarge(f"metric {mp.name!r}: one row is {part.ByteSize()} bytes, over the "
                           f"{budget} bytes of a message")
        else:
            mid = (lo + hi) // 2
            pending += [(mid, hi), (lo, mid)]
    return out


def _metric_rows(mp: pb.MetricPoints, lo: int, hi: int) -> pb.MetricPoints:
    """Rows lo..hi of `mp`; the description goes with the first rows."""
    part = pb.MetricPoints(run_id=mp.run_id, name=mp.name, kind=mp.kind,
                           description=mp.description if lo == 0 else "")
    part.times.extend(mp.times[lo:hi])
    part.steps.extend(mp.steps[lo:hi])
    for col in mp.columns:
        c = part.columns.add(name=col.name)
        c.values.extend(col.values[lo:hi])
        if col.kinds:
            before, within = col.kinds[:lo], col.kinds[lo:hi]
            c.kinds = within
            i0 = before.count(K_INT)
            s0 = before.count(K_STR) + before.count(K_BIGINT)
            c.ints.extend(col.ints[i0:i0 + within.count(K_INT)])
            c.strs.extend(col.strs[s0:s0 + within.count(K_STR) + within.count(K_BIGINT)])
    return part


# ---------------------------------------------------------------- files: by bytes

def _split_file(chunk: pb.FileChunk, budget: int) -> list[pb.FileChunk]:
    step = budget - 2048 - len(chunk.path.encode()) - len(chunk.run_id.encode())
    if step <= 0:
        raise TooLarge(f"file chunk of {chunk.path!r} cannot be split")
    data = chunk.data
    return [pb.FileChunk(run_id=chunk.run_id, path=chunk.path, offset=chunk.offset + lo,
                         data=data[lo:lo + step], append=chunk.append,
                         last=chunk.last and lo + step >= len(data))
            for lo in range(0, len(data), step)]


# ---------------------------------------------------------------- run start and patch: by entries

def _split_start(start: pb.RunStart, budget: int) -> list[pb.Event]:
    """The start with the tags and properties that fit, then patches adding the rest."""
    head = pb.RunStart()
    head.CopyFrom(start)
    head.ClearField("tags")
    head.ClearField("properties")
    rest = pb.RunPatch(run_id=start.run_id, time=start.time)
    rest.set_tags.update(start.tags)
    rest.add_properties.update(start.properties)
    patches = _split_patch(rest, budget, first_room=budget - head.ByteSize())
    first = patches.pop(0)   # what fits beside the start goes into it
    head.tags.update(first.set_tags)
    head.properties.update(first.add_properties)
    if head.ByteSize() > budget:
        raise TooLarge(f"the start of run {start.run_id!r} is {head.ByteSize()} bytes without its tags")
    return [pb.Event(start=head)] + [pb.Event(patch=p) for p in patches]


def _split_patch(patch: pb.RunPatch, budget: int, first_room: int | None = None) -> list[pb.RunPatch]:
    """Patches applied in the service's order (set tags, remove tags, add properties, warnings),
    the single fields (status, ...) in the last one, so a final status still comes last."""
    base = pb.RunPatch(run_id=patch.run_id, time=patch.time)
    frame = base.ByteSize() + 16
    tail = pb.RunPatch()
    tail.CopyFrom(patch)
    for name in ("set_tags", "remove_tags", "add_properties", "warnings"):
        tail.ClearField(name)
    entries = ([("set_tags", kv) for kv in sorted(patch.set_tags.items())]
               + [("remove_tags", k) for k in patch.remove_tags]
               + [("add_properties", kv) for kv in sorted(patch.add_properties.items())]
               + [("warnings", w) for w in patch.warnings])
    parts: list[pb.RunPatch] = []
    current = _empty_like(base)
    size, room = frame, budget if first_room is None else first_room
    for field, entry in entries:
        n = _entry_bytes(entry)
        if size + n > room and (size > frame or first_room is not None and not parts):
            parts.append(current)
            current, size, room = _empty_like(base), frame, budget
        if size + n > room:
            raise TooLarge(f"run {patch.run_id!r}: one {field.replace('_', ' ')} entry is {n} bytes")
        _add_entry(current, field, entry)
        size += n
    if tail.ByteSize() - base.ByteSize() + size > room:
        parts.append(current)
        current = _empty_like(base)
    current.MergeFrom(tail)
    parts.append(current)
    return parts


def _empty_like(base: pb.RunPatch) -> pb.RunPatch:
    part = pb.RunPatch()
    part.CopyFrom(base)
    return part


def _entry_bytes(entry: tuple[str, str] | str) -> int:
    texts = entry if isinstance(entry, tuple) else (entry,)
    return 16 + sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)


def _add_entry(patch: pb.RunPatch, field: str, entry: tuple[str, str] | str) -> None:
    if isinstance(entry, tuple):
        getattr(patch, field)[entry[0]] = entry[1]
    else:
        getattr(patch, field).append(entry)
