"""The runner's only way into the store: sequenced batches from one writer per run.

Every status change, console chunk and file goes through `Store.apply_batch(writer, seq, events)`
with writer `runner:<run_id>`, so Watch sees exactly what the SDK would have sent. After a service
restart the sequence continues from `store.committed_seq(writer)`.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable

from tailrun.v1 import tailrun_pb2 as pb

log = logging.getLogger("tailrun_service.runner")

# A transient store error (a PostgreSQL failover, a locked SQLite file) is retried this long.
_RETRY_SECONDS = 30.0


class RunWriter:
    """Sends the events of one run, one batch at a time, in order (thread-safe)."""

    def __init__(self, store: Any, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.writer = f"runner:{run_id}"
        self._lock = threading.Lock()
        self._seq = int(store.committed_seq(self.writer))

    def send(self, events: Iterable[pb.Event], allowed: Callable[[str, pb.Event], bool] | None = None) -> list[str]:
        """Store the events as one batch; returns the store's reasons for refused events.
        `allowed(run_id, event)`, called inside the write transaction, refuses an event by
        returning False (a status change that must not overwrite a newer one)."""
        batch = list(events)
        if not batch:
            return []
        with self._lock:
            seq = self._seq + 1
            deadline = time.monotonic() + _RETRY_SECONDS
            delay = 0.05
            while True:
                try:
                    result = self.store.apply_batch(self.writer, seq, batch, allowed)
                    break
                except Exception:  # the same seq is safe to retry: a committed one is a no-op
                    if time.monotonic() > deadline:
                        log.exception("run %s: could not store %d events", self.run_id, len(batch))
                        raise
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
            self._seq = seq
        rejected = list(getattr(result, "rejected", ()) or ())
        for reason in rejected if allowed is None else ():   # a refused conditional event is expected
            log.warning("run %s: the store refused an event: %s", self.run_id, reason)
        return rejected

    # ------------------------------------------------------------------ event helpers

    def status(self, status: str, error_json: str | None = None, warnings: Iterable[str] = (),
               only_from: Callable[[str], bool] | None = None) -> bool:
        """Set the run's status; with `only_from(current status)`, only if that holds at the time
        of the write. Returns whether it was set."""
        patch = pb.RunPatch(run_id=self.run_id, status=status, time=time.time())
        if error_json is not None:
            patch.error_json = error_json
        patch.warnings.extend(warnings)
        allowed = None
        if only_from is not None:
            def allowed(run_id: str, _event: pb.Event) -> bool:
                return only_from(self.store.get_run(run_id).status)
        return not self.send([pb.Event(patch=patch)], allowed)

    def chunk(self, path: str, offset: int, data: bytes, *, append: bool = False,
              last: bool = False) -> pb.Event:
        return pb.Event(file=pb.FileChunk(run_id=self.run_id, path=path, offset=offset, data=data,
                                          append=append, last=last))
