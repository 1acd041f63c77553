"""One chart (plotext): a metric's series, or one series per run when comparing; the true last
value in the title, raw and smoothed curves, log scale, and a cursor that reads step, value and
time off the chart (←/→, shift for ten points, home/end, a click; esc hides it).

Charts ask the service for at most ~2 points per terminal column (min/max buckets), so a metric of a
million points costs the same as a small one; live points are appended locally and re-bucketed.
"""
from __future__ import annotations

import bisect
import math
from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.reactive import reactive
from textual_plotext import PlotextPlot

from .. import fmt
from ..messages import ChartCursorShown
from ..series import Series, integer_ticks

TAIL_CHOICES = (0, 100, 1_000, 10_000)          # 0 = all points
SMOOTHING_CHOICES = (0.0, 0.6, 0.9, 0.99)
REPLOT_INTERVAL = 0.5
# (plotext colour, the same colour as a Rich style for the legend)
PALETTE = (("cyan", "cyan"), ("orange", "dark_orange"), ("green", "green"), ("magenta", "magenta"),
           ("red", "red"), ("blue", "blue"), ("yellow", "yellow"), ("white", "white"))
# Under NO_COLOR every colour is a grey: each series of a compare gets its own marker instead.
NO_COLOR_MARKERS = ("braille", "•", "+", "x", "o", "*", "#", "%")
RAW_COLOUR = "gray"   # the raw curve under a smoothed one
CURSOR_COLOUR = "white"
SMALL_CHART = 14      # rows: below this the x label ("step") gives its line to the curve


def marker(i: int, count: int) -> str:
    """Braille curves in colour; under NO_COLOR (every colour a grey) each series its own marker."""
    if fmt.no_color() and count > 1:
        return NO_COLOR_MARKERS[i % len(NO_COLOR_MARKERS)]
    return "braille"


def legend(labels: list[str]) -> Text:
    """One line naming each series by its colour and marker, drawn outside the chart (a plotext
    legend sits on the curves)."""
    text = Text()
    for i, label in enumerate(labels):
        mark = marker(i, len(labels))
        glyph = "⣿⣿" if mark == "braille" else mark * 2
        if text:
            text.append("   ")
        text.append(glyph, style="" if fmt.no_color() else PALETTE[i % len(PALETTE)][1])
        text.append(" ")
        text.append(fmt.user_text(label))
    return text


class MetricPlot(PlotextPlot):
    """A chart of one or more series (one per run when comparing). `plot()` stays declarative."""
    HELP_TITLE = "Chart"

    BINDINGS = [
        Binding("left", "cursor(-1)", "Cursor", id="cursor-left",
                tooltip="Move the cursor along the chart: step, value, time (shift: 10 points)"),
        Binding("right", "cursor(1)", "Cursor", show=False, id="cursor-right"),
        Binding("shift+left", "cursor(-10)", "Cursor", show=False, id="cursor-left-10"),
        Binding("shift+right", "cursor(10)", "Cursor", show=False, id="cursor-right-10"),
        Binding("home", "cursor_to(0)", "First point", show=False, id="cursor-first"),
        Binding("end", "cursor_to(-1)", "Last point", show=False, id="cursor-last"),
        Binding("escape", "hide_cursor", "Hide cursor", show=False, id="cursor-hide"),
    ]

    # The view options (a grid binds its charts' to its own) and the cursor: each change redraws.
    smoothing: reactive[float] = reactive(0.0, init=False)
    log_scale: reactive[bool] = reactive(False, init=False)
    cursor_x: reactive[float | None] = reactive(None, init=False)

    def __init__(self, title: str, id: str | None = None, classes: str | None = None,
                 smoothing: float = 0.0, log_scale: bool = False) -> None:
        super().__init__(id=id, classes=classes)
        self.can_focus = True
        self.set_reactive(MetricPlot.smoothing, smoothing)
        self.set_reactive(MetricPlot.log_scale, log_scale)
        self.title = title
        self.series: list[tuple[str, Series]] = []   # (legend label, series)
        self.dirty = True
        self._generation = 0   # bumped by replot(): the cached frame below is stale
        self._frame: tuple[tuple, Any] | None = None
        self._x_range: tuple[float, float] | None = None   # of the drawn points, for the ticks
        self._xlabel = "step"
        self._marked = False   # drawn with the ▸ of the chart the keys go to

    def render(self) -> Any:
        """plotext rebuilds the whole chart on every render (tens of ms for a big one), and Textual
        renders again when a tab is shown: keep the last frame while data, size and theme stay."""
        key = (self._generation, self.size, self.app.theme)
        if self._frame is None or self._frame[0] != key:
            self.plt.xlabel(self._xlabel if self.size.height >= SMALL_CHART else "")
            if self._x_range is not None:
                # Steps are whole numbers: no `161.5` on the axis; about one tick per 12 columns
                # of the width it is drawn at (known here, not when the data changed).
                ticks = integer_ticks(*self._x_range, max(3, self.size.width // 12))
                if ticks:
                    self.plt.xticks(ticks, [f"{t:,}" for t in ticks])
            self._frame = (key, super().render())
        return self._frame[1]

    def _restyle(self, old: object, new: object) -> None:
        if old != new:   # a binding's first sync sets the same value again
            self.replot()

    watch_smoothing = watch_log_scale = _restyle

    def watch_cursor_x(self, old: float | None, new: float | None) -> None:
        if old is None and new is not None:
            self.post_message(ChartCursorShown(self))   # the grid fetches the points' times
        self.replot()

    def marker(self, i: int) -> str:
        return marker(i, len(self.series))

    def legend(self) -> Text:
        return legend([label for label, _ in self.series])

    def replot(self) -> None:
        self._generation += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        loaded = [(i, s) for i, (_, s) in enumerate(self.series) if s.loaded]
        total = sum(s.total for _, s in loaded)
        title = self.title
        if self.cursor_x is not None and loaded:
            title += f"  {self.readout()}"
        elif len(self.series) == 1 and loaded:
            s = loaded[0][1]
            title += f"  last {s.last_label()} · {s.total:,} pts"
            if s.downsampled:
                title += " (min/max)"
        # The focused chart (the one ←/→ and the cursor act on) is marked, in words not colour.
        self._marked = self._chosen()
        plt.title(("▸ " if self._marked else "") + title)
        self._xlabel = "step" if any(s.has_steps for _, s in loaded) else "index"
        drew = False
        lo, hi = math.inf, -math.inf
        for i, s in loaded:
            xs, ys = s.view(0.0, self.log_scale)
            if not xs:
                continue
            if self.smoothing > 0:
                # Both: the raw points dimmed, the smoothed line over them (TensorBoard, W&B).
                plt.plot(xs, ys, color=RAW_COLOUR, marker="braille" if not fmt.no_color() else "·")
                xs, ys = s.view(self.smoothing, self.log_scale)
            plt.plot(xs, ys, color=PALETTE[i % len(PALETTE)][0], marker=self.marker(i))
            lo, hi = min(lo, min(xs)), max(hi, max(xs))
            drew = True
        if self.log_scale and drew:
            plt.yscale("log")
        if drew and self.cursor_x is not None:
            plt.vline(self.cursor_x, color=CURSOR_COLOUR)
        self._x_range = (lo, hi) if drew else None
        if not drew:
            note = "loading…" if len(loaded) < len(self.series) else (
                "no positive values for a log scale" if self.log_scale and total else "no numeric points yet")
            plt.text(note, 0.5, 0.5, alignment="center")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
        self.dirty = False
        self.refresh()

    # ------------------------------------------------------------------ cursor

    def _chosen(self) -> bool:
        """The chart the keys go to: its screen's focused widget (which stays while a dialog
        such as the help covers the screen, so the mark does not flicker)."""
        try:
            return self.screen.focused is self
        except Exception:   # not mounted yet
            return False

    def on_focus(self) -> None:
        if self._chosen() != self._marked:
            self.replot()

    def on_blur(self) -> None:
        self.call_after_refresh(self._blurred)

    def _blurred(self) -> None:
        if self.is_mounted and self._chosen() != self._marked:
            self.replot()

    def _cursor_xs(self) -> list[float]:
        """The x of every drawn point, of every series (the cursor stops on real points)."""
        xs: set[float] = set()
        for _, s in self.series:
            if s.loaded:
                xs.update(s.view(0.0, self.log_scale)[0])
        return sorted(xs)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "hide_cursor":
            return self.cursor_x is not None   # else esc goes on (clear a filter, back)
        return True

    def action_cursor(self, delta: int) -> None:
        xs = self._cursor_xs()
        if not xs:
            return
        if self.cursor_x is None:
            at = len(xs) - 1   # the cursor appears on the newest point
        else:
            at = bisect.bisect_left(xs, self.cursor_x) + delta
        self.cursor_x = xs[max(0, min(len(xs) - 1, at))]

    def action_cursor_to(self, at: int) -> None:
        xs = self._cursor_xs()
        if xs:
            self.cursor_x = xs[at]

    def action_hide_cursor(self) -> None:
        self.cursor_x = None

    def readout(self) -> str:
        """`step 1,200 · 0.4567 · 14:03:21`; in compare, each run's value by its label."""
        x = self.cursor_x
        if x is None:
            return ""
        loaded = [(label, s) for label, s in self.series if s.loaded]
        steps = any(s.has_steps for _, s in loaded)
        parts = [f"step {int(x):,}" if steps else f"#{int(x):,}"]
        when = None
        for label, s in loaded:
            point = s.point_at(x)
            if point is None:
                parts.append(f"{label} —" if len(loaded) > 1 else "—")
                continue
            px, py, pt = point
            value = fmt.number(py) + ("" if px == x else f" (step {int(px):,})" if steps else f" (#{int(px):,})")
            parts.append(f"{label} {value}" if len(loaded) > 1 else value)
            if pt is not None and when is None and px == x:
                when = pt
        if when is not None:
            parts.append(fmt.full_time(when))
        return " · ".join(parts)

    def x_at(self, column: int) -> float | None:
        """The x (step) under a column of the widget: found from the plot frame plotext drew."""
        if self._frame is None or self._x_range is None:
            return None
        rendered = self._frame[1]
        lines = rendered.plain.splitlines() if isinstance(rendered, Text) else []
        top = next((line for line in lines if "┌" in line and "┐" in line), None)
        if top is None:
            return None
        left, right = top.index("┌"), top.rindex("┐")
        if right - left < 3:
            return None
        lo, hi = self._x_range
        frac = min(1.0, max(0.0, (column - left - 1) / (right - left - 2)))
        return lo + frac * (hi - lo)

    def on_click(self, event: events.Click) -> None:
        x = self.x_at(event.x)
        xs = self._cursor_xs()
        if x is None or not xs:
            return
        at = bisect.bisect_left(xs, x)
        near = min((i for i in (at - 1, at) if 0 <= i < len(xs)), key=lambda i: abs(xs[i] - x))
        self.cursor_x = xs[near]
        self.focus()
