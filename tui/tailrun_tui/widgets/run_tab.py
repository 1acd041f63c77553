"""RunTab, what every tab of the run screen shares: it fetches its data the first time it is shown
(`start`, once), asks again on `r` once started (`reload`), and names the widget that takes the keys;
SharedFetchTab, one whose data comes in a fetch it shares with another tab."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from textual.reactive import reactive
from textual.widget import Widget

from tailrun.v1 import tailrun_pb2 as pb

from ..worker_errors import ReportsWorkerErrors

if TYPE_CHECKING:
    from tailrun.client import Client


class RunTab(ReportsWorkerErrors):
    """Mixed in before the tab's container class: `class OutputView(RunTab, Vertical)`."""

    FOCUS = ""   # the selector of the widget that takes the keys when the tab is shown; "" = the tab
    # Is the run still going: the run screen's, bound (data_bind) by the tabs whose text says so.
    run_active: reactive[bool] = reactive(True, init=False)

    def __init__(self, run_id: str, client: "Client", id: str | None = None) -> None:
        super().__init__(id=id)  # type: ignore[call-arg]
        self.run_id = run_id
        self.client = client
        self.started = False

    def shown(self, run: pb.RunInfo) -> None:
        """The tab was shown (the run is loaded): the first time, fetch what it draws."""
        if not self.started:
            self.started = True
            self.start(run)

    def start(self, run: pb.RunInfo) -> None:
        """Override: the first fetch."""

    def reload(self) -> None:
        """Override: ask the service again (`r`, a reconnect); only called once started."""

    def focus_target(self) -> Widget:
        return self.query_one(self.FOCUS) if self.FOCUS else self  # type: ignore[attr-defined,return-value]

    def take_focus(self) -> bool:
        """Focus the widget that takes the keys; False when it cannot take it (hidden, not focusable)."""
        target = self.focus_target()
        if target.focusable:
            target.focus()
            return True
        return False


class SharedFetchTab(RunTab):
    """A tab whose data comes with another tab's in one fetch the run screen makes (Tables and
    Images: the run's non-scalar metrics); showing it asks for that fetch (`fetch`, done once)."""

    def __init__(self, run_id: str, client: "Client", fetch: Callable[[], None],
                 id: str | None = None) -> None:
        super().__init__(run_id, client, id=id)
        self.fetch = fetch

    def start(self, run: pb.RunInfo) -> None:
        self.fetch()
