"""Azure ML's `azureml.core.compute_target`: compute targets by name (see tailrun.compute)."""
from __future__ import annotations

from ..compute import ComputeTarget, ComputeTargetException

__all__ = ["ComputeTarget", "ComputeTargetException"]
