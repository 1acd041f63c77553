"""Compare runs: the chosen metric of each run overlaid with a legend, and the arguments, tags and
properties that differ between them."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.widgets.option_list import Option

from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import SeriesLoaded
from ..series import Series, scalar_values
from ..widgets.metric_plot import SMOOTHING_CHOICES, TAIL_CHOICES, MetricPlot
from ..widgets.run_table import run_label
from .base import LiveScreen


def differing_fields(runs: list[pb.RunInfo]) -> list[tuple[str, list[str]]]:
    """(field, value per run) for every argument, tag and property that is not the same in all runs."""
    def fields(run: pb.RunInfo) -> dict[str, str]:
        out = {f"arg {i}": a for i, a in enumerate(run.arguments)}
        out.update({f"tag {k}": v for k, v in run.tags.items()})
        out.update({f"prop {k}": v for k, v in run.properties.items()})
        out["script"] = run.script
        out["status"] = run.status
        return out

    per_run = [fields(r) for r in runs]
    keys = sorted({k for f in per_run for k in f})
    rows = []
    for key in keys:
        values = [f.get(key, "—") for f in per_run]
        if len(set(values)) > 1:
            rows.append((key, values))
    return rows


@dataclass
class RunsFetched(Message):
    runs: list[pb.RunInfo]


class CompareScreen(LiveScreen):
    HELP_TITLE = "Compare"
    BINDINGS = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the runs"),
        Binding("a", "cycle_tail", "All/last N", id="tail", tooltip="All points, or only the last N"),
        Binding("l", "toggle_log", "Log scale", id="log", tooltip="Logarithmic y axis"),
        Binding("m", "cycle_smoothing", "Smoothing", id="smooth", tooltip="Exponential smoothing"),
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.runs: list[pb.RunInfo] = []
        self.metric: str | None = None
        self.series: dict[str, Series] = {}
        self.tail = 0

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with Horizontal(id="compare-top"):
            yield OptionList(id="compare-metrics", classes="side-list")
            with Vertical(id="compare-chart"):
                yield Static("", id="compare-legend")
                yield MetricPlot("", id="compare-plot")
        yield Static("Differences", classes="section")
        yield DataTable(id="compare-diff", zebra_stripes=True)
        yield Footer()

    def crumb(self) -> str:
        view = f" · last {self.tail:,} points" if self.tail else ""
        return f"compare {len(self.run_ids)} runs" + (f" › {self.metric}{view}" if self.metric else "")

    def on_mount(self) -> None:
        super().on_mount()
        self.action_reload()
        self.set_interval(0.5, self._replot)

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="compare-runs", exit_on_error=False)
    def load(self) -> None:
        self.post_message(RunsFetched([self.client.get_run(r) for r in self.run_ids]))

    def on_runs_fetched(self, message: RunsFetched) -> None:
        self.clear_problem()
        first = not self.runs
        self.runs = message.runs
        names: dict[str, int] = {}
        for run in self.runs:
            for name in run.last_metrics:
                names[name] = names.get(name, 0) + 1
        # Metrics every run has come first.
        ordered = sorted(names, key=lambda n: (-names[n], n))
        options = self.query_one("#compare-metrics", OptionList)
        options.clear_options()
        options.add_options([Option(fmt.user_text(n), id=n) for n in ordered])
        self._fill_diff()
        if ordered and (self.metric not in ordered):
            self._choose(ordered[0])
        elif self.metric:
            self._choose(self.metric)
        if not ordered:
            plot = self.query_one("#compare-plot", MetricPlot)
            plot.title = "these runs have no scalar metrics"
            plot.replot()
        if first:
            experiments = {r.experiment for r in self.runs}
            if len(experiments) == 1:
                self.follow(experiment=experiments.pop(), kinds=["metrics"])

    def _fill_diff(self) -> None:
        table = self.query_one("#compare-diff", DataTable)
        table.clear(columns=True)
        rows = differing_fields(self.runs) or [
            ("(no differences in arguments, tags or properties)", [""] * len(self.runs))]
        # Explicit widths: auto-sizing races with the first layout and cuts the column short.
        rows = [(fmt.user_plain(k), [fmt.user_plain(v) for v in values]) for k, values in rows]
        table.add_column("field", width=max(len("field"), *(len(k) for k, _ in rows)))
        for i, run in enumerate(self.runs):
            title = fmt.user_plain(f"#{run.number} {run_label(run)}")[:24]
            width = max(len(title), *(len(v[i][:40]) for _, v in rows))
            table.add_column(Text(title), width=width)
        for key, values in rows:
            table.add_row(Text(key), *[Text(v[:40]) for v in values])

    @on(OptionList.OptionSelected, "#compare-metrics")
    @on(OptionList.OptionHighlighted, "#compare-metrics")
    def _pick(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.metric:
            self._choose(event.option.id)

    def _choose(self, name: str) -> None:
        self.metric = name
        plot = self.query_one("#compare-plot", MetricPlot)
        width = plot.size.width or self.app.size.width
        self.series = {r.run_id: Series(r.run_id, name, max_points=max(60, 2 * width)) for r in self.runs}
        plot.title = fmt.user_plain(name)
        plot.series = [(fmt.user_plain(f"#{r.number} {run_label(r)}")[:20], self.series[r.run_id]) for r in self.runs]
        self.query_one("#compare-legend", Static).update(plot.legend())
        plot.replot()
        self.refresh_status()
        self._fetch(name, max(60, 2 * width), self.tail)

    @work(thread=True, exclusive=True, group="compare-series", exit_on_error=False)
    def _fetch(self, name: str, max_points: int, tail: int) -> None:
        for run in self.runs:
            if name in run.last_metrics:
                resp, last = self.client.get_plot_series(run.run_id, name, max_points, tail=tail)
                self.post_message(SeriesLoaded(run.run_id, name, resp, tail, last))
            else:
                self.post_message(SeriesLoaded(run.run_id, name, pb.SeriesResponse(run_id=run.run_id, name=name), tail))

    def on_series_loaded(self, message: SeriesLoaded) -> None:
        if message.name != self.metric or message.run_id not in self.series or message.tail != self.tail:
            return
        self.series[message.run_id].load(message.series, message.tail, message.last)
        self.query_one("#compare-plot", MetricPlot).dirty = True

    def apply_events(self, events: list[pb.WatchEvent]) -> None:
        for event in events:
            if event.WhichOneof("kind") == "metrics" and event.metrics.name == self.metric:
                series = self.series.get(event.metrics.run_id)
                if series is not None and series.loaded and scalar_values(event.metrics):
                    if series.append(event.metrics):
                        self.query_one("#compare-plot", MetricPlot).dirty = True

    def _replot(self) -> None:
        plot = self.query_one("#compare-plot", MetricPlot)
        if plot.dirty:
            plot.replot()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_cycle_tail(self) -> None:
        self.tail = TAIL_CHOICES[(TAIL_CHOICES.index(self.tail) + 1) % len(TAIL_CHOICES)]
        if self.metric:
            self._choose(self.metric)   # fetch again: the last N of each run
        self.refresh_status()

    def action_toggle_log(self) -> None:
        plot = self.query_one("#compare-plot", MetricPlot)
        plot.log_scale = not plot.log_scale
        plot.replot()

    def action_cycle_smoothing(self) -> None:
        plot = self.query_one("#compare-plot", MetricPlot)
        plot.smoothing = SMOOTHING_CHOICES[(SMOOTHING_CHOICES.index(plot.smoothing) + 1) % len(SMOOTHING_CHOICES)]
        plot.replot()
