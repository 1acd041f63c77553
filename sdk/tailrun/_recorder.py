"""The process-wide queue and the sender thread that drains it: the batch-processor half of the sender.

The Run API appends plain tuples to `recorder().queue` (the tags are `tailrun.wire`'s) and
returns; nothing here does I/O or imports grpc on the caller's thread, except `flush`/`close`,
which wait. One daemon sender thread per process wakes every 50 ms (or when flushed), drains the
deque, encodes columnar batches (`_encode`), gives each batch the next seq of this writer, appends
it to the spool (`_spool`, the write-ahead log) and hands it to its `Connection` (`_connection`:
the stream, handshake, backoff, send window, acks and heartbeats; the exporter half). The service
deduplicates by (writer, seq), so each batch is stored exactly once. Here: the queue, the thread,
flush markers, the spool and memory caps, fork and exit handling.

Memory cap (what logging adds to a process's RSS, whatever the service does): at most MEMORY_BYTES
(16 MiB) of encoded batches that are not yet acknowledged stay in memory, the rest is read back
from the spool when it is sent; at most `_connection.WINDOW_BYTES` (8 MiB) are handed to gRPC
unacknowledged; plus the hot-path deque, which the sender drains into 2 MiB batches every 50 ms; a
loop that logs faster than the sender encodes yields the GIL once per call past
`run_logging.QUEUE_SOFT_LIMIT` queued items (~12 MB), never blocking or dropping. In all, about
MEMORY_BYTES + WINDOW_BYTES + 48 MiB = 72 MiB over the RSS before logging per service the process
sends to, when the service is down or slow (tests/faults/test_bounds.py logs 2,000,000 points and
checks it). If the spool cannot be written at all, up to MEMORY_ONLY_CAP (256 MiB) is kept in
memory instead, and later batches are dropped (counted in `status().dropped_batches`). The spool's
own cap: see `_spool` (TAILRUN_SPOOL_MAX_BYTES).

One recorder per target: `recorder(settings)` gives the recorder of one (address, token, ca_file);
each has its own queue, writer id, seq, spool folder, stream and sender thread, so the runs of a
Workspace go to that workspace's service with its credentials, whatever other Workspaces the
process used before. A refused token (UNAUTHENTICATED / PERMISSION_DENIED) is reported as such.

`flush()` returns once everything queued before it is acknowledged, or durably spooled while the
service is unreachable. Exit prefers delivery: at interpreter exit every recorder keeps
reconnecting (at least every `_connection.EXIT_BACKOFF_MAX` seconds) until all is acknowledged or
one shared deadline passes (TAILRUN_EXIT_TIMEOUT, default 40 s); only then does it report what is
left in the spool, and what was lost (batches that could neither be spooled nor kept within
MEMORY_ONLY_CAP), with counts.

Signals: `flush_all(..., in_signal_handler=True)` (the SIGTERM/SIGINT handler of `_signals`) takes
no lock: the sender is woken through a pipe (`_Wake`, an `os.write`), the ack reader shares no
lock with anyone, and the thread is started only if its lock is free. A handler that ran inside
`_wake.set()` or `_ensure_thread` would otherwise wait forever on a lock the code it interrupted
holds (a Pool's `terminate()` during a worker's exit drain).

Fork safety: in a child the queue is cleared (same deque object), the writer id, seq, spool,
wake-up pipe and connection are new, and the parent's channel and thread are never touched; the
child's sender thread starts at its first use of the recorder, or at once when the parent was
streaming (it opens no channel until the child logs something). Everything the sender, its
stream, ack reader and spool replay use is imported by the thread that starts the sender, before
it starts (`_import_sender_modules`, ~0.1 s once per process, at the first Workspace use; `import
tailrun` stays light): the sender never imports, so a fork can never happen while it holds a
module-import lock (the child would wait on that lock forever: a DataLoader forks right after the
first log). Waiting in a before-fork hook for an import in progress is not safe: other libraries'
hooks run first and hold locks (logging's) that the import may need.
"""
from __future__ import annotations

import atexit
import errno
import importlib
import os
import select
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

from ._connection import Batch, Connection
from .wire import EVENT, FLUSH

if TYPE_CHECKING:  # pragma: no cover
    from ._settings import Settings

WAKE_SECONDS = 0.05
# An idle sender backs off to this poll interval (a process that logs nothing costs ~nothing);
# the first item found brings it back to WAKE_SECONDS, and flush() wakes it at once.
IDLE_WAKE_SECONDS = 0.2
MEMORY_BYTES = 16 * 1024 * 1024        # unacked batches kept in memory; the rest is re-read from the spool
MEMORY_ONLY_CAP = 256 * 1024 * 1024    # when the spool cannot be written at all
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


class _Wake:
    """The sender's wake-up, as `threading.Event`'s set/wait/clear over a non-blocking pipe:
    `set()` is one `os.write` and takes no lock, so a signal handler may call it whatever the
    code it interrupted was doing (an Event's `set()` interrupted by a handler that sets the
    same Event deadlocks on the Event's own lock)."""
    __slots__ = ("_r", "_w", "_poll")

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        self._poll = select.poll()   # (not select.select: it refuses descriptors over 1023)
        self._poll.register(self._r, select.POLLIN)

    def set(self) -> None:
        try:
            os.write(self._w, b"\0")
        except OSError as exc:   # a full pipe is woken already; a closed one (after fork) is not ours
            if exc.errno not in (errno.EAGAIN, errno.EBADF):
                raise

    def wait(self, timeout: float) -> bool:
        """True when set (then until `clear()`), False after `timeout` seconds."""
        return bool(self._poll.poll(max(0.0, timeout) * 1000.0))

    def clear(self) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        """Close the pipe (a forked child, of the parent's wake-up it inherited)."""
        for fd in (self._r, self._w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._r = self._w = -1

    def __del__(self) -> None:
        self.close()


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
        self._lock = threading.Lock()   # only starts the thread: the sender and ack reader never take it
        self._wake: _Wake | None = None
        self._reset()
        _live.add(self)
        if exit_hook:   # recorder(settings)'s recorders are drained by drain_at_exit instead
            atexit.register(self._at_exit)

    # ------------------------------------------------------------ state

    def _reset(self) -> None:
        """Fresh per-writer state (at creation and in a forked child)."""
        self.writer = uuid.uuid4().hex
        if self._wake is not None:
            self._wake.close()
        self._wake = _Wake()
        self._stopping = False
        self._backlog_woken = False  # backpressure() has woken the sender since it last woke
        self._encoder: Any = None
        self._header: Callable[[str, int], bytes] | None = None
        self._next_seq = 1
        self._markers: list[tuple[int, _Marker]] = []
        self._conn = Connection(self.writer, self._wake, self._print_once, _inherited_grpc)
        self._exiting = False       # exit drain: deliver (not spool) before the exit deadline
        self._exit_reported = False
        self._lost_batches = 0      # dropped: neither spooled nor kept in memory (counted, reported)
        self._lost_events = 0
        self._lost_points = 0
        self._spool_error: str | None = None   # the last failed spool append (disk full, ...)
        self._tick = time.monotonic()          # the sender loop's last sign of life
        self._resolved = False
        self._spool: Any = None
        self._heartbeat_seconds = 10.0
        self._sender_error: str | None = None

    @property
    def last_error(self) -> str | None:
        return self._sender_error or self._conn.last_error

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
        conn = self._conn
        return RecorderStatus(
            connected=conn.connected, address=conn.address, writer=self.writer,
            last_seq=self._next_seq - 1, acked_seq=conn.acked,
            spooled_bytes=self._spool.bytes if self._spool is not None else 0,
            dropped_batches=self._lost_batches + conn.unreadable,
            last_error=self.last_error)

    def flush(self, timeout: float = 300.0, in_signal_handler: bool = False) -> bool:
        """Wait until everything queued so far is acknowledged by the service, or durably spooled
        (fsync'ed) while the service is unreachable or refuses the token; at exit (see `_at_exit`)
        only an acknowledgement counts, until the exit deadline. False on timeout (the data stays
        queued or spooled) or when the sender thread makes no progress for STALL_SECONDS.
        `in_signal_handler`: take no lock (see the module docstring)."""
        if not in_signal_handler:
            self._check_fork()
        elif os.getpid() != self._pid:
            return True   # the parent's recorder: nothing of this process is in it
        if self._thread is None and not self.queue and not self._conn.busy():
            return True
        if threading.current_thread() is self._thread:
            return False
        if not self._ensure_thread(blocking=not in_signal_handler):
            return False   # (a handler that interrupted the thread's start: the data stays queued)
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
                              f"flush gave up ({self._conn.spool_where()})")
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

    def backpressure(self) -> None:
        """A logging call found more than `run_logging.QUEUE_SOFT_LIMIT` items queued: wake the
        sender now (once until it next wakes) rather than at its next tick, and yield the GIL."""
        if not self._backlog_woken:
            self._backlog_woken = True
            self._wake.set()
        time.sleep(0)

    def _print_once(self, message: str) -> None:
        if message not in self._printed:
            self._printed.add(message)
            try:
                print(f"tailrun: {message}", file=sys.stderr, flush=True)
            except (OSError, ValueError, RuntimeError):   # (RuntimeError: a reentrant print in a handler)
                pass

    # ------------------------------------------------------------ threads, fork, exit

    def _ensure_thread(self, blocking: bool = True) -> bool:
        """Start the sender thread if it is not running; False when `blocking` is off and the
        thread's lock is held (by the code a signal handler interrupted)."""
        if blocking:
            self._check_fork()
        if self._thread is not None and self._thread.is_alive():
            return True
        if blocking:
            _import_sender_modules()   # here, not in the sender: see the module docstring
        if not self._lock.acquire(blocking):
            return False
        try:
            if self._thread is not None and self._thread.is_alive():
                return True
            self._stopping = False
            self._tick = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="tailrun-sender", daemon=True)
            self._thread.start()
            return True
        finally:
            self._lock.release()

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:  # register_at_fork missed it (e.g. a raw fork syscall)
            self._after_fork_child()

    def _after_fork_child(self) -> None:
        was_streaming = self._thread is not None   # (in the child every inherited thread reads as dead)
        self.queue.clear()
        # Keep the parent's grpc objects referenced: the child must never close or use them.
        _parent_leftovers.append((self._conn.stream, self._thread))
        if self._spool is not None:
            self._spool.forget_after_fork()
        self._pid = os.getpid()
        self._thread = None
        self._lock = threading.Lock()
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
        if (self._thread is None and not self.queue and not self._conn.pending
                and not self._lost_batches and not self._conn.unreadable):
            return
        self._exit_reported = True
        deadline = _begin_exit()
        try:
            self.close(max(0.0, deadline - time.monotonic()))
        except RuntimeError:   # cannot start a thread at interpreter shutdown
            pass
        self._report_unsent(_exit_timeout())

    def _begin_exiting(self) -> None:
        """Deliver rather than spool from now on: reconnect at once, and often."""
        self._exiting = self._conn.exiting = True
        self._conn.next_attempt = min(self._conn.next_attempt, time.monotonic())
        self._wake.set()

    def _report_unsent(self, timeout: float) -> None:
        conn = self._conn
        batches = conn.unsent
        spooled = sum(1 for b in batches if b.location is not None)
        in_memory = [b for b in batches if b.location is None and b.events]
        if spooled and conn.address is not None:   # (with no service at all, said at the start)
            why = (f"not sent to {conn.address} (the token was refused, see above)" if conn.refused
                   else f"not sent from this forked process (grpc cannot be used after the fork: "
                        f"{conn.fork_broken}); the parent process uploads them when it exits"
                   if conn.fork_broken
                   else f"the service at {conn.address} did not acknowledge them within {timeout:g} s")
            self._print_once(f"{why}; {_batches(spooled)} of unsent data are in the spool at "
                             f"{self._spool.folder if self._spool is not None else '?'}; "
                             f"upload them with: tailrun sync")
        dropped = self._lost_batches + conn.unreadable
        lost_batches = dropped + len(in_memory)
        if not lost_batches:
            return
        events = self._lost_events + sum(b.events for b in in_memory)
        points = self._lost_points + sum(b.points for b in in_memory)
        why = []
        if dropped:
            why.append(f"{_batches(dropped)} dropped before sending: {self._drop_reason()}")
        if in_memory:
            why.append(f"{_batches(len(in_memory))} held in memory only (the spool could not be written: "
                       f"{self._spool_error}) and not acknowledged within {timeout:g} s")
        self._print_once(f"LOST {_batches(lost_batches)} ({events} events, {points} metric points), "
                         f"not sent and not in the spool: {'; '.join(why)}")

    def _drop_reason(self) -> str:
        reasons = []
        if self._conn.unreadable:
            reasons.append(f"{_batches(self._conn.unreadable)} could not be read back from the spool")
        if self._spool is not None and self._spool.dropped_batches:
            reasons.append(f"the spool reached its cap (TAILRUN_SPOOL_MAX_BYTES={self._spool.max_bytes})")
        if self._spool_error:
            reasons.append(f"the spool could not be written ({self._spool_error}) and the unsent data "
                           f"held in memory reached its cap of {MEMORY_ONLY_CAP >> 20} MiB (the oldest "
                           f"was dropped; every run's start and status kept)")
        return " and ".join(reasons)

    # ------------------------------------------------------------ the sender thread

    def _run(self) -> None:
        from . import _encode

        if self._encoder is None:
            self._encoder = _encode.Encoder(self.writer, on_error=lambda message: self.warnings(message))
            self._header = _encode.request_header
        self._heartbeat_seconds = _env_float(ENV_HEARTBEAT, 10.0)
        errors = 0
        wait = WAKE_SECONDS
        while True:
            self._wake.wait(wait)
            self._wake.clear()
            self._backlog_woken = False
            self._tick = time.monotonic()
            busy = bool(self.queue) or self._conn.busy()
            wait = WAKE_SECONDS if busy else min(IDLE_WAKE_SECONDS, wait * 2)
            try:
                self._step()
                errors = 0
                self._sender_error = None
            except Exception as exc:  # a bug here must never reach the training script
                errors += 1
                self._sender_error = f"sender: {exc!r}"
                if errors == 1:
                    self.warnings(f"internal error in the sender thread (retrying): {exc!r}")
                time.sleep(min(1.0, 0.05 * errors))
            if self._stopping and not self.queue:
                self._finish_acks(time.monotonic() + 2.0)
                self._shutdown()
                return

    def _step(self) -> None:
        self._drain()
        self._send()
        self._heartbeat()
        rejections = self._conn.rejections
        while rejections:
            self.warnings(f"the service refused an event: {rejections.popleft()}")

    def _send(self) -> None:
        """Connect, send and release what is acknowledged; then settle the flush markers."""
        self._conn.step(time.monotonic(), bool(self._markers or self._encoder.active_runs))
        self._settle_markers()

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
            self._send()

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
            address, token, how = resolve_address(settings)
        except Exception as exc:
            address, token, how = None, settings.token, "spool"
            self._conn.last_error = f"cannot find or start the local service: {exc}"
        home = home_dir()
        try:
            self._spool = SpoolWriter(spool_root(home) / self.writer)
            self._spool.set_target(address, token, how in ("local", "started"))
        except (OSError, ValueError) as exc:
            self._spool, self._spool_error = None, str(exc)
            self.warnings(f"cannot write the spool under {spool_root(home)} ({exc}); "
                          f"unsent data is kept in memory only")
        self._conn.target(address, token, settings.ca_file, how, self._spool)
        message = describe(how, address, home, self._spool.folder if self._spool else None)
        if message:
            self._print_once(message.removeprefix("tailrun: "))

    def _commit(self, encoded: Any) -> None:
        """Give the batch the next seq and spool it; a batch dropped here consumes no seq (C1).
        What it carries (events, points, precious) is kept for batches held in memory only."""
        seq = self._next_seq
        data = self._header(self.writer, seq) + encoded.body
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
                    self._lose(encoded.events, encoded.points)
                    self.warnings(f"the spool is full (TAILRUN_SPOOL_MAX_BYTES={self._spool.max_bytes}); "
                                  f"new data is dropped until the service catches up")
                    return
        if location is None:   # held in memory only: bounded by MEMORY_ONLY_CAP
            batch = Batch(seq, data, None, encoded.events, encoded.points, encoded.precious)
            if not self._make_room(len(data), encoded.precious):
                self._lose(encoded.events, encoded.points)
                self.warnings(f"cannot spool and {MEMORY_ONLY_CAP >> 20} MiB of unsent data is already "
                              f"in memory; data is dropped (counted, reported at exit) until the service "
                              f"catches up")
                return
        else:
            batch = Batch(seq, data, location)
            if self._conn.memory + len(data) > MEMORY_BYTES:
                batch.data = None   # re-read from the spool when it is sent
        self._next_seq += 1
        self._conn.add(batch)

    def _make_room(self, nbytes: int, precious: bool) -> bool:
        """Room in memory for an unspooled batch: the oldest unspooled batches without a run's
        start, status or experiment are replaced by empty batches at the same seq (so no seq is
        skipped, C1), until it fits: the newest data and every run's RunStart are kept."""
        conn = self._conn
        if conn.memory + nbytes <= MEMORY_ONLY_CAP:
            return True
        for batch in conn.pending:
            if conn.memory + nbytes <= MEMORY_ONLY_CAP:
                break
            if batch.location is not None or batch.precious or batch.data is None or not batch.events:
                continue
            empty = conn.empty_batch(batch.seq)
            self._lose(batch.events, batch.points)
            conn.memory += len(empty) - batch.nbytes
            batch.nbytes, batch.data, batch.events, batch.points = len(empty), empty, 0, 0
        return precious or conn.memory + nbytes <= MEMORY_ONLY_CAP

    def _lose(self, events: int, points: int) -> None:
        self._lost_batches += 1
        self._lost_events += events
        self._lost_points += points

    def _settle_markers(self) -> None:
        """Set the flush markers whose batches are acknowledged, or all of them when the data can
        only be spooled (after an fsync of the spool)."""
        if not self._markers:
            return
        acked = self._conn.acked
        offline = self._conn.offline()
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
        runs = self._encoder.active_runs
        if not runs or self._stopping or not self._conn.heartbeat_due(self._heartbeat_seconds):
            return
        now, host, pid = time.time(), socket.gethostname(), os.getpid()
        items = [(EVENT, run_id, "heartbeat", {"run_id": run_id, "time": now, "pid": pid, "host": host})
                 for run_id in list(runs)]
        for out in self._encoder.encode(items):
            self._commit(out)

    def _finish_acks(self, deadline: float) -> None:
        """Before stopping: give the acks of batches already sent (say, a heartbeat) a moment."""
        while self._conn.connected and self._conn.busy() and time.monotonic() < deadline:
            self._wake.wait(WAKE_SECONDS)
            self._wake.clear()
            self._send()

    def _shutdown(self) -> None:
        """End of the sender thread (close): close the stream, remove the spool if all is acked."""
        self._conn.close()
        if self._spool is not None and not self._conn.busy():
            self._spool.close(remove=True)
            self._spool, self._resolved = None, False
            self._conn.spool = None


def _batches(n: int) -> str:
    return f"{n} batch" if n == 1 else f"{n} batches"


def _key(settings: Settings) -> tuple[str | None, str | None, str | None]:
    return settings.address, settings.token, settings.ca_file


# Every module the sender thread, its stream, ack reader and spool replay use: imported by the
# thread that starts the sender (see the module docstring; a test checks that a whole session
# imports nothing more).
_SENDER_MODULES = (
    "grpc", "grpc._channel", "grpc._common", "grpc._utilities",
    "json", "queue", "shutil", "secrets", "subprocess", "importlib.util", "fcntl", "zlib", "struct",
    "tailrun._settings", "tailrun._spool", "tailrun._local", "tailrun._channel", "tailrun._upload",
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


def flush_all(timeout: float, in_signal_handler: bool = False) -> bool:
    """Flush every recorder of the process, with one deadline for all of them (a SIGTERM during
    the exit drain - a Pool's terminate() - waits for that drain up to `timeout`).
    `in_signal_handler`: take no lock the interrupted code may hold (see the module docstring)."""
    deadline, ok = time.monotonic() + timeout, True
    for rec in live_recorders():
        ok = rec.flush(max(0.0, deadline - time.monotonic()), in_signal_handler=in_signal_handler) and ok
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
            rec._begin_exiting()
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
        conn = rec._conn
        left = _exit_deadline - time.monotonic()
        if left <= 0 or not conn.replayed or conn.address is None or conn.fork_broken:
            continue
        from ._settings import home_dir
        from ._spool import spool_root
        from ._upload import replay_abandoned
        job = threading.Thread(target=replay_abandoned, name="tailrun-replay", daemon=True,
                               args=(spool_root(home_dir()), rec.writer, conn.address, conn.token,
                                     conn.ca_file, conn.how in ("local", "started")))
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
