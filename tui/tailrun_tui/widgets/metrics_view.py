"""Metrics tab: a chart per scalar metric of the run, in the paged grid, live from Watch."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from textual import work

from tailrun.client import Client
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import SeriesLoaded
from ..series import Series
from .chart_grid import Chart, ChartGrid
from .run_tab import RunTab


class MetricsView(RunTab, ChartGrid):
    """The Metrics tab of a run: one chart per metric name."""
    HELP_TITLE = "Metrics tab"
    EMPTY_NOTES = ("waiting for metrics…", "This run logged no scalar metrics.")   # run active, ended

    def __init__(self, run_id: str, client: Client, id: str | None = None) -> None:
        super().__init__(run_id, client, id=id)
        self.series: dict[str, Series] = {}
        self.on_first_frame: list[Callable[[], None]] = []

    def watch_run_active(self, active: bool) -> None:
        self.empty_note = self.EMPTY_NOTES[0 if active else 1]

    def title_of(self, name: str) -> str:
        return name

    def names_of(self, run: pb.RunInfo) -> list[str]:
        """The charts, in order, of the run as first loaded (more come live)."""
        return sorted(run.last_metrics)

    def start(self, run: pb.RunInfo) -> None:
        """First display: create a chart per metric and fetch them all."""
        names = self.names_of(run)
        charts = [self._chart(name) for name in names]
        self.set_charts(charts)
        self.fetch([c.key for c in charts])
        if not names:   # nothing to fetch: the "no metrics" note is the complete frame
            self._first_frame()

    def take_focus(self) -> bool:
        self.focus_chart()   # its first chart: ←/→ move that chart's cursor
        return True

    def _chart(self, name: str) -> Chart:
        series = Series(self.run_id, name, max_points=self.max_points())
        self.series[name] = series
        return Chart(name, self.title_of(name), [(fmt.user_plain(name), series)])

    def add_metric(self, name: str) -> None:
        if name not in self.series:
            self.add_chart(self._chart(name))
            self.fetch([name])

    def _first_frame(self) -> None:
        callbacks, self.on_first_frame = self.on_first_frame, []
        for cb in callbacks:
            self.call_after_refresh(cb)

    def fetch(self, keys: list[str]) -> None:
        if keys:
            self._fetch(keys, self.max_points(), self.tail, self.with_times)

    @work(thread=True, group="series", exit_on_error=False)
    def _fetch(self, names: list[str], max_points: int, tail: int, with_times: bool) -> None:
        def one(name: str) -> None:
            resp, last = self.client.get_plot_series(self.run_id, name, max_points, tail=tail,
                                                     with_times=with_times)
            self.post_message(SeriesLoaded(self.run_id, name, resp, tail, last))

        # The page on screen first, a few at once: the service answers each from per-chunk
        # min/max, so they are cheap.
        shown = set(self._page_keys)
        names = sorted(names, key=lambda n: n not in shown)
        with ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(one, n) for n in names]:
                future.result()

    def on_series_loaded(self, message: SeriesLoaded) -> None:
        message.stop()
        series = self.series.get(message.name)
        if series is None or message.tail != self.tail:
            return
        series.load(message.series, message.tail, message.last)
        self.mark_dirty(message.name)
        if self.on_first_frame and self.page_loaded():
            self.replot_dirty()
            self._first_frame()

    def add_points(self, points: pb.MetricPoints) -> None:
        if points.name not in self.series:
            if self.started:
                self.add_metric(points.name)
            return
        series = self.series[points.name]
        if not series.loaded:
            return
        if series.append(points):
            self.mark_dirty(points.name)
        elif series.needs_reload:
            series.needs_reload = False
            self.fetch([points.name])
