"""Uploading spools: one spool folder replayed to a service (`tailrun sync`, the service's
runner), and the background upload of spools abandoned by dead processes.

Batches keep the writer id and seq they were spooled with, so the service stores each exactly
once however often it is replayed. A batch over the service's message limit (spooled by an older
version) is replayed in parts (contract C4); a damaged record is skipped and its seq sent as an
empty batch, so the later ones are taken; both are counted in the `UploadResult` and reported.
Imported only off the caller's thread (its stream loads grpc).
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._connection import _Stream
from ._spool import abandoned, claim, read_target
from ._spool_scan import Damage, scan_folder

UPLOAD_WINDOW = 16                      # requests in flight while uploading a spool
UPLOAD_WINDOW_BYTES = 64 * 1024 * 1024  # ... and their bytes (old spools hold batches up to GBs)


@dataclass
class UploadResult:
    writer: str
    address: str
    batches: int = 0          # sent now
    events: int = 0
    bytes: int = 0
    already: int = 0          # batches the service had stored before
    split: int = 0            # batches over the message limit, sent as parts (contract C4)
    parts: int = 0
    skipped_bytes: int = 0    # damaged records (torn or corrupt) that could not be read
    damaged: list[Damage] = field(default_factory=list)
    lost_seqs: list[int] = field(default_factory=list)    # not readable: the service skips them
    too_large: list[str] = field(default_factory=list)    # events that cannot be sent, and why
    rejected: list[str] = field(default_factory=list)     # events the service refused, and why
    complete: bool = False    # every readable batch is acknowledged

    @property
    def lost(self) -> bool:
        return bool(self.lost_seqs or self.too_large or self.damaged)

    def losses(self) -> list[str]:
        """One line per kind of loss, with counts (empty when nothing was lost)."""
        lines = []
        if self.lost_seqs:
            n = len(self.lost_seqs)
            lines.append(f"{_count(n, 'batch', 'batches')} (seq {_ranges(self.lost_seqs)}) could not be read "
                         f"from the spool and {'is' if n == 1 else 'are'} lost; the service was told to skip "
                         f"{'it' if n == 1 else 'them'}, so the later batches are stored")
        if self.damaged:
            where = ", ".join(map(str, self.damaged[:5])) + (", ..." if len(self.damaged) > 5 else "")
            lines.append(f"{self.skipped_bytes} bytes of the spool were damaged (torn or corrupt) and "
                         f"skipped: {where}")
        if self.too_large:
            lines.append(f"{_count(len(self.too_large), 'event', 'events')} too large to send even alone "
                         f"were left out: " + "; ".join(self.too_large[:3]))
        return lines


def _readable(folder: Path, result: UploadResult) -> Iterator[tuple[int, bytes]]:
    """(seq, record) of each readable record of the spool; damaged stretches go into `result`."""
    for item in scan_folder(folder):
        if isinstance(item, Damage):
            result.damaged.append(item)
            result.skipped_bytes += item.nbytes
        else:
            yield item


def summarize_folder(folder: Path) -> UploadResult:
    """What `upload_folder` would send (for --dry-run), without a connection. Missing seqs are
    the gaps between readable batches (the service may also lack some before the first)."""
    from ._split import MESSAGE_LIMIT
    from .v1 import tailrun_pb2 as pb

    result = UploadResult(writer=folder.name, address=str(read_target(folder).get("address") or ""))
    expected = None
    for seq, record in _readable(folder, result):
        if not seq or (expected is not None and seq < expected):
            continue
        if expected is not None and seq > expected:
            result.lost_seqs.extend(range(expected, seq))
        expected = seq + 1
        result.batches += 1
        result.bytes += len(record)
        result.split += len(record) > MESSAGE_LIMIT
        result.events += len(pb.IngestRequest.FromString(record).events)
    return result


class _Uploader:
    """Requests of one spool on one Ingest stream (several writers: the spool's own and the
    derived writers of split batches), with a bounded window of unacknowledged requests.

    The service answers every request with one ack, in order, so the acks counted tell which
    request an error ended."""

    def __init__(self, address: str, token: str | None, ca_file: str | None, writer: str,
                 result: UploadResult, timeout: float) -> None:
        self.result, self.timeout = result, timeout
        self.deadline = time.monotonic() + timeout
        self.changed = threading.Condition()
        self.acked: dict[str, int] = {}
        self.unacked: deque[tuple[str, int, int]] = deque([(writer, 0, 0)])   # the handshake
        self.unacked_bytes = 0
        self.stream = _Stream(address, token, ca_file, writer, self._on_ack, threading.Event())

    def _on_ack(self, stream: _Stream, ack: Any) -> None:
        with self.changed:
            if self.unacked:
                self.unacked_bytes -= self.unacked.popleft()[2]
            self.deadline = time.monotonic() + self.timeout   # progress: the wait starts again
            writer = ack.writer or self.result.writer
            self.acked[writer] = max(self.acked.get(writer, 0), ack.committed_seq)
            self.result.rejected.extend(ack.rejected)
            self.changed.notify_all()

    def handshake(self, address: str) -> int:
        self._wait(lambda: self.stream.committed is not None or self.stream.error is not None)
        if self.stream.committed is None:
            raise ConnectionError(self.stream.error or f"no answer from {address} within {self.timeout:g} s")
        return self.stream.committed

    def send(self, writer: str, seq: int, data: bytes) -> None:
        self._wait(lambda: self.stream.error is not None or self._room())
        with self.changed:
            if self.stream.error is not None or not self._room():
                self._fail()
            self.unacked.append((writer, seq, len(data)))
            self.unacked_bytes += len(data)
        self.stream.send(data)

    def _wait(self, predicate: Callable[[], bool]) -> None:
        """Until `predicate()`, or no ack for `timeout` seconds (each ack moves the deadline)."""
        with self.changed:
            while not predicate():
                left = self.deadline - time.monotonic()
                if left <= 0:
                    return
                self.changed.wait(min(left, 0.1))

    def _room(self) -> bool:
        return len(self.unacked) < UPLOAD_WINDOW and self.unacked_bytes < UPLOAD_WINDOW_BYTES

    def finish(self) -> None:
        self._wait(lambda: not self.unacked or self.stream.error is not None)
        with self.changed:
            if self.unacked:
                self._fail()
        self.result.complete = True

    def _fail(self) -> None:
        """Raise, naming the first request not acknowledged: the stream ended, or no ack came in time."""
        if not self.unacked:
            raise ConnectionError(f"the service ended the upload: {self.stream.error}")
        writer, seq, _ = self.unacked[0]
        what = ("the handshake" if not seq else
                f"part {seq} of batch {writer.rsplit('~', 1)[1]}" if "~" in writer else f"batch {seq}")
        if self.stream.error is not None:
            raise ConnectionError(f"the service did not take {what}: {self.stream.error}")
        raise ConnectionError(f"the service did not acknowledge {what} within {self.timeout:g} s")

    def close(self) -> None:
        self.stream.close()


def upload_folder(folder: Path, address: str, token: str | None, ca_file: str | None = None,
                  timeout: float = 120.0) -> UploadResult:
    """Send every batch of the spool `folder` the service has not stored yet; wait for the acks.

    A batch over the message limit is sent as parts under the derived writer `<writer>~<seq>`
    (seqs 1..k, the same parts every time), then as an empty batch at its own seq (contract C4).
    A seq whose batch cannot be read (damaged) is sent as an empty batch, so that the later
    batches are taken (the service refuses a gap), and reported in `lost_seqs`."""
    from ._split import MESSAGE_LIMIT, PART_BYTES, split_events
    from .v1 import tailrun_pb2 as pb

    writer = folder.name
    result = UploadResult(writer=writer, address=address)
    uploader = _Uploader(address, token, ca_file, writer, result, timeout)
    try:
        committed = uploader.handshake(address)
        expected = committed + 1
        for seq, record in _readable(folder, result):
            if not seq or seq < expected:   # (not a batch; or one stored before, or sent just now)
                result.already += bool(seq) and seq <= committed
                continue
            for missing in range(expected, seq):   # unreadable: let the service skip it
                result.lost_seqs.append(missing)
                uploader.send(writer, missing, pb.IngestRequest(writer=writer, seq=missing).SerializeToString())
            expected = seq + 1
            request = pb.IngestRequest.FromString(record)
            result.batches += 1
            result.bytes += len(record)
            result.events += len(request.events)
            if len(record) <= MESSAGE_LIMIT:
                uploader.send(writer, seq, record)
                continue
            derived = f"{writer}~{seq}"
            parts = split_events(request.events, PART_BYTES, on_too_large=lambda event, exc: (
                result.too_large.append(f"batch {seq}: {exc}")))
            for number, events in enumerate(parts, 1):
                uploader.send(derived, number, pb.IngestRequest(writer=derived, seq=number,
                                                                events=events).SerializeToString())
            uploader.send(writer, seq, pb.IngestRequest(writer=writer, seq=seq).SerializeToString())
            result.split += 1
            result.parts += len(parts)
        uploader.finish()
        return result
    finally:
        uploader.close()


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _ranges(seqs: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9" (at most 10 ranges shown)."""
    ranges: list[list[int]] = []
    for seq in seqs:
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    text = ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in ranges[:10])
    return text + (", ..." if len(ranges) > 10 else "")


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
            for line in result.losses():
                print(f"tailrun: LOST data of writer {result.writer} (spooled by an earlier process): "
                      f"{line}", file=sys.stderr, flush=True)
        except Exception:  # the next process (or `tailrun sync`) tries again
            pass
        finally:
            os.close(fd)
