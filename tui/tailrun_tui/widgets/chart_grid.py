"""A paged grid of charts, shared by the Metrics and System tabs and by compare.

As many columns and rows as the terminal fits (LEET's grid), PgUp/PgDn through the rest, `/` to
keep only the charts whose name matches, ↑/↓ (j/k) to the chart above or below, ←/→ (or a click)
to read step, value and time off the focused chart, and the all / last N, log and smoothing
switches. Only the page on screen has chart widgets: a run with 500 metrics costs one page.
The owner supplies the series and fetches their data (`fetch`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.reactive import reactive
from textual.widgets import Static

from .. import fmt
from ..messages import ChartCursorShown, FilterChanged
from ..series import Series
from ..worker_errors import ReportsWorkerErrors
from .filter_bar import FilterBar, OpensFilterBar
from .metric_plot import SMOOTHING_CHOICES, TAIL_CHOICES, MetricPlot

MIN_CHART_WIDTH = 56    # below this a chart's ticks and title crowd each other
MIN_CHART_HEIGHT = 9    # title, frame, 4 rows of braille (16 dots), ticks
MAX_GRID = 4            # columns or rows


def grid_shape(width: int, height: int, count: int) -> tuple[int, int]:
    """(columns, rows) of one page: what the size fits, no more than the charts need."""
    cols = max(1, min(MAX_GRID, width // MIN_CHART_WIDTH))
    rows = max(1, min(MAX_GRID, height // MIN_CHART_HEIGHT))
    if 0 < count < cols * rows:
        cols = min(cols, count)
        rows = min(rows, -(-count // cols))
    return cols, rows


@dataclass
class Chart:
    """One chart: a key (the metric's name), its title, and its series (one per run in compare)."""
    key: str
    title: str
    series: list[tuple[str, Series]] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return all(s.loaded for _, s in self.series)


def name_matches(name: str, needle: str) -> bool:
    """Every word of the filter is in the name (case-insensitive): `val loss` finds `val/loss`."""
    low = name.lower()
    return all(word in low for word in needle.lower().split())


class ChartGrid(OpensFilterBar, ReportsWorkerErrors, Vertical):
    HELP_TITLE = "Charts"
    NOUN = "metrics"
    BINDINGS = [
        Binding("a", "cycle_tail", "All/last N", id="tail", tooltip="All points, or only the last N"),
        Binding("l", "toggle_log", "Log scale", id="log", tooltip="Logarithmic y axis"),
        Binding("m", "cycle_smoothing", "Smoothing", id="smooth", tooltip="Exponential smoothing"),
        Binding("slash", "filter", "Filter", key_display="/", id="chart-filter", tooltip="Show only matching charts", priority=True),
        Binding("pagedown", "page(1)", "Next page", show=False, id="page-down", tooltip="Next page of charts"),
        Binding("pageup", "page(-1)", "Prev page", show=False, id="page-up", tooltip="Previous page of charts"),
        Binding("down,j", "move_focus(1)", "Chart below", show=False, id="chart-down",
                tooltip="The chart below (j/↓) or above (k/↑)"),
        Binding("up,k", "move_focus(-1)", "Chart above", show=False, id="chart-up"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="chart-clear"),
    ]

    # The view options (`a`, `m`, `l`); every chart on the page is bound to smoothing and log_scale.
    tail: reactive[int] = reactive(0, init=False)
    smoothing: reactive[float] = reactive(0.0, init=False)
    log_scale: reactive[bool] = reactive(False, init=False)
    empty_note: reactive[str] = reactive("waiting for metrics…", init=False)   # shown while there is no chart

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.can_focus = True
        self.charts: dict[str, Chart] = {}
        self.plots: dict[str, MetricPlot] = {}   # the page on screen
        self.needle = ""
        self.page = 0
        self.with_times = False   # asked for once a cursor is shown
        self.shape = (1, 1)
        self._page_keys: list[str] = []
        self._plan: list[tuple[tuple[int, int], list[str]]] = []

    def compose(self) -> ComposeResult:
        yield Static("", classes="tab-header chart-header")
        yield Static(fmt.user_text(self.empty_note), classes="hint chart-empty")
        yield Grid(classes="chart-grid")
        yield FilterBar("filter charts…", id=f"{self.id or 'charts'}-filter")

    def on_mount(self) -> None:
        from .metric_plot import REPLOT_INTERVAL

        self.set_interval(REPLOT_INTERVAL, self.replot_dirty)
        self.header()

    # ------------------------------------------------------------------ what is shown

    def fetch(self, keys: list[str]) -> None:
        """Override: load these charts' series (and call `series_loaded` as each arrives)."""

    def set_charts(self, charts: list[Chart]) -> None:
        self.charts = {c.key: c for c in charts}
        self.relayout(force=True)

    def add_chart(self, chart: Chart) -> None:
        self.charts[chart.key] = chart
        self.relayout()

    def shown_keys(self) -> list[str]:
        return [k for k in self.charts if name_matches(k, self.needle)] if self.needle else list(self.charts)

    def pages(self) -> int:
        return max(1, len(self._plan))

    def plan(self, keys: list[str], width: int, height: int) -> list[tuple[tuple[int, int], list[str]]]:
        """The pages: (columns, rows) and the charts of each. Override to lay out sections."""
        shape = grid_shape(width, height, len(keys))
        per_page = shape[0] * shape[1]
        return [(shape, keys[i:i + per_page]) for i in range(0, len(keys), per_page)] or [(shape, [])]

    def chart_width(self) -> int:
        width = self.size.width or self.app.size.width
        return max(20, width // self.shape[0])

    def max_points(self) -> int:
        """Two points per column of a chart: each bucket's min and max."""
        return max(60, 2 * self.chart_width())

    def on_resize(self) -> None:
        self.relayout()

    def relayout(self, force: bool = False) -> None:
        """Fit the grid to the size and mount the current page's charts (only when they change)."""
        if not self.is_mounted or not self.size.width or not self.size.height:
            return   # hidden (another tab): the charts are laid out when it is shown again
        width, height = self.size.width, max(1, self.size.height - 1)   # less the header line
        self._plan = self.plan(self.shown_keys(), width, height)
        self.page = max(0, min(self.page, len(self._plan) - 1))
        shape, page_keys = self._plan[self.page]
        grid = self.query_one(".chart-grid", Grid)
        if force or shape != self.shape or page_keys != self._page_keys:
            focused_key = self.focused_key()
            self.shape = shape
            grid.styles.grid_size_columns, grid.styles.grid_size_rows = shape
            self._page_keys = page_keys
            old = list(self.plots.values())
            self.plots = {}
            for key in page_keys:
                self.plots[key] = self._make_plot(self.charts[key])
            with self.app.batch_update():
                for plot in old:
                    plot.remove()
                if self.plots:
                    grid.mount_all(self.plots.values())
            if focused_key is not None or self.has_focus:   # the keys go to a chart on the new page
                target = self.plots.get(focused_key) or next(iter(self.plots.values()), None)
                if target is not None:
                    self.call_after_refresh(self._focus_if_shown, target)
                else:
                    self.focus()
        self.query_one(".chart-empty").display = not self.charts
        grid.display = bool(self.charts)
        self.header()

    def _make_plot(self, chart: Chart) -> MetricPlot:
        plot = MetricPlot(fmt.user_plain(chart.title), classes="metric-plot",
                          smoothing=self.smoothing, log_scale=self.log_scale)
        # data_bind binds to the message pump that runs it: this grid, whoever asked for the page.
        with self._context():
            plot.data_bind(ChartGrid.smoothing, ChartGrid.log_scale)
        plot.series = chart.series
        if chart.loaded:
            plot.replot()
        return plot

    def on_chart_cursor_shown(self, event: ChartCursorShown) -> None:
        event.stop()
        if not self.with_times:
            self.with_times = True
            self.fetch(list(self.charts))   # the same points again, with their times

    def first_plot(self) -> MetricPlot | None:
        return next(iter(self.plots.values()), None)

    def focused_key(self) -> str | None:
        focused = self.app.focused
        return next((k for k, p in self.plots.items() if p is focused), None)

    def watch_empty_note(self, text: str) -> None:
        if self.is_mounted:
            self.query_one(".chart-empty", Static).update(fmt.user_text(text))

    def header(self) -> None:
        if not self.is_mounted:
            return
        count = f"{len(self.charts)} {self.NOUN if len(self.charts) != 1 else self.NOUN.removesuffix('s')}"
        if self.needle:
            count = f"{len(self.shown_keys())} of {count} match /{self.needle}"
        parts = [count]
        if self.pages() > 1:
            parts.append(f"page {self.page + 1}/{self.pages()} (PgUp/PgDn)")
        parts.append("all points" if not self.tail else f"last {self.tail:,}")
        parts.append(f"smoothing {self.smoothing}" if self.smoothing else "no smoothing")
        parts.append("log y" if self.log_scale else "linear y")
        self.query_one(".chart-header", Static).update(fmt.user_text(" · ".join(parts)))

    def mark_dirty(self, key: str) -> None:
        plot = self.plots.get(key)
        if plot is not None:
            plot.dirty = True

    def replot_dirty(self) -> None:
        for plot in self.plots.values():
            if plot.dirty and all(s.loaded for _, s in plot.series):
                plot.replot()

    def page_loaded(self) -> bool:
        """Every chart on the page has its data (a first frame is complete)."""
        return all(self.charts[k].loaded for k in self._page_keys)

    # ------------------------------------------------------------------ actions

    def _focus_if_shown(self, plot: MetricPlot) -> None:
        # Not on a hidden tab: a focused widget brings its tab back to the front.
        if plot.is_mounted and all(node.display for node in plot.ancestors_with_self if hasattr(node, "display")):
            plot.focus()

    def on_focus(self) -> None:
        if self.plots:   # the grid passes the focus on to its first chart (←/→ act on one)
            self.focus_chart()

    def focus_chart(self) -> None:
        """The tab was shown: the first chart on the page takes the keys (else the grid itself)."""
        target = self.plots.get(self.focused_key() or "") or next(iter(self.plots.values()), None)
        (target or self).focus()

    def action_page(self, delta: int) -> None:
        pages = self.pages()
        if pages > 1:
            self.page = (self.page + delta) % pages
            self.relayout()
            if self.plots:
                next(iter(self.plots.values())).focus()

    def action_move_focus(self, rows: int) -> None:
        """To the chart `rows` rows down (up), onto the next (previous) page past the edge."""
        keys = self._page_keys
        if not keys:
            return
        cols = self.shape[0]
        at = keys.index(self.focused_key()) if self.focused_key() in keys else -1
        to = at + rows * cols if at >= 0 else 0
        if 0 <= to < len(keys):
            self.plots[keys[to]].focus()
        elif self.pages() > 1:
            self.action_page(1 if to >= len(keys) else -1)
        elif at < 0 or (0 <= at + rows < len(keys)):
            self.plots[keys[max(0, min(len(keys) - 1, at + rows))]].focus()

    @on(FilterChanged)
    def _filter_changed(self, event: FilterChanged) -> None:
        event.stop()
        self.needle = event.value.strip()
        self.page = 0
        self.relayout()
        if event.final:
            self.focus_chart()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return bool(self.needle)   # else esc goes on to the screen (back)
        return super().check_action(action, parameters)

    def action_clear_filter(self) -> None:
        self.query_one(FilterBar).clear()
        self.needle = ""
        self.relayout()

    def action_cycle_tail(self) -> None:
        self.tail = TAIL_CHOICES[(TAIL_CHOICES.index(self.tail) + 1) % len(TAIL_CHOICES)]

    def action_toggle_log(self) -> None:
        self.log_scale = not self.log_scale

    def action_cycle_smoothing(self) -> None:
        self.smoothing = SMOOTHING_CHOICES[(SMOOTHING_CHOICES.index(self.smoothing) + 1) % len(SMOOTHING_CHOICES)]

    def watch_tail(self) -> None:
        """Other points: every series is fetched again (the charts say `loading…` meanwhile)."""
        for chart in self.charts.values():
            for _, s in chart.series:
                s.loaded = False
        for plot in self.plots.values():
            plot.replot()
        self.header()
        self.fetch(list(self.charts))

    def watch_smoothing(self) -> None:
        self.header()   # the charts follow by their binding

    def watch_log_scale(self) -> None:
        self.header()
