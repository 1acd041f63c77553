"""Helpers of the sweep and orchestration tests: source folders, waiting for statuses in the store."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from recorder_reset import reset_recorder


@pytest.fixture
def workspace_of() -> Iterator[Callable[[Any], Any]]:
    """`workspace_of(service)`: a Workspace on that service, with a fresh recorder."""
    from tailrun import Workspace

    def make(service: Any) -> Any:
        reset_recorder()
        return Workspace(address=service.address, token=service.token)

    yield make
    reset_recorder()


@pytest.fixture
def source_dir(tmp_path: Path) -> Callable[..., Path]:
    """`source_dir({"train.py": "..."})` writes the files into a fresh folder and returns it."""
    count = 0

    def make(files: dict[str, str]) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"src{count}"
        root.mkdir()
        for name, text in files.items():
            (root / name).write_text(text)
        return root

    return make


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
