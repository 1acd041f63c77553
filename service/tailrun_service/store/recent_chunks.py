"""The metric chunks this service committed last, kept in memory (bounded) so that a live Watch
`metrics` event is answered from what the commit already built instead of re-reading its chunk.

A chunk is known by (metric_id, first_index), which the events table records and which never
changes once committed (chunks are only appended), so an entry is valid for as long as it is kept.
Entries are added only after their transaction committed. A chunk not kept (an old cursor, a
commit by another service replica on the same PostgreSQL database) is read from the store.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace

from .chunks import chunk_wire

MAX_BYTES = 32 * 1024 * 1024   # about a second of the fastest writer's points: live watchers lag less


@dataclass(slots=True)
class CommittedChunk:
    """One chunk as a batch wrote it: its chunk row (the dict given to the INSERT) and the metric
    as it was when the batch ended (its columns, names and kind), which is what a read would see."""
    row: dict
    run_id: str
    name: str
    kind: int
    description: str
    columns: list[str]

    def wire(self) -> bytes:
        """The chunk as serialised MetricPoints, exactly as series.load_chunk_wire builds it."""
        return chunk_wire(SimpleNamespace(**self.row), self.columns, run_id=self.run_id, name=self.name,
                          kind=self.kind, description=self.description)


def _size(row: dict) -> int:
    return sum(len(row[k]) for k in ("times", "steps", "values", "kinds", "ints", "strs_json")
               if row[k] is not None)


class RecentChunks:
    """(metric_id, first_index) -> the chunk's MetricPoints wire, for the newest MAX_BYTES of
    chunks. Thread-safe: batches add from the write pool, Watch pages read from the watch pool.
    The wire is built by the first reader and kept; a chunk nobody watches is never encoded."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, int], CommittedChunk | bytes] = OrderedDict()
        self._bytes = 0

    def add(self, committed: list[CommittedChunk]) -> None:
        """After a commit: keep its chunks, dropping the oldest beyond the bound."""
        with self._lock:
            for chunk in committed:
                key = (chunk.row["metric_id"], chunk.row["first_index"])
                self._entries[key] = chunk
                self._bytes += _size(chunk.row)
            while self._bytes > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped) if isinstance(dropped, bytes) else _size(dropped.row)

    def wire(self, metric_id: int, first_index: int) -> bytes | None:
        """The kept chunk's serialised MetricPoints, or None when it is not kept."""
        key = (metric_id, first_index)
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or isinstance(entry, bytes):
            return entry
        wire = entry.wire()   # outside the lock; two readers may both build it, the same bytes
        with self._lock:
            if self._entries.get(key) is entry:   # still kept: keep the wire instead of the row
                self._entries[key] = wire
                self._bytes += len(wire) - _size(entry.row)
        return wire

    def __len__(self) -> int:
        return len(self._entries)
