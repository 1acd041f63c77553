"""Azure ML's `azureml.core.workspace`: the Workspace class."""
from __future__ import annotations

from ..workspace import Workspace

__all__ = ["Workspace"]
