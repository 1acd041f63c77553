"""Submitted runs against a real `python -m tailrun_service` child process (issue 8): on a TLS
service (item 2), across a graceful stop and restart of the service (item 17), and isolated from
the service's token and files (item 10)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import signal
import subprocess
from pathlib import Path

import pytest
from faultkit import PYTHON, free_port, script_env, stored_points, wait_for
from processes import group_alive
from tailrun.client import Client
from tailrun._settings import Settings
from tailrun_service.runner.isolation import run_root_for
from test_tls import make_cert

# These tests are about TLS and restarts, not isolation: scripts run as the service's own user (as
# root, `tailrun server` would run them as tailrun-run, who may not be able to read this Python).
AS_SERVICE_USER = ["--run-as", "root"] if os.geteuid() == 0 else []

SUBMIT_AND_WAIT = """
import json, os, sys
from tailrun import Experiment, ScriptRunConfig, Workspace
run = Experiment(Workspace(), "submitted").submit(ScriptRunConfig(sys.argv[1], script="train.py"))
details = run.wait_for_completion()
with open(os.environ["REPORT"], "w") as out:
    json.dump({"run_id": run.id, "status": details["status"], "metrics": run.get_metrics(),
               "warnings": details.get("warnings", [])}, out)
"""

TRAIN = """
from tailrun import Run
run = Run.get_context()
for step in range(50):
    run.log("loss", 1.0 / (step + 1), step=step)
print("trained")
"""


def _start(args: list[str], tmp_path: Path, name: str, port: int = 0) -> tuple[subprocess.Popen, str]:
    port_file = tmp_path / f"{name}.port"
    port_file.unlink(missing_ok=True)
    with open(tmp_path / f"{name}.log", "ab") as log:
        proc = subprocess.Popen([PYTHON, "-m", "tailrun_service", "--host", "127.0.0.1", "--port", str(port),
                                 "--port-file", str(port_file), *args], stdout=log, stderr=log,
                                env=script_env(tmp_path / f"{name}-home", None))
    port = wait_for(lambda: (port_file.exists() and port_file.read_text().strip()) or proc.poll() is not None,
                    60, f"the service {name} to listen")
    assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
    return proc, f"127.0.0.1:{port}"


def _submit(tmp_path: Path, address: str, train: str, **env: str) -> dict:
    """Submit `train` as train.py from a client process, wait for the run to end; its report."""
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "train.py").write_text(train)
    (tmp_path / "submit.py").write_text(SUBMIT_AND_WAIT)
    report = tmp_path / "report.json"
    done = subprocess.run([PYTHON, str(tmp_path / "submit.py"), str(source)],
                          env=script_env(tmp_path / "client-home", address, REPORT=str(report), **env),
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(report.read_text())


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(60)


def test_a_submitted_run_on_a_tls_service_sends_its_metrics(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path, "service")
    proc, address = _start(["--data-dir", str(tmp_path / "data"), "--tls-cert", str(cert), "--tls-key", str(key),
                            *AS_SERVICE_USER], tmp_path, "tls")
    try:
        result = _submit(tmp_path, address, TRAIN, TAILRUN_CA=str(cert))
        assert result["status"] == "Completed"
        assert result["metrics"]["loss"] == [1.0 / (step + 1) for step in range(50)]
    finally:
        _stop(proc)


# ------------------------------------------------------------------ item 17: a graceful stop

ACROSS_A_RESTART = """
import os, sys, time
from tailrun import Run
run = Run.get_context()
for step in range(100):
    run.log("loss", float(step), step=step)
run.flush()
print("before restart", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
for step in range(100, 200):
    run.log("loss", float(step), step=step)
with open("outputs/result.txt", "w") as fh:
    fh.write("done")
print("after restart")
"""

SUBMIT = """
import sys
from tailrun import Experiment, ScriptRunConfig, Workspace
run = Experiment(Workspace(), "restarts").submit(ScriptRunConfig(sys.argv[1], script="train.py",
                                                                 arguments=[sys.argv[2]]))
print(run.id)
"""


def _submit_running(tmp_path: Path, address: str, release: Path) -> tuple[str, Client]:
    """Submit ACROSS_A_RESTART; returns once it printed its first line."""
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "train.py").write_text(ACROSS_A_RESTART)
    (tmp_path / "submit.py").write_text(SUBMIT)
    done = subprocess.run([PYTHON, str(tmp_path / "submit.py"), str(source), str(release)],
                          env=script_env(tmp_path / "client-home", address), capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.split()[-1]
    client = Client(Settings(address=address, token=None))
    wait_for(lambda: "before restart" in client.read_output(run_id).text, 60, "the run's first line")
    return run_id, client


def _sigterm_with_a_running_run(data: Path, port: int, tmp_path: Path, release: Path,
                                *flags: str) -> tuple[str, int]:
    """Start a service, submit a run that waits for `release`, SIGTERM the service (it must exit
    0); returns the run id and the pid of the run's process."""
    first, address = _start(["--data-dir", str(data), *flags, *AS_SERVICE_USER], tmp_path, "first", port)
    try:
        run_id, client = _submit_running(tmp_path, address, release)
        client.close()
        pid = json.loads((data / "runs" / run_id / "state.json").read_text())["pid"]
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
    finally:
        _stop(first)
    return run_id, pid


@pytest.mark.slow
def test_sigterm_leaves_submitted_runs_running_and_the_next_service_finishes_them(tmp_path: Path) -> None:
    data, port, release = tmp_path / "data", free_port(), tmp_path / "release"
    run_id, pid = _sigterm_with_a_running_run(data, port, tmp_path, release)
    assert group_alive(pid), "SIGTERM to the service ended its submitted run"

    second, address = _start(["--data-dir", str(data), *AS_SERVICE_USER], tmp_path, "second", port)
    try:
        with Client(Settings(address=address, token=None)) as client:
            assert client.get_run(run_id).status == "Running"
            release.touch()
            info = wait_for(lambda: (lambda i: i if i.status in ("Completed", "Failed") else None)(
                client.get_run(run_id)), 120, "the run to end")
            assert info.status == "Completed", info.error_json
            console = client.read_output(run_id).text
            assert console.count("before restart") == 1 and console.endswith("after restart\n"), console
            steps, values = stored_points(client, run_id)["loss"]
            assert steps == list(range(200)) and values == [float(s) for s in range(200)]
            assert "outputs/result.txt" in [f.path for f in client.list_files(run_id)]
    finally:
        _stop(second)


def test_stop_runs_on_exit_ends_them_with_service_stopped(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    run_id, pid = _sigterm_with_a_running_run(data, port, tmp_path, tmp_path / "never", "--stop-runs-on-exit")
    assert not group_alive(pid)
    second, address = _start(["--data-dir", str(data), *AS_SERVICE_USER], tmp_path, "second", port)
    try:
        with Client(Settings(address=address, token=None)) as client:
            info = client.get_run(run_id)
            assert info.status == "Failed"
            assert json.loads(info.error_json)["error"]["code"] == "ServiceStopped"
    finally:
        _stop(second)


# ------------------------------------------------------------------ item 10: the token and the files

PROBE = """
import json, os
from tailrun import Run
run = Run.get_context()
pid, token = int(os.environ["SERVICE_PID"]), os.environ["SERVICE_TOKEN_TO_FIND"].encode()
seen = {"uid": os.getuid()}
for name in ("environ", "cmdline"):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as fh:
            seen[name] = "token found" if token in fh.read() else "read, no token"
    except OSError as exc:
        seen[name] = type(exc).__name__
for what, path, mode in (("db", os.environ["SERVICE_DB"], "r+b"), ("data dir", os.environ["SERVICE_DATA"], None)):
    try:
        if mode:
            open(path, mode).close()
        else:
            os.listdir(path)
        seen[what] = "opened"
    except OSError as exc:
        seen[what] = type(exc).__name__
run.log("loss", 0.25)
print("PROBE", json.dumps(seen), flush=True)
"""

SUBMIT_PROBE = """
import json, os, sys
from tailrun import Environment, Experiment, ScriptRunConfig, Workspace
env = Environment("probe")
env.python.user_managed_dependencies = True
env.python.interpreter_path = os.environ["RUN_PYTHON"]
env.environment_variables = json.loads(os.environ["RUN_VARS"])
run = Experiment(Workspace(), "probe").submit(ScriptRunConfig(sys.argv[1], script="train.py", environment=env))
details = run.wait_for_completion()
with open(os.environ["REPORT"], "w") as out:
    json.dump({"status": details["status"], "console": run._client().read_output(run.id).text,
               "metrics": run.get_metrics(), "error": details.get("error")}, out)
"""


def _python_the_run_user_can_run(readable: Path) -> tuple[str, str]:
    """An interpreter of this Python version outside /root, and a PYTHONPATH that gives it the SDK
    and what it imports (grpc, protobuf) copied into `readable`, a new folder directly under /tmp:
    the checkout, its venv and pytest's tmp_path may lie in folders only root can enter
    (`mktemp -d` and pytest-of-root are 0700)."""
    import sys

    import google.protobuf
    import grpc
    import typing_extensions

    import tailrun
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (os.path.realpath(sys.executable), f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if candidate.startswith(("/usr/", "/opt/")) and os.access(candidate, os.X_OK):
            for package, where in ((tailrun, "tailrun"), (grpc, "grpc"), (google.protobuf, "google/protobuf")):
                shutil.copytree(Path(package.__file__).parent, readable / where,
                                ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy(typing_extensions.__file__, readable)   # grpc.aio imports it
            for folder in [readable, *[p for p in readable.rglob("*") if p.is_dir()]]:
                folder.chmod(0o755)
            return candidate, str(readable)
    pytest.skip(f"no {version} outside root's home for the run user")


@pytest.mark.skipif(os.geteuid() != 0, reason="running scripts as another user needs a root service")
def test_a_script_of_a_root_service_cannot_read_its_token_or_write_its_store(tmp_path: Path) -> None:
    readable = Path(tempfile.mkdtemp(prefix="tailrun-run-sdk-", dir="/tmp"))
    readable.chmod(0o755)   # mkdtemp makes it 0700
    python, pythonpath = _python_the_run_user_can_run(readable / "site")
    token = "the-service-secret-7d1f"
    data = tmp_path / "data"
    port_file = tmp_path / "port"
    with open(tmp_path / "service.log", "ab") as log:
        proc = subprocess.Popen([PYTHON, "-m", "tailrun_service", "--host", "127.0.0.1", "--port", "0",
                                 "--port-file", str(port_file), "--data-dir", str(data)], stdout=log, stderr=log,
                                env=script_env(tmp_path / "svc-home", None, TAILRUN_TOKEN=token))
    try:
        port = wait_for(lambda: (port_file.exists() and port_file.read_text().strip()) or proc.poll() is not None,
                        60, "the service to listen")
        assert proc.poll() is None, (tmp_path / "service.log").read_text()
        # The token came in $TAILRUN_TOKEN: the service started again without it (same pid).
        assert token.encode() not in Path(f"/proc/{proc.pid}/environ").read_bytes()
        assert token.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()

        source = tmp_path / "src"
        source.mkdir()
        (source / "train.py").write_text(PROBE)
        (tmp_path / "submit.py").write_text(SUBMIT_PROBE)
        run_vars = {"SERVICE_PID": str(proc.pid), "SERVICE_TOKEN_TO_FIND": token, "PYTHONPATH": pythonpath,
                    "SERVICE_DB": str(data / "tailrun.db"), "SERVICE_DATA": str(data)}
        report = tmp_path / "report.json"
        done = subprocess.run([PYTHON, str(tmp_path / "submit.py"), str(source)], cwd=tmp_path, timeout=300,
                              capture_output=True, text=True,
                              env=script_env(tmp_path / "client-home", f"127.0.0.1:{port}", TAILRUN_TOKEN=token,
                                             RUN_PYTHON=python, RUN_VARS=json.dumps(run_vars),
                                             REPORT=str(report)))
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(report.read_text())
        assert result["status"] == "Completed", result
        seen = json.loads(result["console"].split("PROBE ", 1)[1].splitlines()[0])
        assert seen["uid"] != 0
        assert seen["environ"] == "PermissionError"          # root's, mode 0400
        assert seen["cmdline"] == "read, no token"           # world-readable, but holds no token
        assert seen["db"] == "PermissionError" and seen["data dir"] == "PermissionError"
        assert result["metrics"] == {"loss": 0.25}           # its own logging still works
    finally:
        _stop(proc)
        shutil.rmtree(run_root_for(data), ignore_errors=True)   # the scripts' folders, outside tmp_path
        shutil.rmtree(readable, ignore_errors=True)


def test_a_token_from_the_environment_leaves_the_service_environment(tmp_path: Path) -> None:
    token = "env-token-5c2a"
    port_file = tmp_path / "port"
    with open(tmp_path / "service.log", "ab") as log:
        proc = subprocess.Popen([PYTHON, "-m", "tailrun_service", "--port", "0", "--port-file", str(port_file),
                                 "--data-dir", str(tmp_path / "data"), "--no-runner"], stdout=log, stderr=log,
                                env=script_env(tmp_path / "svc-home", None, TAILRUN_TOKEN=token))
    try:
        port = wait_for(lambda: (port_file.exists() and port_file.read_text().strip()) or proc.poll() is not None,
                        60, "the service to listen")
        assert proc.poll() is None, (tmp_path / "service.log").read_text()
        for name in ("environ", "cmdline"):
            assert token.encode() not in Path(f"/proc/{proc.pid}/{name}").read_bytes(), name
        with Client(Settings(address=f"127.0.0.1:{port}", token=token)) as client:
            client.list_experiments()    # the token still guards the service
        with Client(Settings(address=f"127.0.0.1:{port}", token="wrong")) as client, pytest.raises(Exception):
            client.list_experiments()
    finally:
        _stop(proc)


def test_token_on_the_command_line_is_refused(tmp_path: Path) -> None:
    done = subprocess.run([PYTHON, "-m", "tailrun_service", "--token", "visible-in-ps", "--data-dir",
                           str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--token-file FILE" in done.stderr and "TAILRUN_TOKEN" in done.stderr and "cmdline" in done.stderr
