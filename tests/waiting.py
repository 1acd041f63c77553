"""Waiting in tests for what the store shows (the test's own view, never the code under test):
poll a condition every 20 ms and fail loudly, naming what was awaited, after a generous timeout."""
from __future__ import annotations

import time
from typing import Any, Callable


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """`check()`'s first truthy value; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout:g} s: {what}")
        time.sleep(0.02)


def wait_status(store: Any, run_id: str, statuses: set[str] | str, timeout: float = 60) -> Any:
    """The run's RunInfo once its status is one of `statuses`."""
    wanted = {statuses} if isinstance(statuses, str) else set(statuses)
    seen: list[str] = []

    def reached() -> Any:
        info = store.get_run(run_id)
        seen[:] = [info.status]
        return info if info.status in wanted else None

    try:
        return wait_until(reached, f"run {run_id} {sorted(wanted)}", timeout)
    except AssertionError:
        raise AssertionError(f"run {run_id} is {seen[0] if seen else '?'}, not {sorted(wanted)}, "
                             f"after {timeout:g} s") from None


def console_text(store: Any, run_id: str) -> str:
    """The run's stored console (user_logs/std_log.txt or logs/user_log.txt); "" before it exists."""
    from tailrun.v1 import tailrun_pb2 as pb

    try:
        return store.read_output(pb.ReadOutputRequest(run_id=run_id)).text
    except Exception:
        return ""


def wait_console(store: Any, run_id: str, text: str, timeout: float = 60) -> str:
    """The run's console once it holds `text`."""
    try:
        return wait_until(lambda: (lambda out: out if text in out else "")(console_text(store, run_id)),
                          f"{text!r} in the console of {run_id}", timeout)
    except AssertionError:
        raise AssertionError(f"{text!r} not in the console of {run_id} after {timeout:g} s: "
                             f"{console_text(store, run_id)!r}") from None
