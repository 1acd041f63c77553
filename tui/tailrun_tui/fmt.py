"""Formatting shared by the screens: times, durations, sizes, statuses (word + glyph + CSS class)."""
from __future__ import annotations

import math
import os
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
# NO_COLOR turns colours into greys by luminance: red on the dark background all but vanishes, so
# there the words are set apart by weight and underline instead.
NO_COLOR_STYLE = {"running": "bold", "waiting": "", "finished": "", "failed": "bold underline",
                  "canceled": "italic"}
ACTIVE = frozenset({"Running", "Starting", "Preparing", "Finalizing", "Queued", "NotStarted",
                    "CancelRequested"})


def status_glyph(status: str) -> str:
    return _STATUS.get(status, ("·", ""))[0]


def status_class(status: str) -> str:
    return _STATUS.get(status, ("·", "waiting"))[1]


def status_text(status: str) -> str:
    return f"{status_glyph(status)} {status or 'Unknown'}"


def no_color() -> bool:
    return "NO_COLOR" in os.environ


def status_style(status: str) -> str:
    styles = NO_COLOR_STYLE if no_color() else STATUS_STYLE
    return styles.get(status_class(status), "")


def status_styled(status: str) -> Text:
    """The status word with its glyph, styled so that it reads with and without colour."""
    return Text(status_text(status), style=status_style(status))


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


def short_size(n: int) -> str:
    """At most 5 cells (`134B`, `1.1K`, `64K`, `1.2M`): sizes in a narrow file tree stay whole."""
    value = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1000 or unit == "T":
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.1f}{unit}" if value < 9.95 else f"{value:.0f}{unit}"
        value /= 1024
    return f"{n}B"


def number(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e6):
        return f"{v:.3e}"
    return f"{v:.4g}"


def numbers(values: list[float | None]) -> list[str]:
    """One column of numbers in one notation: `0.00125` next to `7.500e-04` reads as two kinds of
    value. Plain decimals (4 significant digits) while every value reads well that way, else all
    in e-notation; whole numbers stay whole, a missing value is `—`."""
    def missing(v: float | None) -> bool:
        return v is None or math.isnan(v)

    def whole(v: float) -> bool:
        return float(v).is_integer() and abs(v) < 1e15

    if all(missing(v) or math.isinf(v) or whole(v) or 1e-4 <= abs(v) < 1e4 for v in values):
        return ["—" if missing(v) else str(int(v)) if whole(v) else f"{v:.4g}" for v in values]
    return ["—" if missing(v) else str(int(v)) if whole(v) else f"{v:.3e}" for v in values]


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
