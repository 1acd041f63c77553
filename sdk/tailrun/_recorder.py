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
(16 MiB) of encoded batches that are not yet acknowledged stay in memory, the rest is read back
from the spool when it is sent; at most WINDOW_BYTES (8 MiB) are handed to gRPC unacknowledged;
plus the hot-path deque, which the sender drains into 2 MiB batches every 50 ms; a loop that logs
faster than the sender encodes (over ~1M points/s) yields the GIL once per call past
`run_logging.QUEUE_SOFT_LIMIT` queued items (~12 MB), never blocking or dropping. In all, about
MEMORY_BYTES + WINDOW_BYTES + 48 MiB = 72 MiB over the RSS before logging per service the process
sends to, when the service is down or slow (tests/faults/test_bounds.py logs 2,000,000 points and checks it). If the spool cannot
be written at all, up to MEMORY_ONLY_CAP (256 MiB) is kept in memory instead, and later batches are
dropped (counted in `status().dropped_batches`). The spool's own cap: see `_spool`
(TAILRUN_SPOOL_MAX_BYTES).

One recorder per target: `recorder(settings)` gives the recorder of one (address, token, ca_file);
each has its own queue, writer id, seq, spool folder, stream and sender thread, so the runs of a
Workspace go to that workspace's service with its credentials, whatever other Workspaces the
process used before. A refused token (UNAUTHENTICATED / PERMISSION_DENIED) is reported as such.

`flush()` returns once everything queued before it is acknowledged, or durably spooled while the
service is unreachable. Exit prefers delivery: at interpreter exit every recorder keeps
reconnecting (at least every EXIT_BACKOFF_MAX seconds) until all is acknowledged or one shared
deadline passes (TAILRUN_EXIT_TIMEOUT, default 40 s); only then does it report what is left in
the spool, and what was lost (batches that could neither be spooled nor kept within
MEMORY_ONLY_CAP), with counts.

Backoff: a failed connect waits BACKOFF_MIN → BACKOFF_MAX (doubling, with jitter); a stream that
drops again after its handshake without any new acknowledgement counts as a failed attempt too
(a service failing every write is not hammered); only an acknowledgement resets the backoff.

Fork safety: in a child the queue is cleared (same deque object), the writer id, seq, spool and
stream are new, and the parent's channel and thread are never touched; the child's sender thread
starts at its first use of the recorder, or at once when the parent was streaming (it opens no
channel until the child logs something). Everything the sender, its stream, ack reader and spool
replay use is imported by the thread that starts the sender, before it starts
(`_import_sender_modules`, ~0.1 s once per process, at the first Workspace use; `import tailrun`
stays light): the sender never imports, so a fork can never happen while it holds a module-import
lock (the child would wait on that lock forever: a DataLoader forks right after the first log).
Waiting in a before-fork hook for an import in progress is not safe: other libraries' hooks run
first and hold locks (logging's) that the import may need.
"""
from __future__ import annotations

import atexit
import importlib
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
from weakref import WeakSet

POINT = 0
LIST = 1
ROW = 2
TABLE = 3
ARTIFACT = 4
DESCRIBE = 5
EVENT = 6
FLUSH = 7
SYSTEM = 8   # (8, run_id, "", {stored name: float}, sample index, time): one system-metrics sample

if TYPE_CHECKING:  # pragma: no cover
    from ._settings import Settings
    from ._stream import _Stream

WAKE_SECONDS = 0.05
# An idle sender backs off to this poll interval (a process that logs nothing costs ~nothing);
# the first item found brings it back to WAKE_SECONDS, and flush() wakes it at once.
IDLE_WAKE_SECONDS = 0.2
MEMORY_BYTES = 16 * 1024 * 1024        # unacked batches kept in memory; the rest is re-read from the spool
WINDOW_BYTES = 8 * 1024 * 1024         # sent but not yet acknowledged
MEMORY_ONLY_CAP = 256 * 1024 * 1024    # when the spool cannot be written at all
HANDSHAKE_TIMEOUT = 10.0
BACKOFF_MIN, BACKOFF_MAX = 0.2, 10.0
EXIT_BACKOFF_MAX = 1.0                 # at exit, reconnect at least this often until the deadline
STALL_SECONDS = 60.0                   # flush gives up on a sender loop silent for this long
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
    dropped_batches: int     # batches dropped (spool at its cap, or unspoolable over the memory cap)
    last_error: str | None


class Recorder:
    def __init__(self, settings: Settings | None = None, exit_hook: bool = True) -> None:
        self.queue: deque[tuple] = deque()
        self.warnings: Callable[[str], None] = self._print_once
        self._settings: Settings | None = settings
        self._printed: set[str] = set()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._reset()
        _live.add(self)
        if exit_hook:   # recorder(settings)'s recorders are drained by drain_at_exit instead
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
        self._refused: str | None = None   # the service refused our token (cleared by a handshake)
        self._fork_broken: str | None = None  # grpc cannot connect from this forked process
        self._progress_at = time.monotonic()  # the last new ack (or handshake)
        self._handshake_acked = 0   # _acked when the current stream's handshake was answered
        self._exiting = False       # exit drain: deliver (not spool) before the exit deadline
        self._exit_reported = False
        self._lost_batches = 0      # dropped: neither spooled nor kept in memory (counted, reported)
        self._unreadable = 0        # of those: spooled, but the record could not be read back
        self._lost_events = 0
        self._lost_points = 0
        self._spool_error: str | None = None   # the last failed spool append (disk full, ...)
        self._tick = time.monotonic()          # the sender loop's last sign of life
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

    def configure(self, settings: Settings) -> None:
        """Bind this recorder to one target (`recorder(settings)` does it for each Workspace)."""
        if self._settings is not None and _key(settings) != _key(self._settings):
            raise ValueError(
                f"this recorder already logs to {self._settings.address or 'the local service'}; "
                f"use recorder(settings) for another target ({settings.address or 'the local service'})")
        self._settings = settings
        self._ensure_thread()

    def status(self) -> RecorderStatus:
        self._check_fork()
        return RecorderStatus(
            connected=self._connected, address=self._address, writer=self.writer,
            last_seq=self._next_seq - 1, acked_seq=self._acked,
            spooled_bytes=self._spool.bytes if self._spool is not None else 0,
            dropped_batches=self._lost_batches,
            last_error=self.last_error)

    def flush(self, timeout: float = 300.0) -> bool:
        """Wait until everything queued so far is acknowledged by the service, or durably spooled
        (fsync'ed) while the service is unreachable or refuses the token; at exit (see `_at_exit`)
        only an acknowledgement counts, until the exit deadline. False on timeout (the data stays
        queued or spooled) or when the sender thread makes no progress for STALL_SECONDS."""
        self._check_fork()
        if self._thread is None and not self.queue and not self._pending and not self._inflight:
            return True
        if threading.current_thread() is self._thread:
            return False
        self._ensure_thread()
        marker = _Marker()
        self.queue.append((FLUSH, marker))
        self._wake.set()
        deadline = time.monotonic() + timeout
        while not marker.event.wait(max(0.0, min(1.0, deadline - time.monotonic()))):
            now = time.monotonic()
            if now >= deadline:
                return False
            if now - self._tick > STALL_SECONDS:   # never wait forever on a stuck sender
                self.warnings(f"the sender thread made no progress for {STALL_SECONDS:g} s; "
                              f"flush gave up ({self._spool_where()})")
                return False
        return marker.ok

    def close(self, timeout: float | None = None) -> bool:
        """Flush, then stop the sender thread and the stream. Logging later starts them again.
        At exit (`_exiting`) the flush waits for acknowledgements, reconnecting until `timeout`."""
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
        if self._thread is None or not self._thread.is_alive():
            _import_sender_modules()   # here, not in the sender: see the module docstring
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._tick = time.monotonic()
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
        """Exit drain: deliver within the one exit deadline shared by every recorder, then report
        exactly what is left in the spool and what is lost."""
        if os.getpid() != self._pid or self._exit_reported:
            return
        if self._thread is None and not self.queue and not self._pending and not self._lost_batches:
            return
        self._exit_reported = True
        deadline = _begin_exit()
        try:
            self.close(max(0.0, deadline - time.monotonic()))
        except RuntimeError:   # cannot start a thread at interpreter shutdown
            pass
        self._report_unsent(_exit_timeout())

    def _report_unsent(self, timeout: float) -> None:
        entries = [*self._inflight, *self._pending]
        spooled = sum(1 for e in entries if e[3] is not None)
        in_memory = [e for e in entries if e[3] is None and e[4] is not None and e[4][0]]
        if spooled and self._address is not None:   # (with no service at all, said at the start)
            why = (f"not sent to {self._address} (the token was refused, see above)" if self._refused
                   else f"not sent from this forked process (grpc cannot be used after the fork: "
                        f"{self._fork_broken}); the parent process uploads them when it exits"
                   if self._fork_broken
                   else f"the service at {self._address} did not acknowledge them within {timeout:g} s")
            self._print_once(f"{why}; {_batches(spooled)} of unsent data are in the spool at "
                             f"{self._spool.folder if self._spool is not None else '?'}; "
                             f"upload them with: tailrun sync")
        lost_batches = self._lost_batches + len(in_memory)
        if not lost_batches:
            return
        events = self._lost_events + sum(e[4][0] for e in in_memory)
        points = self._lost_points + sum(e[4][1] for e in in_memory)
        why = []
        if self._lost_batches:
            why.append(f"{_batches(self._lost_batches)} dropped before sending: {self._drop_reason()}")
        if in_memory:
            why.append(f"{_batches(len(in_memory))} held in memory only (the spool could not be written: "
                       f"{self._spool_error}) and not acknowledged within {timeout:g} s")
        self._print_once(f"LOST {_batches(lost_batches)} ({events} events, {points} metric points), "
                         f"not sent and not in the spool: {'; '.join(why)}")

    def _drop_reason(self) -> str:
        reasons = []
        if self._unreadable:
            reasons.append(f"{_batches(self._unreadable)} could not be read back from the spool")
        if self._spool is not None and self._spool.dropped_batches:
            reasons.append(f"the spool reached its cap (TAILRUN_SPOOL_MAX_BYTES={self._spool.max_bytes})")
        if self._spool_error:
            reasons.append(f"the spool could not be written ({self._spool_error}) and the unsent data "
                           f"held in memory reached its cap of {MEMORY_ONLY_CAP >> 20} MiB (the oldest "
                           f"was dropped; every run's start and status kept)")
        return " and ".join(reasons)

    def _spool_where(self) -> str:
        return f"unsent data is in the spool at {self._spool.folder}" if self._spool is not None \
            else "unsent data is in memory only"

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
            self._tick = time.monotonic()
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
            self._tick = time.monotonic()
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
            self._spool, self._spool_error = None, str(exc)
            self.warnings(f"cannot write the spool under {spool_root(home)} ({exc}); "
                          f"unsent data is kept in memory only")
        message = describe(self._how, self._address, home, self._spool.folder if self._spool else None)
        if message:
            self._print_once(message.removeprefix("tailrun: "))

    def _commit(self, request: Any) -> None:
        """Give the batch the next seq and spool it; a batch dropped here consumes no seq (C1).

        Entries are [seq, nbytes, data | None, spool location | None, summary | None]; the
        summary (events, points, precious) is kept for batches held in memory only."""
        seq = self._next_seq
        request.seq = seq
        data = request.SerializeToString()
        location = None
        if self._spool is not None:
            try:
                location = self._spool.append(seq, data)
            except OSError as exc:
                if self._spool_error is None:
                    self.warnings(f"cannot append to the spool ({exc}); unsent data is kept in memory "
                                  f"(up to {MEMORY_ONLY_CAP >> 20} MiB) until it can be sent or spooled")
                self._spool_error = str(exc)
            else:
                if location is None:
                    self._lose(_summary(request))
                    self.warnings(f"the spool is full (TAILRUN_SPOOL_MAX_BYTES={self._spool.max_bytes}); "
                                  f"new data is dropped until the service catches up")
                    return
        summary = None
        if location is None:   # held in memory only: bounded by MEMORY_ONLY_CAP
            summary = _summary(request)
            if not self._make_room(len(data), summary[2]):
                self._lose(summary)
                self.warnings(f"cannot spool and {MEMORY_ONLY_CAP >> 20} MiB of unsent data is already "
                              f"in memory; data is dropped (counted, reported at exit) until the service "
                              f"catches up")
                return
        self._next_seq += 1
        keep = location is None or self._memory + len(data) <= MEMORY_BYTES
        self._pending.append([seq, len(data), data if keep else None, location, summary])
        if keep:
            self._memory += len(data)

    def _make_room(self, nbytes: int, precious: bool) -> bool:
        """Room in memory for an unspooled batch: the oldest unspooled batches without a run's
        start, status or experiment are replaced by empty batches at the same seq (so no seq is
        skipped, C1), until it fits: the newest data and every run's RunStart are kept."""
        if self._memory + nbytes <= MEMORY_ONLY_CAP:
            return True
        for entry in self._pending:
            if self._memory + nbytes <= MEMORY_ONLY_CAP:
                break
            summary = entry[4]
            if entry[3] is not None or summary is None or summary[2] or entry[2] is None:
                continue
            empty = self._empty_batch(entry[0])
            self._lose(summary)
            self._memory += len(empty) - entry[1]
            entry[1], entry[2], entry[4] = len(empty), empty, (0, 0, True)
        return precious or self._memory + nbytes <= MEMORY_ONLY_CAP

    def _empty_batch(self, seq: int) -> bytes:
        from .v1 import tailrun_pb2 as pb
        return pb.IngestRequest(writer=self.writer, seq=seq).SerializeToString()

    def _resend_forgotten(self, committed: int) -> None:
        """The service acknowledged batches up to `_acked` earlier but now says `committed` (its
        store was replaced or restored from a backup). Those batches were released from the spool:
        their seqs go again as empty batches, so that the service (C1) takes the later ones."""
        first, last = committed + 1, self._acked
        gap = [[seq, len(data), data, None, (0, 0, True)]
               for seq in range(first, last + 1) for data in (self._empty_batch(seq),)]
        self._memory += sum(entry[1] for entry in gap)
        self._pending.extendleft(reversed(gap))
        with self._lock:
            self._acked = committed
        self.warnings(f"the service at {self._address} no longer has batches {first}..{last} of this "
                      f"process, which it had acknowledged (was its data dir replaced?); they cannot be "
                      f"sent again; everything after them is")

    def _lose(self, summary: tuple[int, int, bool]) -> None:
        self._lost_batches += 1
        self._lost_events += summary[0]
        self._lost_points += summary[1]

    def _connection(self, now: float) -> None:
        stream = self._stream
        if stream is not None:
            if stream.error is not None:
                self._disconnect(stream.error, now)
            elif not self._connected and stream.committed is not None:
                # The backoff is reset by progress (a new ack, `_on_ack`), not by a handshake alone.
                self._connected, self._unreachable, self._refused, self.last_error = True, False, None, None
                with self._lock:
                    if stream.committed > self._acked:
                        self._acked, self._attempts = stream.committed, 0
                    self._handshake_acked = self._acked
                self._progress_at = now
                # Everything not acknowledged is sent again, in order, on the new stream.
                self._pending.extendleft(reversed(self._inflight))
                self._inflight.clear()
                self._inflight_bytes = 0
                if stream.committed < self._acked:
                    self._resend_forgotten(stream.committed)
                    self._handshake_acked = self._acked
                self._start_replay()
            elif not self._connected and now - stream.started > (limit := _handshake_timeout()):
                self._disconnect(f"no answer from {self._address} within {limit:g} s", now)
            elif (_inherited_grpc and self._connected and self._inflight
                  and now - self._progress_at > FORKED_HANDSHAKE_TIMEOUT):
                # A forked child's inherited grpc can also wedge after connecting: no ack comes.
                self._disconnect(f"no acknowledgement from {self._address} within "
                                 f"{FORKED_HANDSHAKE_TIMEOUT:g} s in a forked process", now)
            return
        if self._address is None or now < self._next_attempt or self._fork_broken:
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
                self._acked, self._attempts = ack.committed_seq, 0
                self._progress_at = time.monotonic()
        self._rejections.extend(ack.rejected)
        self._wake.set()

    def _disconnect(self, error: str, now: float) -> None:
        """A stream that dropped after making progress (a new ack since its handshake) is retried
        at once; a failed attempt, or a drop without progress, backs off (capped lower at exit)."""
        if self._stream is not None:
            self._stream.close()
        dropped = self._connected
        self._stream, self._connected = None, False
        self.last_error = error
        if dropped and self._acked > self._handshake_acked:
            self._attempts = 0
            self._next_attempt = now
            return
        if not dropped:
            self._unreachable = True
        self._attempts += 1
        cap = EXIT_BACKOFF_MAX if self._exiting else BACKOFF_MAX
        delay = min(cap, BACKOFF_MIN * 2 ** min(self._attempts - 1, 16)) * random.uniform(0.8, 1.2)
        self._next_attempt = now + delay
        if _inherited_grpc and (not dropped or "on fork" in error or "forked process" in error):
            # A forked child of a process that used grpc: grpc's C core, forked while busy, can
            # leave the child unable to connect ("Closed on fork", or no answer at all). Do not
            # retry (or wait at exit) in vain: spool only; the parent uploads abandoned spools
            # at its exit (drain_at_exit), else the next tailrun process, or `tailrun sync`.
            self._fork_broken = error
            self._print_once(f"this forked process cannot use grpc ({error}); its data is spooled to "
                             f"{self._spool.folder if self._spool is not None else '?'} and uploaded when "
                             f"the parent process exits (or with: tailrun sync)")
        elif error.startswith(("UNAUTHENTICATED", "PERMISSION_DENIED")):
            self._refused = error
            self._print_once(f"the service at {self._address} refused the token: {error}; "
                             f"{self._spool_where()}; upload it with the right token: tailrun sync")
        elif (not dropped and self._how == "configured" and self._spool is not None
              and (self._pending or self._inflight)):
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
                    # Its seq is sent empty, or the service (C1) would refuse every later batch.
                    self.warnings(f"lost batch {entry[0]}: its spool record cannot be read ({exc})")
                    self._lost_batches += 1
                    self._unreadable += 1
                    data = self._empty_batch(entry[0])
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
        # Offline: the data can only be spooled (no service, a refused token, or - but at exit,
        # which keeps reconnecting until its deadline - an unreachable service).
        offline = not self._connected and (self._address is None or self._refused is not None
                                           or self._fork_broken is not None
                                           or (self._unreachable and not self._exiting))
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


def _summary(request: Any) -> tuple[int, int, bool]:
    """(events, metric points, precious) of a batch; precious = it starts, finishes or names a
    run or experiment (kept in memory whatever the cap)."""
    points, precious = 0, False
    for event in request.events:
        kind = event.WhichOneof("kind")
        if kind == "metrics":
            points += len(event.metrics.times)
        elif kind in ("start", "patch", "experiment"):
            precious = True
    return len(request.events), points, precious


def _key(settings: Settings) -> tuple[str | None, str | None, str | None]:
    return settings.address, settings.token, settings.ca_file


# Every module the sender thread, its stream, ack reader and spool replay use: imported by the
# thread that starts the sender (see the module docstring; a test checks that a whole session
# imports nothing more).
_SENDER_MODULES = (
    "grpc", "grpc._channel", "grpc._common", "grpc._utilities",
    "json", "queue", "shutil", "secrets", "subprocess", "importlib.util", "fcntl", "zlib", "struct",
    "tailrun._settings", "tailrun._spool", "tailrun._local", "tailrun._channel", "tailrun._stream",
    "tailrun.v1.tailrun_pb2", "tailrun.metrics_shape", "tailrun._columns", "tailrun._encode",
)


def _import_sender_modules() -> None:
    if _SENDER_MODULES[-1] in sys.modules:
        return
    for name in _SENDER_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the sender reports its own import errors; a fork must go on
            pass


_live: WeakSet[Recorder] = WeakSet()          # every recorder of this process (fork, exit)
_by_target: dict[tuple, Recorder] = {}         # recorder(settings): one per (address, token, ca_file)
_create_lock = threading.Lock()
_parent_leftovers: list[Any] = []
_exit_deadline: float | None = None
_recorder: Recorder | None = None              # the default target's recorder (recorder() with no settings)
_inherited_grpc = False                        # a forked child of a process that had loaded grpc
FORKED_HANDSHAKE_TIMEOUT = 3.0                 # such a child gives up on a silent connection sooner


def _handshake_timeout() -> float:
    return FORKED_HANDSHAKE_TIMEOUT if _inherited_grpc else HANDSHAKE_TIMEOUT


def recorder(settings: Settings | None = None) -> Recorder:
    """The recorder of one target (created on first use); without settings, the default target
    (TAILRUN_ADDRESS / TAILRUN_TOKEN / TAILRUN_CA, else the local service)."""
    global _recorder
    if settings is None:
        from ._settings import Settings
        settings = Settings.resolve()
    key = _key(settings)
    rec = _by_target.get(key)
    if rec is None:
        with _create_lock:
            rec = _by_target.get(key)
            if rec is None:
                rec = _by_target[key] = Recorder(settings, exit_hook=False)
                if _recorder is None:
                    _recorder = rec
    return rec


def live_recorders() -> list[Recorder]:
    """The recorders of this process that hold or may hold data."""
    pid = os.getpid()
    return [rec for rec in list(_live) if rec._pid == pid]


def flush_all(timeout: float) -> bool:
    """Flush every recorder of the process, with one deadline for all of them (a SIGTERM during
    the exit drain - a Pool's terminate() - waits for that drain up to `timeout`)."""
    deadline, ok = time.monotonic() + timeout, True
    for rec in live_recorders():
        ok = rec.flush(max(0.0, deadline - time.monotonic())) and ok
    return ok


def _exit_timeout() -> float:
    return _env_float(ENV_EXIT_TIMEOUT, 40.0)


def _begin_exit() -> float:
    """The one exit deadline of the process (set at the first exit drain); every recorder
    switches to delivering at once, so they reconnect and drain in parallel."""
    global _exit_deadline
    if _exit_deadline is None:
        _exit_deadline = time.monotonic() + _exit_timeout()
        for rec in live_recorders():
            rec._exiting = True
            rec._next_attempt = min(rec._next_attempt, time.monotonic())
            rec._wake.set()
    return _exit_deadline


def drain_at_exit() -> None:
    """Interpreter exit: drain the recorders of every target with one deadline. Registered when
    this module is imported, so (atexit being LIFO) it runs after `_lifecycle`'s hook, which
    finishes the runs and then calls it too (the second call finds nothing left)."""
    for rec in list(_by_target.values()):
        rec._at_exit()
    _upload_children_spools()


def _upload_children_spools() -> None:
    """At the exit of the process that first used grpc: upload the spools its forked children
    left (a child whose grpc was broken by the fork only spools), within the exit deadline."""
    if _exit_deadline is None:
        return
    for rec in list(_by_target.values()):
        left = _exit_deadline - time.monotonic()
        if left <= 0 or not rec._replayed or rec._address is None or rec._fork_broken:
            continue
        from ._spool import spool_root
        from ._settings import home_dir
        from ._stream import replay_abandoned
        job = threading.Thread(target=replay_abandoned, name="tailrun-replay", daemon=True,
                               args=(spool_root(home_dir()), rec.writer, rec._address, rec._token,
                                     rec._ca_file(), rec._how in ("local", "started")))
        job.start()
        job.join(left)


atexit.register(drain_at_exit)


def _after_fork_in_child() -> None:
    global _create_lock, _exit_deadline, _inherited_grpc
    _create_lock = threading.Lock()
    _inherited_grpc = _inherited_grpc or "grpc" in sys.modules
    _exit_deadline = None
    for rec in list(_live):
        rec._after_fork_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
