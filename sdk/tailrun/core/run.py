"""Azure ML's `azureml.core.run`: the Run class."""
from __future__ import annotations

from ..run import Run

__all__ = ["Run"]
