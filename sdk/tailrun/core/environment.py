"""Azure ML's `azureml.core.environment`: Environment (and CondaDependencies, the default images)."""
from __future__ import annotations

from ..environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, CondaDependencies, Environment

__all__ = ["Environment", "CondaDependencies", "DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE"]
