"""tailrun: log metrics, tables, images, files and console output of a training script.

The API mirrors the Azure ML SDK v1 `Run` API; replacing `azureml` with `tailrun` in a script's
imports is the whole migration. Names are loaded on first use so that `import tailrun` stays
cheap (no grpc, no protobuf until something is actually sent).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Workspace": "tailrun.workspace",
    "Experiment": "tailrun.experiment",
    "Run": "tailrun.run",
    "ScriptRunConfig": "tailrun.script_run",
    "RunConfiguration": "tailrun.script_run",
    "Environment": "tailrun.script_run",
    "Estimator": "tailrun.script_run",
    "RunDetails": "tailrun.widgets",
    "Model": "tailrun.model",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .experiment import Experiment
    from .model import Model
    from .run import Run
    from .script_run import Environment, Estimator, RunConfiguration, ScriptRunConfig
    from .widgets import RunDetails
    from .workspace import Workspace


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
