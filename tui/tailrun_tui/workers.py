"""Widgets that run service calls in workers report failures the same way: a ServiceProblem
message that bubbles to the screen's status line (Worker.StateChanged itself does not bubble)."""
from __future__ import annotations

from textual.worker import Worker, WorkerState

from tailrun.exceptions import TailrunError

from .messages import ServiceProblem


def problem_text(error: BaseException) -> str:
    """A failed call as one line: the SDK's errors name the service and what to do; anything
    else (a bug) gets its type name too."""
    return str(error) if isinstance(error, TailrunError) else f"{type(error).__name__}: {error}"


class ReportsWorkerErrors:
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.post_message(ServiceProblem(problem_text(event.worker.error)))  # type: ignore[attr-defined]
