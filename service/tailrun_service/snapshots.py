"""Snapshots: zipped source folders, stored once by content under <data_dir>/snapshots/<id>.zip.

The id is the first 32 hex digits of the zip's sha256, the value of the run property
`ContentSnapshotId` (Azure ML's name). A submitted run's zip is stored by the runner at submit;
`Run.take_snapshot` sends one with PutSnapshot, which also records it on the run when the run has
none yet (properties are add-only, as in Azure ML, so a run keeps its first snapshot). Zips come
from clients: they are checked with the runner's limits (300 MB unpacked, 2000 files, plain
relative names) before they are kept, and written to a temporary file then renamed, so a reader
never sees half a zip. With several service replicas on one PostgreSQL database, each keeps the
snapshots it received in its own data dir.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import stat
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from tailrun.v1 import tailrun_pb2 as pb

from .errors import InvalidArgument, NotFound

SNAPSHOT_PROPERTY = "ContentSnapshotId"
MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024     # unpacked, as the SDK checks (Azure ML's limits)
MAX_SNAPSHOT_FILES = 2000
EMPTY_ZIP = b"PK\x05\x06" + b"\0" * 18     # a zip with no entries: the snapshot of an empty submission
_ID = re.compile(r"[0-9a-f]{32}")


def check_archive(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The files of a client's snapshot zip, after checking its limits and every entry's name
    (InvalidArgument naming the problem)."""
    infos = archive.infolist()
    files = [i for i in infos if not i.is_dir()]
    if len(files) > MAX_SNAPSHOT_FILES:
        raise InvalidArgument(f"the snapshot has {len(files)} files, over the limit of {MAX_SNAPSHOT_FILES}")
    total = sum(i.file_size for i in files)
    if total > MAX_SNAPSHOT_BYTES:
        raise InvalidArgument(f"the snapshot unpacks to {total} bytes, over the limit of "
                              f"{MAX_SNAPSHOT_BYTES // (1024 * 1024)} MB")
    for info in infos:
        safe_member(info)
    return files


def safe_member(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if "\\" in name or "\0" in name:
        raise InvalidArgument(f"snapshot entry {name!r} has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("..", "") for part in name.rstrip("/").split("/")):
        raise InvalidArgument(f"snapshot entry {name!r} is not a plain relative path")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InvalidArgument(f"snapshot entry {name!r} is a symbolic link")
    return str(path)


def snapshot_id_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def run_snapshot_id(run: pb.RunInfo) -> str:
    """The run's own snapshot id ("" when it has none)."""
    return run.properties.get(SNAPSHOT_PROPERTY, "")


class SnapshotStore:
    """The zips under `<data_dir>/snapshots`. Thread-safe (content-addressed, rename into place)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir) / "snapshots"
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> pb.SnapshotInfo:
        """Check and keep a zip (b"" counts as an empty zip); returns its id, size and file count."""
        data = data or EMPTY_ZIP
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                count = len(check_archive(archive))
        except zipfile.BadZipFile as exc:
            raise InvalidArgument(f"the snapshot is not a valid zip file: {exc}") from None
        snapshot_id = snapshot_id_of(data)
        path = self.root / f"{snapshot_id}.zip"
        if not path.exists():
            fd, temp = tempfile.mkstemp(dir=self.root, prefix=".incoming-", suffix=".zip")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        return pb.SnapshotInfo(snapshot_id=snapshot_id, size=len(data), file_count=count)

    def path_of(self, snapshot_id: str) -> Path:
        """The zip of a stored snapshot; InvalidArgument for a malformed id, NotFound for an unknown one."""
        if not _ID.fullmatch(snapshot_id):
            raise InvalidArgument(f"snapshot id {snapshot_id[:80]!r} is not a snapshot id "
                                  "(32 lowercase hex digits, the run property ContentSnapshotId)")
        path = self.root / f"{snapshot_id}.zip"
        if not path.is_file():
            raise NotFound(f"no snapshot {snapshot_id!r} on this service")
        return path

    def open(self, snapshot_id: str) -> BinaryIO:
        return open(self.path_of(snapshot_id), "rb")


class SnapshotRecorder:
    """Records a snapshot on a run as its ContentSnapshotId, through the store like any writer
    (writer `snapshots:<uuid>`, one per service process, so Watch sees the change)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.writer = f"snapshots:{uuid.uuid4()}"
        self._seq = 0
        self._lock = threading.Lock()

    def record(self, run_id: str, snapshot_id: str) -> str:
        """Give the run this snapshot unless it has one; returns the run's snapshot id after."""
        current = run_snapshot_id(self.store.get_run(run_id))
        if current:
            return current
        patch = pb.RunPatch(run_id=run_id, add_properties={SNAPSHOT_PROPERTY: snapshot_id}, time=time.time())
        with self._lock:
            self._seq += 1
            self.store.apply_batch(self.writer, self._seq, [pb.Event(patch=patch)])
        # Another snapshot may have been recorded a moment before (then ours was refused): report it.
        return run_snapshot_id(self.store.get_run(run_id))
