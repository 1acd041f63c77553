"""A run's files while it executes: its console (`user_logs/std_log.txt`), the folders streamed
live (`logs/`) and `outputs/` uploaded at exit. Used by the service's runner and by the Slurm job
bootstrap on a node, each through its own writer:

    writer.chunk(path, offset, data, append=False, last=False) -> event
    writer.send(events)                     store (or queue) the events as one batch, in order
"""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from ..wire import CHUNK_BYTES   # one FileChunk carries at most this much

BATCH_BYTES = 4 * 1024 * 1024      # one batch carries at most this much
CONSOLE_PATH = "user_logs/std_log.txt"


class ConsoleTail:
    """Streams the run's console file into `user_logs/std_log.txt`, line by line.

    The child writes the file directly (not a pipe), so a run outlives a service restart and the
    next service resumes tailing at the stored size. Complete lines go at once; a trailing partial
    line (a progress bar, a prompt) goes once it has waited `partial_after` seconds. `base`: where
    the file starts in the stored console (a requeued Slurm job appends a new file to it)."""

    def __init__(self, path: Path, writer: Any, offset: int = 0, partial_after: float = 0.1,
                 base: int = 0) -> None:
        self.path = path
        self.writer = writer
        self.offset = offset              # bytes of the file already stored
        self.base = base
        self.partial_after = partial_after
        self._partial_since: float | None = None

    def pump(self, final: bool = False) -> None:
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return
        if size <= self.offset:
            return
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(min(size - self.offset, BATCH_BYTES))
        cut = data.rfind(b"\n") + 1
        if final or cut == len(data):
            self._partial_since = None
        else:  # a trailing partial line: hold it back for a moment, it usually completes
            now = time.monotonic()
            if self._partial_since is None:
                self._partial_since = now
            if now - self._partial_since >= self.partial_after:
                self._partial_since = None
            else:
                data = data[:cut]
        if not data:
            return
        self.writer.send(self.writer.chunk(CONSOLE_PATH, self.base + self.offset + i, data[i:i + CHUNK_BYTES],
                                           append=True)
                         for i in range(0, len(data), CHUNK_BYTES))
        self.offset += len(data)

    def close(self) -> None:
        """Send everything the file holds now (pump sends at most one block per call), then mark
        it complete. Bytes written after close() starts are not waited for: the caller has
        already ended the run's processes."""
        try:
            end = os.path.getsize(self.path)
        except OSError:
            end = self.offset
        while self.offset < end:
            before = self.offset
            self.pump(final=True)
            if self.offset == before:   # the file shrank or vanished: nothing more to read
                break
        self.writer.send([self.writer.chunk(CONSOLE_PATH, self.base + self.offset, b"", last=True)])


class DirectoryWatcher:
    """Streams new bytes of the files under the watched folders (default `logs/`) of a work folder."""

    def __init__(self, work_dir: Path, writer: Any, folders: list[str],
                 offsets: dict[str, int] | None = None) -> None:
        self.work_dir = work_dir
        self.writer = writer
        self.folders = [f.strip("/") for f in folders if f and f.strip("/") and ".." not in f.split("/")]
        self.offsets: dict[str, int] = dict(offsets or {})

    def pump(self) -> None:
        events, pending = [], 0
        real_root = os.path.realpath(self.work_dir)
        for rel, full in _walk_files(self.work_dir, self.folders):
            fh = open_inside(real_root, full)
            if fh is None:
                continue
            with fh:
                size = os.fstat(fh.fileno()).st_size
                offset = self.offsets.get(rel, 0)
                if size < offset:      # truncated and rewritten: send it again from the start
                    offset = 0
                if size == offset:
                    continue
                fh.seek(offset)
                data = fh.read(size - offset)
            for i in range(0, len(data), CHUNK_BYTES):
                events.append(self.writer.chunk(rel, offset + i, data[i:i + CHUNK_BYTES], append=True))
                pending += min(CHUNK_BYTES, len(data) - i)
                if pending >= BATCH_BYTES:
                    self.writer.send(events)
                    events, pending = [], 0
            self.offsets[rel] = offset + len(data)
        self.writer.send(events)

    def close(self) -> None:
        """A final sync, then every streamed file is marked complete."""
        self.pump()
        self.writer.send(self.writer.chunk(rel, size, b"", last=True) for rel, size in self.offsets.items())


def upload_outputs(work_dir: Path, writer: Any) -> int:
    """Upload every file under ./outputs (once, at exit); returns the number of files."""
    count, events, pending = 0, [], 0
    real_root = os.path.realpath(work_dir)
    for rel, full in _walk_files(work_dir, ["outputs"], skip_hidden=False):
        fh = open_inside(real_root, full)
        if fh is None:
            continue
        count += 1
        with fh:
            offset = 0
            while True:
                data = fh.read(CHUNK_BYTES)
                last = len(data) < CHUNK_BYTES
                events.append(writer.chunk(rel, offset, data, last=last))
                pending += len(data)
                offset += len(data)
                if pending >= BATCH_BYTES:
                    writer.send(events)
                    events, pending = [], 0
                if last:
                    break
    writer.send(events)
    return count


def _walk_files(root: Path, folders: list[str], skip_hidden: bool = True) -> Iterator[tuple[str, Path]]:
    """(run-relative path, full path) of the regular files under `folders`, not following links
    out of the work folder."""
    real_root = os.path.realpath(root)
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            if skip_hidden:
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            dirnames.sort()
            for name in sorted(filenames):
                if skip_hidden and name.startswith("."):
                    continue
                full = Path(dirpath) / name
                real = os.path.realpath(full)
                if not real.startswith(real_root + os.sep) or not os.path.isfile(real):
                    continue
                yield full.relative_to(root).as_posix(), full


def open_inside(real_root: str, path: Path) -> BinaryIO | None:
    """`path` opened for reading if it is a regular file really inside `real_root`, else None.

    The script owns its work folder and may swap a checked path for a link at any moment, so the
    check is made on the opened file itself (no FIFO that would block, no device, no link out)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("not a regular file")
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:     # no /proc: check the path instead
            real = os.path.realpath(path)
        if not real.startswith(real_root + os.sep):
            raise OSError("outside the folder")
    except OSError:
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def read_tail(path: Path, limit: int = 256 * 1024) -> str:
    """The last `limit` bytes of a file as text ("" if it is missing)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""

