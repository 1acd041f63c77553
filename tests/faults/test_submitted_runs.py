"""Submitted runs against a real `python -m tailrun_service` child process (issue 8): on a TLS
service (item 2), across a graceful stop and restart of the service (item 17), and isolated from
the service's token and files (item 10)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from faultkit import PYTHON, script_env, wait_for
from test_tls import make_cert

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


def _start(args: list[str], tmp_path: Path, name: str) -> tuple[subprocess.Popen, str]:
    port_file = tmp_path / f"{name}.port"
    port_file.unlink(missing_ok=True)
    with open(tmp_path / f"{name}.log", "ab") as log:
        proc = subprocess.Popen([PYTHON, "-m", "tailrun_service", "--host", "127.0.0.1", "--port", "0",
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
                            "--max-concurrent-runs", "1"], tmp_path, "tls")
    try:
        result = _submit(tmp_path, address, TRAIN, TAILRUN_CA=str(cert))
        assert result["status"] == "Completed"
        assert result["metrics"]["loss"] == [1.0 / (step + 1) for step in range(50)]
    finally:
        _stop(proc)
