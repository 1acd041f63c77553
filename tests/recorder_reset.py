"""Giving each in-process test fresh SDK recorders (they are per process, one per target)."""
from __future__ import annotations


def reset_recorder() -> None:
    """Close the process's recorders and forget them and the open runs."""
    import tailrun._lifecycle as lifecycle
    import tailrun._recorder as recorder_module
    import tailrun.run_context as context_module

    for run in lifecycle.active_runs():  # runs a failing test left open
        lifecycle.unregister(run)
        run._stop_console()
    for rec in list(recorder_module._by_target.values()):
        rec.close(5)
        rec._thread = None  # its atexit hook has nothing left to do
        rec._exit_reported = True
    recorder_module._by_target.clear()
    recorder_module._recorder = None
    context_module._context_runs.clear()
