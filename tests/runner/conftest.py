"""Helpers of the runner tests: a source folder with scripts, and waiting for a status."""
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
    """`source_dir({"train.py": "print(1)"})` writes the files into a fresh folder and returns it."""
    count = 0

    def make(files: dict[str, str]) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"src{count}"
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        root.mkdir(exist_ok=True)
        return root

    return make


@pytest.fixture
def wait_status() -> Callable[..., Any]:
    return _wait_for_status


@pytest.fixture
def wait_console() -> Callable[..., str]:
    return _wait_for_console


def _wait_for_status(store: Any, run_id: str, statuses: set[str] | str, timeout: float = 30) -> Any:
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


def _wait_for_console(store: Any, run_id: str, text: str, timeout: float = 30) -> str:
    from tailrun.v1 import tailrun_pb2 as pb

    deadline = time.monotonic() + timeout
    while True:
        try:
            out = store.read_output(pb.ReadOutputRequest(run_id=run_id)).text
        except Exception:
            out = ""
        if text in out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the console of {run_id} after {timeout} s: {out!r}")
        time.sleep(0.02)
