"""The spool: an append-only, crc-framed on-disk log of the batches one writer sent.

Layout: `<TAILRUN_HOME>/spool/<writer>/NNNNNN.seg` (segments of about 64 MiB), each record framed as
`[u32 length][u32 crc32][IngestRequest bytes]` (little-endian), plus `target.json` (the address and
token to send to, the owner's pid; mode 0600) and `lock` (flock'ed by the live owner for its whole
life, so a spool whose lock is free belongs to a dead process and may be replayed by anyone).

Every batch is appended here before it is sent: the spool is the write-ahead log that makes
exactly-once survive a crash of either side (the service deduplicates by (writer, seq)). Segments
whose batches are all acknowledged are deleted; on a clean exit with everything acknowledged the
writer's folder is removed. Appends are plain `write`s (they survive a crash of the process);
`sync()` fsyncs, which `flush()` does when the service is unreachable.

Reading stops at a torn or corrupt record (a crash mid-append) and reports how many bytes were
skipped; it never raises for that.

The cap: TAILRUN_SPOOL_MAX_BYTES (default 10 GiB) bounds the bytes one writer keeps in its spool.
At the cap, new batches are DROPPED (neither spooled nor sent): they are counted, reported once on
stderr when it first happens and again at exit. Older data is never overwritten.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEGMENT_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_BYTES = 10 * 1024 ** 3
ENV_MAX_BYTES = "TAILRUN_SPOOL_MAX_BYTES"
_HEADER = struct.Struct("<II")
_TARGET = "target.json"
_LOCK = "lock"


def spool_root(home: Path) -> Path:
    return Path(home) / "spool"


def max_spool_bytes() -> int:
    raw = os.environ.get(ENV_MAX_BYTES, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        return max(0, int(float(raw)))
    except ValueError:
        raise ValueError(f"{ENV_MAX_BYTES} must be a number of bytes, got {raw!r}") from None


def _ensure_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by the owner only (it may hold a token), atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def read_target(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / _TARGET).read_text())
    except (OSError, ValueError):
        return {}


@dataclass
class _Segment:
    number: int
    path: Path
    size: int = 0
    last_seq: int = 0


@dataclass
class SpoolWriter:
    """The live writer's spool (owned by the sender thread; not thread-safe)."""
    folder: Path
    max_bytes: int = field(default_factory=max_spool_bytes)
    segment_bytes: int = SEGMENT_BYTES
    dropped_batches: int = 0
    dropped_bytes: int = 0

    def __post_init__(self) -> None:
        _ensure_dir(self.folder.parent)
        _ensure_dir(self.folder)
        self._lock_fd = os.open(self.folder / _LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._segments: list[_Segment] = []
        self._fd: int | None = None
        self._read_fds: dict[int, int] = {}

    def set_target(self, address: str | None, token: str | None, local: bool) -> None:
        write_private_json(self.folder / _TARGET, {
            "address": address, "token": token, "local": local, "pid": os.getpid(),
            "writer": self.folder.name, "created": time.time()})

    @property
    def bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def append(self, seq: int, data: bytes) -> tuple[int, int] | None:
        """Append one batch; (segment number, offset) to read it back, or None if dropped at the cap."""
        size = _HEADER.size + len(data)
        if self.bytes + size > self.max_bytes:
            self.dropped_batches += 1
            self.dropped_bytes += len(data)
            return None
        seg = self._segments[-1] if self._segments else None
        if seg is None or self._fd is None or (seg.size and seg.size + size > self.segment_bytes):
            seg = self._roll()
        header = _HEADER.pack(len(data), zlib.crc32(data))
        try:
            written = os.writev(self._fd, [header, data])
        except OSError:
            self._cut(seg)
            raise
        if written != size:  # a short write (disk full): cut the torn record, nothing half-stored
            self._cut(seg)
            raise OSError(f"short write to the spool segment {seg.path} ({written} of {size} bytes): "
                          f"the disk is full")
        offset = seg.size
        seg.size += size
        seg.last_seq = seq
        return seg.number, offset

    def _cut(self, seg: _Segment) -> None:
        """Truncate a failed append away, so the segment stays readable to its end and later
        appends (once there is room again) follow the last good record."""
        try:
            os.ftruncate(self._fd, seg.size)
        except OSError:   # cannot even truncate: start a new segment (this one's tail reads as torn)
            self._roll()

    def _roll(self) -> _Segment:
        if self._fd is not None:
            os.close(self._fd)
        number = self._segments[-1].number + 1 if self._segments else 1
        seg = _Segment(number, self.folder / f"{number:06d}.seg")
        self._fd = os.open(seg.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self._segments.append(seg)
        return seg

    def read_at(self, number: int, offset: int) -> bytes:
        """The batch appended at (segment, offset), checked against its crc."""
        fd = self._read_fds.get(number)
        if fd is None:
            fd = self._read_fds[number] = os.open(self.folder / f"{number:06d}.seg", os.O_RDONLY | os.O_CLOEXEC)
        length, crc = _HEADER.unpack(os.pread(fd, _HEADER.size, offset))
        data = os.pread(fd, length, offset + _HEADER.size)
        if len(data) != length or zlib.crc32(data) != crc:
            raise OSError(f"spool record at {number:06d}.seg:{offset} is damaged")
        return data

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def release(self, acked_seq: int) -> None:
        """Delete the segments (but the one being written) whose batches are all acknowledged."""
        while len(self._segments) > 1 and self._segments[0].last_seq <= acked_seq:
            seg = self._segments.pop(0)
            fd = self._read_fds.pop(seg.number, None)
            if fd is not None:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                seg.path.unlink()

    def close(self, remove: bool) -> None:
        """Close the files; `remove` deletes the whole folder (everything was acknowledged)."""
        for fd in [self._fd, *self._read_fds.values()]:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd, self._read_fds = None, {}
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)
            # The lock stays held until the process ends, so nobody replays a folder being removed.

    def forget_after_fork(self) -> None:
        """In a forked child: close the inherited descriptors without touching the parent's files."""
        for fd in [self._fd, self._lock_fd, *self._read_fds.values()]:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd, self._read_fds = None, {}


# ---------------------------------------------------------------- reading

@dataclass
class SegmentRead:
    records: list[bytes]
    skipped: int          # bytes after the last good record (a torn or corrupt tail)


def read_segment(path: Path) -> SegmentRead:
    data = Path(path).read_bytes()
    view = memoryview(data)
    records: list[bytes] = []
    pos, end = 0, len(data)
    while pos + _HEADER.size <= end:
        length, crc = _HEADER.unpack_from(view, pos)
        start = pos + _HEADER.size
        if start + length > end or zlib.crc32(view[start:start + length]) != crc:
            break
        records.append(bytes(view[start:start + length]))
        pos = start + length
    return SegmentRead(records, end - pos)


def segments(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.seg") if p.stem.isdigit())


def peek_seq(record: bytes) -> int:
    """The seq of a serialized IngestRequest, read from its first fields (writer=1, seq=2)."""
    pos = 0
    while pos < len(record):
        key, pos = _varint(record, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(record, pos)
            if number == 2:
                return value
        elif wire == 2:
            length, pos = _varint(record, pos)
            if number == 3:  # events start: seq (field 2) was 0 / absent
                return 0
            pos += length
        else:
            break
    return 0


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def iter_records(folder: Path) -> Iterator[tuple[int, bytes, int]]:
    """(seq, record, bytes skipped in that segment's tail: reported on its last record or alone)."""
    for path in segments(folder):
        read = read_segment(path)
        for i, rec in enumerate(read.records):
            yield peek_seq(rec), rec, (read.skipped if i == len(read.records) - 1 else 0)
        if not read.records and read.skipped:
            yield 0, b"", read.skipped


# ---------------------------------------------------------------- abandoned spools

def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(folder: Path) -> int | None:
    """Take the lock of an abandoned spool (its owner is dead): a fd to close when done, or None."""
    lock = Path(folder) / _LOCK
    if not lock.exists():
        pid = int(read_target(folder).get("pid") or 0)
        if pid != os.getpid() and _pid_alive(pid):
            return None
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def abandoned(root: Path, exclude: str | None = None) -> list[Path]:
    """Spool folders under `root` (but `exclude`) whose owner is dead, oldest first (not claimed)."""
    if not Path(root).is_dir():
        return []
    found = []
    for folder in Path(root).iterdir():
        if not folder.is_dir() or folder.name == exclude or folder.name.startswith("."):
            continue
        fd = claim(folder)
        if fd is not None:
            os.close(fd)
            found.append(folder)
    return sorted(found, key=lambda p: (read_target(p).get("created") or 0, p.name))
