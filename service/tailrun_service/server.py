"""Starting and stopping the service: `serve(...)` returns a running `Service` (unpackable as
`server, port = serve(...)`, so tests bind port 0), `run_forever` blocks until SIGTERM/SIGINT.

The gRPC server is grpc's asyncio server, on an event loop in a thread of its own (`ServerLoop`),
so that callers stay synchronous: an open stream then costs no thread, however many there are.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Coroutine, Iterator

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from tailrun import wire
from tailrun.v1 import tailrun_pb2 as pb

from .auth import AuthInterceptor, TokenAuth
from .liveness import DEFAULT_TIMEOUT as DEFAULT_HEARTBEAT_TIMEOUT
from .liveness import LivenessMonitor
from .registration import add_to_server
from .servicer import Tracker

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Tracker"].full_name   # "tailrun.v1.Tracker"
MAX_RECEIVE_BYTES = wire.MAX_MESSAGE_BYTES   # the SDK splits what it sends to fit
_SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
    # A fixed port must fail loudly when taken, not be shared with another server.
    ("grpc.so_reuseport", 0),
    # Clients ping every 20 s to keep idle streams alive; don't answer that with GOAWAY.
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
]


class ServeError(Exception):
    """The service cannot start as asked (the message says why and what to do)."""


class ServerLoop:
    """An asyncio event loop running in its own thread; `run(coro)` from any other thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tailrun-grpc-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def run(self, coro: Coroutine, timeout: float | None = None) -> Any:
        """Run `coro` on the loop and return its result (blocking the calling thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self, timeout: float = 10) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)


@dataclass
class Service:
    """A running service. `server, port = service` unpacks like DESIGN.md's `serve(...)`;
    `server` is a grpc.aio.Server driven by `loop` (stop the service with `stop()`)."""
    server: grpc.aio.Server
    port: int
    host: str
    store: Any
    runner: Any
    data_dir: Path
    token: str | None
    servicer: Tracker
    health: health.aio.HealthServicer
    loop: ServerLoop
    liveness: Any = None     # the LivenessMonitor (crash detection), None when disabled
    _stopped: bool = field(default=False, repr=False)
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def address(self) -> str:
        return f"{_host_for_address(self.host)}:{self.port}"

    def __iter__(self) -> Iterator[Any]:
        yield self.server
        yield self.port

    def stop(self, grace: float = 5) -> None:
        """Stop the runner, stop accepting calls, let in-flight calls finish (up to `grace` s),
        close the store. Safe to call twice."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._on_loop(self.health.enter_graceful_shutdown(), "marking the health check NOT_SERVING", 5)
        if self.liveness is not None:   # no more status patches from a stopping service
            self.liveness.stop()
        # The runner first: the runs it terminates still reach a live service with their last
        # batches (and the runner records their final status), instead of spooling them.
        if self.runner is not None:
            try:
                self.runner.stop()
            except Exception:
                log.exception("stopping the runner failed")
        self.servicer.begin_stop()   # Ingest/Watch streams end with UNAVAILABLE (idle ones at once)
        self._on_loop(self.server.stop(grace), "stopping the gRPC server", grace + 5)
        # Cancelled handlers may still be finishing a batch: let them commit before closing.
        if not self.servicer.wait_idle(timeout=grace + 5):
            log.warning("calls still running after the grace period; closing the store anyway")
        self.servicer.close()
        self.loop.close()
        self.store.close()

    def _on_loop(self, coro: Coroutine, what: str, timeout: float) -> None:
        """One step of the stop on the server loop: a step that fails or hangs is logged, and the
        stop goes on (a stop must end)."""
        try:
            self.loop.run(coro, timeout)
        except Exception:
            log.exception("%s failed", what)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_for_address(host: str) -> str:
    host = host.strip("[]")
    return f"[{host}]" if ":" in host else host


def _connect_host(host: str) -> str:
    """Where local clients (the runner's children) reach a server bound to `host`."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host.strip("[]") == "::":
        return "[::1]"
    return _host_for_address(host)


def serve(host: str = "127.0.0.1", port: int = 0, data_dir: Path | str | None = None,
          store_url: str | None = None, token: str | None = None,
          max_concurrent_runs: int | None = None, insecure: bool = False,
          tls_cert: str | Path | None = None, tls_key: str | Path | None = None,
          with_runner: bool = True,
          heartbeat_timeout: float | None = DEFAULT_HEARTBEAT_TIMEOUT,
          max_file_bytes: int | None = None, tls_ca: str | Path | None = None,
          run_as: str | None = None, compute_config: str | Path | dict | None = None) -> Service:
    """Start the service and return it once it is listening. Raises ServeError for a setting
    that would be unsafe or cannot work. `heartbeat_timeout` (seconds; None = no crash
    detection): see liveness.py. `max_file_bytes`: the largest run file or image stored.
    `tls_ca`: the PEM submitted scripts verify the certificate with (default: `tls_cert` itself,
    right for a self-signed certificate). `run_as`: the user submitted scripts run as (the
    service must run as root; see runner/isolation.py); None = as the service's own user.
    `compute_config`: the compute targets besides `local` (a TOML file, or its parsed
    {"targets": {...}} table; see compute/targets.py)."""
    if heartbeat_timeout is not None and not heartbeat_timeout > 0:
        raise ServeError(f"the heartbeat timeout must be a positive number of seconds, got {heartbeat_timeout!r}")
    if data_dir is None:
        raise ServeError("serve() needs a data_dir")
    if not is_loopback(host) and not token and not insecure:
        raise ServeError(f"refusing to listen on {host!r} without a token: anyone who can reach it "
                         f"could read and write every run. Pass --token-file FILE (or set TAILRUN_TOKEN), "
                         f"or --insecure if you mean it")
    if bool(tls_cert) != bool(tls_key):
        raise ServeError("TLS needs both --tls-cert and --tls-key")
    credentials = _tls_credentials(tls_cert, tls_key) if tls_cert else None
    targets = _compute_targets(compute_config)
    data_dir = Path(data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)

    from .artifacts import DEFAULT_MAX_FILE_BYTES
    from .snapshots import SnapshotStore
    from .store import Store   # SQLAlchemy is only needed once we really serve

    store = Store.open(store_url, data_dir, max_file_bytes=max_file_bytes or DEFAULT_MAX_FILE_BYTES)
    loop = servicer = None
    try:
        auth = TokenAuth(token)
        servicer = Tracker(store, auth=auth, snapshots=SnapshotStore(data_dir))
        loop = ServerLoop()
        server, bound, health_servicer = loop.run(_start_server(servicer, auth, host, port, credentials))
    except BaseException:
        if servicer is not None:
            servicer.close()
        if loop is not None:
            loop.close()
        store.close()
        raise
    service = Service(server=server, port=bound, host=host, store=store, runner=None, data_dir=data_dir,
                      token=token, servicer=servicer, health=health_servicer, loop=loop)
    if with_runner:
        try:
            service.runner = servicer.runner = _start_runner(
                store, data_dir, f"{_connect_host(host)}:{bound}", token, max_concurrent_runs,
                ca_file=(tls_ca or tls_cert) if tls_cert else None, run_as=run_as, compute_config=targets)
        except BaseException:
            service.stop(grace=0)
            raise
    if heartbeat_timeout is not None:
        service.liveness = LivenessMonitor(store, heartbeat_timeout, runner=service.runner).start()
    return service


async def _start_server(servicer: Tracker, auth: TokenAuth, host: str, port: int,
                        credentials: grpc.ServerCredentials | None) -> tuple[grpc.aio.Server, int, Any]:
    """On the server loop: build, bind and start the server (grpc.aio binds it to this loop)."""
    server = grpc.aio.server(interceptors=[AuthInterceptor(auth)] if auth.token else [],
                             options=_SERVER_OPTIONS)
    add_to_server(servicer, server)  # answers undecodable requests INVALID_ARGUMENT
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    bound = _bind(server, host, port, credentials)
    await server.start()
    return server, bound, health_servicer


def _tls_credentials(cert: str | Path, key: str | Path) -> grpc.ServerCredentials:
    try:
        pair = (Path(key).read_bytes(), Path(cert).read_bytes())
    except OSError as exc:
        raise ServeError(f"cannot read the TLS key or certificate: {exc}") from exc
    return grpc.ssl_server_credentials([pair])


def _bind(server: grpc.aio.Server, host: str, port: int, credentials: grpc.ServerCredentials | None) -> int:
    target = f"{_host_for_address(host)}:{port}"
    try:
        bound = (server.add_secure_port(target, credentials) if credentials
                 else server.add_insecure_port(target))
    except RuntimeError as exc:
        bound = 0
        log.debug("binding %s failed: %s", target, exc)
    if not bound:
        raise ServeError(f"cannot listen on {target}: the port is taken or the address is not "
                         f"on this machine")
    return bound


def _compute_targets(config: str | Path | dict | None) -> dict[str, dict[str, Any]] | None:
    if config is None:
        return None
    from .compute.targets import ComputeConfigError, check_compute_config, load_compute_config

    try:
        if isinstance(config, dict):
            return check_compute_config(config)
        return load_compute_config(config)
    except ComputeConfigError as exc:
        raise ServeError(str(exc)) from None


def _start_runner(store: Any, data_dir: Path, address: str, token: str | None,
                  max_concurrent_runs: int | None, ca_file: str | Path | None = None,
                  run_as: str | None = None, compute_config: dict[str, dict[str, Any]] | None = None) -> Any:
    try:
        from .runner import Runner
    except ImportError as exc:
        log.warning("submitted runs are disabled: the runner is not available (%s)", exc)
        return None
    runner = Runner(store=store, data_dir=data_dir, address=address, token=token,
                    max_concurrent=max_concurrent_runs or os.cpu_count() or 1, ca_file=ca_file,
                    run_as=run_as, compute_config=compute_config)
    runner.start()
    return runner


def run_forever(service: Service, grace: float = 5, stop_runs: bool = False) -> int:
    """Block until SIGTERM or SIGINT, then stop gracefully (in-flight batches commit). Returns 0.

    Submitted runs that are executing keep running (a restart for an upgrade must not end a
    week-long training run): their console goes on into files the next service on this data dir
    tails again, and it finalizes them; queued runs stay Queued for it. With `stop_runs`
    (`tailrun server --stop-runs-on-exit`) they are terminated and marked Failed "ServiceStopped"."""
    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("received %s, stopping%s", signal.Signals(signum).name,
                 "" if service.runner is None else
                 " and ending its submitted runs" if stop_runs else
                 "; submitted runs keep running and the next service on this data dir adopts them")
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop_requested.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if service.runner is not None and not stop_runs:
        try:
            service.runner.stop(kill_runs=False)   # decides for the runner.stop() in service.stop()
        except Exception:
            log.exception("detaching the submitted runs failed")
    service.stop(grace)
    return 0
