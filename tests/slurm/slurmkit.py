"""Helpers of the Slurm tests."""
from __future__ import annotations

import time
from typing import Any, Callable


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll `check()` (the test's view of the store or of Slurm) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.05)


def console(service: Any, run_id: str) -> str:
    """The run's stored console (user_logs/std_log.txt)."""
    from tailrun.v1 import tailrun_pb2 as pb

    try:
        return service.store.read_output(pb.ReadOutputRequest(run_id=run_id)).text
    except Exception:
        return ""
