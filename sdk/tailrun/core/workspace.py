"""Azure ML's `azureml.core.workspace`: the Workspace class (and WorkspaceException)."""
from __future__ import annotations

from ..exceptions import WorkspaceException
from ..workspace import Workspace

__all__ = ["Workspace", "WorkspaceException"]
