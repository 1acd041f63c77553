"""The runs of one experiment, live: statuses and last metric values change as the runs log."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import FilterChanged, OpenRun, RunCountLoaded, RunSelectionChanged, RunsLoaded, RunsSorted
from ..series import last_number
from ..widgets.filter_bar import FilterBar, OpensFilterBar
from ..widgets.run_table import RunTable
from .live_screen import LiveScreen

MAX_METRIC_COLUMNS = 3


def empty_hint(experiment: str) -> str:
    return (f"No runs in {experiment} yet.\n\n"
            f"Start one from Python:\n"
            f"    run = Experiment(ws, \"{experiment}\").start_logging()\n"
            f"or submit a script:  tailrun submit --experiment {experiment} train.py\n\n"
            f"New runs appear here as soon as they start.")


def run_count(top_level: int, every: int) -> str:
    """`3 runs`, `1 run + 3 child runs`: the experiments list counts child runs, this list does not."""
    text = f"{top_level} run" + ("" if top_level == 1 else "s")
    children = every - top_level
    if children > 0:
        text += f" + {children} child run" + ("" if children == 1 else "s")
    return text


class ChooserList(OptionList):
    """The chooser's list owns space and enter, so keys typed fast are handled in order (a
    screen-level priority key would overtake a space still queued for the list)."""

    BINDINGS = [Binding("enter", "screen.accept", "Apply", id="chooser-apply"),
                Binding("space", "screen.toggle", "Toggle", id="chooser-toggle")]


class MetricChooser(ModalScreen[list[str]]):
    """Pick the metrics whose last value is shown as a column. Each line says `[x]` or `[ ]`:
    a checkbox told apart by colour alone does not show its state (nor under NO_COLOR)."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="chooser-cancel")]

    AUTO_FOCUS = "#metric-list"

    def __init__(self, names: list[str], chosen: list[str]) -> None:
        super().__init__()
        self.names = names
        self.chosen = set(chosen)

    def _prompt(self, name: str) -> Text:
        text = Text("[x] " if name in self.chosen else "[ ] ", style="bold")
        return text.append_text(fmt.user_text(name))

    def compose(self) -> ComposeResult:
        with Vertical(id="chooser") as box:
            box.border_title = "Metric columns"
            yield Label("space toggles · enter applies · esc cancels", id="chooser-keys")
            yield ChooserList(*[Option(self._prompt(n), id=n) for n in self.names], id="metric-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    @on(OptionList.OptionSelected, "#metric-list")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self.action_toggle(event.option_index)   # a click toggles, as space does

    def action_toggle(self, at: int | None = None) -> None:
        options = self.query_one(OptionList)
        at = options.highlighted if at is None else at
        if at is None:
            return
        name = self.names[at]
        self.chosen.symmetric_difference_update({name})
        options.replace_option_prompt_at_index(at, self._prompt(name))

    def action_accept(self) -> None:
        self.dismiss([n for n in self.names if n in self.chosen])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class RunsScreen(OpensFilterBar, LiveScreen):
    HELP_TITLE = "Runs"
    BINDINGS = [
        Binding("enter", "open", "Open", id="open", tooltip="Open the run"),
        Binding("escape", "back", "Back", id="back", tooltip="Clear the filter, else back to experiments"),
        Binding("slash", "filter", "Filter", key_display="/", id="filter", tooltip="Filter runs", priority=True),
        Binding("s", "sort", "Sort", id="sort", tooltip="Next sort column"),
        Binding("S", "sort_reverse", "Reverse", show=False, id="sort-reverse"),
        Binding("c", "compare", "Compare", id="compare", tooltip="Compare the selected runs"),
        Binding("m", "choose_metrics", "Metrics", show=False, id="metric-columns", tooltip="Choose metric columns"),
    ]

    def __init__(self, experiment: str) -> None:
        super().__init__()
        self.experiment = experiment
        self._loaded = False
        self._chosen: list[str] | None = None
        self._note = ""
        self._values_dirty = False
        self._run_count = 0            # child runs included, from the experiment
        self._children_seen: set[str] = set()
        self._asked: set[str] = set()   # the metrics whose last values were asked for

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield FilterBar("filter: words, loss < 0.1, status:Failed, tag:seed=4…", id="filter")
        yield RunTable(self.tailrun.clock, id="runs")
        yield Static(Text(empty_hint(fmt.user_plain(self.experiment))), id="empty", classes="hint")
        yield Footer()

    def crumb(self) -> str:
        table = self.query_one("#runs", RunTable)
        extra = f"  /{table.needle}" if table.needle else ""
        experiments = {self.tailrun.marked_experiments.get(r, self.experiment) for r in table.selected}
        where = f" in {len(experiments)} experiments" if len(experiments) > 1 else ""
        sel = f"  [{len(table.selected)} selected{where}]" if table.selected else ""
        note = f"  {self._note}" if self._note else ""
        return f"experiments › {self.experiment} ({run_count(len(table.runs), self._run_count)}){extra}{sel}{note}"

    def on_mount(self) -> None:
        super().on_mount()
        # The marks are the app's: runs of other experiments stay marked for compare.
        self.query_one("#runs", RunTable).selected = self.tailrun.marked
        self.query_one("#empty").display = False
        self.action_reload()
        self.follow(experiment=self.experiment, kinds=["status", "metrics"])
        self.set_interval(1.0, self.query_one("#runs", RunTable).tick)
        self.set_interval(0.5, self._redraw_values)

    def action_reload(self) -> None:
        table = self.query_one("#runs", RunTable)
        # The filter's metrics too: their values are compared, not shown.
        columns = list(dict.fromkeys([*table.metric_columns, *table.run_filter.metrics]))
        self._asked = set(columns)
        self.load(columns)

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def load(self, columns: list[str]) -> None:
        # Only the shown columns' values come back: a run may have 10,000 metrics.
        listing = self.client.list_runs_and_metric_names(experiment=self.experiment, metric_columns=columns)
        self.post_message(RunsLoaded(self.experiment, listing.runs, listing.metric_names, columns))
        self.load_count()

    @work(thread=True, exclusive=True, group="run-count", exit_on_error=False)
    def load_count(self) -> None:
        exp = self.client.get_experiment(self.experiment)
        self.post_message(RunCountLoaded(self.experiment, exp.run_count if exp else 0))

    def on_run_count_loaded(self, message: RunCountLoaded) -> None:
        self._run_count = message.run_count
        self.refresh_status()

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        self.clear_problem()
        self._loaded = True
        table = self.query_one("#runs", RunTable)
        # Values of metrics this answer was not asked for (a slower, older load) are kept.
        table.runs = {r.run_id: _merged(table.runs.get(r.run_id), r) for r in message.runs}
        table.offered_names = set(message.metric_names)
        self._pick_columns()
        table.redraw()
        self._show_empty()
        if any(name not in message.columns for name in table.metric_columns):
            self.action_reload()   # their values were not asked for yet

    def _pick_columns(self) -> None:
        table = self.query_one("#runs", RunTable)
        names = table.metric_names()
        if self._chosen is not None:
            table.metric_columns = [n for n in self._chosen if n in names] or table.metric_columns
        else:
            table.metric_columns = names[:MAX_METRIC_COLUMNS]

    def _show_empty(self) -> None:
        table = self.query_one("#runs", RunTable)
        empty = self._loaded and not table.runs
        self.query_one("#empty").display = empty
        table.display = not empty
        self.refresh_status()

    def apply_events(self, events: list[pb.WatchEvent]) -> None:
        table = self.query_one("#runs", RunTable)
        changed = False   # rows or statuses: redraw now; metric values: at most twice a second
        for event in events:
            kind = event.WhichOneof("kind")
            if kind == "run":
                if event.run.parent_run_id and event.run.run_id not in table.runs:
                    if event.run.run_id not in self._children_seen:
                        self._children_seen.add(event.run.run_id)
                        self.load_count()   # a new child run: the count in the title grows
                    continue  # child runs are shown on their parent's Overview
                if event.run.run_id not in table.runs:
                    self.load_count()
                table.runs[event.run.run_id] = _merged(table.runs.get(event.run.run_id), event.run)
                changed = True
            elif kind == "metrics" and event.metrics.kind in (0, 1):
                last = last_number(event.metrics)
                if last is not None and event.metrics.run_id in table.runs:
                    shown = table.update_metric(event.metrics.run_id, event.metrics.name, last)
                    self._values_dirty = self._values_dirty or shown
                    if len(table.metric_columns) < MAX_METRIC_COLUMNS and self._chosen is None \
                            and event.metrics.name not in table.metric_columns:
                        changed = True
        if changed:
            if self._chosen is None and len(table.metric_columns) < MAX_METRIC_COLUMNS:
                self._pick_columns()
            table.redraw()
            self._show_empty()

    def _redraw_values(self) -> None:
        if self._values_dirty:
            self._values_dirty = False
            self.query_one("#runs", RunTable).redraw()

    # ------------------------------------------------------------------ actions

    @on(DataTable.RowSelected, "#runs")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        run = self.query_one("#runs", RunTable).current
        if run is not None:
            self.post_message(OpenRun(run.run_id))

    def action_back(self) -> None:
        table = self.query_one("#runs", RunTable)
        if table.needle:
            self.query_one("#filter", FilterBar).clear()
            table.set_filter("")
            self.refresh_status()
        else:
            self.app.pop_screen()

    @on(FilterChanged, "#filter")
    def _filter_changed(self, event: FilterChanged) -> None:
        table = self.query_one("#runs", RunTable)
        error = table.set_filter(event.value)
        if error and event.final:   # Enter on a filter that cannot work: the one before stays
            table.set_filter(event.bar.revert())
        self._note = f"⚠ {error}" if error else ""
        self.refresh_status()
        missing = [m for m in table.run_filter.metrics if m not in self._asked]
        if missing:   # `loss < 0.1` needs loss's last value, also when it is not a column
            self.action_reload()
        if event.final:
            table.focus()

    def on_runs_sorted(self, event: RunsSorted) -> None:
        self._note = event.note
        self.refresh_status()

    def action_sort(self) -> None:
        self._note = self.query_one("#runs", RunTable).cycle_sort()
        self.refresh_status()

    def action_sort_reverse(self) -> None:
        self._note = self.query_one("#runs", RunTable).cycle_sort(reverse=True)
        self.refresh_status()

    def on_run_selection_changed(self, event: RunSelectionChanged) -> None:
        marked = self.tailrun.marked_experiments
        for run_id in event.table.runs:
            if run_id in event.run_ids:
                marked[run_id] = self.experiment
            else:
                marked.pop(run_id, None)
        self.refresh_status()

    def action_compare(self) -> None:
        table = self.query_one("#runs", RunTable)
        ids = list(table.selected)
        if not ids and table.current is not None:
            ids = [table.current.run_id]
        if len(ids) < 2:
            self.notify("Select two or more runs with space (in this or other experiments), then press c",
                        severity="warning")
            return
        self.tailrun.open_compare(ids)

    def action_choose_metrics(self) -> None:
        table = self.query_one("#runs", RunTable)
        names = table.metric_names()
        if not names:
            self.notify("No scalar metrics logged yet", severity="information")
            return

        def chosen(result: list[str] | None) -> None:
            if result is not None:
                self._chosen = result
                table.metric_columns = [n for n in names if n in result]
                table.redraw()
                self.action_reload()

        self.app.push_screen(MetricChooser(names, table.metric_columns), chosen)


def _merged(old: pb.RunInfo | None, new: pb.RunInfo) -> pb.RunInfo:
    """A run event may carry no metric values; keep the ones we already know."""
    if old is not None:
        for name, value in old.last_metrics.items():
            if name not in new.last_metrics:
                new.last_metrics[name] = value
    return new
