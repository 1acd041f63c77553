"""A one-line progress bar on stderr for large file transfers (download, export).

Shown only when stderr is a terminal and the file is at least `MIN_BYTES`; redrawn at most ten
times a second; the file name goes through terminal.safe.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from .terminal import is_terminal, safe

MIN_BYTES = 8 * 1024 * 1024
WIDTH = 24


def progress_for(path: str, size: int, stream: TextIO | None = None) -> Callable[[int], None] | None:
    """A callable taking byte counts that draws the bar, or None when no bar is wanted."""
    stream = stream or sys.stderr
    if size < MIN_BYTES or not is_terminal(stream):
        return None
    return _Bar(path, size, stream)


class _Bar:
    def __init__(self, path: str, size: int, stream: TextIO) -> None:
        self.name, self.size, self.stream = safe(path), size, stream
        self.done = 0
        self.shown = 0.0

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        now = time.monotonic()
        last = self.done >= self.size
        if not last and now - self.shown < 0.1:
            return
        self.shown = now
        fraction = min(1.0, self.done / self.size) if self.size else 1.0
        filled = int(fraction * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        self.stream.write(f"\r{self.name} [{bar}] {self.done / 1e6:.1f}/{self.size / 1e6:.1f} MB "
                          f"{fraction:4.0%}" + ("\n" if last else ""))
        self.stream.flush()
