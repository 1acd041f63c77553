"""Azure ML's `azureml.core.environment`: Environment (and CondaDependencies)."""
from __future__ import annotations

from ..environment import CondaDependencies, Environment

__all__ = ["Environment", "CondaDependencies"]
