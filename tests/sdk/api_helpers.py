"""What the SDK API tests share: a script from indented code, and an interactive run to log to."""
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
