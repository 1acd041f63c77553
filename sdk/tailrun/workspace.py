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
from pathlib import Path
from typing import Any

from ._settings import Settings

CONFIG_NAMES = (os.path.join(".tailrun", "config.json"), "config.json")
_CONFIG_KEYS = ("address", "token", "ca_file")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Workspace:
    """A tailrun service to log to and read from.

    `Workspace(address="host:port", token=None, ca_file=None)`; any argument left out comes from
    TAILRUN_ADDRESS / TAILRUN_TOKEN / TAILRUN_CA, and with no address at all the per-user local
    service is used (started in the background when needed).

    For old Azure ML code, `subscription_id`, `resource_group`, `workspace_name`, `auth` and other
    Azure keyword arguments are accepted and ignored, as is the positional form
    `Workspace(subscription_id, resource_group, workspace_name)` (recognised by the GUID).
    """

    def __init__(self, address: str | None = None, token: str | None = None, ca_file: str | None = None,
                 *, subscription_id: str | None = None, resource_group: str | None = None,
                 workspace_name: str | None = None, **azure_kwargs: Any) -> None:
        if address is not None and _GUID.match(address):
            # Azure's positional (subscription_id, resource_group, workspace_name): not ours.
            workspace_name = ca_file or workspace_name
            address = token = ca_file = None
        self._settings = Settings.resolve(address, token, ca_file)
        self.name = workspace_name or "tailrun"
        self._client_obj: Any = None
        self._lock = threading.Lock()

    # --------------------------------------------------------------- constructors

    @classmethod
    def from_config(cls, path: str | os.PathLike | None = None, **azure_kwargs: Any) -> "Workspace":
        """The workspace described by a config file, found like Azure ML's `from_config`.

        `path` may be the file itself or a folder; without it, `.tailrun/config.json` or
        `config.json` is looked for in the current folder and then each parent. The keys used are
        `address`, `token` and `ca_file` (others, such as Azure's subscription_id, are ignored).

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
        ws = cls(**values)
        ws.name = data.get("workspace_name") or ws.name
        return ws

    @classmethod
    def get(cls, name: str | None = None, **kwargs: Any) -> "Workspace":
        """Azure ML's `Workspace.get(name, ...)`: here the same as `from_config()`."""
        return cls.from_config()

    # --------------------------------------------------------------- what others use

    @property
    def address(self) -> str | None:
        """The configured service address, or None for the per-user local service."""
        return self._settings.address

    @property
    def settings(self) -> Settings:
        return self._settings

    def _client(self) -> Any:
        """The read client (created on first use: reads need a reachable service)."""
        with self._lock:
            if self._client_obj is None:
                from ._client import Client
                self._client_obj = Client(self._settings)
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
