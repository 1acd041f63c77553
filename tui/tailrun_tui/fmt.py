"""Formatting shared by the screens: times, durations, sizes, statuses (word + glyph + CSS class)."""
from __future__ import annotations

import math
import time
from typing import Callable

from rich.text import Text

from tailrun.cli.terminal import safe, safe_output

Clock = Callable[[], float]

# status -> (glyph, class). The word is always shown next to the colour (NO_COLOR, colour-blind users).
_STATUS = {
    "Running": ("●", "running"), "Starting": ("◐", "running"), "Preparing": ("◐", "running"),
    "Finalizing": ("◐", "running"), "Queued": ("…", "waiting"), "NotStarted": ("…", "waiting"),
    "CancelRequested": ("◌", "waiting"), "Completed": ("✓", "finished"), "Failed": ("✗", "failed"),
    "Canceled": ("⊘", "canceled"), "NotResponding": ("?", "failed"),
}
# Rich styles per class, with theme-independent names so NO_COLOR (handled by Textual) strips them.
STATUS_STYLE = {"running": "bold cyan", "waiting": "yellow", "finished": "green",
                "failed": "bold red", "canceled": "magenta"}
ACTIVE = frozenset({"Running", "Starting", "Preparing", "Finalizing", "Queued", "NotStarted",
                    "CancelRequested"})


def status_glyph(status: str) -> str:
    return _STATUS.get(status, ("·", ""))[0]


def status_class(status: str) -> str:
    return _STATUS.get(status, ("·", "waiting"))[1]


def status_text(status: str) -> str:
    return f"{status_glyph(status)} {status or 'Unknown'}"


def clock_time(ts: float, now: float) -> str:
    """`14:03:21` today, `May 02 14:03` this year, else `2023-05-02`."""
    if not ts:
        return "—"
    t, n = time.localtime(ts), time.localtime(now)
    if t[:3] == n[:3]:
        return time.strftime("%H:%M:%S", t)
    if t.tm_year == n.tm_year:
        return time.strftime("%b %d %H:%M", t)
    return time.strftime("%Y-%m-%d", t)


def full_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "—"


def duration(seconds: float) -> str:
    if seconds < 0 or math.isnan(seconds):
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def run_duration(start: float, end: float, now: float) -> str:
    if not start:
        return "—"
    return duration((end or now) - start)


def ago(ts: float, now: float) -> str:
    if not ts:
        return "never"
    d = now - ts
    if d < 5:
        return "just now"
    return f"{duration(d).split(' ')[0]} ago"


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def number(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e6):
        return f"{v:.3e}"
    return f"{v:.4g}"


# ---------------------------------------------------------------------- user data

def user_text(text: str, style: str = "", **options) -> Text:
    """User data (a run, experiment, metric, tag or file name, a value, an error) for a widget:
    a Text, never markup, so `[bold]` shows as typed; control characters shown escaped (`\\x1b`),
    so no escape sequence reaches the terminal. Every widget gets user data through here."""
    return Text(safe(text), style=style, **options)


def user_plain(text: str) -> str:
    """The same escaping as plain text, for places that take no Text (plot titles, a Log)."""
    return safe(text)


def user_output(text: str) -> str:
    """A run's console for the Output tab (a Log, plain text): lines and tabs kept, escape
    sequences removed (colours included: the Log shows plain text), other controls escaped."""
    return safe_output(text, colour=False)
