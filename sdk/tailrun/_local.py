"""Zero configuration: find the per-user local service, or start it in the background.

`resolve_address(settings)` runs in the sender thread (never on the caller's thread) and answers
where this process sends its data:

- an explicit address (argument or TAILRUN_ADDRESS) is used as is (how = "configured");
- else `<TAILRUN_HOME>/local-service.json` {address, token, pid} names the per-user local service;
  if it answers a health check it is used (how = "local");
- else, when the server extra is installed, the service is started detached in the background
  (`python -m tailrun_service --host 127.0.0.1 --port 0 --port-file … --data-dir <home>/data
  --token-file <home>/local-service.token`: the token is never on a command line),
  with a lock so that two scripts starting at once start one service (how = "started");
- else there is no service: batches are only spooled, for `tailrun sync` (how = "spool").
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from ._settings import Settings, home_dir
from ._spool import write_private_json

STATE_FILE = "local-service.json"
TOKEN_FILE = "local-service.token"
START_TIMEOUT = 5.0
_SERVING = b"\x08\x01"   # grpc.health.v1.HealthCheckResponse{status: SERVING}


def health_check(address: str, timeout: float = 1.0) -> bool:
    """True when the service at `address` answers the standard gRPC health check with SERVING."""
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")  # raw bytes in and out
        return check(b"", timeout=timeout) == _SERVING
    except grpc.RpcError:
        return False
    finally:
        channel.close()


def read_state(home: Path) -> dict:
    try:
        state = json.loads((home / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def local_service(home: Path) -> tuple[str, str | None] | None:
    """(address, token) of the running per-user local service, if it answers."""
    state = read_state(home)
    address = state.get("address")
    if address and health_check(address):
        return address, state.get("token")
    return None


def server_installed() -> bool:
    if "tailrun_service" in sys.modules:
        return sys.modules["tailrun_service"] is not None
    try:
        return importlib.util.find_spec("tailrun_service") is not None
    except (ImportError, ValueError):
        return False


def _private_dir(path: Path) -> None:
    """Create `path` readable by this user only (0700), and tighten it if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)


def _write_token_file(path: Path, token: str) -> None:
    """The token goes to the service in a 0600 file, never on its command line (`ps` shows that)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")


def start_local_service(home: Path, timeout: float = START_TIMEOUT) -> tuple[str, str | None] | None:
    """Start the per-user local service detached (or find the one another process just started).

    Per-user isolation: the home's secrets (the token file, local-service.json) are 0600 and the
    data dir 0700; the service requires the token, so another user's process that finds the port
    gets UNAUTHENTICATED."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_fd = os.open(home / "local-service.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout + 5.0
        while True:  # wait for a concurrent starter rather than start a second service
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.05)
        found = local_service(home)
        if found:
            return found
        token = secrets.token_urlsafe(24)
        token_file = home / TOKEN_FILE
        _write_token_file(token_file, token)
        port_file = home / "local-service.port"
        with contextlib.suppress(FileNotFoundError):
            port_file.unlink()
        data_dir = home / "data"
        _private_dir(data_dir)
        env = {k: v for k, v in os.environ.items() if k != "TAILRUN_TOKEN"}
        log_fd = os.open(home / "local-service.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        with os.fdopen(log_fd, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tailrun_service", "--host", "127.0.0.1", "--port", "0",
                 "--port-file", str(port_file), "--data-dir", str(data_dir), "--token-file", str(token_file),
                 # Your own service runs your scripts as you, as running them by hand would (as
                 # root too: the unprivileged run user is for a service shared by several people).
                 *(["--run-as", "root"] if os.geteuid() == 0 else [])],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True,
                close_fds=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end and proc.poll() is None:
            try:
                port = int(port_file.read_text().strip() or 0)
            except (OSError, ValueError):
                port = 0
            if port:
                address = f"127.0.0.1:{port}"
                write_private_json(home / STATE_FILE, {"address": address, "token": token, "pid": proc.pid})
                return address, token
            time.sleep(0.05)
        return None
    finally:
        os.close(lock_fd)


def resolve_address(settings: Settings, home: Path | None = None) -> tuple[str | None, str | None, str]:
    """(address, token, how): how is "configured", "local", "started" or "spool" (no service)."""
    if settings.address:
        return settings.address, settings.token, "configured"
    home = home or home_dir()
    found = local_service(home)
    if found:
        return found[0], found[1] or settings.token, "local"
    if server_installed():
        started = start_local_service(home)
        if started:
            return started[0], started[1] or settings.token, "started"
    return None, settings.token, "spool"


def describe(how: str, address: str | None, home: Path, spool_dir: Path | None) -> str | None:
    """The one line that tells the user where the data went (None when nothing needs saying)."""
    if how in ("local", "started"):
        return (f"tailrun: no service configured; logging to the local service at {address} "
                f"(data in {home / 'data'}); view with: tailrun ui")
    if how == "spool":
        return (f"tailrun: no service reachable; spooling to {spool_dir or spool_dir_hint(home)}; "
                f"upload later with: tailrun sync")
    return None


def spool_dir_hint(home: Path) -> Path:
    return home / "spool"
