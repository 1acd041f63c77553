"""Shared bits of the SDK API tests (imported by tests/sdk/test_api_*.py and friends).

"""
from __future__ import annotations

import textwrap
from typing import Any



def script(code: str) -> str:
    return textwrap.dedent(code).strip() + "\n"


def start(ws: Any, experiment: str = "api-tests", **kwargs: Any) -> Any:
    from tailrun import Experiment
    kwargs.setdefault("outputs", False)
    kwargs.setdefault("snapshot_directory", None)   # not a zip of the checkout per test
    return Experiment(ws, experiment).start_logging(**kwargs)
