"""The step types of `azureml.pipeline.steps` other than PythonScriptStep: importable, each
raising one clear error when constructed."""
from __future__ import annotations

from ..errors import unsupported_class

_WHY = "tailrun pipelines run PythonScriptStep steps; express this step as a Python script"
_HYPERDRIVE = "submit a HyperDriveConfig to an experiment (tailrun.train.hyperdrive) instead of a pipeline step"

AdlaStep = unsupported_class("AdlaStep", _WHY, __name__)
AutoMLStep = unsupported_class("AutoMLStep", "tailrun has no AutoML", __name__)
AzureBatchStep = unsupported_class("AzureBatchStep", _WHY, __name__)
CommandStep = unsupported_class("CommandStep", _WHY, __name__)
DataTransferStep = unsupported_class("DataTransferStep", _WHY, __name__)
DatabricksStep = unsupported_class("DatabricksStep", _WHY, __name__)
EstimatorStep = unsupported_class("EstimatorStep", "use a PythonScriptStep with the estimator's script", __name__)
HyperDriveStep = unsupported_class("HyperDriveStep", _HYPERDRIVE, __name__)
KustoStep = unsupported_class("KustoStep", _WHY, __name__)
ModuleStep = unsupported_class("ModuleStep", _WHY, __name__)
MpiStep = unsupported_class("MpiStep", _WHY, __name__)
ParallelRunConfig = unsupported_class("ParallelRunConfig", _WHY, __name__)
ParallelRunStep = unsupported_class("ParallelRunStep", _WHY, __name__)
SynapseSparkStep = unsupported_class("SynapseSparkStep", _WHY, __name__)

__all__ = ["AdlaStep", "AutoMLStep", "AzureBatchStep", "CommandStep", "DataTransferStep", "DatabricksStep",
           "EstimatorStep", "HyperDriveStep", "KustoStep", "ModuleStep", "MpiStep", "ParallelRunConfig",
           "ParallelRunStep", "SynapseSparkStep"]
