"""How a failed worker reaches the user, the same way from a screen or from any of its widgets:
the failure bubbles to the screen as a WorkerFailed message, and the screen shows it."""
from __future__ import annotations

from textual.worker import Worker, WorkerState

from tailrun.exceptions import TailrunError

from .messages import WorkerFailed


class ReportsWorkerErrors:
    """Mixed into a screen or a widget that runs service calls in workers: a failed one posts
    WorkerFailed, which bubbles up to the screen (Worker.StateChanged itself does not bubble)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.post_message(WorkerFailed(event.worker.error))  # type: ignore[attr-defined]


def problem_text(error: BaseException) -> str:
    """The failure as one line a user can act on (the only place the UI turns an exception into
    text): the SDK's errors name the service and what to do; anything else (a bug) gets its type name."""
    return str(error) if isinstance(error, TailrunError) else f"{type(error).__name__}: {error}"
