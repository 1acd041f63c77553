"""Overview tab (OverviewView): status, times, script and arguments, tags, properties, the error with its
traceback, the models registered from the run, and the child runs (enter opens one)."""
from __future__ import annotations

import json
import shlex
from typing import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from tailrun.client import Client
from ..messages import OpenRun
from .run_tab import RunTab
from .system_view import summary_lines


def error_text(error_json: str) -> Text | None:
    if not error_json:
        return None
    try:
        err = json.loads(error_json).get("error", {})
    except (ValueError, AttributeError):
        return fmt.user_text(error_json, style="red")
    text = Text()
    code = err.get("code") or "Error"
    text.append(f"{fmt.user_plain(str(code))}: ", style="bold red")
    text.append(fmt.user_plain(str(err.get("message", "")).rstrip()) + "\n", style="red")
    for key in ("traceback", "details", "stack_trace", "stacktrace"):
        value = err.get(key)
        if value:
            # A traceback keeps its lines; any other control character is escaped.
            lines = (value if isinstance(value, str) else json.dumps(value, indent=2)).split("\n")
            text.append("\n".join(fmt.user_plain(line) for line in lines))
    return text


def describe_run(run: pb.RunInfo, now: float) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    status = fmt.status_styled(run.status)
    if run.status in fmt.ACTIVE and run.last_heartbeat:
        status.append(f"   last heartbeat {fmt.ago(run.last_heartbeat, now)}", style="dim")
    elif run.status and run.status not in fmt.ACTIVE:
        status.append("   run finished", style="dim")
    grid.add_row("Status", status)
    user = fmt.user_text   # a rich Table reads a str as markup: user data goes in as Text
    grid.add_row("Run", user(f"{run.display_name or '—'}  ·  #{run.number}  ·  {run.run_id}"))
    grid.add_row("Experiment", user(run.experiment))
    if run.parent_run_id:
        grid.add_row("Parent", user(run.parent_run_id))
    grid.add_row("Started", fmt.full_time(run.start_time or run.created_time))
    grid.add_row("Ended", fmt.full_time(run.end_time) if run.end_time else "—")
    grid.add_row("Duration", fmt.run_duration(run.start_time, run.end_time, now))
    kind = run.run_type or "—"
    if run.target:
        kind += f" on {run.target}"
    grid.add_row("Type", user(kind))
    if run.script or run.arguments:
        grid.add_row("Command", user(" ".join(shlex.quote(a) for a in [run.script, *run.arguments] if a)))
    if run.submitted_by:
        grid.add_row("By", user(run.submitted_by))
    if run.description:
        grid.add_row("Description", Text("\n").join(user(line) for line in run.description.split("\n")))
    grid.add_row("Tags", user(", ".join(f"{k}={v}" if v else k for k, v in sorted(run.tags.items())) or "—"))
    if run.properties:
        grid.add_row("Properties", Text("\n").join(user(f"{k} = {v}") for k, v in sorted(run.properties.items())))
    if run.last_metrics:
        shown = sorted(run.last_metrics.items())[:12]
        grid.add_row("Last values", user("  ".join(f"{k}={fmt.number(v)}" for k, v in shown)))
    if run.last_system_metrics:   # the latest sample (7: the charts)
        grid.add_row("System", Text("\n").join(user(line) for line in summary_lines(dict(run.last_system_metrics))))
    for warning in run.warnings:
        grid.add_row("Warning", user(warning, style="yellow"))
    parts: list[object] = [grid]
    err = error_text(run.error_json)
    if err is not None:
        parts += [Text("\nError", style="bold red"), err]
    return Group(*parts)  # type: ignore[arg-type]


def describe_models(models: list[pb.ModelInfo]) -> Table:
    """One line per registered model version: name:version, the run path it came from, created."""
    grid = Table.grid(padding=(0, 2))
    for _ in range(3):
        grid.add_column(no_wrap=True)
    for m in models:
        grid.add_row(fmt.user_text(f"{m.name}:{m.version}", style="bold"), fmt.user_text(m.model_path or "—"),
                     fmt.full_time(m.created_time))
    return grid


class OverviewView(RunTab, VerticalScroll):
    """The Overview tab: drawn from the run the screen loads, nothing of its own to fetch."""
    BINDINGS = [Binding("j", "move(1)", "Down", show=False, id="down-j"),
                Binding("k", "move(-1)", "Up", show=False, id="up-k")]

    def __init__(self, run_id: str, client: Client, clock: Callable[[], float], id: str | None = None) -> None:
        super().__init__(run_id, client, id=id)
        self.clock = clock
        self.run: pb.RunInfo | None = None
        self.children_runs: dict[str, pb.RunInfo] = {}
        self.models: list[pb.ModelInfo] = []

    def compose(self) -> ComposeResult:
        yield Static("loading…", id="overview-body")
        yield Static("Models registered from this run", id="models-title", classes="section")
        yield Static("", id="models")
        yield Static("Child runs (enter opens one)", id="children-title", classes="section")
        yield DataTable(id="children", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one("#children", DataTable)
        for key, title in (("n", "#"), ("name", "Run"), ("status", "Status"), ("dur", "Duration")):
            table.add_column(title, key=key)
        self._show_children()
        self.set_models([])

    def focus_target(self) -> Widget:
        """The child runs when there are some (j and enter move in and open one), else the text."""
        return self.query_one("#children") if self.children_runs else self

    def set_models(self, models: list[pb.ModelInfo]) -> None:
        self.models = models
        body = self.query_one("#models", Static)
        body.update(describe_models(models))
        for widget in (body, self.query_one("#models-title")):
            widget.display = bool(models)

    def set_run(self, run: pb.RunInfo) -> None:
        self.run = run
        self.query_one("#overview-body", Static).update(describe_run(run, self.clock()))

    def tick(self) -> None:
        if self.run is not None and self.run.status in fmt.ACTIVE:
            self.set_run(self.run)
        # A running child's duration moves too (its events come only when its status changes).
        table, now = self.query_one("#children", DataTable), self.clock()
        for child in self.children_runs.values():
            if child.status in fmt.ACTIVE and child.start_time and child.run_id in table.rows:
                table.update_cell(child.run_id, "dur", fmt.run_duration(child.start_time, child.end_time, now))

    def set_children(self, children: list[pb.RunInfo]) -> None:
        self.children_runs = {c.run_id: c for c in children}
        self._show_children()

    def child_changed(self, child: pb.RunInfo) -> None:
        self.children_runs[child.run_id] = child
        self._show_children()

    def _show_children(self) -> None:
        table = self.query_one("#children", DataTable)
        row = table.cursor_row
        table.clear()
        now = self.clock()
        for child in sorted(self.children_runs.values(), key=lambda c: (c.number, c.created_time)):
            status = fmt.status_styled(child.status)
            table.add_row(str(child.number or ""), fmt.user_text(child.display_name or child.run_id), status,
                          fmt.run_duration(child.start_time, child.end_time, now), key=child.run_id)
        show = bool(self.children_runs)
        table.display = show
        self.query_one("#children-title").display = show
        table.styles.height = min(12, len(self.children_runs) + 1)
        if show:
            table.move_cursor(row=min(row, len(self.children_runs) - 1), animate=False)
            if self.has_focus:   # the first child appeared: j and enter now move in and open it
                table.focus()

    def action_move(self, delta: int) -> None:
        """j/k: through the child runs when there are some, else scroll (vim keys, as in the lists)."""
        table = self.query_one("#children", DataTable)
        if table.display:
            table.focus()
            table.move_cursor(row=max(0, table.cursor_row + delta))
        elif delta > 0:
            self.scroll_down()
        else:
            self.scroll_up()

    @on(DataTable.RowSelected, "#children")
    def _open_child(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(OpenRun(event.row_key.value))
