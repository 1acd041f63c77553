"""Helpers of the sweep and orchestration tests: waiting for what the store shows (the test's
view, not the code under test), a run's children."""
from __future__ import annotations

from typing import Any

from waiting import wait_status, wait_until  # noqa: F401  (the sweep tests import them from here)


def children_of(store: Any, run_id: str) -> list[Any]:
    from tailrun.v1 import tailrun_pb2 as pb
    return sorted(store.list_runs(pb.ListRunsRequest(parent_run_id=run_id)), key=lambda r: r.run_id)
