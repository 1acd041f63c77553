"""Trials tab of a sweep parent: its trials best first by the primary metric with their
hyperparameters as columns (enter opens one), the primary metric of every trial over steps, and a
scatter of each trial's metric against one hyperparameter at a time (p: the next one).

The order and the columns come from `tailrun.run_tree` (the one place that knows a sweep); live
changes arrive from the run screen's Watch feed (a trial's status and last values, its points).
"""
from __future__ import annotations

import math
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from tailrun.run_tree import Children, ordered_children, sweep_metric
from tailrun.exceptions import NotFound
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import SeriesLoaded
from ..series import Series, last_number
from ..worker_errors import ReportsWorkerErrors
from .child_table import ChildTable
from .metric_plot import PALETTE, MetricPlot

CURVE_POINTS = 200          # per trial: the chart is a third of the screen wide at most
REPLOT_INTERVAL = 0.5


def param_axis(values: list[str]) -> tuple[list[float], list[float], list[str]]:
    """x positions for a hyperparameter's values: the numbers themselves, or (for choices of
    strings) one position per distinct value in sorted order with the values as tick labels."""
    try:
        return [float(v) for v in values], [], []
    except ValueError:
        labels = sorted(set(values))
        return [float(labels.index(v)) for v in values], [float(i) for i in range(len(labels))], labels


class ScatterPlot(PlotextPlot):
    """The primary metric of each finished-or-running trial against one hyperparameter."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.points: list[tuple[str, float]] = []   # (hyperparameter value, metric)
        self.param = ""
        self.metric = ""

    def show(self, metric: str, param: str, points: list[tuple[str, float]]) -> None:
        self.metric, self.param, self.points = metric, param, points
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{metric} vs {param.lstrip('-')}" if param else f"{metric}: no hyperparameters")
        if points:
            xs, ticks, labels = param_axis([v for v, _ in points])
            plt.scatter(xs, [m for _, m in points], color=PALETTE[0][0],
                        marker="•" if fmt.no_color() else "dot")
            if labels:
                plt.xticks(ticks, labels)
                plt.xlim(-0.5, len(labels) - 0.5)
        else:
            plt.text("no trial has a value yet", 0.5, 0.5, alignment="center")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
        self.refresh()


class SweepView(ReportsWorkerErrors, Vertical):
    HELP_TITLE = "Trials"
    DEFAULT_CSS = """
    SweepView { height: 1fr; }
    SweepView #sweep-charts { height: 1fr; min-height: 8; }
    SweepView #trial-curves, SweepView #trial-scatter { width: 1fr; height: 1fr; }
    """
    BINDINGS = [Binding("p", "next_param", "Hyperparameter", id="next-param",
                        tooltip="Scatter the metric against the next hyperparameter")]

    def __init__(self, client: Any, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client = client
        self.parent_run: pb.RunInfo | None = None
        self.children_runs: dict[str, pb.RunInfo] = {}
        self.order: Children | None = None
        self.params: list[str] = []
        self.param_at = 0
        self.started = False
        self.curves: dict[str, Series] = {}    # run id -> the primary metric's series
        self._stale = False                    # live values arrived: re-sort at the next redraw

    def compose(self) -> ComposeResult:
        yield Static("", id="sweep-header", classes="tab-header")
        yield ChildTable(id="trials")
        yield Static("", id="trial-legend", classes="tab-header")
        with Horizontal(id="sweep-charts"):
            yield MetricPlot("", id="trial-curves", classes="metric-plot")
            yield ScatterPlot(id="trial-scatter")

    def on_mount(self) -> None:
        table = self.query_one("#trials", ChildTable)
        table.styles.height, table.styles.max_height = "auto", "45%"   # over the app's `DataTable { 1fr }`

    @property
    def metric(self) -> str:
        return sweep_metric(self.parent_run) if self.parent_run is not None else ""

    # ------------------------------------------------------------------ data

    def set_children(self, parent: pb.RunInfo, children: list[pb.RunInfo]) -> None:
        if self.parent_run is None:   # a sweep after all: live values and curves redraw from now on
            self.set_interval(REPLOT_INTERVAL, self._replot_dirty)
        self.parent_run = parent
        self.children_runs = {c.run_id: c for c in children}
        self._show()
        if self.started:
            self._load_curves([c.run_id for c in children if c.run_id not in self.curves])

    def child_changed(self, child: pb.RunInfo) -> None:
        new = child.run_id not in self.children_runs
        self.children_runs[child.run_id] = child
        self._show()
        if new and self.started:
            self._load_curves([child.run_id])

    def child_points(self, run_id: str, points: pb.MetricPoints) -> None:
        """A trial's live points: its curve grows, its row moves at the next redraw."""
        if points.name != self.metric or run_id not in self.children_runs:
            return
        last = last_number(points)
        if last is not None:
            self.children_runs[run_id].last_metrics[self.metric] = last
            self._stale = True
        series = self.curves.get(run_id)
        if series is not None and series.append(points):
            self.query_one("#trial-curves", MetricPlot).dirty = True

    def start(self) -> None:
        """The tab was shown: fetch every trial's curve (once; live points follow)."""
        if not self.started:
            self.started = True
            self._load_curves(list(self.children_runs))

    def _load_curves(self, run_ids: list[str]) -> None:
        for run_id in run_ids:
            self.curves.setdefault(run_id, Series(run_id, self.metric, CURVE_POINTS))
        self._curves_changed()
        self._fetch(run_ids, self.metric)

    @work(thread=True, group="sweep-curves", exit_on_error=False)
    def _fetch(self, run_ids: list[str], metric: str) -> None:
        for run_id in run_ids:
            try:
                resp, last = self.client.get_plot_series(run_id, metric, CURVE_POINTS)
            except NotFound:
                resp, last = pb.SeriesResponse(), None   # not logged yet: its points come live
            self.post_message(SeriesLoaded(run_id, metric, resp, 0, last))

    def on_series_loaded(self, message: SeriesLoaded) -> None:
        message.stop()
        series = self.curves.get(message.run_id)
        if series is not None:
            series.load(message.series, message.tail, message.last)
            self.query_one("#trial-curves", MetricPlot).dirty = True

    # ------------------------------------------------------------------ display

    def _show(self) -> None:
        if self.parent_run is None:
            return
        self.order = ordered_children(self.parent_run, self.children_runs.values())
        params: list[str] = []
        for child in self.order.children:
            params += [name for name in child.columns if name not in params]
        self.params = params
        self._fill_table()
        self._header()
        self._curves_changed()
        self._scatter()

    def _header(self) -> None:
        order = self.order
        assert order is not None
        done = sum(1 for c in order.children if c.info.status not in fmt.ACTIVE)
        best = next((c for c in order.children if c.metric is not None), None)
        text = f"{len(order.children)} trials, {done} ended · {order.metric_name} ({order.goal})"
        if best is not None:
            text += f" · best {fmt.number(best.metric)} (#{best.info.number} {best.label})"
        self.query_one("#sweep-header", Static).update(fmt.user_text(text))

    def _fill_table(self) -> None:
        order = self.order
        assert order is not None
        table = self.query_one("#trials", ChildTable)
        at = table.cursor_run()
        table.clear(columns=True)
        arrow = "↑" if order.goal == "maximize" else "↓"
        table.add_column("#", key="n")
        table.add_column("Status", key="status")
        table.add_column(fmt.user_text(f"{order.metric_name} {arrow}"), key="metric")
        for name in self.params:
            table.add_column(fmt.user_text(name.lstrip("-")), key=f"hp:{name}")
        for child in order.children:
            table.add_row(str(child.info.number or ""), fmt.status_styled(child.info.status),
                          fmt.number(child.metric) if child.metric is not None else "—",
                          *[fmt.user_text(child.columns.get(name, "—")) for name in self.params],
                          key=child.info.run_id)
        table.keep_cursor_on(at)

    def _curves_changed(self) -> None:
        """The chart's series follow the table's order: the best trial draws in the first colour."""
        plot = self.query_one("#trial-curves", MetricPlot)
        plot.title = f"{self.metric} per trial"
        if self.order is not None:
            plot.series = [(f"#{c.info.number}", self.curves[c.info.run_id])
                           for c in self.order.children if c.info.run_id in self.curves]
            self.query_one("#trial-legend", Static).update(plot.legend())
        plot.dirty = True

    def _scatter(self) -> None:
        order = self.order
        assert order is not None
        param = self.params[self.param_at % len(self.params)] if self.params else ""
        points = [(c.columns[param], c.metric) for c in order.children
                  if c.metric is not None and param in c.columns and math.isfinite(c.metric)]
        self.query_one("#trial-scatter", ScatterPlot).show(order.metric_name, param, points)

    def _replot_dirty(self) -> None:
        if self._stale:
            self._stale = False
            self._show()
        plot = self.query_one("#trial-curves", MetricPlot)
        if plot.dirty and plot.series and all(s.loaded for _, s in plot.series):
            plot.replot()

    def action_next_param(self) -> None:
        if len(self.params) > 1 and self.order is not None:
            self.param_at = (self.param_at + 1) % len(self.params)
            self._scatter()
