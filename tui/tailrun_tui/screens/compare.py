"""Compare runs (of one experiment or several): the chosen metrics in a grid, each chart overlaying
every run's curve under one legend, and the arguments, tags and properties that differ."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, OptionList, Static
from textual.widgets.option_list import Option

from tailrun.client import Client
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import ComparedRunsLoaded, SeriesLoaded
from ..series import Series, scalar_values
from ..widgets.chart_grid import Chart, ChartGrid
from ..widgets.metric_plot import legend
from ..widgets.run_table import run_label
from .live_screen import LiveScreen


def differing_fields(runs: list[pb.RunInfo]) -> list[tuple[str, list[str]]]:
    """(field, value per run) for every argument, tag and property that is not the same in all runs."""
    def fields(run: pb.RunInfo) -> dict[str, str]:
        out = {f"arg {i}": a for i, a in enumerate(run.arguments)}
        out.update({f"tag {k}": v for k, v in run.tags.items()})
        out.update({f"prop {k}": v for k, v in run.properties.items()})
        out["experiment"] = run.experiment
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


def series_label(run: pb.RunInfo, several_experiments: bool) -> str:
    """`#3 big-lr`, or `mnist/#3 big-lr` when the runs come from several experiments."""
    label = f"#{run.number} {run_label(run)}"
    return fmt.user_plain(f"{run.experiment}/{label}" if several_experiments else label)[:28]


class CompareGrid(ChartGrid):
    """The compared metrics, one chart each, a series per run."""
    HELP_TITLE = "Compare charts"

    def __init__(self, client: Client, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client = client
        self.runs: list[pb.RunInfo] = []

    def fetch(self, keys: list[str]) -> None:
        jobs = [(run.run_id, key, key in run.last_metrics) for key in keys for run in self.runs]
        if jobs:
            self._fetch(jobs, self.max_points(), self.tail, self.with_times)

    @work(thread=True, group="compare-series", exit_on_error=False)
    def _fetch(self, jobs: list[tuple[str, str, bool]], max_points: int, tail: int, with_times: bool) -> None:
        for run_id, name, has in jobs:
            if has:
                resp, last = self.client.get_plot_series(run_id, name, max_points, tail=tail, with_times=with_times)
                self.post_message(SeriesLoaded(run_id, name, resp, tail, last))
            else:   # this run never logged it: an empty series, so the chart does not wait for it
                self.post_message(SeriesLoaded(run_id, name, pb.SeriesResponse(run_id=run_id, name=name), tail))

    def on_series_loaded(self, message: SeriesLoaded) -> None:
        message.stop()
        chart = self.charts.get(message.name)
        if chart is None or message.tail != self.tail:
            return
        for (_, series), run in zip(chart.series, self.runs):
            if run.run_id == message.run_id:
                series.load(message.series, message.tail, message.last)
        self.mark_dirty(message.name)


class CompareScreen(LiveScreen):
    HELP_TITLE = "Compare"
    BINDINGS = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the runs"),
        Binding("space", "toggle_metric", "Chart", id="compare-toggle",
                tooltip="Add or remove the highlighted metric's chart (several at once, in a grid)"),
        # The charts' switches work from the metric list too.
        Binding("a", "grid('cycle_tail')", "All/last N", id="tail", tooltip="All points, or only the last N"),
        Binding("l", "grid('toggle_log')", "Log scale", id="log", tooltip="Logarithmic y axis"),
        Binding("m", "grid('cycle_smoothing')", "Smoothing", id="smooth", tooltip="Exponential smoothing"),
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.runs: list[pb.RunInfo] = []
        self.chosen: list[str] = []          # metrics marked with space (shown together)
        self.highlighted: str | None = None  # shown alone while nothing is marked
        self.names: list[str] = []

    @property
    def tail(self) -> int:
        return self.query_one(CompareGrid).tail

    @property
    def metric(self) -> str | None:
        shown = self.shown_metrics()
        return shown[0] if shown else None

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        with Horizontal(id="compare-top"):
            yield OptionList(id="compare-metrics", classes="side-list")
            with Vertical(id="compare-chart"):
                yield Static("", id="compare-legend")
                yield CompareGrid(self.client, id="compare-grid")
        yield Static("Differences", classes="section", id="compare-diff-title")
        yield DataTable(id="compare-diff", zebra_stripes=True)
        yield Footer()

    def crumb(self) -> str:
        grid = self.query_one(CompareGrid)
        view = f" · last {grid.tail:,} points" if grid.tail else ""
        shown = self.shown_metrics()
        what = shown[0] if len(shown) == 1 else f"{len(shown)} metrics" if shown else ""
        experiments = {r.experiment for r in self.runs}
        where = f" from {len(experiments)} experiments" if len(experiments) > 1 else ""
        return f"compare {len(self.run_ids)} runs{where}" + (f" › {what}{view}" if what else "")

    def on_mount(self) -> None:
        super().on_mount()
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="compare-runs", exit_on_error=False)
    def load(self) -> None:
        self.post_message(ComparedRunsLoaded([self.client.get_run(r) for r in self.run_ids]))

    def shown_metrics(self) -> list[str]:
        if self.chosen:
            return list(self.chosen)
        return [self.highlighted] if self.highlighted else []

    def _prompt(self, name: str) -> Text:
        text = Text("[x] " if name in self.chosen else "[ ] ", style="bold")
        return text.append_text(fmt.user_text(name))

    def on_compared_runs_loaded(self, message: ComparedRunsLoaded) -> None:
        self.clear_problem()
        first = not self.runs
        self.runs = message.runs
        counts: dict[str, int] = {}
        for run in self.runs:
            for name in run.last_metrics:
                counts[name] = counts.get(name, 0) + 1
        # Metrics every run has come first.
        self.names = sorted(counts, key=lambda n: (-counts[n], n))
        self.chosen = [n for n in self.chosen if n in counts]
        options = self.query_one("#compare-metrics", OptionList)
        options.clear_options()
        options.add_options([Option(self._prompt(n), id=n) for n in self.names])
        self._fill_diff()
        grid = self.query_one(CompareGrid)
        grid.runs = self.runs
        several = len({r.experiment for r in self.runs}) > 1
        self.query_one("#compare-legend", Static).update(legend([series_label(r, several) for r in self.runs]))
        if self.highlighted not in counts:
            self.highlighted = self.names[0] if self.names else None
        if self.highlighted:
            options.highlighted = self.names.index(self.highlighted)
        grid.empty_note = "these runs have no scalar metrics" if not self.names else "loading…"
        self._show()
        if first:
            experiments = {r.experiment for r in self.runs}
            # Runs of several experiments: every metrics event, kept for these runs (Watch takes
            # one experiment or one run).
            self.follow(**({"experiment": experiments.pop()} if len(experiments) == 1 else {}), kinds=["metrics"])

    def _show(self) -> None:
        """The grid shows the chosen metrics (or the highlighted one), a series per run."""
        grid = self.query_one(CompareGrid)
        several = len({r.experiment for r in self.runs}) > 1
        shown = self.shown_metrics()
        keep = {k: c for k, c in grid.charts.items() if k in shown}
        charts = []
        for name in shown:
            chart = keep.get(name) or Chart(name, name, [
                (series_label(r, several), Series(r.run_id, name, max_points=grid.max_points())) for r in self.runs])
            charts.append(chart)
        grid.set_charts(charts)
        grid.fetch([c.key for c in charts if c.key not in keep])
        self.refresh_status()

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

    @on(OptionList.OptionHighlighted, "#compare-metrics")
    def _highlight(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id != self.highlighted:
            self.highlighted = event.option.id
            if not self.chosen:
                self._show()

    @on(OptionList.OptionSelected, "#compare-metrics")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_toggle_metric(event.option.id)   # enter and a click toggle, as space does

    def action_toggle_metric(self, name: str | None = None) -> None:
        name = name or self.highlighted
        if not name:
            return
        if not self.chosen and self.highlighted and name != self.highlighted:
            self.chosen = [self.highlighted]   # the chart on screen stays when a second is added
        if name in self.chosen:
            self.chosen.remove(name)
        else:
            self.chosen.append(name)
        options = self.query_one("#compare-metrics", OptionList)
        for n in {name, self.highlighted}:
            if n in self.names:
                options.replace_option_prompt_at_index(self.names.index(n), self._prompt(n))
        self._show()

    def apply_events(self, events: list[pb.WatchEvent]) -> None:
        grid = self.query_one(CompareGrid)
        for event in events:
            if event.WhichOneof("kind") != "metrics":
                continue
            chart = grid.charts.get(event.metrics.name)
            if chart is None:
                continue
            for (_, series), run in zip(chart.series, self.runs):
                if run.run_id == event.metrics.run_id and series.loaded and scalar_values(event.metrics):
                    if series.append(event.metrics):
                        grid.mark_dirty(chart.key)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_grid(self, action: str) -> None:
        getattr(self.query_one(CompareGrid), f"action_{action}")()
        self.refresh_status()
