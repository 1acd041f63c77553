"""Snapshots of a Run: `take_snapshot`, `restore_snapshot`, `get_snapshot_id` (Azure ML's), and
the snapshot `start_logging` takes of its snapshot_directory.

A snapshot is a zip kept by the service once by content; its id is the run property
`ContentSnapshotId`. A submitted run has its source folder's; any other run may take one. As in
Azure ML, a run has at most one: `take_snapshot` on a run that has one raises SnapshotException.

`start_logging` zips the folder before the run starts (so a folder over the limits raises
SnapshotException and starts no run, and the snapshot is the folder as it was at the start), then
sends the zip from a daemon thread once the service has the run (`_PendingSnapshot`):
start_logging never waits for the service, and works offline. Until the run finishes the thread
retries an unreachable service (backoff 0.2 s to 10 s); finishing the run (or the process's exit)
makes one last attempt and waits for it (TAILRUN_EXIT_TIMEOUT at most). A snapshot that could not
be sent is not spooled (it is a zip of up to 300 MB, not a logged event): one line on stderr says
so and how to take it later.
"""
from __future__ import annotations

import atexit
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .exceptions import AuthenticationError, RunNotFound, ServiceUnavailable, SnapshotException

if TYPE_CHECKING:  # pragma: no cover
    from ._run_parts import SnapshotsHost as _Run   # what this part uses of Run
else:
    _Run = object

SNAPSHOT_PROPERTY = "ContentSnapshotId"


class SnapshotsMixin(_Run):
    """The snapshots of a Run (mixed into run.Run; uses of it what _run_parts.SnapshotsHost lists)."""

    def get_snapshot_id(self) -> str | None:
        """The id of the run's snapshot (its ContentSnapshotId property), or None."""
        if self._pending_snapshot is not None:
            self._pending_snapshot.wait_first_attempt()   # start_logging's, on its way
        return dict(self._fetch().properties).get(SNAPSHOT_PROPERTY) or None

    def _send_snapshot_later(self, zipped: IO[bytes], folder: str) -> None:
        """Send start_logging's zip from a daemon thread (see the module docstring)."""
        self._pending_snapshot = _PendingSnapshot(self, zipped, folder)

    def _settle_snapshot(self, wait: bool) -> None:
        """The run finishes: one last attempt to send start_logging's snapshot; `wait` for it."""
        if self._pending_snapshot is not None:
            self._pending_snapshot.settle(_exit_timeout() if wait else None)

    def take_snapshot(self, file_or_folder_path_or_list: "str | os.PathLike | list[str | os.PathLike]") -> str:
        """Save a snapshot of the input file or folder (or a list of both) and return its id.

        Folders honour .tailrunignore/.amlignore/.gitignore as `submit` does; a file named
        explicitly is always included. Limits: 300 MB and 2000 files. Raises SnapshotException
        when the run already has a snapshot (a submitted run has its source folder's)."""
        from ._snapshot import SnapshotError, snapshot_entries, zip_entries

        existing = self.get_snapshot_id()
        if existing is not None:
            raise SnapshotException(f"Cannot take snapshot as the run already has one: {existing}")
        try:
            entries = snapshot_entries(file_or_folder_path_or_list)
            zipped = zip_entries(entries, f"the snapshot of run {self._id}")
        except SnapshotError as exc:
            raise SnapshotException(str(exc)) from None
        with zipped:
            info = self._client().put_snapshot(self._id, zipped)
        self._properties.setdefault(SNAPSHOT_PROPERTY, info.snapshot_id)
        return info.snapshot_id

    def restore_snapshot(self, snapshot_id: str | None = None, path: "str | os.PathLike | None" = None) -> str:
        """Download a snapshot (default: the run's own) as `<path>/<snapshot_id>.zip` and return
        that path; `path` defaults to the system's temporary folder."""
        snapshot_id = snapshot_id or self.get_snapshot_id()
        if not snapshot_id:
            raise SnapshotException(
                f"Cannot restore snapshot as run {self._id} has none: it was not submitted with a "
                "source folder and took none with run.take_snapshot()")
        folder = Path(path) if path is not None else Path(tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / f"{snapshot_id}.zip"
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{snapshot_id}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                # With the run id too, a run's own token may read its snapshot by id.
                for data in self._client().read_snapshot(run_id=self._id, snapshot_id=snapshot_id):
                    out.write(data)
            os.replace(temp, dest)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return str(dest)


TRANSFER_WAIT = 600.0   # a 300 MB snapshot on a slow link (the client's TRANSFER_TIMEOUT)
_pending: "set[_PendingSnapshot]" = set()
_pending_lock = threading.Lock()


def zip_for_start(folder: "str | os.PathLike | None") -> "IO[bytes] | None":
    """start_logging's snapshot_directory zipped now (None: no snapshot); over a limit,
    SnapshotException naming it and how to start without a snapshot."""
    from ._snapshot import SnapshotError, build_snapshot

    if folder is None:
        return None
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"snapshot_directory must be a folder path or None, not {type(folder).__name__}")
    try:
        return build_snapshot(folder, "snapshot_directory")
    except (SnapshotError, OSError) as exc:
        raise SnapshotException(f"{exc}. To start the run without a snapshot, pass "
                                "snapshot_directory=None") from None


class _PendingSnapshot:
    """start_logging's zip, sent by a daemon thread once the service has the run."""

    def __init__(self, run: Any, zipped: IO[bytes], folder: str) -> None:
        self.run, self.zipped, self.folder = run, zipped, folder
        self.error: str | None = None
        self.stored = False
        self.refused = False                    # retrying cannot help (the error says why)
        self.finishing = threading.Event()      # the run finishes: one last attempt
        self.first_attempt = threading.Event()  # get_snapshot_id waits for it
        self.pid = os.getpid()
        with _pending_lock:
            _pending.add(self)
        self.thread = threading.Thread(target=self._send, name=f"tailrun-snapshot-{run.id[:40]}", daemon=True)
        self.thread.start()

    def _send(self) -> None:
        backoff = 0.2
        while True:
            last = self.finishing.is_set()
            if self._attempt() or last:
                return
            self.finishing.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def _attempt(self, flush: bool = True) -> bool:
        """True when done: stored, or refused for good. `flush`: send the run's start event first
        (acknowledged, or spooled while the service is down); not after the exit drain."""
        try:
            if flush:
                self.run._recorder().flush(10)
            self.zipped.seek(0)
            # A channel of its own per attempt: a shared one that saw the service down keeps
            # failing fast for a while (gRPC's reconnect backoff) after the service is back.
            from .client import Client
            client = Client(self.run._ws._settings, start_local=True)
            try:
                info = client.put_snapshot(self.run.id, self.zipped)
            finally:
                client.close()
            self.run._properties.setdefault(SNAPSHOT_PROPERTY, info.snapshot_id)
            self.stored, self.error = True, None
            self._forget()
            return True
        except (ServiceUnavailable, RunNotFound) as exc:   # down, or its start is still spooled
            self.error = str(exc)
            return False
        except Exception as exc:   # refused (a token, this service's limit): retrying cannot help
            self.error = str(exc) if isinstance(exc, AuthenticationError) else f"{type(exc).__name__}: {exc}"
            self.refused = True
            return True
        finally:
            self.first_attempt.set()

    def wait_first_attempt(self) -> None:
        if self.pid == os.getpid():   # (a forked child has no such thread)
            self.first_attempt.wait(TRANSFER_WAIT)

    def settle(self, timeout: float | None) -> None:
        """The run finishes: the thread makes its last attempt now; with a `timeout`, wait for it.
        Not stored yet (the service is down, or has not got the run's start from the spool):
        the exit hook tries once more after the exit drain."""
        self.finishing.set()
        if timeout is not None and self.pid == os.getpid():
            self.thread.join(timeout)

    def last_chance(self, timeout: float) -> None:
        """At exit, after the recorders' exit drain: one more attempt, then say if nothing was stored."""
        self.finishing.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.error = f"still sending after {timeout:g} s"
        elif not self.stored and not self.refused:
            self._attempt(flush=False)
        if not self.stored:
            try:
                print(f"tailrun: the snapshot of {self.folder!r} for run {self.run.id} was not stored "
                      f"({self.error}); take it later with Run.get(ws, {self.run.id!r}).take_snapshot("
                      f"{self.folder!r}) or start runs with snapshot_directory=None", file=sys.stderr, flush=True)
            except (OSError, ValueError):
                pass
        self._forget()

    def _forget(self) -> None:
        with _pending_lock:
            _pending.discard(self)
        self.zipped.close()


def _exit_timeout() -> float:
    from ._recorder import _exit_timeout as recorder_exit_timeout   # one setting, one default
    return recorder_exit_timeout()


def _settle_all() -> None:
    """At exit (registered when this module is imported, before any run starts, so it runs after
    _lifecycle's hook and the recorders' exit drain): the snapshots not stored yet get one more
    attempt, now that the run's start has reached the service if it could."""
    with _pending_lock:
        pending = [item for item in _pending if item.pid == os.getpid()]
    for item in pending:
        item.last_chance(_exit_timeout())


atexit.register(_settle_all)
