"""Compute targets by name (Azure ML's `azureml.core.compute.ComputeTarget`).

The tailrun service runs submitted scripts as processes on its own machine: its only compute
target is `"local"`. `ComputeTarget(workspace=ws, name="local")` returns it,
`ComputeTarget.list(ws)` lists it, and any other name raises `ComputeTargetException` naming the
targets that exist. Creating cloud compute (AmlCompute clusters) is not something tailrun does.
"""
from __future__ import annotations

from typing import Any

from .exceptions import ComputeTargetException

LOCAL_TARGET = "local"
KNOWN_TARGETS = (LOCAL_TARGET,)

__all__ = ["ComputeTarget", "ComputeTargetException", "KNOWN_TARGETS"]


class ComputeTarget:
    """A compute target of the workspace, looked up by name (`"local"` is the only one)."""

    def __init__(self, workspace: Any, name: str) -> None:
        if name not in KNOWN_TARGETS:
            known = ", ".join(repr(t) for t in KNOWN_TARGETS)
            where = getattr(workspace, "name", None)
            raise ComputeTargetException(
                f"ComputeTargetNotFound: compute target {name!r} was not found"
                + (f" in workspace {where!r}" if where else "")
                + f"; the known compute targets are {known} (tailrun runs submitted scripts on the "
                "machine of its service)")
        self.workspace = workspace
        self.name = name
        self.type = "local"
        self.provisioning_state = "Succeeded"

    @staticmethod
    def list(workspace: Any) -> list["ComputeTarget"]:
        """The workspace's compute targets: `[the local target]`."""
        return [ComputeTarget(workspace, name) for name in KNOWN_TARGETS]

    def get_status(self) -> str:
        """The local target is always ready."""
        return self.provisioning_state

    def wait_for_completion(self, show_output: bool = False, *args: Any, **kwargs: Any) -> None:
        """Provisioning wait: the local target is always ready, so this returns at once."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComputeTarget) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"ComputeTarget(name={self.name!r}, type={self.type!r})"
