"""The first screen: every experiment with its runs, runs running now and last activity."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import ExperimentsLoaded, FilterChanged, OpenExperiment
from ..widgets.filter_bar import FilterBar, OpensFilterBar
from .live_screen import LiveScreen

EMPTY_HINT = (
    "No experiments yet.\n\n"
    "Log a run from Python:\n"
    "    from tailrun import Workspace, Experiment\n"
    "    run = Experiment(Workspace.from_config(), \"my-exp\").start_logging()\n"
    "    run.log(\"loss\", 0.5); run.complete()\n\n"
    "or try `tailrun demo` for example runs."
)


COLUMNS = (("name", "Experiment"), ("runs", "Runs"), ("running", "Running"), ("last", "Last activity"))


class ExperimentsScreen(OpensFilterBar, LiveScreen):
    HELP_TITLE = "Experiments"
    BINDINGS = [
        Binding("enter", "open", "Open", id="open", tooltip="Show the experiment's runs"),
        Binding("slash", "filter", "Filter", key_display="/", id="filter", tooltip="Filter by name", priority=True),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="back"),
        Binding("j", "cursor_down", "Down", show=False, id="down-j"),
        Binding("k", "cursor_up", "Up", show=False, id="up-k"),
    ]

    AUTO_FOCUS = "#experiments"

    def __init__(self) -> None:
        super().__init__()
        self.experiments: list[pb.Experiment] = []
        self.needle = ""
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield from self.compose_status()
        yield FilterBar("filter experiments…", id="filter")
        yield DataTable(id="experiments", cursor_type="row")
        yield Static(EMPTY_HINT, id="empty", classes="hint")
        yield Footer()

    def crumb(self) -> str:
        shown = len(self._visible())
        total = len(self.experiments)
        count = f"{shown} of {total}" if self.needle else f"{total}"
        return f"tailrun › experiments ({count})" + (
            f"  /{self.needle}" if self.needle else "")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#empty").display = False
        self.action_reload()
        self.follow(kinds=["status"])
        self.set_interval(1.0, self._tick_ages)

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="experiments", exit_on_error=False)
    def load(self) -> None:
        self.post_message(ExperimentsLoaded(self.client.list_experiments()))

    def on_experiments_loaded(self, message: ExperimentsLoaded) -> None:
        self.clear_problem()
        self._loaded = True
        self.experiments = sorted(message.experiments, key=lambda e: -(e.last_activity or e.created_time))
        self._fill()

    def apply_events(self, events: list[pb.WatchEvent]) -> None:
        # Run counts and activity are the service's to compute: ask again, once per batch.
        if any(e.HasField("run") for e in events):
            self.load()

    def _visible(self) -> list[pb.Experiment]:
        needle = self.needle.lower()
        return [e for e in self.experiments if needle in e.name.lower()]

    def _fill(self) -> None:
        table = self.query_one("#experiments", DataTable)
        current = self._current()
        table.clear(columns=True)
        now = self.tailrun.clock()
        visible = self._visible()
        rows = []
        for exp in visible:
            running = Text(f"● {exp.running_count}", style="bold cyan") if exp.running_count else Text("0")
            rows.append((fmt.user_text(exp.name), str(exp.run_count), running, fmt.ago(exp.last_activity, now)))
        # Explicit widths: DataTable's auto-sizing can lag behind on a busy machine.
        for i, (key, title) in enumerate(COLUMNS):
            width = max([len(title)] + [len(r[i].plain if isinstance(r[i], Text) else r[i]) for r in rows])
            table.add_column(title, key=key, width=min(48, max(width, 12 if key == "last" else 0)))
        for exp, row in zip(visible, rows):
            table.add_row(*row, key=exp.name)
        names = [e.name for e in visible]
        if current in names:
            table.move_cursor(row=names.index(current), animate=False)
        self.query_one("#empty").display = self._loaded and not self.experiments
        table.display = bool(self.experiments) or not self._loaded
        self.refresh_status()

    def _tick_ages(self) -> None:
        table = self.query_one("#experiments", DataTable)
        now = self.tailrun.clock()
        for exp in self._visible():
            try:
                table.update_cell(exp.name, "last", fmt.ago(exp.last_activity, now))
            except Exception:  # the row went away between two loads
                pass

    def _current(self) -> str | None:
        table = self.query_one("#experiments", DataTable)
        visible = self._visible()
        if 0 <= table.cursor_row < len(visible):
            return visible[table.cursor_row].name
        return None

    # ------------------------------------------------------------------ actions

    @on(DataTable.RowSelected, "#experiments")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        name = self._current()
        if name:
            self.post_message(OpenExperiment(name))

    @on(FilterChanged, "#filter")
    def _filter_changed(self, event: FilterChanged) -> None:
        self.needle = event.value
        self._fill()
        if event.final:
            self.query_one("#experiments").focus()

    def action_clear_filter(self) -> None:
        if self.needle:
            self.query_one("#filter", FilterBar).clear()
            self.needle = ""
            self._fill()

    def action_cursor_down(self) -> None:
        self.query_one("#experiments", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#experiments", DataTable).action_cursor_up()
