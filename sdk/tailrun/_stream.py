"""One bidi `Tracker.Ingest` call carrying already-serialized batches, and the upload of spools.

Imported only off the caller's thread (it loads grpc). `_Stream` is used by the recorder's sender
thread; `upload_folder` replays one spool folder (by `tailrun sync` and, in the background, by a
recorder that finds spools abandoned by dead processes). Batches keep the writer id and seq they
were spooled with, so the service stores each exactly once however often it is replayed.
"""
from __future__ import annotations

import os
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._spool import abandoned, claim, iter_records, read_target

INGEST_METHOD = "/tailrun.v1.Tracker/Ingest"
HANDSHAKE_TIMEOUT = 10.0
UPLOAD_WINDOW = 16          # batches in flight while uploading a spool


class _Stream:
    """Requests are serialized IngestRequest bytes; a daemon thread reads the acks.

    `committed` is None until the handshake (seq 0) is answered; `error` is set when the call ends.
    """

    def __init__(self, address: str, token: str | None, ca_file: str | None, writer: str,
                 on_ack: Callable[["_Stream", Any], None], wake: threading.Event) -> None:
        from ._channel import call_metadata, open_channel
        from ._settings import Settings
        from .v1 import tailrun_pb2 as pb

        settings = self._settings = Settings(address=address, token=token, ca_file=ca_file)
        self.started = time.monotonic()
        self.committed: int | None = None
        self.error: str | None = None
        self._on_ack, self._wake = on_ack, wake
        self._requests: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._requests.put(pb.IngestRequest(writer=writer, seq=0).SerializeToString())
        self._channel = open_channel(settings)
        ingest = self._channel.stream_stream(INGEST_METHOD, request_serializer=None,
                                             response_deserializer=pb.IngestAck.FromString)
        self._call = ingest(self._iter_requests(), metadata=call_metadata(settings))
        threading.Thread(target=self._read_acks, name="tailrun-acks", daemon=True).start()

    def _iter_requests(self) -> Iterator[bytes]:
        while True:
            data = self._requests.get()
            if data is None:
                return
            yield data

    def _read_acks(self) -> None:
        import grpc

        try:
            for ack in self._call:
                if self.committed is None:
                    self.committed = ack.committed_seq
                self._on_ack(self, ack)
            error = "the service ended the stream"
        except grpc.RpcError as exc:
            from ._channel import tls_hint
            details = exc.details() or ""
            error = f"{exc.code().name}: {details}{tls_hint(self._settings, details)}"
        except Exception as exc:  # never let the reader die without telling the sender
            error = repr(exc)
        self.error = error
        self._wake.set()

    def send(self, data: bytes) -> None:
        self._requests.put(data)

    def close(self) -> None:
        self._requests.put(None)   # ends grpc's request-consumer thread
        self._call.cancel()
        self._channel.close()


@dataclass
class UploadResult:
    writer: str
    address: str
    batches: int = 0          # sent now
    events: int = 0
    bytes: int = 0
    already: int = 0          # batches the service had stored before
    skipped_bytes: int = 0    # torn or corrupt tails that could not be read
    complete: bool = False    # every readable batch is acknowledged


def summarize_folder(folder: Path) -> UploadResult:
    """What `upload_folder` would send (for --dry-run), without a connection."""
    from .v1 import tailrun_pb2 as pb

    result = UploadResult(writer=folder.name, address=str(read_target(folder).get("address") or ""))
    for seq, record, skipped in iter_records(folder):
        result.skipped_bytes += skipped
        if record and seq:
            result.batches += 1
            result.bytes += len(record)
            result.events += len(pb.IngestRequest.FromString(record).events)
    return result


def upload_folder(folder: Path, address: str, token: str | None, ca_file: str | None = None,
                  timeout: float = 120.0) -> UploadResult:
    """Send every batch of the spool `folder` the service has not stored yet; wait for the acks."""
    from .v1 import tailrun_pb2 as pb

    writer = folder.name
    result = UploadResult(writer=writer, address=address)
    acked = [0]
    changed = threading.Condition()
    wake = threading.Event()

    def on_ack(stream: _Stream, ack: Any) -> None:
        with changed:
            acked[0] = max(acked[0], ack.committed_seq)
            changed.notify_all()

    stream = _Stream(address, token, ca_file, writer, on_ack, wake)
    deadline = time.monotonic() + timeout
    try:
        _wait(changed, lambda: stream.committed is not None or stream.error is not None, deadline)
        if stream.committed is None:
            raise ConnectionError(stream.error or f"no answer from {address} within {timeout:g} s")
        committed = stream.committed
        last = committed
        for seq, record, skipped in iter_records(folder):
            result.skipped_bytes += skipped
            if not record or not seq:
                continue
            if seq <= committed:
                result.already += 1
                continue
            _wait(changed, lambda: last - acked[0] < UPLOAD_WINDOW or stream.error is not None, deadline)
            if stream.error is not None:
                raise ConnectionError(stream.error)
            stream.send(record)
            last = seq
            result.batches += 1
            result.bytes += len(record)
            result.events += len(pb.IngestRequest.FromString(record).events)
        _wait(changed, lambda: acked[0] >= last or stream.error is not None, deadline)
        result.complete = max(acked[0], committed) >= last
        if not result.complete:
            raise ConnectionError(stream.error or f"the service did not acknowledge batch {last} in time")
        return result
    finally:
        stream.close()


def _wait(cond: threading.Condition, predicate: Callable[[], bool], deadline: float) -> None:
    with cond:
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            cond.wait(min(left, 0.1))


def target_matches(target: dict[str, Any], address: str | None, local: bool) -> bool:
    """Whether a spool meant for `target` belongs to the service this process talks to."""
    if local and (target.get("local") or not target.get("address")):
        return True
    return bool(address) and target.get("address") == address


def replay_abandoned(root: Path, own_writer: str, address: str, token: str | None,
                     ca_file: str | None, local: bool) -> None:
    """Background job of a recorder that just connected: upload spools left by dead processes."""
    for folder in abandoned(root, exclude=own_writer):
        target = read_target(folder)
        if not target_matches(target, address, local):
            continue
        fd = claim(folder)
        if fd is None:
            continue
        try:
            result = upload_folder(folder, address, token, ca_file)
            if result.complete:
                shutil.rmtree(folder, ignore_errors=True)
            if result.batches:
                print(f"tailrun: uploaded {result.batches} batches spooled by an earlier process "
                      f"(writer {result.writer[:8]}) to {address}", file=sys.stderr, flush=True)
        except Exception:  # the next process (or `tailrun sync`) tries again
            pass
        finally:
            os.close(fd)
