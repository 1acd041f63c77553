"""Giving each in-process test a fresh SDK recorder (the recorder is process-wide)."""
from __future__ import annotations


def reset_recorder() -> None:
    """Close the process's recorder and forget the open runs and the configured address."""
    import tailrun._lifecycle as lifecycle
    import tailrun._recorder as recorder_module
    import tailrun.run_context as context_module
    import tailrun.workspace as workspace_module

    for run in lifecycle.active_runs():  # runs a failing test left open
        lifecycle.unregister(run)
        run._stop_console()
    rec = recorder_module._recorder
    if rec is not None:
        rec.close(5)
        rec._thread = None  # its atexit hook has nothing left to do
    recorder_module._recorder = None
    workspace_module._configured = None
    context_module._context_runs.clear()
