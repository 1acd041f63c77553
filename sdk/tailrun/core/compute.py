"""Azure ML's `azureml.core.compute`: compute targets by name (see tailrun.compute), and the
cloud compute classes (AmlCompute, ComputeInstance, AksCompute, ...): importable, but using them
raises ComputeTargetException saying what to do instead (see tailrun.cloud_only)."""
from __future__ import annotations

from ..cloud_only import (AdlaCompute, AksCompute, AmlCompute, BatchCompute, ComputeInstance, DatabricksCompute,
                          DataFactoryCompute, HDInsightCompute, KubernetesCompute, RemoteCompute, SynapseCompute)
from ..compute import ComputeTarget, ComputeTargetException

__all__ = ["ComputeTarget", "ComputeTargetException", "AmlCompute", "ComputeInstance", "AksCompute",
           "DatabricksCompute", "HDInsightCompute", "RemoteCompute", "BatchCompute", "DataFactoryCompute",
           "AdlaCompute", "KubernetesCompute", "SynapseCompute"]
