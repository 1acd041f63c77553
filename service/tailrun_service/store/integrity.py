"""Noticing that the store's files vanished or became unwritable under a running service.

Deleting the data dir does not stop SQLite: it goes on writing to the unlinked database file, and
an artifact write would make the deleted folders again, so every batch would be acknowledged and
then be gone at the next restart. So the identity (st_dev, st_ino) of the data dir, the artifact
folder and the SQLite database file is taken when the store opens, and compared again (a few stat
calls) before a write transaction starts and before it commits; a folder is also held open, so a
new folder made at the same path can never get the old inode number back. A path that is gone,
replaced or not writable makes every write raise `Unavailable` (the client keeps its data and
retries). A background check every CHECK_SECONDS notices it without any traffic; the reason is
logged once, not per request.

On PostgreSQL the database is remote (its errors are its own), but the data dir and the artifact
folder are local and checked the same way.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import Unavailable

log = logging.getLogger("tailrun_service.store")

CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class _Watched:
    label: str          # "data dir", "artifact folder", "database file"
    path: str
    identity: tuple[int, int]
    fd: int | None      # a folder held open (None for a file: closing another descriptor of a
                        # SQLite file would drop SQLite's locks on it)


class StoreIntegrity:
    """Compares the store's folders and database file with what was opened."""

    def __init__(self, folders: dict[str, Path], files: dict[str, Path]) -> None:
        self._watched: list[_Watched] = []
        self._lock = threading.Lock()
        # Reasons logged during the current outage: each once, even when checks from different
        # threads see the folder and the database file go at slightly different moments.
        self._reported: set[str] = set()
        self._unusable = False
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            for label, path in folders.items():
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                st = os.fstat(fd)
                self._watched.append(_Watched(label, str(path), (st.st_dev, st.st_ino), fd))
            for label, path in files.items():
                st = os.stat(path)
                self._watched.append(_Watched(label, str(path), (st.st_dev, st.st_ino), None))
        except BaseException:
            self.close()
            raise

    def problem(self) -> str | None:
        """Why the store cannot be written now, or None when it can."""
        for w in self._watched:
            try:
                st = os.stat(w.path)
            except FileNotFoundError:
                return f"the {w.label} {w.path} was deleted"
            except OSError as exc:
                return f"the {w.label} {w.path} cannot be reached ({exc.strerror})"
            if (st.st_dev, st.st_ino) != w.identity:
                return (f"the {w.label} {w.path} was replaced (deleted or moved, and made again) "
                        f"since the service opened it")
            if not os.access(w.path, os.W_OK):
                return f"the {w.label} {w.path} is not writable"
        return None

    def check(self) -> str | None:
        """`problem()`, logging each new reason once (and the recovery, if it comes back)."""
        reason = self.problem()
        self.report(reason)
        return reason

    def report(self, reason: str | None) -> None:
        with self._lock:
            if reason is None:
                if not self._unusable:
                    return
                self._unusable, self._reported = False, set()
            else:
                first = not self._unusable
                self._unusable = True
                if reason in self._reported:
                    return
                self._reported.add(reason)
        if reason and first:
            log.error("the store cannot be used: %s. Every batch is refused with UNAVAILABLE "
                      "(clients keep their data and retry); restore it or restart the service with "
                      "a usable data dir", reason)
        elif reason:
            log.error("also unusable: %s", reason)
        else:
            log.warning("the store is usable again; batches are accepted")

    def require(self) -> None:
        """Raise Unavailable when the store cannot be written (called around every write)."""
        reason = self.check()
        if reason:
            raise Unavailable(f"the service cannot store data: {reason}; nothing was stored")

    def start(self, interval: float = CHECK_SECONDS) -> StoreIntegrity:
        """Check every `interval` seconds in a daemon thread, so it is noticed without traffic."""
        def loop() -> None:
            while not self._closed.wait(interval):
                self.check()

        self._thread = threading.Thread(target=loop, name="tailrun-store-check", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        for w in self._watched:
            if w.fd is not None:
                os.close(w.fd)
        self._watched = []
