"""The tailrun terminal UI: the App, its global keys, and navigation between screens."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tailrun._settings import Settings
from tailrun.client import Client, resolve_read_settings

from .messages import CommandChosen, OpenExperiment, OpenRun

NARROW_WIDTH = 100
QUERY_TIMEOUT = 15.0   # a screen waits less than a script for its answer


class TailrunApp(App):
    """Experiments → runs → one run; compare; help. Data comes from one tailrun service."""

    CSS_PATH = "tui.tcss"
    TITLE = "tailrun"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave tailrun (the runs keep running)"),
        Binding("question_mark", "help", "Help", key_display="?", id="help",
                tooltip="Every key of this screen"),
        Binding("f1", "help", "Help", show=False, id="help-f1"),
        Binding("ctrl+l", "redraw", "Redraw", show=False, id="redraw"),
        Binding("colon", "command_line", "Go to", key_display=":", show=False, id="command", priority=True,
                tooltip="Go to a view: :runs, :exp NAME, :run ID, :metrics, :compare, :q"),
    ]

    def __init__(self, settings: Settings, experiment: str | None = None, run_id: str | None = None,
                 clock: Callable[[], float] = time.time, ready_file: str | None = None,
                 image_renderer: str | None = None, tab: str = "overview",
                 service_label: str | None = None) -> None:
        super().__init__()
        # Flags, environment, the per-user local service; else its default address, connected once
        # a service is up there.
        self.settings = resolve_read_settings(settings, default_address=True)
        self.client = Client(self.settings, timeout=QUERY_TIMEOUT)
        self.address = self.client.address
        # The status line names the service (snapshot tests pass a fixed label: ports vary).
        self.service_label = service_label or self.address
        self.start_experiment = experiment
        self.start_run = run_id
        self.start_tab = tab
        self.clock = clock
        # bench/bench_ui.py: the run screen writes a timestamp here when its first frame is complete.
        self.ready_file = ready_file or os.environ.get("TAILRUN_UI_READY_FILE") or None
        self.image_renderer = image_renderer
        # Runs marked for compare, kept across experiments (mark in one, then in another, then c).
        self.marked: list[str] = []
        self.marked_experiments: dict[str, str] = {}   # run id -> its experiment

    def on_mount(self) -> None:
        from .screens.experiments import ExperimentsScreen
        from .screens.run import RunScreen
        from .screens.runs import RunsScreen

        self.push_screen(ExperimentsScreen())
        if self.start_experiment:
            self.push_screen(RunsScreen(self.start_experiment))
        if self.start_run:
            self.push_screen(RunScreen(self.start_run, tab=self.start_tab))

    def on_resize(self, event) -> None:
        # Below 100 columns side lists collapse to a line until they take the focus (tab).
        self.set_class(event.size.width < NARROW_WIDTH, "-narrow")

    def on_unmount(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ navigation

    def on_open_run(self, message: OpenRun) -> None:
        from .screens.run import RunScreen

        self.push_screen(RunScreen(message.run_id))

    def on_open_experiment(self, message: OpenExperiment) -> None:
        from .screens.runs import RunsScreen

        self.push_screen(RunsScreen(message.name))

    def open_compare(self, run_ids: list[str]) -> None:
        from .screens.compare import CompareScreen

        self.push_screen(CompareScreen(run_ids))

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_redraw(self) -> None:
        self.refresh(layout=True, repaint=True)

    def mark_ready(self) -> None:
        """Called once the first complete frame is on screen (benchmarks wait for it)."""
        if self.ready_file:
            Path(self.ready_file).write_text(f"{time.time():.6f}\n")
            self.ready_file = None

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help: keys", "Show every key of this screen", self.action_help)
        from .screens.live_screen import LiveScreen
        from .screens.experiments import ExperimentsScreen

        if isinstance(screen, LiveScreen):
            yield SystemCommand("Refresh", "Ask the service again", screen.action_reload)
        if not isinstance(screen, ExperimentsScreen):
            yield SystemCommand("Go: experiments", "Back to the list of experiments", self.to_experiments)
        extra = getattr(screen, "palette_commands", None)
        if callable(extra):
            yield from extra()

    def to_experiments(self) -> None:
        from .screens.experiments import ExperimentsScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, ExperimentsScreen):
            self.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command_line":
            from .widgets.filter_bar import typing

            return not typing(self)
        return True

    def action_command_line(self) -> None:
        from .screens.command_bar import CommandBar, context_of

        try:
            bar = self.screen.query_one(CommandBar)
        except Exception:   # a dialog (help, chooser) has no command line
            return
        if not bar.is_open:
            bar.open(context_of(self.screen, self))

    def on_command_chosen(self, message: CommandChosen) -> None:
        from .screens.command_bar import navigate

        navigate(self, message.target, getattr(self.screen, "action_tab", None))
