"""The file store of run files: <data_dir>/artifacts/<run_id>/<path>.

Every path a client sends is validated before it touches the disk: relative, "/"-separated, no
"..", "." or empty components, no backslashes or NUL, and it must not lead (through a symlink)
out of the run's folder. Bad paths raise InvalidArgument with a message naming the path.

One file is at most `max_file_bytes` (DEFAULT_MAX_FILE_BYTES = 4 GiB unless the service is started
with --max-file-bytes N): a chunk that would end past it is rejected with "file X exceeds the limit
of N bytes" (the chunks before it stay, and the file stays incomplete). This also bounds what a
chunk with a huge offset could make of a sparse file.

A write that fails for a reason of the disk, not of the request (the artifact folder deleted,
a read-only or full file system, an I/O error), raises Unavailable: the batch is not stored
and not acknowledged, the client keeps it and retries. Each new such reason is logged once.
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidArgument, NotFound, Unavailable

log = logging.getLogger("tailrun_service.artifacts")

MAX_PATH_CHARS = 1024
MAX_COMPONENT_BYTES = 255
MAX_RUN_ID_CHARS = 255
DEFAULT_MAX_FILE_BYTES = 4 * 1024 ** 3   # big enough for most checkpoints; --max-file-bytes changes it


def validate_run_id(run_id: str) -> str:
    """A run id names a folder, so it must be one safe path component."""
    if not run_id:
        raise InvalidArgument("run id is empty")
    if len(run_id) > MAX_RUN_ID_CHARS:
        raise InvalidArgument(f"run id is longer than {MAX_RUN_ID_CHARS} characters")
    if run_id in (".", "..") or any(c in run_id for c in "/\\\0"):
        raise InvalidArgument(f"invalid run id {run_id!r}: no '/', '\\', NUL, '.' or '..'")
    return run_id


def validate_path(path: str) -> str:
    """Return `path` if it is a safe relative run-file path, else raise InvalidArgument."""
    if not path:
        raise InvalidArgument("file path is empty")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidArgument(f"file path {path[:60]!r}... is longer than {MAX_PATH_CHARS} characters")
    if "\0" in path:
        raise InvalidArgument(f"file path {path!r} contains a NUL character")
    if "\\" in path:
        raise InvalidArgument(f"file path {path!r} contains a backslash; use '/'")
    if path.startswith("/"):
        raise InvalidArgument(f"file path {path!r} is absolute; give a path relative to the run")
    for part in path.split("/"):
        if part == "":
            raise InvalidArgument(f"file path {path!r} has an empty component")
        if part in (".", ".."):
            raise InvalidArgument(f"file path {path!r} contains {part!r}")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
            raise InvalidArgument(f"file path {path!r} has a component over {MAX_COMPONENT_BYTES} bytes")
    return path


def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def write_at(target: Path, what: str, offset: int, data: bytes, truncate: bool,
             unavailable: Callable[[OSError], Exception]) -> int:
    """Write `data` at `offset` of `target` (a re-sent chunk overwrites the same bytes; never
    through a symlink) and return the file's size. With `truncate` the file ends after this chunk;
    an empty chunk past the end extends it. A request's fault (a path clashing with a file or
    folder, a symlink, a name too long) is InvalidArgument naming `what`; a disk failure is
    `unavailable(exc)`. Run files and model files are both written by it."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        raise InvalidArgument(f"{what} clashes with an existing file or folder ({exc.strerror})") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW: the file itself is a symlink
            raise InvalidArgument(f"{what} is a symlink; refusing to follow it") from None
        if exc.errno == errno.ENAMETOOLONG:  # a fault of the request, not of the disk
            raise InvalidArgument(f"{what[:70]}... is too long for the file system") from None
        raise unavailable(exc) from None
    try:
        if data:
            os.pwrite(fd, data, offset)
        end = offset + len(data)
        if truncate or end > os.fstat(fd).st_size:
            os.ftruncate(fd, end)
        return os.fstat(fd).st_size
    except OSError as exc:
        raise unavailable(exc) from None
    finally:
        os.close(fd)


class ArtifactStore:
    """Reads and writes run files; knows nothing about the database."""

    def __init__(self, root: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_file_bytes = max_file_bytes
        self._failure: str | None = None   # the last write failure logged (logged once each)
        self._failure_lock = threading.Lock()

    def run_dir(self, run_id: str) -> Path:
        return self.root / validate_run_id(run_id)

    def resolve(self, run_id: str, path: str) -> Path:
        """The on-disk location of a run file, after validation and the symlink check."""
        validate_path(path)
        run_dir = self.run_dir(run_id)
        real_root = os.path.realpath(self.root)
        real_run = os.path.realpath(run_dir)
        if not _inside(real_run, real_root) or real_run == real_root:
            raise InvalidArgument(f"the folder of run {run_id!r} leads out of the artifact store")
        target = run_dir / path
        # realpath follows every existing symlink in the path; where it ends must be the run folder.
        if not _inside(os.path.realpath(target), real_run):
            raise InvalidArgument(f"file path {path!r} leads out of the run's folder (symlink)")
        return target

    def write_chunk(self, run_id: str, path: str, offset: int, data: bytes, *,
                    truncate: bool = False) -> int:
        """Write `data` at `offset` (a re-sent chunk overwrites the same bytes); return the size.

        With `truncate` the file ends after this chunk (the last chunk of an upload)."""
        if offset + len(data) > self.max_file_bytes:
            raise InvalidArgument(f"file {path!r} exceeds the limit of {self.max_file_bytes} bytes")
        target = self.resolve(run_id, path)
        try:
            # Never make the artifact folder itself again: if it vanished, the store is unusable.
            self.run_dir(run_id).mkdir(exist_ok=True)
        except OSError as exc:
            raise self._unavailable(exc) from None
        size = write_at(target, f"file path {path!r}", offset, data, truncate, self._unavailable)
        self._failure = None
        return size

    def _unavailable(self, exc: OSError) -> Unavailable:
        """A disk failure: logged once per distinct reason, answered UNAVAILABLE."""
        reason = f"cannot write run files under {self.root}: {exc.strerror or exc}"
        with self._failure_lock:
            new = reason != self._failure
            self._failure = reason
        if new:
            log.error("%s; batches with files are refused with UNAVAILABLE until it is fixed", reason)
        return Unavailable(f"the service cannot store data: {reason}; nothing was stored")

    def stat(self, run_id: str, path: str) -> os.stat_result | None:
        try:
            target = self.resolve(run_id, path)
            return target.stat() if target.is_file() else None
        except FileNotFoundError:
            return None

    def exists(self, run_id: str, path: str) -> bool:
        return self.stat(run_id, path) is not None

    def open(self, run_id: str, path: str) -> BinaryIO:
        target = self.resolve(run_id, path)
        if not target.is_file():
            raise NotFound(f"run {run_id!r} has no file {path!r}")
        return open(target, "rb")

    def read_range(self, run_id: str, path: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of a file, fewer if the file is shorter."""
        if end <= start:
            return b""
        with self.open(run_id, path) as f:
            f.seek(start)
            return f.read(end - start)

    def walk(self, run_id: str, prefix: str = "") -> Iterator[tuple[str, os.stat_result]]:
        """(relative path, stat) of every regular file of a run under `prefix`, sorted."""
        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir():
            return
        found = []
        for folder, dirs, files in os.walk(run_dir):  # os.walk does not follow symlinked folders
            for name in files:
                full = os.path.join(folder, name)
                rel = os.path.relpath(full, run_dir).replace(os.sep, "/")
                if not rel.startswith(prefix) or os.path.islink(full):
                    continue
                found.append((rel, os.stat(full)))
        yield from sorted(found)
