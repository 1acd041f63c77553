"""At start: the runs a previous service process left without a final status.

A run whose process was started is supervised again: while it lives (same pid and start time)
as before the restart, and once it has ended it is finalized like any run (console, outputs, the
spools its SDK left, the status from its recorded exit code; Failed "the service restarted while
the run was executing" when no exit code was recorded). A run that was accepted but not started
(Queued, or Preparing its environment) is queued again. So no submitted run stays stuck.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tailrun import _status as st
from tailrun._exec.process import is_alive

from ..errors import NotFound
from .state import saved_states
from .supervisor import make_error
from .writer import RunWriter

if TYPE_CHECKING:
    from .runner import Runner

log = logging.getLogger("tailrun_service.runner")
NOT_STARTED_MESSAGE = "the service restarted before the run started"


def recover(runner: "Runner") -> None:
    not_started = []
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
        if not state.pid and info.status in (st.NOT_STARTED, st.QUEUED, st.PREPARING):
            not_started.append((info.created_time, state, writer))
            continue
        if state.pid:
            alive = is_alive(state.pid, state.start_ticks)
            if info.status not in (st.RUNNING, st.FINALIZING, st.CANCEL_REQUESTED):
                writer.status(st.RUNNING)
            log.info("run %s: supervising it again after a restart (pid %s, %s)", state.run_id,
                     state.pid, "running" if alive else "ended")
            supervisor = runner.adopt(state, writer)
            if info.status == st.CANCEL_REQUESTED:
                supervisor.request_stop("cancel")
            continue
        writer.status(st.FAILED, error_json=make_error("ServiceRestarted", NOT_STARTED_MESSAGE))
        state.forget()
        log.info("run %s: marked Failed: %s", state.run_id, NOT_STARTED_MESSAGE)
    # After the adopted runs hold their slots, in the order they were submitted.
    for _created, state, writer in sorted(not_started, key=lambda item: (item[0], item[1].run_id)):
        log.info("run %s: queued again after a restart (it had not started)", state.run_id)
        runner.requeue(state, writer)
