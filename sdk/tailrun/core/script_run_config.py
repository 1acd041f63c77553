"""Azure ML's `azureml.core.script_run_config`: ScriptRunConfig."""
from __future__ import annotations

from ..script_run import ScriptRunConfig

__all__ = ["ScriptRunConfig"]
