"""Run statuses (the names Azure ML uses) and how they group."""

NOT_STARTED = "NotStarted"
QUEUED = "Queued"
PREPARING = "Preparing"
STARTING = "Starting"
RUNNING = "Running"
FINALIZING = "Finalizing"
CANCEL_REQUESTED = "CancelRequested"
COMPLETED = "Completed"
FAILED = "Failed"
CANCELED = "Canceled"
NOT_RESPONDING = "NotResponding"

ALL = (NOT_STARTED, QUEUED, PREPARING, STARTING, RUNNING, FINALIZING,
       CANCEL_REQUESTED, COMPLETED, FAILED, CANCELED, NOT_RESPONDING)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELED})
# Statuses that `wait_for_completion` treats as post-processing.
POST_PROCESSING = frozenset({CANCEL_REQUESTED, FINALIZING})


def is_terminal(status: str) -> bool:
    return status in TERMINAL
