"""Azure ML's `azureml.pipeline.steps`: `PythonScriptStep` runs; the other step types import and
raise `PipelineFeatureUnsupported` when constructed."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports

_UNSUPPORTED = ("AdlaStep", "AutoMLStep", "AzureBatchStep", "CommandStep", "DataTransferStep",
                "DatabricksStep", "EstimatorStep", "HyperDriveStep", "KustoStep", "ModuleStep", "MpiStep",
                "ParallelRunConfig", "ParallelRunStep", "SynapseSparkStep")
_LAZY = {"PythonScriptStep": "tailrun.pipeline.steps.python_script_step",
         **{name: "tailrun.pipeline.steps.unsupported_steps" for name in _UNSUPPORTED}}
__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .python_script_step import PythonScriptStep

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
