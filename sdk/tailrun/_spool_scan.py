"""Reading a spool that may be damaged: every readable batch, and where bytes could not be read.

`_spool.iter_records` stops at the first bad record of a segment, which loses every later batch
of it when the damage is in the middle (a short write on a full disk, a bad sector). A replay
must get past that: after a bad frame this reader looks for the next frame of the same writer
(each record starts with the writer id, field 1 of IngestRequest) whose crc matches, and reports
the bytes in between. Which batches were lost is told by the seqs that are missing.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._spool import _HEADER, peek_seq, segments
from .v1 import tailrun_pb2 as pb
from .wire import wire_field


@dataclass
class Damage:
    segment: str      # file name, e.g. "000001.seg"
    offset: int
    nbytes: int
    tail: bool        # nothing readable follows in that segment (a record torn by a crash)

    def __str__(self) -> str:
        return f"{self.nbytes} bytes at {self.segment}:{self.offset}"


def scan_folder(folder: Path) -> Iterator[tuple[int, bytes] | Damage]:
    """(seq, record) for each readable record, and a Damage for each unreadable stretch, in order."""
    writer = Path(folder).name.encode()
    prefix = wire_field(pb.IngestRequest.WRITER_FIELD_NUMBER, writer)   # how every record of this writer begins
    for path in segments(folder):
        yield from _scan_segment(path, prefix)


def _scan_segment(path: Path, prefix: bytes) -> Iterator[tuple[int, bytes] | Damage]:
    data = Path(path).read_bytes()
    view = memoryview(data)
    pos, end = 0, len(data)
    while pos < end:
        record = _frame_at(view, pos, end)
        if record is not None:
            yield peek_seq(record), record
            pos += _HEADER.size + len(record)
            continue
        resume = _next_frame(data, view, pos + 1, end, prefix)
        yield Damage(path.name, pos, (resume if resume is not None else end) - pos, resume is None)
        if resume is None:
            return
        pos = resume


def _frame_at(view: memoryview, pos: int, end: int) -> bytes | None:
    if pos + _HEADER.size > end:
        return None
    length, crc = _HEADER.unpack_from(view, pos)
    start = pos + _HEADER.size
    if start + length > end or zlib.crc32(view[start:start + length]) != crc:
        return None
    return bytes(view[start:start + length])


def _next_frame(data: bytes, view: memoryview, pos: int, end: int, prefix: bytes) -> int | None:
    """The offset of the next good frame after `pos` (its record starts with `prefix`)."""
    while True:
        found = data.find(prefix, pos + _HEADER.size)
        if found < 0:
            return None
        start = found - _HEADER.size
        if _frame_at(view, start, end) is not None:
            return start
        pos = start + 1
