"""Where the client finds the service: explicit arguments, then environment, then the per-user default.

Kept free of grpc so that `import tailrun` stays cheap.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8245
ENV_ADDRESS = "TAILRUN_ADDRESS"
ENV_TOKEN = "TAILRUN_TOKEN"
ENV_HOME = "TAILRUN_HOME"
ENV_CA = "TAILRUN_CA"          # PEM file of the CA that signed the service's TLS certificate
ENV_RUN_ID = "TAILRUN_RUN_ID"
ENV_EXPERIMENT = "TAILRUN_EXPERIMENT"


def home_dir() -> Path:
    """The per-user data dir: $TAILRUN_HOME, else the platform's user data dir."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "tailrun"


@dataclass(frozen=True)
class Settings:
    address: str | None   # host:port; None = not configured (use the per-user local service)
    token: str | None
    ca_file: str | None = None

    @classmethod
    def resolve(cls, address: str | None = None, token: str | None = None,
                ca_file: str | None = None) -> "Settings":
        return cls(
            address=address or os.environ.get(ENV_ADDRESS) or None,
            token=token or os.environ.get(ENV_TOKEN) or None,
            ca_file=ca_file or os.environ.get(ENV_CA) or None,
        )
