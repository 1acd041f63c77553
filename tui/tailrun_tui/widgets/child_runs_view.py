"""Tab 8 of the run screen (ChildRunsView): a sweep's trials (SweepView) or a pipeline's steps (PipelineView);
which one, if any, `tailrun.run_tree` decides from the parent run. The run screen hands it the
parent, its children and the children's Watch events."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget

from tailrun.run_tree import ordered_children
from tailrun.v1 import tailrun_pb2 as pb

from tailrun.client import Client
from .pipeline_view import PipelineView
from .run_tab import RunTab
from .sweep_view import SweepView

LABELS = {"sweep": "Trials", "pipeline": "Steps"}


class ChildRunsView(RunTab, Vertical):
    DEFAULT_CSS = "ChildRunsView { height: 1fr; }"

    def __init__(self, run_id: str, client: Client, id: str | None = None) -> None:
        super().__init__(run_id, client, id=id)
        self.kind = ""   # "sweep", "pipeline", or "" for a run whose children are only on the Overview

    def compose(self) -> ComposeResult:
        yield SweepView(self.client, id="sweep-view")
        yield PipelineView(id="pipeline-view")

    def _view(self) -> SweepView | PipelineView:
        return self.query_one(SweepView) if self.kind == "sweep" else self.query_one(PipelineView)

    def set_parent(self, run: pb.RunInfo, children: list[pb.RunInfo] | None = None) -> str:
        """The parent run (and its children, when listed again); returns the tab's label ("" = no tab)."""
        kind = ordered_children(run, []).kind
        self.kind = kind if kind in LABELS else ""
        self.query_one(SweepView).display = self.kind == "sweep"
        self.query_one(PipelineView).display = self.kind == "pipeline"
        if self.kind:
            view = self._view()
            view.set_children(run, list(view.children_runs.values()) if children is None else children)
        return LABELS.get(self.kind, "")

    def child_changed(self, child: pb.RunInfo) -> None:
        if self.kind:
            self._view().child_changed(child)

    def child_points(self, run_id: str, points: pb.MetricPoints) -> None:
        if self.kind == "sweep":
            self.query_one(SweepView).child_points(run_id, points)

    def start(self, run: pb.RunInfo) -> None:
        """The tab was shown: a sweep fetches its trials' curves (a pipeline's steps are all there)."""
        if self.kind == "sweep":
            self.query_one(SweepView).start()

    def focus_target(self) -> Widget:
        return self.query_one("#trials" if self.kind == "sweep" else "#steps")
