"""Azure ML's `azureml.core.container_registry`: ContainerRegistry (see tailrun.environment)."""
from __future__ import annotations

from ..environment import ContainerRegistry

__all__ = ["ContainerRegistry"]
