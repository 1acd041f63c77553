"""Compute targets by name (Azure ML's `azureml.core.compute.ComputeTarget`).

The targets are the service's: `"local"` (its own machine) always, plus those of its
`--compute-config` (for example Slurm partitions). `ComputeTarget(workspace=ws, name=...)` looks one
up, `ComputeTarget.list(ws)` lists them with their live state, and an unknown name raises
`ComputeTargetException` naming the targets that exist. Creating cloud compute (AmlCompute
clusters, `ComputeTarget.create`, `ComputeTarget.attach`) is not something tailrun does: targets are
configured on the service, and these raise ComputeTargetException saying so (tailrun.cloud_only).
"""
from __future__ import annotations

from typing import Any

from .exceptions import ComputeTargetException

LOCAL_TARGET = "local"

__all__ = ["ComputeTarget", "ComputeTargetException", "LOCAL_TARGET"]


class ComputeTarget:
    """A compute target of the workspace's service, looked up by name.

    Attributes as Azure ML's: `name`, `type` (the kind: "local", "slurm"), `provisioning_state`
    ("Succeeded" when usable, else "Unavailable"); also `status_detail` (one line, e.g. the
    partition's idle/allocated/down nodes) and `properties`."""

    def __init__(self, workspace: Any, name: str) -> None:
        self.workspace, self.name = workspace, name
        self.get_status()

    @classmethod
    def _from_info(cls, workspace: Any, info: Any) -> "ComputeTarget":
        target = cls.__new__(cls)
        target._set(workspace, info)
        return target

    def _set(self, workspace: Any, info: Any) -> None:
        self.workspace = workspace
        self.name = info.name
        self.type = info.kind
        self.provisioning_state = info.state
        self.status_detail = info.detail
        self.properties = dict(info.properties)

    @staticmethod
    def list(workspace: Any) -> list["ComputeTarget"]:
        """The service's compute targets, `local` first, with their live state."""
        return [ComputeTarget._from_info(workspace, info) for info in _list(workspace)]

    @staticmethod
    def create(workspace: Any, name: str, provisioning_configuration: Any = None, **kwargs: Any) -> "ComputeTarget":
        """Raises ComputeTargetException: tailrun creates no cloud compute (the message says what to do)."""
        from .cloud_only import COMPUTE, unavailable
        raise unavailable("ComputeTarget.create", COMPUTE, "ComputeTargetException")

    @staticmethod
    def attach(workspace: Any, name: str, attach_configuration: Any = None, **kwargs: Any) -> "ComputeTarget":
        """Raises ComputeTargetException: targets are configured on the service, not attached."""
        from .cloud_only import COMPUTE, unavailable
        raise unavailable("ComputeTarget.attach", COMPUTE, "ComputeTargetException")

    def get_status(self) -> "ComputeStatus":
        """The target's state now ("Succeeded" when usable), read again from the service; a str
        whose `serialize()` is Azure ML's status dict (notebooks print `get_status().serialize()`)."""
        infos = _list(self.workspace)
        found = next((info for info in infos if info.name == self.name), None)
        if found is None:
            raise not_found(self.name, [info.name for info in infos], self.workspace)
        self._set(self.workspace, found)
        return ComputeStatus(self.provisioning_state, {"provisioningState": self.provisioning_state,
                                                       "statusDetail": self.status_detail})

    def refresh_state(self) -> None:
        self.get_status()

    def wait_for_completion(self, show_output: bool = False, *args: Any, **kwargs: Any) -> None:
        """Provisioning wait: targets are configured on the service, so this returns at once."""

    def serialize(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "provisioningState": self.provisioning_state,
                "statusDetail": self.status_detail, "properties": dict(self.properties)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComputeTarget) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"ComputeTarget(name={self.name!r}, type={self.type!r}, state={self.provisioning_state!r})"


class ComputeStatus(str):
    """A compute target's state as a str ("Succeeded", "Unavailable") that also has Azure ML's
    `serialize()` (the status as a dict)."""

    _details: dict[str, Any]

    def __new__(cls, state: str, details: dict[str, Any]) -> "ComputeStatus":
        status = super().__new__(cls, state)
        status._details = dict(details)
        return status

    def serialize(self) -> dict[str, Any]:
        return dict(self._details)


def not_found(name: str, known: list[str], workspace: Any = None) -> ComputeTargetException:
    where = getattr(workspace, "name", None)
    return ComputeTargetException(
        f"ComputeTargetNotFound: compute target {name!r} was not found"
        + (f" in workspace {where!r}" if where else "")
        + f"; the known compute targets are {', '.join(repr(t) for t in known)} (targets are configured "
        "on the tailrun service: tailrun server --compute-config FILE)")


def _list(workspace: Any) -> list[Any]:
    return workspace._client().list_compute_targets()
