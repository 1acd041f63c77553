"""Azure ML's `azureml.core.runconfig`: RunConfiguration and its docker and distributed-job
settings (recorded on the run definition; tailrun runs one process, without a container)."""
from __future__ import annotations

from ..environment import CondaDependencies
from ..runconfig import (DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, AmlComputeConfiguration, DockerConfiguration,
                         HistoryConfiguration, MpiConfiguration, PyTorchConfiguration, RunConfiguration,
                         TensorflowConfiguration)

__all__ = ["RunConfiguration", "DockerConfiguration", "MpiConfiguration", "PyTorchConfiguration",
           "TensorflowConfiguration", "HistoryConfiguration", "AmlComputeConfiguration",
           "CondaDependencies", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE"]
