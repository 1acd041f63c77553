"""Helpers of the sweep and orchestration tests: waiting for what the store shows (the test's
view, not the code under test), a run's children."""
from __future__ import annotations

import time
from typing import Any, Callable


def wait_status(store: Any, run_id: str, statuses: set[str] | str, timeout: float = 60) -> Any:
    """Poll the store (the test's view, not the code under test) until the run has one of `statuses`."""
    wanted = {statuses} if isinstance(statuses, str) else set(statuses)
    deadline = time.monotonic() + timeout
    while True:
        info = store.get_run(run_id)
        if info.status in wanted:
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} is {info.status}, not {sorted(wanted)}, after {timeout} s")
        time.sleep(0.02)


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {what}")
        time.sleep(0.02)


def children_of(store: Any, run_id: str) -> list[Any]:
    from tailrun.v1 import tailrun_pb2 as pb
    return sorted(store.list_runs(pb.ListRunsRequest(parent_run_id=run_id)), key=lambda r: r.run_id)
