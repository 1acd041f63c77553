"""Steps tab of a pipeline run: its steps in dependency order (from `tailrun.run_tree`) with their
statuses, what each waits for, and whether it was reused or skipped; live from the run screen's
Watch feed (a step's run events). Enter opens a step."""
from __future__ import annotations

import json

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tailrun.run_tree import ordered_children
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from .child_table import ChildTable

REUSED_TAG = "azureml.reusedrunid"
NODE_TAG = "azureml.nodeid"
SKIPPED = "Skipped"   # the error code of a skipped step


def step_note(step: pb.RunInfo) -> str:
    """Why a step's status reads as it does: reused from an earlier run, skipped, or its error."""
    if step.tags.get(REUSED_TAG):
        return f"reused {step.tags[REUSED_TAG]}"
    if not step.error_json:
        return ""
    try:
        error = json.loads(step.error_json).get("error", {})
    except (ValueError, AttributeError):
        return step.error_json.splitlines()[0] if step.error_json else ""
    code, message = str(error.get("code") or ""), str(error.get("message") or "").split("\n")[0]
    return message if code in ("", SKIPPED) else f"{code}: {message}"


def is_skipped(step: pb.RunInfo) -> bool:
    """A step the pipeline never ran (a failed dependency): Canceled with the error code Skipped."""
    try:
        return json.loads(step.error_json or "{}").get("error", {}).get("code") == SKIPPED
    except (ValueError, AttributeError):
        return False


def step_status(step: pb.RunInfo) -> Text:
    """The step's status; a skipped one says so (the service records it as Canceled)."""
    if step.status == "Canceled" and is_skipped(step):
        return Text(fmt.status_text(step.status).replace("Canceled", "Skipped"), style=fmt.status_style(step.status))
    return fmt.status_styled(step.status)


def step_graph(parent: pb.RunInfo) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The pipeline's steps (node id -> name, in dependency order) and each one's node id -> the
    names of the steps it waits for; both empty when the definition is unreadable."""
    from tailrun.pipeline import _dag

    try:
        pipeline = json.loads(parent.run_definition_json)[_dag.KEY]
        names = {step["node_id"]: step["name"] for step in pipeline["steps"]}
        deps = _dag.dependencies(pipeline)
        return ({node: names[node] for node in _dag.order(deps)},
                {node: [names.get(d, d) for d in waits] for node, waits in deps.items()})
    except (KeyError, TypeError, ValueError):
        return {}, {}


class PipelineView(Vertical):
    HELP_TITLE = "Steps"
    DEFAULT_CSS = """
    PipelineView { height: 1fr; }
    PipelineView #steps { height: 1fr; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.parent_run: pb.RunInfo | None = None
        self.children_runs: dict[str, pb.RunInfo] = {}
        self.steps: dict[str, str] = {}               # node id -> name, every step of the definition
        self.dependencies: dict[str, list[str]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="pipeline-header", classes="tab-header")
        yield ChildTable(id="steps")

    def on_mount(self) -> None:
        table = self.query_one("#steps", ChildTable)
        for key, title in (("n", "#"), ("name", "Step"), ("status", "Status"), ("after", "After"),
                           ("note", "Note")):
            table.add_column(title, key=key)

    def set_children(self, parent: pb.RunInfo, children: list[pb.RunInfo]) -> None:
        self.parent_run = parent
        self.steps, self.dependencies = step_graph(parent)
        self.children_runs = {c.run_id: c for c in children}
        self._show()

    def child_changed(self, child: pb.RunInfo) -> None:
        self.children_runs[child.run_id] = child
        self._show()

    def _show(self) -> None:
        if self.parent_run is None:
            return
        steps = ordered_children(self.parent_run, self.children_runs.values()).children
        table = self.query_one("#steps", ChildTable)
        at = table.cursor_run()
        table.clear()
        for i, step in enumerate(steps, 1):
            info = step.info
            after = self.dependencies.get(info.tags.get(NODE_TAG, ""), [])
            table.add_row(str(i), fmt.user_text(info.display_name or info.run_id), step_status(info),
                          fmt.user_text(", ".join(after) or "—"), fmt.user_text(step_note(info)), key=info.run_id)
        # Steps with no run yet (waiting for their inputs), after the started ones, in dependency order.
        started = {step.info.tags.get(NODE_TAG, "") for step in steps}
        waiting = [node for node in self.steps if node not in started]
        if self.parent_run.status not in fmt.ACTIVE:
            waiting = []   # an ended pipeline's missing steps never ran: its started ones say why
        for i, node in enumerate(waiting, len(steps) + 1):
            table.add_row(str(i), fmt.user_text(self.steps[node]), Text("waiting", style="dim"),
                          fmt.user_text(", ".join(self.dependencies.get(node, [])) or "—"), "",
                          key=ChildTable.PLACEHOLDER + node)
        table.keep_cursor_on(at)
        counts: dict[str, int] = {}
        for step in steps:
            status = SKIPPED if is_skipped(step.info) else step.info.status
            counts[status] = counts.get(status, 0) + 1
        if waiting:
            counts["waiting"] = len(waiting)
        summary = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))
        self.query_one("#pipeline-header", Static).update(
            fmt.user_text(f"{len(steps) + len(waiting)} steps · {summary}" if counts else "no step has started yet"))
