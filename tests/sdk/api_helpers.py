"""Shared bits of the SDK API tests (imported by tests/sdk/test_api_*.py and friends).

The recorder is process-wide and sends to one service per process, while every test gets its own
`service`; this `ws` fixture (shadowing conftest's) therefore gives each test a new recorder and
closes it before the service stops.
"""
from __future__ import annotations

import textwrap
from typing import Any, Iterator

import pytest


@pytest.fixture
def ws(service: Any) -> Iterator[Any]:
    from tailrun import Workspace
    _reset()
    yield Workspace(address=service.address)
    _reset()


def _reset() -> None:
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


def script(code: str) -> str:
    return textwrap.dedent(code).strip() + "\n"


def start(ws: Any, experiment: str = "api-tests", **kwargs: Any) -> Any:
    from tailrun import Experiment
    kwargs.setdefault("outputs", False)
    return Experiment(ws, experiment).start_logging(**kwargs)
