"""`Workspace`: where runs are sent and read from (a service address, a token, a CA file).

Azure ML's Workspace names a cloud resource; tailrun's names a service. With nothing configured
it is the per-user local service, so `Workspace()` and `Workspace.from_config()` work with zero
configuration on one machine.
"""
from __future__ import annotations

import json
import os
import re
import threading
import warnings
from pathlib import Path
from typing import Any

from ._settings import Settings

CONFIG_DIR = ".tailrun"
CONFIG_NAMES = (os.path.join(CONFIG_DIR, "config.json"), os.path.join(".azureml", "config.json"), "config.json")
_CONFIG_KEYS = ("address", "token", "ca_file")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Workspace:
    """A tailrun service to log to and read from.

    `Workspace(address="host:port", token=None, ca_file=None)`; any argument left out comes from
    TAILRUN_ADDRESS / TAILRUN_TOKEN / TAILRUN_CA, and with no address at all the per-user local
    service is used (started in the background when needed).

    For Azure ML code, `Workspace(subscription_id, resource_group, workspace_name)` (positional,
    recognised by a first argument that is a GUID or has no `host:port` colon) and the keyword
    arguments `subscription_id`, `resource_group`, `workspace_name`, `auth`, ... are accepted and
    mapped to the configured service; they never raise. What notebooks print:

    - `name`: the workspace name given (or from the config file), else `"local"`;
    - `location`: the service address, or `"local"` for the per-user local service;
    - `subscription_id` / `resource_group`: the values given (or from the config file), else
      `""` / `"local"`;
    - `get_details()`, `experiments`, `environments`, `compute_targets`, `models`, `get_run(run_id)`,
      `write_config()`.

    `auth=` (any object of `tailrun.core.authentication`: InteractiveLoginAuthentication,
    ServicePrincipalAuthentication, ...) is accepted here, by `from_config` and by `get`, and ignored:
    the service's token is the credential. Cloud resources: `webservices`, `datastores` and
    `datasets` are empty; `get_default_datastore()` and `get_default_keyvault()` raise
    UserErrorException saying what to do instead (see tailrun.cloud_only).
    """

    def __init__(self, address: str | None = None, token: str | None = None, ca_file: str | None = None,
                 *, subscription_id: str | None = None, resource_group: str | None = None,
                 workspace_name: str | None = None, _from_config: bool = False, **azure_kwargs: Any) -> None:
        if address is not None and not _from_config and _is_azure_positional(address, ca_file, workspace_name):
            # Azure's positional (subscription_id, resource_group, workspace_name): not ours.
            subscription_id = subscription_id or address
            resource_group = resource_group or token
            workspace_name = workspace_name or ca_file
            address = token = ca_file = None
        self._settings = Settings.resolve(address, token, ca_file)
        self.name = workspace_name or "local"
        self.subscription_id = subscription_id or ""
        self.resource_group = resource_group or "local"
        self._client_obj: Any = None
        self._lock = threading.Lock()

    # --------------------------------------------------------------- constructors

    @classmethod
    def from_config(cls, path: str | os.PathLike | None = None, **azure_kwargs: Any) -> "Workspace":
        """The workspace described by a config file, found like Azure ML's `from_config`.

        `path` may be the file itself or a folder; without it, `.tailrun/config.json`,
        `.azureml/config.json` or `config.json` is looked for in the current folder and then each
        parent. The keys used are `address`, `token` and `ca_file` (the service) and Azure's
        `workspace_name`, `subscription_id` and `resource_group` (the names the workspace shows),
        so both the files `write_config` writes and Azure ML's own config.json are read.

        With no config file found this does not fail: it falls back to the environment
        (TAILRUN_ADDRESS, TAILRUN_TOKEN, TAILRUN_CA) and then to the per-user local service, so it
        works with zero configuration.
        """
        config_file = _find_config(Path(path) if path is not None else None)
        if config_file is None:
            if path is not None and not Path(path).is_dir():
                raise FileNotFoundError(f"tailrun workspace config file not found: {path}")
            return cls()
        try:
            data = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the tailrun workspace config {config_file}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"tailrun workspace config {config_file} must hold a JSON object")
        values = {key: data.get(key) for key in _CONFIG_KEYS}
        if values["ca_file"] and not os.path.isabs(values["ca_file"]):
            values["ca_file"] = str(config_file.parent / values["ca_file"])
        return cls(**values, workspace_name=_str_or_none(data.get("workspace_name")),
                   subscription_id=_str_or_none(data.get("subscription_id")),
                   resource_group=_str_or_none(data.get("resource_group")), _from_config=True)

    @classmethod
    def get(cls, name: str | None = None, auth: Any = None, subscription_id: str | None = None,
            resource_group: str | None = None, **kwargs: Any) -> "Workspace":
        """Azure ML's `Workspace.get(name, ...)`: the workspace of `from_config()` (the configured
        service) shown under the given name, subscription and resource group."""
        ws = cls.from_config()
        ws.name = name or ws.name
        ws.subscription_id = subscription_id or ws.subscription_id
        ws.resource_group = resource_group or ws.resource_group
        return ws

    @classmethod
    def create(cls, name: str, auth: Any = None, subscription_id: str | None = None,
               resource_group: str | None = None, **kwargs: Any) -> "Workspace":
        """Azure ML's `Workspace.create`: tailrun creates no Azure workspace. It returns the
        configured service's workspace, as `Workspace.get(name, ...)` does, and warns once so."""
        warnings.warn("tailrun: Workspace.create makes no Azure workspace; it returns the configured "
                      "tailrun service as the workspace", stacklevel=2)
        return cls.get(name, subscription_id=subscription_id, resource_group=resource_group)

    def write_config(self, path: str | os.PathLike | None = None, file_name: str | None = None) -> str:
        """Write `<path>/.tailrun/<file_name>` (default `./.tailrun/config.json`) so that
        `Workspace.from_config()` finds this workspace again; returns the file's path.

        It holds `address` and `ca_file` when configured (none means the per-user local service)
        and `workspace_name`, `subscription_id`, `resource_group`. The token is not written (it is
        a secret and the file is often committed): set TAILRUN_TOKEN where it is needed.
        """
        folder = Path(path if path is not None else os.getcwd()) / CONFIG_DIR
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (file_name or "config.json")
        data: dict[str, str] = {}
        if self._settings.address:
            data["address"] = self._settings.address
        if self._settings.ca_file:
            data["ca_file"] = os.path.abspath(self._settings.ca_file)
        data.update(workspace_name=self.name, subscription_id=self.subscription_id,
                    resource_group=self.resource_group)
        target.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")
        return str(target)

    # --------------------------------------------------------------- what notebooks print

    @property
    def location(self) -> str:
        """Where the workspace is: the service address, or "local" for the per-user local service."""
        return self._settings.address or "local"

    def get_details(self) -> dict[str, Any]:
        """Azure ML's workspace details, with tailrun's values (`serviceAddress` is the address
        actually used: the running per-user local service's when none is configured, else None)."""
        from .exceptions import ServiceUnavailable
        try:
            service_address: str | None = self._client().address
        except ServiceUnavailable:
            service_address = None
        return {
            "id": (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                   f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"),
            "name": self.name,
            "friendlyName": self.name,
            "location": self.location,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "subscriptionId": self.subscription_id,
            "resourceGroup": self.resource_group,
            "tags": {},
            "serviceAddress": service_address,
        }

    @property
    def experiments(self) -> dict[str, Any]:
        """The service's active experiments by name (`Experiment` objects)."""
        from .experiment import Experiment
        return {exp.name: exp for exp in Experiment.list(self)}

    @property
    def environments(self) -> dict[str, Any]:
        """The registered environments by name, each its latest version (`Environment.list(ws)`)."""
        from .environment import Environment
        return Environment.list(self)

    @property
    def compute_targets(self) -> dict[str, Any]:
        """The service's compute targets by name (`"local"` and those of its --compute-config)."""
        from .compute import ComputeTarget
        return {target.name: target for target in ComputeTarget.list(self)}

    @property
    def models(self) -> dict[str, Any]:
        """Registered models by name, each the newest version (`Model` objects)."""
        from .model import Model
        return {model.name: model for model in Model.list(self, latest=True)}

    @property
    def webservices(self) -> dict[str, Any]:
        """Empty: tailrun deploys no web services."""
        return {}

    @property
    def datastores(self) -> dict[str, Any]:
        """Empty: tailrun has no datastores."""
        return {}

    @property
    def datasets(self) -> dict[str, Any]:
        """Empty: tailrun has no datasets."""
        return {}

    def get_default_datastore(self) -> Any:
        """Raises UserErrorException: tailrun has no datastores (the message says what to do instead)."""
        from .cloud_only import DATA, unavailable
        raise unavailable("Workspace.get_default_datastore", DATA, "UserErrorException")

    def get_default_keyvault(self) -> Any:
        """Raises UserErrorException: tailrun has no key vault (the message says what to do instead)."""
        from .cloud_only import SECRETS, unavailable
        raise unavailable("Workspace.get_default_keyvault", SECRETS, "UserErrorException")

    def get_run(self, run_id: str) -> Any:
        """The run with this id (`Run.get(workspace, run_id)`); RunNotFound if there is none."""
        from .run import Run
        return Run.get(self, run_id)

    def get_mlflow_tracking_uri(self, _with_auth: bool = False) -> str:
        """The URI for `mlflow.set_tracking_uri()`: `tailrun://HOST:PORT` (`tailrun://` for the
        per-user local service). MLflow's fluent API and MlflowClient then log to and read from
        this service through tailrun's MLflow plugin (the `mlflow` extra). The token is not part
        of the URI; this process's MLflow uses this workspace's token (elsewhere: TAILRUN_TOKEN)."""
        from ._mlflow_uri import tracking_uri
        return tracking_uri(self._settings)

    # --------------------------------------------------------------- what others use

    @property
    def address(self) -> str | None:
        """The configured service address, or None for the per-user local service."""
        return self._settings.address

    @property
    def settings(self) -> Settings:
        return self._settings

    def _client(self) -> Any:
        """The client for queries, submissions and registries (created on first use); with no
        service configured it starts the per-user local service, as logging does."""
        with self._lock:
            if self._client_obj is None:
                from .client import Client
                self._client_obj = Client(self._settings, start_local=True)
            return self._client_obj

    def _recorder(self) -> Any:
        """The recorder of this workspace's target (address, token, CA file): its runs are sent
        there with these credentials, whatever other workspaces the process uses."""
        from ._recorder import recorder
        rec = recorder(self._settings)
        if rec._thread is None:
            rec._ensure_thread()
        return rec

    def __repr__(self) -> str:
        return f"Workspace(address={self._settings.address or '<local service>'!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other._settings == self._settings

    def __hash__(self) -> int:
        return hash(self._settings)


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _is_azure_positional(first: str, third: str | None, workspace_name: str | None) -> bool:
    """Whether `Workspace(a, b, c)` is Azure's (subscription_id, resource_group, workspace_name):
    a GUID first, or a first argument without the colon of `host:port` together with a workspace
    name (a third argument that is no file, or `workspace_name=`)."""
    if _GUID.match(first):
        return True
    if ":" in first:
        return False
    return workspace_name is not None or (third is not None and not os.path.isfile(third))


def _find_config(path: Path | None) -> Path | None:
    if path is not None:
        if path.is_file():
            return path
        if not path.is_dir():
            return None
        folders = [path]
    else:
        cwd = Path.cwd().resolve()
        folders = [cwd, *cwd.parents]
    for folder in folders:
        for name in CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None
