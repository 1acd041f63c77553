"""The `tailrun://` URIs of the MLflow plugin (no mlflow import here: Workspace uses it).

Tracking URI: `tailrun://HOST:PORT` (or `tailrun://`: TAILRUN_ADDRESS, else the per-user local
service); a run's
artifact URI: `tailrun://HOST:PORT/runs/<run id>/artifacts`. The token is never put in a URI (it
is a secret, and MLflow prints URIs): a Workspace that hands out its URI registers its settings
for this process, otherwise TAILRUN_TOKEN / TAILRUN_CA apply.
"""
from __future__ import annotations

import threading
from urllib.parse import urlparse

from ._settings import Settings

SCHEME = "tailrun"
_lock = threading.Lock()
_registered: dict[str, Settings] = {}   # address ("" = the local service) -> settings


def tracking_uri(settings: Settings) -> str:
    """The MLflow tracking URI of these settings, remembered for this process's plugin."""
    address = settings.address or ""
    with _lock:
        _registered[address] = settings
    return f"{SCHEME}://{address}"


def settings_for(uri: str | None) -> Settings:
    """The settings of a `tailrun://` URI: those registered for its address, else the
    environment's (TAILRUN_TOKEN, TAILRUN_CA) with that address."""
    address = urlparse(uri or f"{SCHEME}://").netloc
    with _lock:
        known = _registered.get(address)
    if known is not None:
        return known
    return Settings.resolve(address or None)


def artifact_uri(tracking: str, run_id: str) -> str:
    return f"{SCHEME}://{urlparse(tracking or f'{SCHEME}://').netloc}/runs/{run_id}/artifacts"


def parse_artifact_uri(uri: str) -> tuple[str, str, str]:
    """(tracking URI, run id, path under the run's files) of an artifact URI."""
    parsed = urlparse(uri)
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.scheme != SCHEME or len(parts) < 3 or parts[0] != "runs" or parts[2] != "artifacts":
        raise ValueError(f"not a tailrun artifact URI: {uri!r} (expected tailrun://HOST:PORT/runs/RUN_ID/artifacts)")
    return f"{SCHEME}://{parsed.netloc}", parts[1], "/".join(parts[3:])
