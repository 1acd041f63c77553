"""Azure ML's `azureml.core.model`: the Model class (the registry of trained models)."""
from __future__ import annotations

from ..model import Model

__all__ = ["Model"]
