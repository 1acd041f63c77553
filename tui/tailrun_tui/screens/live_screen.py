"""LiveScreen, what every data screen shares: a status line (where am I, is the stream live), a Watch feed
drained every 100 ms, and the showing of failed workers (its own and its widgets')."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from tailrun.client import Client, FollowState
from tailrun.exceptions import ServiceUnavailable
from tailrun.v1 import tailrun_pb2 as pb

from .. import fmt
from ..messages import WorkerFailed
from ..watch_feed import WatchFeed
from ..worker_errors import ReportsWorkerErrors, problem_text

if TYPE_CHECKING:
    from ..app import TailrunApp

DRAIN_INTERVAL = 0.1


class StatusLine(Static):
    """One line: breadcrumb on the left, connection state (or the last problem) on the right."""

    def show(self, crumb: str, state: FollowState | None, problem: str, service: str = "") -> None:
        text = fmt.user_text(crumb, style="bold", no_wrap=True, overflow="ellipsis")
        right = Text()
        width = max(10, self.size.width or 80)
        if text.cell_len + len(service) + 16 > width:
            service = ""   # a narrow terminal: where you are and what you did come first
        if service and not problem:   # which service this is (the problem line names it already)
            right.append(f"{fmt.user_plain(service)}  ", style="dim")
        if problem:
            right.append(f"⚠ {fmt.user_plain(problem)}", style="bold red")
        elif state is None:
            pass
        elif state.kind == "live":
            right.append("● live", style="green")
        elif state.kind == "connecting":
            right.append("○ connecting…", style="yellow")
        elif state.kind == "disconnected":
            right.append(f"⚠ disconnected — retrying in {state.retry_in()} s", style="bold yellow")
        elif state.kind in ("refused", "failed"):
            right.append(f"✗ {fmt.user_plain(state.message)}", style="bold red")
        self.set_class(bool(problem) or (state is not None and state.kind in ("disconnected", "refused", "failed")),
                       "-problem")
        room = width - right.cell_len - 2
        text.truncate(max(8, room), overflow="ellipsis")
        text.append(" " * max(1, width - text.cell_len - right.cell_len))
        text.append_text(right)
        # Drained every 100 ms: repaint only on change, which matters over a slow link.
        if text.plain != getattr(self, "_last_plain", None) or text.spans != getattr(self, "_last_spans", None):
            self._last_plain, self._last_spans = text.plain, list(text.spans)
            self.update(text)


class LiveScreen(ReportsWorkerErrors, Screen):
    """A screen that shows service data and follows one Watch request."""

    BINDINGS = [
        Binding("r", "reload", "Refresh", show=False, id="refresh", tooltip="Ask the service again"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feed: WatchFeed | None = None
        self._feed_request: dict[str, Any] | None = None
        self._generation = 0
        self._problem = ""
        self._state: FollowState | None = None

    @property
    def tailrun(self) -> "TailrunApp":
        return self.app  # type: ignore[return-value]

    @property
    def client(self) -> Client:
        return self.tailrun.client

    def crumb(self) -> str:
        return "tailrun"

    def compose_status(self) -> ComposeResult:
        from .command_bar import CommandBar

        yield StatusLine(id="status")
        yield CommandBar(id="command-bar")

    def on_mount(self) -> None:
        self.set_interval(DRAIN_INTERVAL, self._drain, name="drain")
        self.call_after_refresh(self.refresh_status)

    # ------------------------------------------------------------------ feed

    def follow(self, **request: Any) -> None:
        """Start (or restart) following a Watch request."""
        self._feed_request = request
        self.stop_feed()
        self.feed = WatchFeed(self.client.follow(**request))
        self._generation = 0
        self._run_feed(self.feed)

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def _run_feed(self, feed: WatchFeed) -> None:
        feed.run()

    def stop_feed(self) -> None:
        if self.feed is not None:
            self.feed.stop()
            self.feed = None

    def on_screen_suspend(self) -> None:
        # A screen underneath does not need live events; it reloads when it comes back.
        self.stop_feed()

    def on_screen_resume(self) -> None:
        if self._feed_request is not None and self.feed is None:
            self.action_reload()
            self.follow(**self._feed_request)

    def on_unmount(self) -> None:
        self.stop_feed()

    def _drain(self) -> None:
        if self.feed is None:
            return
        batch = self.feed.drain()
        self._state = batch.state
        if batch.state.generation != self._generation:
            # The stream is live (its first event came): ask again, also on the first connection.
            # The first queries ran while the stream was being opened, and a change that landed
            # between them and the stream's start would otherwise be missed for good (a step seen
            # Starting, its Running never shown); after a reconnect the service may have restarted.
            self._generation = batch.state.generation
            self.action_reload()
        if batch.events:
            self.apply_events(batch.events)
        self.refresh_status()

    def apply_events(self, events: list[pb.WatchEvent]) -> None:
        """Override: route a batch of Watch events to the widgets."""

    # ------------------------------------------------------------------ status

    def refresh_status(self) -> None:
        try:
            line = self.query_one("#status", StatusLine)
        except Exception:
            return
        line.show(self.crumb(), self._state, self._problem, self.tailrun.service_label)

    def problem(self, text: str) -> None:
        self._problem = text
        self.refresh_status()

    def clear_problem(self) -> None:
        if self._problem:
            self._problem = ""
            self.refresh_status()

    def on_worker_failed(self, message: WorkerFailed) -> None:
        """Every failed worker of this screen (or its widgets) becomes a line on screen, not a traceback."""
        message.stop()
        error = message.error
        self.problem(problem_text(error))
        if not isinstance(error, ServiceUnavailable):
            # An unreachable service is the status line's to show: it clears when the service is
            # back, where a toast would still say "cannot reach" after the reconnect.
            self.notify(fmt.user_plain(problem_text(error)), severity="error", timeout=6, markup=False)

    def action_reload(self) -> None:
        """Override: query the service again."""
