"""Azure ML's `azureml.core.conda_dependencies`: CondaDependencies."""
from __future__ import annotations

from ..environment import CondaDependencies

__all__ = ["CondaDependencies"]
