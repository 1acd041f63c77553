"""Tee of the process's stdout and stderr at the file-descriptor level.

fd 1 and fd 2 are redirected into pipes (`os.pipe` + `os.dup2`), so output of Python, C extensions
and child processes is all seen. A reader thread copies every byte to the ORIGINAL descriptor first
(what the user sees is unchanged), then hands it to a delivery thread that calls `on_bytes`. The two
are decoupled by a bounded buffer: when `on_bytes` is slow the buffer fills and further bytes are
dropped for capture (counted in `dropped_bytes`), never blocking the user's writes. Errors raised by
`on_bytes` are swallowed and counted (`errors`); they never reach the user's `print`.

One visible difference: while the tee runs, fd 1 and 2 are pipes, so `os.isatty(1)` is False.
"""
from __future__ import annotations

import contextlib
import os
import selectors
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

READ_BYTES = 64 * 1024
MAX_BUFFER_BYTES = 8 * 1024 * 1024
EVENT = 6   # tailrun._recorder.EVENT (kept literal: importing this module stays cheap)


def run_log_sink(recorder: Any, run_id: str, path: str) -> Callable[[bytes], None]:
    """on_bytes that appends console bytes to a run's file as EVENT `file` items (append, offsets)."""
    offset = 0
    append = recorder.queue.append

    def on_bytes(data: bytes) -> None:
        nonlocal offset
        append((EVENT, run_id, "file", {"run_id": run_id, "path": path, "offset": offset,
                                         "data": data, "append": True}))
        offset += len(data)
    return on_bytes


class ConsoleTee:
    """`ConsoleTee(on_bytes)`; also `ConsoleTee(recorder, run_id, path)` for a run's console log."""

    def __init__(self, on_bytes: Any, run_id: str | None = None, path: str = "logs/user_log.txt",
                 fds: tuple[int, ...] = (1, 2), max_buffer: int = MAX_BUFFER_BYTES) -> None:
        self.on_bytes: Callable[[bytes], None] = (
            run_log_sink(on_bytes, run_id, path) if run_id is not None else on_bytes)
        self.fds = fds
        self.max_buffer = max_buffer
        self.errors = 0
        self.dropped_bytes = 0
        self._saved: dict[int, int] = {}      # fd -> duplicate of the original
        self._reads: dict[int, int] = {}      # pipe read end -> original fd duplicate
        self._buffer: deque[bytes] = deque()
        self._buffered = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._reader: threading.Thread | None = None
        self._delivery: threading.Thread | None = None
        self._pid = os.getpid()

    # ------------------------------------------------------------ public

    def start(self) -> None:
        if self._reader is not None:
            raise RuntimeError("the console tee is already running")
        _flush_python_streams()
        try:
            for fd in self.fds:
                saved = os.dup(fd)
                self._saved[fd] = saved
                read_end, write_end = os.pipe()
                os.set_blocking(read_end, False)
                os.dup2(write_end, fd)
                os.close(write_end)
                self._reads[read_end] = saved
        except OSError:
            self._restore()
            raise
        self._stopping = False
        self._reader = threading.Thread(target=self._read_loop, name="tailrun-console", daemon=True)
        self._delivery = threading.Thread(target=self._deliver_loop, name="tailrun-console-out", daemon=True)
        self._reader.start()
        self._delivery.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush Python's streams, give the fds back, drain what is left, join the threads."""
        if self._reader is None:
            return
        _flush_python_streams()
        if os.getpid() != self._pid:   # a forked child: the threads are the parent's
            self._restore()
            self._reader = None
            return
        self._restore_fds()             # ends the pipes' write side (unless a child process keeps it)
        self._stopping = True
        deadline = time.monotonic() + timeout
        self._reader.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._cond.notify_all()
        if self._delivery is not None:
            self._delivery.join(max(0.0, deadline - time.monotonic()))
        for read_end in list(self._reads):
            with contextlib.suppress(OSError):
                os.close(read_end)
        self._reads.clear()
        for saved in self._saved.values():
            with contextlib.suppress(OSError):
                os.close(saved)
        self._saved.clear()
        self._reader = self._delivery = None

    def __enter__(self) -> "ConsoleTee":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ threads

    def _read_loop(self) -> None:
        selector = selectors.DefaultSelector()
        for read_end in self._reads:
            selector.register(read_end, selectors.EVENT_READ)
        open_ends = set(self._reads)
        while open_ends:
            ready = selector.select(timeout=0.05)
            if not ready and self._stopping:
                break   # drained; a child process may still hold the write end, don't wait for it
            for key, _ in ready:
                read_end = key.fd
                try:
                    data = os.read(read_end, READ_BYTES)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(read_end)
                    open_ends.discard(read_end)
                    continue
                _write_all(self._reads[read_end], data)
                self._enqueue(data)
        selector.close()
        with self._cond:
            self._cond.notify_all()

    def _enqueue(self, data: bytes) -> None:
        with self._cond:
            if self._buffered + len(data) > self.max_buffer:
                self.dropped_bytes += len(data)
                return
            self._buffer.append(data)
            self._buffered += len(data)
            self._cond.notify()

    def _deliver_loop(self) -> None:
        while True:
            with self._cond:
                while not self._buffer:
                    if self._stopping and (self._reader is None or not self._reader.is_alive()):
                        return
                    self._cond.wait(0.1)
                chunks = list(self._buffer)
                self._buffer.clear()
                self._buffered = 0
            data = b"".join(chunks)
            try:
                self.on_bytes(data)
            except Exception:  # capture problems never reach the user's print
                self.errors += 1

    # ------------------------------------------------------------ fds

    def _restore_fds(self) -> None:
        for fd, saved in self._saved.items():
            with contextlib.suppress(OSError):
                os.dup2(saved, fd)

    def _restore(self) -> None:
        self._restore_fds()
        for fd in [*self._reads, *self._saved.values()]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reads.clear()
        self._saved.clear()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            time.sleep(0.001)
            continue
        except OSError:   # the original stream is gone (closed terminal, broken pipe)
            return
        view = view[written:]


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
