"""Azure ML's `azureml.core.script_run`: ScriptRun, the run a submission returns."""
from __future__ import annotations

from ..script_run import ScriptRun

__all__ = ["ScriptRun"]
