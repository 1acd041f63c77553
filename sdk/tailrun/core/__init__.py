"""Azure ML's `azureml.core` import path: `from tailrun.core import Workspace, Experiment, Run, ...`.

ScriptRunConfig, RunConfiguration and Environment live in tailrun.script_run and are loaded on
first use, so importing this module stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from .experiment import Experiment
from .run import Run
from .workspace import Workspace

_LAZY = {"ScriptRunConfig": "tailrun.script_run", "RunConfiguration": "tailrun.script_run",
         "Environment": "tailrun.script_run", "ScriptRun": "tailrun.script_run"}
__all__ = ["Workspace", "Experiment", "Run", "ScriptRunConfig", "RunConfiguration", "Environment", "ScriptRun"]

if TYPE_CHECKING:  # pragma: no cover
    from .script_run import Environment, RunConfiguration, ScriptRun, ScriptRunConfig


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
