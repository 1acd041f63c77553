"""Helpers of the fault-injection tests: a real `python -m tailrun_service` child process that can
be SIGKILLed and restarted on the same port and data dir, SDK scripts in real child processes, raw
Ingest calls, and exact reads of what the service stored.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from tailrun.client import Client
from tailrun._local import health_check
from tailrun._settings import Settings
from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc
from waiting import wait_until

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """`waiting.wait_until` with the fault tests' argument order (timeout before what)."""
    return wait_until(predicate, what, timeout)


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


class ServiceProcess:
    """`python -m tailrun_service` on a fixed port and data dir; kill() is SIGKILL, start() again
    restarts it in place (what a crashed service under systemd looks like)."""

    def __init__(self, data_dir: Path, port: int | None = None, args: tuple[str, ...] = (),
                 log_path: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.args = args
        self.log_path = log_path or self.data_dir.parent / f"service-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "-m", "tailrun_service", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--no-runner", *self.args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while not health_check(self.address, timeout=0.5):
            # A port briefly held by the killed process's sockets: retry the start.
            if self.proc.poll() is not None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the service did not start: {self.log_tail()}")
                time.sleep(0.2)
                return self.start(max(1.0, deadline - time.monotonic()))
            if time.monotonic() > deadline:
                raise AssertionError(f"the service did not answer within {timeout:g} s: {self.log_tail()}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """SIGKILL: no drain, no commit of anything in flight."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def client(self, token: str | None = None) -> Client:
        return Client(Settings(address=self.address, token=token))


def script_env(home: Path, address: str | None, **extra: str | None) -> dict[str, str]:
    """The environment of an SDK script: its own TAILRUN_HOME, the address (None = unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
    env["TAILRUN_HOME"] = str(home)
    if address:
        env["TAILRUN_ADDRESS"] = address
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _script_file(code: str, cwd: Path) -> str:
    """Scripts run from a file (multiprocessing's spawn re-imports the main module by path)."""
    cwd.mkdir(parents=True, exist_ok=True)
    path = cwd / f"script_{len(list(cwd.glob('script_*.py')))}.py"
    path.write_text(textwrap.dedent(code))
    return str(path)


def spawn_script(code: str, env: dict[str, str], cwd: Path, **popen: Any) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, _script_file(code, cwd)], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def run_script(code: str, env: dict[str, str], cwd: Path, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, _script_file(code, cwd)], env=env, cwd=cwd, text=True,
                          capture_output=True, timeout=timeout, check=False)


def stored_points(client: Client, run_id: str) -> dict[str, tuple[list[int], list[float]]]:
    """name -> (steps, values) of every stored point of a scalar run, in stored order."""
    out: dict[str, tuple[list[int], list[float]]] = {}
    for chunk in client.get_metrics(run_id):
        steps, values = out.setdefault(chunk.name, ([], []))
        steps.extend(chunk.steps)
        values.extend(chunk.columns[0].values)
    return out


def assert_exact_series(points: dict[str, tuple[list[int], list[float]]], names: list[str],
                        steps: int, value: Callable[[int, int], float]) -> None:
    """Every metric has exactly steps 0..steps-1, once each, in order, with the expected values."""
    assert sorted(points) == sorted(names), f"metrics stored: {sorted(points)}"
    expected_steps = list(range(steps))
    for m, name in enumerate(names):
        got_steps, got_values = points[name]
        assert len(got_steps) == steps, (
            f"{name}: {len(got_steps)} points stored, expected {steps} "
            f"({len(got_steps) - len(set(got_steps))} duplicated steps, "
            f"{len(set(expected_steps) - set(got_steps))} missing)")
        assert got_steps == expected_steps, f"{name}: steps out of order, duplicated or missing"
        expected = [value(m, s) for s in expected_steps]
        bad = next((s for s in expected_steps if got_values[s] != expected[s]), None)
        assert bad is None, f"{name}: step {bad} stored {got_values[bad]!r}, logged {expected[bad]!r}"


# ------------------------------------------------------------------ raw Ingest calls

def ingest(address: str, *requests: pb.IngestRequest, token: str | None = None) -> list[pb.IngestAck]:
    """The acks of one Ingest stream that sends `requests` (with `token` as its bearer token)."""
    metadata = (("authorization", f"Bearer {token}"),) if token is not None else None
    with grpc.insecure_channel(address) as channel:
        return list(pb_grpc.TrackerStub(channel).Ingest(iter(requests), metadata=metadata, timeout=20))


def ingest_refusal(address: str, request: pb.IngestRequest, token: str | None = None) -> grpc.RpcError:
    """The grpc.RpcError with which the service refuses an Ingest stream of `request`."""
    with pytest.raises(grpc.RpcError) as caught:
        ingest(address, request, token=token)
    return caught.value
