"""Azure ML's `azureml.telemetry`: `set_diagnostics_collection`, called at the top of many v1
notebooks. tailrun collects no diagnostics and sends nothing anywhere."""
from __future__ import annotations

from typing import Any

__all__ = ["set_diagnostics_collection"]


def set_diagnostics_collection(send_diagnostics: bool = True, verbose: bool = False, reset: bool = False,
                               path: Any = None) -> None:
    """Azure ML's opt-in to sending diagnostics to Microsoft. tailrun sends none; asked to, it says so
    in one line."""
    if send_diagnostics:
        print("tailrun collects no diagnostics: nothing is sent")
