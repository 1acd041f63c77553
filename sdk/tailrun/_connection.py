"""The sender's connection to one service: the Ingest stream, its handshake, reconnecting with
backoff, the window of batches sent but not acknowledged, the acknowledgements and heartbeats.

The exporter half of the sender (`_recorder` is the batch-processor half: queue, thread, flush
markers, fork and exit). Everything here runs on the recorder's sender thread, except
`_Stream._read_acks`, which only records the stream's last ack (`_Stream.acked`) and wakes the
sender: no lock is shared with the caller's thread, so a signal handler that flushes can never
wait on a lock the code it interrupted holds.

Batches wait in `pending` (in seq order) and move to `inflight` when sent; at most WINDOW_BYTES
are handed to gRPC unacknowledged. On disconnect the connection reconnects with exponential
backoff and jitter, learns `committed_seq` from a seq-0 handshake and sends every later batch
again, from memory or from the spool: the service deduplicates by (writer, seq). A stream that
drops again after its handshake without any new acknowledgement counts as a failed attempt too (a
service failing every write is not hammered); only an acknowledgement resets the backoff.

Imported with `_recorder` (standard library only at import time); `_Stream` loads grpc, which
`_recorder._import_sender_modules` preloads before the sender starts.
"""
from __future__ import annotations

import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

INGEST_METHOD = "/tailrun.v1.Tracker/Ingest"
WINDOW_BYTES = 8 * 1024 * 1024         # sent but not yet acknowledged
HANDSHAKE_TIMEOUT = 10.0
FORKED_HANDSHAKE_TIMEOUT = 3.0         # a forked child of a grpc process gives up on a silent connection sooner
BACKOFF_MIN, BACKOFF_MAX = 0.2, 10.0
EXIT_BACKOFF_MAX = 1.0                 # at exit, reconnect at least this often until the deadline


class Batch:
    """One batch given a seq: its bytes (None once only the spool holds them), where the spool
    holds it (None: in memory only) and, for a batch held in memory only, what it carries."""
    __slots__ = ("seq", "nbytes", "data", "location", "events", "points", "precious")

    def __init__(self, seq: int, data: bytes, location: tuple[int, int] | None,
                 events: int = 0, points: int = 0, precious: bool = False) -> None:
        self.seq = seq
        self.nbytes = len(data)
        self.data: bytes | None = data
        self.location = location
        self.events = events
        self.points = points
        self.precious = precious


class _Stream:
    """One bidi `Tracker.Ingest` call; requests are serialized IngestRequest bytes, a daemon
    thread reads the acks.

    `committed` is None until the handshake (seq 0) is answered; `acked` is the last cumulative
    ack; `error` is set when the call ends. `on_ack(stream, ack)` is called on the reader thread."""

    def __init__(self, address: str, token: str | None, ca_file: str | None, writer: str,
                 on_ack: Callable[["_Stream", Any], None], wake: Any) -> None:
        from ._channel import call_metadata, open_channel
        from ._settings import Settings
        from .v1 import tailrun_pb2 as pb

        settings = self._settings = Settings(address=address, token=token, ca_file=ca_file)
        self.started = time.monotonic()
        self.committed: int | None = None
        self.acked = 0
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
                self.acked = ack.committed_seq
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


class Connection:
    """The stream to one service and the batches on their way to it (see the module docstring).

    `warn` prints a message once; `wake` is the sender's wake-up (set by the ack reader)."""

    def __init__(self, writer: str, wake: Any, warn: Callable[[str], None], inherited_grpc: bool) -> None:
        self.writer = writer
        self.wake = wake
        self.warn = warn
        self.inherited_grpc = inherited_grpc   # a forked child of a process that had loaded grpc
        self.address: str | None = None
        self.token: str | None = None
        self.ca_file: str | None = None
        self.how = ""                          # how the address was found (`_local.resolve_address`)
        self.spool: Any = None
        self.pending: deque[Batch] = deque()   # given a seq, not sent on the current stream
        self.inflight: deque[Batch] = deque()  # sent on the current stream, not acknowledged
        self.inflight_bytes = 0
        self.memory = 0                        # bytes of unacknowledged batches held in memory
        self.acked = 0                         # every batch up to this one is stored by the service
        self.stream: _Stream | None = None
        self.connected = False
        self.exiting = False                   # exit drain: reconnect at least every EXIT_BACKOFF_MAX
        self.attempts = 0
        self.next_attempt = 0.0
        self.unreachable = False   # the last connection attempt failed before its handshake
        self.refused: str | None = None        # the service refused our token (cleared by a handshake)
        self.fork_broken: str | None = None    # grpc cannot connect from this forked process
        self.progress_at = time.monotonic()    # the last new ack (or handshake)
        self.handshake_acked = 0               # `acked` when the current stream's handshake was answered
        self.rejections: deque[str] = deque()  # events the service refused, with the reason
        self.unreadable = 0                    # batches whose spool record could not be read back
        self.replayed = False
        self.last_error: str | None = None
        self.last_heartbeat = 0.0

    def target(self, address: str | None, token: str | None, ca_file: str | None, how: str,
               spool: Any) -> None:
        self.address, self.token, self.ca_file, self.how, self.spool = address, token, ca_file, how, spool

    # ------------------------------------------------------------ state seen by the recorder

    @property
    def unsent(self) -> list[Batch]:
        return [*self.inflight, *self.pending]

    def busy(self) -> bool:
        return bool(self.pending) or bool(self.inflight)

    def offline(self) -> bool:
        """Whether the data can only be spooled: no service, a refused token, a fork that broke
        grpc, or (but at exit, which keeps reconnecting until its deadline) an unreachable service."""
        return not self.connected and (self.address is None or self.refused is not None
                                       or self.fork_broken is not None
                                       or (self.unreachable and not self.exiting))

    def heartbeat_due(self, every: float) -> bool:
        now = time.time()
        if not self.connected or now - self.last_heartbeat < every:
            return False
        self.last_heartbeat = now
        return True

    def spool_where(self) -> str:
        return f"unsent data is in the spool at {self.spool.folder}" if self.spool is not None \
            else "unsent data is in memory only"

    # ------------------------------------------------------------ the sender thread's steps

    def add(self, batch: Batch) -> None:
        self.pending.append(batch)
        if batch.data is not None:
            self.memory += batch.nbytes

    def step(self, now: float, wants_stream: bool) -> None:
        """Connect (when `wants_stream` and the backoff allows), send, release what is acked."""
        self._stream_state(now, wants_stream)
        self._pump()
        self._release()

    def _stream_state(self, now: float, wants_stream: bool) -> None:
        stream = self.stream
        if stream is not None:
            if self.connected and stream.acked > self.acked:   # acks first: they may precede an error
                self.acked, self.attempts, self.progress_at = stream.acked, 0, now
            if stream.error is not None:
                self.disconnect(stream.error, now)
            elif not self.connected and stream.committed is not None:
                self._handshake(stream, now)
            elif not self.connected and now - stream.started > (limit := self._handshake_timeout()):
                self.disconnect(f"no answer from {self.address} within {limit:g} s", now)
            elif (self.inherited_grpc and self.connected and self.inflight
                  and now - self.progress_at > FORKED_HANDSHAKE_TIMEOUT):
                # A forked child's inherited grpc can also wedge after connecting: no ack comes.
                self.disconnect(f"no acknowledgement from {self.address} within "
                                f"{FORKED_HANDSHAKE_TIMEOUT:g} s in a forked process", now)
            return
        if self.address is None or now < self.next_attempt or self.fork_broken:
            return
        if not (self.pending or self.inflight or wants_stream):
            return  # nothing to send: a process (or forked child) that never logs opens no channel
        try:
            self.stream = _Stream(self.address, self.token, self.ca_file, self.writer, self._on_ack, self.wake)
        except Exception as exc:
            self.disconnect(f"cannot open a channel to {self.address}: {exc}", now)

    def _handshake(self, stream: _Stream, now: float) -> None:
        # The backoff is reset by progress (a new ack), not by a handshake alone.
        self.connected, self.unreachable, self.refused, self.last_error = True, False, None, None
        if stream.committed > self.acked:
            self.acked, self.attempts = stream.committed, 0
        self.handshake_acked = self.acked
        self.progress_at = now
        # Everything not acknowledged is sent again, in order, on the new stream.
        self.pending.extendleft(reversed(self.inflight))
        self.inflight.clear()
        self.inflight_bytes = 0
        if stream.committed < self.acked:
            self._resend_forgotten(stream.committed)
            self.handshake_acked = self.acked
        self._start_replay()

    def _handshake_timeout(self) -> float:
        return FORKED_HANDSHAKE_TIMEOUT if self.inherited_grpc else HANDSHAKE_TIMEOUT

    def _on_ack(self, stream: _Stream, ack: Any) -> None:
        """On the ack-reader thread: `stream.acked` is already set; the sender applies it."""
        if stream is self.stream:
            self.rejections.extend(ack.rejected)
            self.wake.set()

    def disconnect(self, error: str, now: float) -> None:
        """A stream that dropped after making progress (a new ack since its handshake) is retried
        at once; a failed attempt, or a drop without progress, backs off (capped lower at exit)."""
        if self.stream is not None:
            self.stream.close()
        dropped = self.connected
        self.stream, self.connected = None, False
        self.last_error = error
        if dropped and self.acked > self.handshake_acked:
            self.attempts = 0
            self.next_attempt = now
            return
        if not dropped:
            self.unreachable = True
        self.attempts += 1
        cap = EXIT_BACKOFF_MAX if self.exiting else BACKOFF_MAX
        delay = min(cap, BACKOFF_MIN * 2 ** min(self.attempts - 1, 16)) * random.uniform(0.8, 1.2)
        self.next_attempt = now + delay
        if self.inherited_grpc and (not dropped or "on fork" in error or "forked process" in error):
            # A forked child of a process that used grpc: grpc's C core, forked while busy, can
            # leave the child unable to connect ("Closed on fork", or no answer at all). Do not
            # retry (or wait at exit) in vain: spool only; the parent uploads abandoned spools
            # at its exit (drain_at_exit), else the next tailrun process, or `tailrun sync`.
            self.fork_broken = error
            self.warn(f"this forked process cannot use grpc ({error}); its data is spooled to "
                      f"{self.spool.folder if self.spool is not None else '?'} and uploaded when "
                      f"the parent process exits (or with: tailrun sync)")
        elif error.startswith(("UNAUTHENTICATED", "PERMISSION_DENIED")):
            self.refused = error
            self.warn(f"the service at {self.address} refused the token: {error}; "
                      f"{self.spool_where()}; upload it with the right token: tailrun sync")
        elif (not dropped and self.how == "configured" and self.spool is not None
              and (self.pending or self.inflight)):
            # Said only when there is data it concerns (not for a last flush with nothing unsent).
            self.warn(f"the service at {self.address} is not reachable ({error}); spooling to "
                      f"{self.spool.folder}; it is sent when the service is back, or upload it "
                      f"later with: tailrun sync")

    def _pump(self) -> None:
        """Send pending batches while the window of unacknowledged bytes allows."""
        if not self.connected or self.stream is None:
            return
        while self.pending and self.inflight_bytes < WINDOW_BYTES:
            batch = self.pending.popleft()
            if batch.seq <= self.acked:
                self._forget(batch)
                continue
            data = batch.data
            if data is None:
                try:
                    data = self.spool.read_at(*batch.location)
                except OSError as exc:
                    # Its seq is sent empty, or the service (C1) would refuse every later batch.
                    self.warn(f"lost batch {batch.seq}: its spool record cannot be read ({exc})")
                    self.unreadable += 1
                    data = self.empty_batch(batch.seq)
            self.stream.send(data)
            self.inflight.append(batch)
            self.inflight_bytes += batch.nbytes

    def _forget(self, batch: Batch) -> None:
        if batch.data is not None:
            self.memory -= batch.nbytes

    def _release(self) -> None:
        acked = self.acked
        while self.inflight and self.inflight[0].seq <= acked:
            batch = self.inflight.popleft()
            self.inflight_bytes -= batch.nbytes
            self._forget(batch)
        while self.pending and self.pending[0].seq <= acked:
            self._forget(self.pending.popleft())
        if self.spool is not None:
            self.spool.release(acked)

    def empty_batch(self, seq: int) -> bytes:
        from .v1 import tailrun_pb2 as pb
        return pb.IngestRequest(writer=self.writer, seq=seq).SerializeToString()

    def _resend_forgotten(self, committed: int) -> None:
        """The service acknowledged batches up to `acked` earlier but now says `committed` (its
        store was replaced or restored from a backup). Those batches were released from the spool:
        their seqs go again as empty batches, so that the service (C1) takes the later ones."""
        first, last = committed + 1, self.acked
        gap = [Batch(seq, self.empty_batch(seq), None, precious=True) for seq in range(first, last + 1)]
        self.memory += sum(batch.nbytes for batch in gap)
        self.pending.extendleft(reversed(gap))
        self.acked = committed
        self.warn(f"the service at {self.address} no longer has batches {first}..{last} of this "
                  f"process, which it had acknowledged (was its data dir replaced?); they cannot be "
                  f"sent again; everything after them is")

    def _start_replay(self) -> None:
        """Once per process: upload abandoned spools of dead writers that were meant for this service."""
        if self.replayed or self.spool is None:
            return
        self.replayed = True
        from ._upload import replay_abandoned
        threading.Thread(target=replay_abandoned, name="tailrun-replay", daemon=True,
                         args=(self.spool.folder.parent, self.writer, self.address, self.token,
                               self.ca_file, self.how in ("local", "started"))).start()

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        self.stream, self.connected = None, False
