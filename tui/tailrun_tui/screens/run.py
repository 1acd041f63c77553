"""One run in numbered tabs: 1 Overview, 2 Metrics, 3 Output, 4 Tables, 5 Images, 6 Files,
7 System once the run has system metrics (the tab appears when the first sample arrives), and
8 Trials / 8 Steps for a sweep / pipeline parent.

The screen owns the run's Watch feed (popping the screen stops it) and routes each batch of
events to the tabs; a tab (a RunTab) fetches its data the first time it is shown.
"""
from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.reactive import reactive
from textual.widgets import Footer, TabbedContent, TabPane

from tailrun.run_tree import sweep_metric
from tailrun.exceptions import NotSupported
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import MetricLoaded, ModelsLoaded, RunLoaded
from ..series import last_number
from ..widgets.child_runs_view import ChildRunsView
from ..widgets.file_browser import FileBrowser
from ..widgets.images_view import ImagesView
from ..widgets.metrics_view import MetricsView
from ..widgets.output_view import OutputView
from ..widgets.overview_view import OverviewView
from ..widgets.run_tab import RunTab
from ..widgets.system_view import SystemView
from ..widgets.tables_view import TABLE_KINDS, TablesView
from .live_screen import LiveScreen

TABS = ("overview", "metrics", "output", "tables", "images", "files", "system", "child-runs")
TAB_TITLES = {"child-runs": "Trials / Steps"}   # a sweep's / a pipeline's children
NON_SCALAR_FETCH_ROWS = 50_000


class RunScreen(LiveScreen):
    HELP_TITLE = "Run"
    BINDINGS = [
        Binding("escape", "back", "Back", id="back", tooltip="Back to the runs"),
        *[Binding(str(i + 1), f"tab('{name}')", TAB_TITLES.get(name, name.title()), show=False, id=f"tab-{name}")
          for i, name in enumerate(TABS)],
        Binding("left_square_bracket", "cycle_tab(-1)", "Prev tab", key_display="[", show=False,
                id="tab-prev", tooltip="Previous / next tab ([ / ])"),
        Binding("right_square_bracket", "cycle_tab(1)", "Next tab", key_display="]", show=False, id="tab-next"),
    ]

    run_active: reactive[bool] = reactive(True, init=False)   # bound by the tabs that say "waiting…"

    def __init__(self, run_id: str, tab: str = "overview") -> None:
        super().__init__()
        self.run_id = run_id
        self.initial_tab = tab if tab in TABS else "overview"
        self.run: pb.RunInfo | None = None
        self._non_scalar_started = False
        self._system_shown = tab == "system"

    def compose(self) -> ComposeResult:
        client, clock = self.client, self.tailrun.clock
        renderer = self.tailrun.image_renderer
        yield from self.compose_status()
        with TabbedContent(initial=self.initial_tab, id="tabs"):
            with TabPane("1 Overview", id="overview"):
                yield OverviewView(self.run_id, client, clock, id="overview-view")
            with TabPane("2 Metrics", id="metrics"):
                yield MetricsView(self.run_id, client, id="metrics-view").data_bind(RunScreen.run_active)
            with TabPane("3 Output", id="output"):
                yield OutputView(self.run_id, client, id="output-view").data_bind(RunScreen.run_active)
            with TabPane("4 Tables", id="tables"):
                yield TablesView(self.run_id, client, self._fetch_non_scalar, id="tables-view")
            with TabPane("5 Images", id="images"):
                yield ImagesView(self.run_id, client, self._fetch_non_scalar, renderer, id="images-view")
            with TabPane("6 Files", id="files"):
                yield FileBrowser(self.run_id, client, renderer, id="files-view").data_bind(RunScreen.run_active)
            with TabPane("7 System", id="system"):
                yield SystemView(self.run_id, client, id="system-view").data_bind(RunScreen.run_active)
            with TabPane("8 Children", id="child-runs"):   # "8 Trials" / "8 Steps" once the run is known
                yield ChildRunsView(self.run_id, client, id="child-runs-view")
        yield Footer()

    def crumb(self) -> str:
        if self.run is None:
            return f"run {self.run_id}"
        run = self.run
        label = run.display_name or run.run_id
        return f"{run.experiment} › #{run.number} {label} · {fmt.status_text(run.status)}"

    def on_mount(self) -> None:
        super().on_mount()
        if not self._system_shown:
            self.query_one("#tabs", TabbedContent).hide_tab("system")   # until there is a sample
        if self.initial_tab != "child-runs":
            self.query_one("#tabs", TabbedContent).hide_tab("child-runs")   # until the run is a sweep or pipeline
        self.action_reload()
        self.follow(run_id=self.run_id, include_children=True)
        self.set_interval(1.0, self.query_one(OverviewView).tick)
        if self.initial_tab == "metrics":
            self.query_one(MetricsView).on_first_frame.append(self.tailrun.mark_ready)

    # ------------------------------------------------------------------ data

    def action_reload(self) -> None:
        self.load()
        self.load_models()
        for view in map(self.tab_view, TABS):
            if view.started:
                view.reload()
        if self._non_scalar_started:   # Tables' and Images' one fetch
            self._load_non_scalar()

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def load(self) -> None:
        run = self.client.get_run(self.run_id)
        metric = sweep_metric(run)   # a sweep's trials come with their primary metric
        children = self.client.list_runs(parent_run_id=self.run_id, metric_columns=[metric] if metric else [])
        self.post_message(RunLoaded(run, children))

    @work(thread=True, exclusive=True, group="models", exit_on_error=False)
    def load_models(self) -> None:
        """The models registered from this run (a registration sends no Watch event: this runs on
        load, on `r`, and on every change of the run, e.g. its final status)."""
        try:
            models = self.client.list_models(run_id=self.run_id)
        except NotSupported:   # an older service has no registry
            models = []
        self.post_message(ModelsLoaded(self.run_id, models))

    def on_models_loaded(self, message: ModelsLoaded) -> None:
        self.query_one(OverviewView).set_models(message.models)

    def on_run_loaded(self, message: RunLoaded) -> None:
        self.clear_problem()
        first = self.run is None
        self._set_run(message.run)
        self.query_one(OverviewView).set_children(message.children)
        self._show_child_runs(self.query_one(ChildRunsView).set_parent(message.run, message.children))
        if first:
            self._activate(self.query_one("#tabs", TabbedContent).active)
            if self.initial_tab == "overview":
                self.call_after_refresh(self.tailrun.mark_ready)

    def _set_run(self, run: pb.RunInfo) -> None:
        self.run = run
        self.query_one(OverviewView).set_run(run)
        self.run_active = run.status in fmt.ACTIVE
        if run.last_system_metrics:
            self._show_system()
        self.refresh_status()

    def _show_system(self) -> None:
        """The System tab appears with the first sample (a run may have none: turned off, old SDK)."""
        if not self._system_shown:
            self._system_shown = True
            self.query_one("#tabs", TabbedContent).show_tab("system")

    def _show_child_runs(self, label: str) -> None:
        """A sweep's or a pipeline's children get their own tab (the Overview lists any run's)."""
        tabs = self.query_one("#tabs", TabbedContent)
        if label:
            tabs.get_tab("child-runs").label = f"8 {label}"
            tabs.show_tab("child-runs")
        elif self.initial_tab == "child-runs":
            tabs.hide_tab("child-runs")

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if self.run is not None and event.pane.id:
            self._activate(event.pane.id)

    def _activate(self, tab: str) -> None:
        """A tab fetches its data the first time it is shown, and takes the focus so that its keys
        work and show in the footer."""
        view = self.tab_view(tab)
        assert self.run is not None
        view.shown(self.run)
        self.call_after_refresh(self._focus, view, tab)

    def tab_view(self, tab: str) -> RunTab:
        """The widget in a tab's pane (a mixin is no CSS type: `query_one(RunTab)` finds none)."""
        return next(w for w in self.query_one(f"#{tab}", TabPane).children if isinstance(w, RunTab))

    def _focus(self, view: RunTab, tab: str) -> None:
        if self.query_one("#tabs", TabbedContent).active != tab:
            return   # another tab was chosen meanwhile (keys typed fast): a focus here would bring this one back
        if not view.take_focus() and (self.focused is None or not self.focused.display):
            self.query_one("#tabs").focus()

    def _fetch_non_scalar(self) -> None:
        """Tables and Images share one fetch of the run's non-scalar metrics: the first of the two
        shown starts both, so that both keep the live points from then on."""
        if not self._non_scalar_started:
            self._non_scalar_started = True
            assert self.run is not None
            self.query_one(TablesView).shown(self.run)
            self.query_one(ImagesView).shown(self.run)
            self._load_non_scalar()

    @work(thread=True, exclusive=True, group="non-scalar", exit_on_error=False)
    def _load_non_scalar(self) -> None:
        # The names come from the service now, not from the run as first loaded: an image logged
        # while another tab was shown is only known there (Watch run events carry no metric names).
        run = self.client.get_run(self.run_id)
        for name in [n for n in run.metric_names if n not in run.last_metrics]:
            self.post_message(MetricLoaded(self.run_id, name,
                                           self.client.get_metrics(self.run_id, name, max_rows=NON_SCALAR_FETCH_ROWS)))

    def on_metric_loaded(self, message: MetricLoaded) -> None:
        self.query_one(TablesView).metric_loaded(message)
        self.query_one(ImagesView).metric_loaded(message)

    def apply_events(self, events: list[pb.WatchEvent]) -> None:
        metrics = self.query_one(MetricsView)
        output = self.query_one(OutputView)
        files = self.query_one(FileBrowser)
        for event in events:
            kind = event.WhichOneof("kind")
            if kind == "run":
                if event.run.run_id == self.run_id:
                    self._set_run(event.run)
                    self.query_one(ChildRunsView).set_parent(event.run)   # a pipeline's waiting steps end with it
                    self.load_models()
                else:
                    self.query_one(OverviewView).child_changed(event.run)
                    self.query_one(ChildRunsView).child_changed(event.run)
            elif event.run_id and event.run_id != self.run_id:
                if kind == "metrics":   # a trial's curve grows on the Trials tab
                    self.query_one(ChildRunsView).child_points(event.run_id, event.metrics)
                continue   # children's metrics, output and files are on their own screens
            elif kind == "metrics":
                points = event.metrics
                if points.kind in (pb.METRIC_KIND_UNSPECIFIED, pb.METRIC_KIND_SCALAR):
                    metrics.add_points(points)
                elif points.kind in TABLE_KINDS:
                    self.query_one(TablesView).add_points(points)
                elif points.kind == pb.METRIC_KIND_IMAGE:
                    self.query_one(ImagesView).add_points(points)
                elif points.kind == pb.METRIC_KIND_SYSTEM:
                    self._system_points(points)
            elif kind == "output":
                output.add_output(event.output)
                files.output_grew(event.output.path, event.output.size or
                                  event.output.offset + len(event.output.text.encode()))
            elif kind == "file":
                self.query_one(FileBrowser).file_changed(event.file)

    def _system_points(self, points: pb.MetricPoints) -> None:
        self._show_system()
        self.query_one(SystemView).add_points(points)
        last = last_number(points)
        if self.run is not None and last is not None:
            # The Overview's System line shows it at its next tick (once a second).
            self.run.last_system_metrics[points.name] = last
            self.query_one(OverviewView).run = self.run

    # ------------------------------------------------------------------ actions

    def action_tab(self, name: str) -> None:
        if name not in self.visible_tabs():
            self.notify("No system metrics for this run yet: the tab appears with the first sample"
                        if name == "system" else "This run is no sweep or pipeline: its children are on the Overview",
                        timeout=4, markup=False)
            return
        # Let go of the focus first: Textual would hand it to a neighbour of the focused widget
        # (another chart of the hidden tab), and a focused widget brings its tab back.
        self.set_focus(None)
        self.query_one("#tabs", TabbedContent).active = name

    def visible_tabs(self) -> list[str]:
        tabs = self.query_one("#tabs", TabbedContent)
        return [name for name in TABS if not tabs.get_tab(name).has_class("-hidden") and tabs.get_tab(name).display]

    def action_cycle_tab(self, delta: int) -> None:
        tabs = self.visible_tabs()
        active = self.query_one("#tabs", TabbedContent).active
        at = tabs.index(active) if active in tabs else 0
        self.action_tab(tabs[(at + delta) % len(tabs)])

    def action_back(self) -> None:
        from .experiments import ExperimentsScreen
        from .runs import RunsScreen

        self.app.pop_screen()
        # Opened with --run: there is no runs list underneath yet, so show the run's experiment.
        if isinstance(self.app.screen, ExperimentsScreen) and self.run is not None:
            self.app.push_screen(RunsScreen(self.run.experiment))

    def palette_commands(self):
        from textual.app import SystemCommand

        for i, name in enumerate(TABS):
            yield SystemCommand(f"Run: {name}", f"Show the {name} tab ({i + 1})",
                                lambda n=name: self.action_tab(n))
