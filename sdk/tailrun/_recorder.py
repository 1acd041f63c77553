"""The process-wide queue and the sender thread that streams it to the service.

The Run API appends plain tuples to `recorder().queue` (see ARCHITECTURE.md, "The SDK queue") and
returns; nothing here does I/O or imports grpc on the caller's thread, except `flush`/`close`,
which wait. One daemon sender thread per process wakes every 50 ms (or when flushed), drains the
deque, encodes columnar batches (`_encode`), gives each batch the next seq of this writer, appends
it to the spool (`_spool`, the write-ahead log) and streams it over `Tracker.Ingest` (`_stream`
below: one bidi call, a second thread reads the cumulative acks). On disconnect it reconnects with
exponential backoff and jitter, learns `committed_seq` from a seq-0 handshake and re-sends every
later batch from memory or from the spool: the service deduplicates by (writer, seq), so each batch
is stored exactly once.

Memory cap (what logging adds to a process's RSS, whatever the service does): at most MEMORY_BYTES
(32 MiB) of encoded batches that are not yet acknowledged stay in memory, the rest is read back
from the spool when it is sent; at most WINDOW_BYTES (8 MiB) are handed to gRPC unacknowledged;
plus the hot-path deque, which the sender drains into 2 MiB batches every 50 ms; a loop that logs
faster than the sender encodes (over ~1M points/s) yields the GIL once per call past
`run_logging.QUEUE_SOFT_LIMIT` queued items (~25 MB), never blocking or dropping. In all, about
MEMORY_BYTES + WINDOW_BYTES + 40 MiB = 80 MiB over the RSS before logging, when the service is
down or slow (tests/faults/test_bounds.py logs 2,000,000 points and checks it). If the spool cannot
be written at all, up to MEMORY_ONLY_CAP (256 MiB) is kept in memory instead, and later batches are
dropped (counted in `status().dropped_batches`). The spool's own cap: see `_spool`
(TAILRUN_SPOOL_MAX_BYTES).

Lifecycle: one `atexit` hook drains with a bounded wait (TAILRUN_EXIT_TIMEOUT, default 40 s).
Fork safety: in a child the queue is cleared (same deque object), the writer id, seq, spool and
stream are new, and the parent's channel and thread are never touched; the child's sender thread
starts at its first use of the recorder, or at once when the parent was streaming (it opens no
channel until the child logs something).
"""
from __future__ import annotations

import atexit
import os
import random
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat, starmap
from typing import TYPE_CHECKING, Any

POINT = 0
LIST = 1
ROW = 2
TABLE = 3
ARTIFACT = 4
DESCRIBE = 5
EVENT = 6
FLUSH = 7

if TYPE_CHECKING:  # pragma: no cover
    from ._settings import Settings
    from ._stream import _Stream

WAKE_SECONDS = 0.05
# An idle sender backs off to this poll interval (a process that logs nothing costs ~nothing);
# the first item found brings it back to WAKE_SECONDS, and flush() wakes it at once.
IDLE_WAKE_SECONDS = 0.2
MEMORY_BYTES = 32 * 1024 * 1024        # unacked batches kept in memory; the rest is re-read from the spool
WINDOW_BYTES = 8 * 1024 * 1024         # sent but not yet acknowledged
MEMORY_ONLY_CAP = 256 * 1024 * 1024    # when the spool cannot be written at all
HANDSHAKE_TIMEOUT = 10.0
BACKOFF_MIN, BACKOFF_MAX = 0.2, 10.0
ENV_EXIT_TIMEOUT = "TAILRUN_EXIT_TIMEOUT"
ENV_HEARTBEAT = "TAILRUN_HEARTBEAT_SECONDS"


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None


class _Marker:
    """A FLUSH marker: set once everything queued before it is acked (ok) or durably spooled."""
    __slots__ = ("event", "ok")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ok = True

    def done(self, ok: bool) -> None:
        self.ok = ok
        self.event.set()


@dataclass(frozen=True)
class RecorderStatus:
    connected: bool
    address: str | None
    writer: str
    last_seq: int            # the last batch given a seq
    acked_seq: int           # every batch up to this one is stored by the service
    spooled_bytes: int
    dropped_batches: int     # batches dropped because the spool was full
    last_error: str | None


class Recorder:
    def __init__(self) -> None:
        self.queue: deque[tuple] = deque()
        self.warnings: Callable[[str], None] = self._print_once
        self._settings: Settings | None = None
        self._printed: set[str] = set()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._reset()
        atexit.register(self._at_exit)

    # ------------------------------------------------------------ state

    def _reset(self) -> None:
        """Fresh per-writer state (at creation and in a forked child)."""
        self.writer = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._encoder: Any = None
        self._next_seq = 1
        self._acked = 0
        self._pending: deque[list] = deque()    # [seq, nbytes, data | None, spool location]: not sent yet
        self._inflight: deque[list] = deque()   # sent on the current stream, not acknowledged
        self._inflight_bytes = 0
        self._memory = 0
        self._markers: list[tuple[int, _Marker]] = []
        self._stream: _Stream | None = None
        self._connected = False
        self._attempts = 0
        self._unreachable = False   # the last connection attempt failed before its handshake
        self._next_attempt = 0.0
        self._resolved = False
        self._address: str | None = None
        self._token: str | None = None
        self._how = ""
        self._spool: Any = None
        self._rejections: deque[str] = deque()
        self._last_heartbeat = 0.0
        self._replayed = False
        self.last_error: str | None = None
        self.memory_dropped = 0

    def configure(self, settings: Settings) -> None:
        """Where this process sends (called by Workspace when a run starts); the first address wins."""
        if self._settings is not None and settings.address != self._settings.address:
            raise ValueError(
                f"this process already logs to {self._settings.address or 'the local service'}; "
                f"one process sends to one service, so it cannot also log to "
                f"{settings.address or 'the local service'}")
        if self._settings is None or (settings.token and not self._settings.token):
            self._settings = settings
        self._ensure_thread()

    def status(self) -> RecorderStatus:
        self._check_fork()
        return RecorderStatus(
            connected=self._connected, address=self._address, writer=self.writer,
            last_seq=self._next_seq - 1, acked_seq=self._acked,
            spooled_bytes=self._spool.bytes if self._spool is not None else 0,
            dropped_batches=((self._spool.dropped_batches if self._spool is not None else 0)
                             + self.memory_dropped),
            last_error=self.last_error)

    def flush(self, timeout: float = 300.0) -> bool:
        """Wait until everything queued so far is acked, or durably spooled when the service is
        unreachable. False on timeout (the data stays queued or spooled)."""
        self._check_fork()
        if self._thread is None and not self.queue and not self._pending and not self._inflight:
            return True
        if threading.current_thread() is self._thread:
            return False
        self._ensure_thread()
        marker = _Marker()
        self.queue.append((FLUSH, marker))
        self._wake.set()
        return marker.event.wait(timeout) and marker.ok

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then stop the sender thread and the stream. Logging later starts them again."""
        timeout = _env_float(ENV_EXIT_TIMEOUT, 40.0) if timeout is None else timeout
        deadline = time.monotonic() + timeout
        ok = self.flush(timeout)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            self._stopping = True
            self._wake.set()
            thread.join(max(0.1, min(5.0, deadline - time.monotonic())))
            if not thread.is_alive():
                self._thread = None
        return ok

    def _print_once(self, message: str) -> None:
        if message not in self._printed:
            self._printed.add(message)
            try:
                print(f"tailrun: {message}", file=sys.stderr, flush=True)
            except (OSError, ValueError):
                pass

    # ------------------------------------------------------------ threads, fork, exit

    def _ensure_thread(self) -> None:
        self._check_fork()
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="tailrun-sender", daemon=True)
            self._thread.start()

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:  # register_at_fork missed it (e.g. a raw fork syscall)
            self._after_fork_child()

    def _after_fork_child(self) -> None:
        was_streaming = self._thread is not None   # (in the child every inherited thread reads as dead)
        self.queue.clear()
        # Keep the parent's grpc objects referenced: the child must never close or use them.
        _parent_leftovers.append((self._stream, self._thread))
        if self._spool is not None:
            self._spool.forget_after_fork()
        self._pid = os.getpid()
        self._thread = None
        self._reset()
        self._register_mp_exit()
        if was_streaming:
            self._ensure_thread()

    def _register_mp_exit(self) -> None:
        """multiprocessing children end with os._exit (no atexit): drain in its exit finalizers."""
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            mp_util.register_after_fork(self, lambda rec: mp_util.Finalize(rec, rec._at_exit, exitpriority=100))

    def _at_exit(self) -> None:
        if os.getpid() != self._pid or (self._thread is None and not self.queue and not self._pending):
            return
        timeout = _env_float(ENV_EXIT_TIMEOUT, 40.0)
        try:
            ok = self.close(timeout)
        except RuntimeError:   # cannot start a thread at interpreter shutdown
            ok = False
        where = self._spool.folder if self._spool is not None else "memory (the spool was not writable)"
        unsent = len(self._pending) + len(self._inflight)
        if not ok and unsent:
            self._print_once(f"gave up waiting for the service after {timeout:g} s; the unsent data "
                             f"({_batches(unsent)}) is in the spool at {where}; upload it with: tailrun sync")
        elif unsent and self._how != "spool":
            self._print_once(f"the service did not acknowledge {_batches(unsent)}; the data is in the "
                             f"spool at {where}; upload it with: tailrun sync")
        if self._spool is not None and self._spool.dropped_batches:
            self._print_once(f"the spool was full (TAILRUN_SPOOL_MAX_BYTES): "
                             f"{self._spool.dropped_batches} batches were dropped")

    # ------------------------------------------------------------ the sender thread

    def _run(self) -> None:
        from . import _encode

        if self._encoder is None:
            self._encoder = _encode.Encoder(self.writer, on_error=lambda message: self.warnings(message))
        self._heartbeat_seconds = _env_float(ENV_HEARTBEAT, 10.0)
        errors = 0
        wait = WAKE_SECONDS
        while True:
            self._wake.wait(wait)
            self._wake.clear()
            busy = bool(self.queue) or bool(self._pending) or bool(self._inflight)
            wait = WAKE_SECONDS if busy else min(IDLE_WAKE_SECONDS, wait * 2)
            try:
                self._step()
                errors = 0
            except Exception as exc:  # a bug here must never reach the training script
                errors += 1
                self.last_error = f"sender: {exc!r}"
                if errors == 1:
                    self.warnings(f"internal error in the sender thread (retrying): {exc!r}")
                time.sleep(min(1.0, 0.05 * errors))
            if self._stopping and not self.queue:
                self._finish_acks(time.monotonic() + 2.0)
                self._shutdown()
                return

    def _step(self) -> None:
        self._drain()
        self._connection(time.monotonic())
        self._pump()
        self._advance()
        self._heartbeat()
        while self._rejections:
            self.warnings(f"the service refused an event: {self._rejections.popleft()}")

    def _drain(self) -> None:
        queue = self.queue
        while queue:
            items = list(starmap(queue.popleft, repeat((), min(len(queue), self._encoder.max_points))))
            self._ensure_target()
            for out in self._encoder.encode(items):
                if isinstance(out, _Marker):
                    self._markers.append((self._next_seq - 1, out))
                else:
                    self._commit(out)
            # While the caller keeps logging the queue may never run empty: connect and send
            # between slices too, so the service ingests while the loop runs (not after it).
            self._connection(time.monotonic())
            self._pump()
            self._advance()

    def _ensure_target(self) -> None:
        """Resolve the address (maybe starting the local service) and open the spool, once."""
        if self._resolved:
            return
        from ._local import describe, resolve_address
        from ._settings import Settings, home_dir
        from ._spool import SpoolWriter, spool_root

        self._resolved = True
        settings = self._settings or Settings.resolve()
        try:
            self._address, self._token, self._how = resolve_address(settings)
        except Exception as exc:
            self._address, self._token, self._how = None, settings.token, "spool"
            self.last_error = f"cannot find or start the local service: {exc}"
        home = home_dir()
        try:
            self._spool = SpoolWriter(spool_root(home) / self.writer)
            self._spool.set_target(self._address, self._token, self._how in ("local", "started"))
        except (OSError, ValueError) as exc:
            self._spool = None
            self.warnings(f"cannot write the spool under {spool_root(home)} ({exc}); "
                          f"unsent data is kept in memory only")
        message = describe(self._how, self._address, home, self._spool.folder if self._spool else None)
        if message:
            self._print_once(message.removeprefix("tailrun: "))

    def _commit(self, request: Any) -> None:
        seq = self._next_seq
        request.seq = seq
        data = request.SerializeToString()
        location = None
        if self._spool is not None:
            try:
                location = self._spool.append(seq, data)
            except OSError as exc:
                self.warnings(f"cannot append to the spool ({exc}); unsent data is kept in memory only")
            else:
                if location is None:
                    self.warnings(f"the spool is full (TAILRUN_SPOOL_MAX_BYTES={self._spool.max_bytes}); "
                                  f"new data is dropped until the service catches up")
                    return
        if location is None and self._memory + len(data) > MEMORY_ONLY_CAP:   # not spooled: bounded too
            self.memory_dropped += 1
            self.warnings(f"cannot spool and {MEMORY_ONLY_CAP >> 20} MiB of unsent data is already in "
                          f"memory; new data is dropped until the service catches up")
            return
        self._next_seq += 1
        keep = location is None or self._memory + len(data) <= MEMORY_BYTES
        self._pending.append([seq, len(data), data if keep else None, location])
        if keep:
            self._memory += len(data)

    def _connection(self, now: float) -> None:
        stream = self._stream
        if stream is not None:
            if stream.error is not None:
                self._disconnect(stream.error, now)
            elif not self._connected and stream.committed is not None:
                self._connected, self._attempts, self._unreachable, self.last_error = True, 0, False, None
                with self._lock:
                    self._acked = max(self._acked, stream.committed)
                # Everything not acknowledged is sent again, in order, on the new stream.
                self._pending.extendleft(reversed(self._inflight))
                self._inflight.clear()
                self._inflight_bytes = 0
                self._start_replay()
            elif not self._connected and now - stream.started > HANDSHAKE_TIMEOUT:
                self._disconnect(f"no answer from {self._address} within {HANDSHAKE_TIMEOUT:g} s", now)
            return
        if self._address is None or now < self._next_attempt:
            return
        if not (self._pending or self._inflight or self._markers or self._encoder.active_runs):
            return  # nothing to send: a process (or forked child) that never logs opens no channel
        from ._stream import _Stream
        try:
            self._stream = _Stream(self._address, self._token, self._ca_file(), self.writer,
                                   self._on_ack, self._wake)
        except Exception as exc:
            self._disconnect(f"cannot open a channel to {self._address}: {exc}", now)

    def _ca_file(self) -> str | None:
        return self._settings.ca_file if self._settings is not None else None

    def _on_ack(self, stream: _Stream, ack: Any) -> None:
        """Called on the ack-reader thread."""
        if stream is not self._stream:
            return
        with self._lock:
            if ack.committed_seq > self._acked and self._connected:
                self._acked = ack.committed_seq
        self._rejections.extend(ack.rejected)
        self._wake.set()

    def _disconnect(self, error: str, now: float) -> None:
        """A stream that dropped after its handshake is retried at once; a failed attempt backs off."""
        if self._stream is not None:
            self._stream.close()
        dropped = self._connected
        self._stream, self._connected = None, False
        self.last_error = error
        if dropped:
            self._next_attempt = now
            return
        self._unreachable = True
        self._attempts += 1
        delay = min(BACKOFF_MAX, BACKOFF_MIN * 2 ** (self._attempts - 1)) * random.uniform(0.8, 1.2)
        self._next_attempt = now + delay
        if self._how == "configured" and self._spool is not None and (self._pending or self._inflight):
            # Said only when there is data it concerns (not for a last flush with nothing unsent).
            self._print_once(f"the service at {self._address} is not reachable ({error}); spooling to "
                             f"{self._spool.folder}; it is sent when the service is back, or upload it "
                             f"later with: tailrun sync")

    def _pump(self) -> None:
        """Send pending batches while the window of unacknowledged bytes allows."""
        if not self._connected or self._stream is None:
            return
        while self._pending and self._inflight_bytes < WINDOW_BYTES:
            entry = self._pending.popleft()
            if entry[0] <= self._acked:
                self._forget(entry)
                continue
            data = entry[2]
            if data is None:
                try:
                    data = self._spool.read_at(*entry[3])
                except OSError as exc:
                    self.warnings(f"lost batch {entry[0]}: {exc}")
                    continue
            self._stream.send(data)
            self._inflight.append(entry)
            self._inflight_bytes += entry[1]

    def _forget(self, entry: list) -> None:
        if entry[2] is not None:
            self._memory -= entry[1]

    def _advance(self) -> None:
        acked = self._acked
        while self._inflight and self._inflight[0][0] <= acked:
            entry = self._inflight.popleft()
            self._inflight_bytes -= entry[1]
            self._forget(entry)
        while self._pending and self._pending[0][0] <= acked:
            self._forget(self._pending.popleft())
        if self._spool is not None:
            self._spool.release(acked)
        if not self._markers:
            return
        offline = not self._connected and (self._address is None or self._unreachable)
        if offline and self._spool is not None:
            try:
                self._spool.sync()
            except OSError:
                pass
        keep = []
        for target, marker in self._markers:
            if target <= acked:
                marker.done(True)
            elif offline:
                marker.done(self._spool is not None)
            else:
                keep.append((target, marker))
        self._markers = keep

    def _heartbeat(self) -> None:
        now = time.time()
        runs = self._encoder.active_runs
        if not runs or not self._connected or self._stopping or now - self._last_heartbeat < self._heartbeat_seconds:
            return
        self._last_heartbeat = now
        host, pid = socket.gethostname(), os.getpid()
        items = [(EVENT, run_id, "heartbeat", {"run_id": run_id, "time": now, "pid": pid, "host": host})
                 for run_id in list(runs)]
        for out in self._encoder.encode(items):
            self._commit(out)

    def _start_replay(self) -> None:
        """Once per process: upload abandoned spools of dead writers that were meant for this service."""
        if self._replayed or self._spool is None:
            return
        self._replayed = True
        from ._stream import replay_abandoned
        threading.Thread(target=replay_abandoned, name="tailrun-replay", daemon=True,
                         args=(self._spool.folder.parent, self.writer, self._address, self._token,
                               self._ca_file(), self._how in ("local", "started"))).start()

    def _finish_acks(self, deadline: float) -> None:
        """Before stopping: give the acks of batches already sent (say, a heartbeat) a moment."""
        while self._connected and (self._pending or self._inflight) and time.monotonic() < deadline:
            self._wake.wait(WAKE_SECONDS)
            self._wake.clear()
            self._connection(time.monotonic())
            self._pump()
            self._advance()

    def _shutdown(self) -> None:
        """End of the sender thread (close): close the stream, remove the spool if all is acked."""
        if self._stream is not None:
            self._stream.close()
        self._stream, self._connected = None, False
        if self._spool is not None and not self._pending and not self._inflight:
            self._spool.close(remove=True)
            self._spool, self._resolved = None, False


def _batches(n: int) -> str:
    return f"{n} batch" if n == 1 else f"{n} batches"


_parent_leftovers: list[Any] = []
_recorder: Recorder | None = None
_create_lock = threading.Lock()


def recorder() -> Recorder:
    """The process-wide recorder (created on first use)."""
    global _recorder
    rec = _recorder
    if rec is None:
        with _create_lock:
            if _recorder is None:
                _recorder = Recorder()
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=_after_fork_in_child)
            rec = _recorder
    return rec


def _after_fork_in_child() -> None:
    global _create_lock
    _create_lock = threading.Lock()
    if _recorder is not None:
        _recorder._after_fork_child()
