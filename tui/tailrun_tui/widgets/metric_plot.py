"""Metrics tab: one plotext chart per scalar metric, live, with all / last N, log scale and smoothing.

Charts ask the service for at most ~2 points per terminal column (min/max buckets), so a metric of a
million points costs the same as a small one; live points are appended locally and re-bucketed.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..client import TrackerClient
from ..messages import SeriesLoaded
from ..series import Series, integer_ticks
from ..workers import ReportsWorkerErrors

TAIL_CHOICES = (0, 100, 1_000, 10_000)          # 0 = all points
SMOOTHING_CHOICES = (0.0, 0.6, 0.9, 0.99)
REPLOT_INTERVAL = 0.5
# (plotext colour, the same colour as a Rich style for the legend)
PALETTE = (("cyan", "cyan"), ("orange", "dark_orange"), ("green", "green"), ("magenta", "magenta"),
           ("red", "red"), ("blue", "blue"), ("yellow", "yellow"), ("white", "white"))
# Under NO_COLOR every colour is a grey: each series of a compare gets its own marker instead.
NO_COLOR_MARKERS = ("braille", "•", "+", "x", "o", "*", "#", "%")
RAW_COLOUR = "gray"   # the raw curve under a smoothed one


class MetricPlot(PlotextPlot):
    """A chart of one or more series (one per run when comparing). `plot()` stays declarative."""

    def __init__(self, title: str, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.series: list[tuple[str, Series]] = []   # (legend label, series)
        self.smoothing = 0.0
        self.log_scale = False
        self.dirty = True
        self._generation = 0   # bumped by replot(): the cached frame below is stale
        self._frame: tuple[tuple, Any] | None = None
        self._x_range: tuple[float, float] | None = None   # of the drawn points, for the ticks

    def render(self) -> Any:
        """plotext rebuilds the whole chart on every render (tens of ms for a big one), and Textual
        renders again when a tab is shown: keep the last frame while data, size and theme stay."""
        key = (self._generation, self.size, self.app.theme)
        if self._frame is None or self._frame[0] != key:
            if self._x_range is not None:
                # Steps are whole numbers: no `161.5` on the axis; about one tick per 12 columns
                # of the width it is drawn at (known here, not when the data changed).
                ticks = integer_ticks(*self._x_range, max(3, self.size.width // 12))
                if ticks:
                    self.plt.xticks(ticks, [f"{t:,}" for t in ticks])
            self._frame = (key, super().render())
        return self._frame[1]

    def marker(self, i: int) -> str:
        if fmt.no_color() and len(self.series) > 1:
            return NO_COLOR_MARKERS[i % len(NO_COLOR_MARKERS)]
        return "braille"

    def legend(self) -> Text:
        """One line naming each series by its colour and marker, drawn outside the chart (a
        plotext legend sits on the curves)."""
        text = Text()
        for i, (label, _) in enumerate(self.series):
            marker = self.marker(i)
            glyph = "⣿⣿" if marker == "braille" else marker * 2
            if text:
                text.append("   ")
            text.append(glyph, style="" if fmt.no_color() else PALETTE[i % len(PALETTE)][1])
            text.append(" ")
            text.append(fmt.user_text(label))
        return text

    def replot(self) -> None:
        self._generation += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        loaded = [(i, s) for i, (_, s) in enumerate(self.series) if s.loaded]
        total = sum(s.total for _, s in loaded)
        title = self.title
        if len(self.series) == 1 and loaded:
            s = loaded[0][1]
            title += f"  last {s.last_label()} · {s.total:,} pts"
            if s.downsampled:
                title += " (min/max)"
        plt.title(title)
        plt.xlabel("step" if any(s.has_steps for _, s in loaded) else "index")
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
        self._x_range = (lo, hi) if drew else None
        if not drew:
            note = "loading…" if len(loaded) < len(self.series) else (
                "no positive values for a log scale" if self.log_scale and total else "no numeric points yet")
            plt.text(note, 0.5, 0.5, alignment="center")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
        self.dirty = False
        self.refresh()


class MetricsView(ReportsWorkerErrors, VerticalScroll):
    """The Metrics tab of a run."""
    HELP_TITLE = "Metrics tab"

    BINDINGS = [
        Binding("a", "cycle_tail", "All/last N", id="tail", tooltip="All points, or only the last N"),
        Binding("l", "toggle_log", "Log scale", id="log", tooltip="Logarithmic y axis"),
        Binding("m", "cycle_smoothing", "Smoothing", id="smooth", tooltip="Exponential smoothing"),
    ]

    def __init__(self, run_id: str, client: TrackerClient, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run_id = run_id
        self.client = client
        self.series: dict[str, Series] = {}
        self.plots: dict[str, MetricPlot] = {}
        self.tail = 0
        self.smoothing = 0.0
        self.log_scale = False
        self.started = False
        self.active = False
        self.on_first_frame: list[Callable[[], None]] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="metrics-header", classes="tab-header")
        yield Static("waiting for metrics…", id="metrics-empty", classes="hint")
        yield Grid(id="metrics-grid")

    def on_mount(self) -> None:
        self.set_interval(REPLOT_INTERVAL, self._replot_dirty)
        self._header()

    def _header(self) -> None:
        tail = "all points" if not self.tail else f"last {self.tail:,}"
        smooth = f"smoothing {self.smoothing}" if self.smoothing else "no smoothing"
        scale = "log y" if self.log_scale else "linear y"
        self.query_one("#metrics-header", Static).update(
            f"{len(self.series)} metrics · {tail} · {smooth} · {scale}    a: all/last N  l: log  m: smooth")

    def max_points(self) -> int:
        width = self.size.width or self.app.size.width
        cols = 2 if width >= 120 else 1
        return max(60, 2 * (width // cols))

    def start(self, names: list[str]) -> None:
        """First display: create a chart per metric and fetch them all."""
        if self.started:
            return
        self.started = True
        for name in names:
            self._add_metric(name)
        self._fetch(list(self.series))
        if not names:   # nothing to fetch: the "no metrics" note is the complete frame
            callbacks, self.on_first_frame = self.on_first_frame, []
            for cb in callbacks:
                self.call_after_refresh(cb)

    def _add_metric(self, name: str) -> None:
        if name in self.series:
            return
        series = Series(self.run_id, name, max_points=self.max_points())
        self.series[name] = series
        plot = MetricPlot(fmt.user_plain(name), classes="metric-plot")
        plot.series = [(fmt.user_plain(name), series)]
        plot.smoothing, plot.log_scale = self.smoothing, self.log_scale
        self.plots[name] = plot
        self.query_one("#metrics-grid", Grid).mount(plot)
        self.query_one("#metrics-empty").display = False
        self._layout()
        self._header()

    def _layout(self) -> None:
        grid = self.query_one("#metrics-grid", Grid)
        wide = (self.size.width or self.app.size.width) >= 120 and len(self.plots) > 1
        grid.styles.grid_size_columns = 2 if wide else 1
        grid.set_class(len(self.plots) == 1, "-single")

    def on_resize(self) -> None:
        self._layout()

    def set_empty_note(self, text: str) -> None:
        if not self.series:
            self.query_one("#metrics-empty", Static).update(fmt.user_text(text))

    @work(thread=True, exclusive=True, group="series", exit_on_error=False)
    def _fetch(self, names: list[str]) -> None:
        if not names:
            return
        max_points, tail = self.max_points(), self.tail

        def one(name: str) -> None:
            resp, last = self.client.get_plot_series(self.run_id, name, max_points, tail=tail)
            self.post_message(SeriesLoaded(self.run_id, name, resp, tail, last))

        # A few at once: the service answers each from per-chunk min/max, so they are cheap.
        with ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(one, n) for n in names]:
                future.result()

    def on_series_loaded(self, message: SeriesLoaded) -> None:
        message.stop()
        series = self.series.get(message.name)
        if series is None or message.tail != self.tail:
            return
        series.load(message.series, message.tail, message.last)
        self.plots[message.name].dirty = True
        if self.on_first_frame and self._visible_loaded():
            self._replot_dirty()
            callbacks, self.on_first_frame = self.on_first_frame, []
            for cb in callbacks:
                self.call_after_refresh(cb)

    def _visible_loaded(self) -> bool:
        """Every chart on screen has its data (the first frame is complete; others may still load)."""
        laid_out = [p for p in self.plots.values() if p.region.height]
        if not laid_out:
            return all(s.loaded for s in self.series.values())
        visible = [p for p in laid_out if p.region.overlaps(self.region)]
        return all(p.series[0][1].loaded for p in visible)

    def add_points(self, points: pb.MetricPoints) -> None:
        if points.name not in self.series:
            if not self.started:
                return
            self._add_metric(points.name)
            self._fetch([points.name])
            return
        series = self.series[points.name]
        if not series.loaded:
            return
        if series.append(points):
            self.plots[points.name].dirty = True
        elif series.needs_reload:
            series.needs_reload = False
            self._fetch([points.name])

    def _replot_dirty(self) -> None:
        for plot in self.plots.values():
            if plot.dirty and plot.series and plot.series[0][1].loaded:
                plot.replot()

    # ------------------------------------------------------------------ actions

    def action_cycle_tail(self) -> None:
        self.tail = TAIL_CHOICES[(TAIL_CHOICES.index(self.tail) + 1) % len(TAIL_CHOICES)]
        for s in self.series.values():
            s.loaded = False
        for plot in self.plots.values():
            plot.replot()
        self._header()
        self._fetch(list(self.series))

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self._restyle()

    def action_cycle_smoothing(self) -> None:
        self.smoothing = SMOOTHING_CHOICES[(SMOOTHING_CHOICES.index(self.smoothing) + 1) % len(SMOOTHING_CHOICES)]
        self._restyle()

    def _restyle(self) -> None:
        for plot in self.plots.values():
            plot.smoothing, plot.log_scale = self.smoothing, self.log_scale
            plot.replot()
        self._header()
