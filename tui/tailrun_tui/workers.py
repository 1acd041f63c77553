"""Widgets that run service calls in workers report failures the same way: a ServiceProblem
message that bubbles to the screen's status line (Worker.StateChanged itself does not bubble)."""
from __future__ import annotations

from textual.worker import Worker, WorkerState

from .client import describe_error
from .messages import ServiceProblem


class ReportsWorkerErrors:
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            address = getattr(getattr(self, "app", None), "address", "the service")
            self.post_message(ServiceProblem(str(describe_error(event.worker.error, address))))  # type: ignore[attr-defined]
