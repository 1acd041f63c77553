"""At start: the runs a previous service process left without a final status.

A run whose process still lives (same pid and start time) is supervised again; one whose script
ended while the service was down is finalized from its recorded exit code; any other is marked
Failed with the reason, so no submitted run stays stuck in Running.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tailrun import _status as st

from ..errors import NotFound
from .process import is_alive
from .state import saved_states
from .supervisor import RESTART_MESSAGE, make_error
from .writer import RunWriter

if TYPE_CHECKING:
    from .runner import Runner

log = logging.getLogger("tailrun_service.runner")
NOT_STARTED_MESSAGE = "the service restarted before the run started"


def recover(runner: "Runner") -> None:
    for state in saved_states(runner.runs_root):
        try:
            info = runner.store.get_run(state.run_id)
        except NotFound:
            state.forget()
            continue
        if st.is_terminal(info.status):
            state.forget()
            continue
        writer = RunWriter(runner.store, state.run_id)
        alive = bool(state.pid) and is_alive(state.pid, state.start_ticks)
        if alive or (state.pid and state.exit_code() is not None):
            if info.status not in (st.RUNNING, st.FINALIZING, st.CANCEL_REQUESTED):
                writer.status(st.RUNNING)
            log.info("run %s: supervising it again after a restart (pid %s, %s)", state.run_id,
                     state.pid, "running" if alive else "ended")
            supervisor = runner.adopt(state, writer)
            if info.status == st.CANCEL_REQUESTED:
                supervisor.request_stop("cancel")
            continue
        message = RESTART_MESSAGE if state.pid else NOT_STARTED_MESSAGE
        writer.status(st.FAILED, error_json=make_error("ServiceRestarted", message))
        state.forget()
        log.info("run %s: marked Failed: %s", state.run_id, message)
