"""Azure ML's `azureml.core.script_run_config`: ScriptRunConfig, get_run_config_from_script_run."""
from __future__ import annotations

from typing import Any

from ..script_run import ScriptRunConfig

__all__ = ["ScriptRunConfig", "get_run_config_from_script_run"]


def get_run_config_from_script_run(script_run_config: ScriptRunConfig) -> Any:
    """The RunConfiguration a ScriptRunConfig submits (Azure ML's helper of the same name)."""
    return script_run_config.run_config
