"""TLS between the SDK and the service (issue 5, item 7, the TLS part).

The service is started as `python -m tailrun_service --tls-cert C --tls-key K` with a self-signed
certificate made by the `openssl` command; an SDK script with TAILRUN_CA=C logs and reads back.
Without the CA (or with the wrong one, or an unreadable file) the client fails with a message that
says what to set, and a logging script spools instead of failing.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from faultkit import PYTHON, run_script, script_env, wait_for
from tailrun.client import Client
from tailrun._settings import Settings
from tailrun.exceptions import ServiceUnavailable


def make_cert(folder: Path, name: str, hosts: str = "DNS:localhost,IP:127.0.0.1") -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName={hosts}"], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_service(tmp_path):
    cert, key = make_cert(tmp_path, "service")
    port_file = tmp_path / "port"
    with open(tmp_path / "service.log", "wb") as log:
        proc = subprocess.Popen([PYTHON, "-m", "tailrun_service", "--host", "127.0.0.1", "--port", "0",
                                 "--port-file", str(port_file), "--data-dir", str(tmp_path / "data"),
                                 "--no-runner", "--tls-cert", str(cert), "--tls-key", str(key)],
                                stdout=log, stderr=log, env=script_env(tmp_path / "svc-home", None))
    try:
        port = wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 60,
                        "the TLS service to write its port")
        yield f"127.0.0.1:{port}", cert
    finally:
        proc.terminate()
        proc.wait(30)


LOG_AND_READ = """
import json, os
from tailrun import Experiment, Workspace
run = Experiment(Workspace(), "tls").start_logging(outputs=False, snapshot_directory=None)
for step, value in enumerate([0.5, float("inf"), 2.5]):
    run.log("loss", value, step=step)
run.complete()
with open(os.environ["REPORT"], "w") as out:
    json.dump({"run_id": run.id, "metrics": run.get_metrics()["loss"]}, out)
"""


def test_sdk_with_the_ca_logs_and_reads_back_over_tls(tls_service, tmp_path):
    address, cert = tls_service
    report = tmp_path / "report.json"
    done = run_script(LOG_AND_READ, script_env(tmp_path / "home", address, TAILRUN_CA=str(cert),
                                               REPORT=str(report)), tmp_path / "cwd")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not reachable" not in done.stderr
    result = json.loads(report.read_text())
    assert result["metrics"] == [0.5, float("inf"), 2.5]
    with Client(Settings(address=address, token=None, ca_file=str(cert))) as client:
        assert client.get_run(result["run_id"]).status == "Completed"


def test_without_the_ca_reads_fail_saying_to_set_tailrun_ca(tls_service, tmp_path):
    address, _ = tls_service
    other, _ = make_cert(tmp_path, "other")
    for ca_file, error, message in (
            (None, ServiceUnavailable, r"set TAILRUN_CA"),
            (str(other), ServiceUnavailable, r"TLS with the CA in .*other\.pem failed"),
            (str(tmp_path / "missing.pem"), ValueError, r"cannot read the CA file .*missing\.pem")):
        with Client(Settings(address=address, token=None, ca_file=ca_file)) as client, \
                pytest.raises(error, match=message):
            client.list_experiments()


def test_without_the_ca_a_logging_script_spools_and_says_why(tls_service, tmp_path):
    address, _ = tls_service
    code = """
from tailrun import Experiment, Workspace
run = Experiment(Workspace(), "tls").start_logging(outputs=False, snapshot_directory=None)
run.log("loss", 1.0)
run.complete()
"""
    done = run_script(code, script_env(tmp_path / "home", address, TAILRUN_EXIT_TIMEOUT="3"), tmp_path / "cwd")
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stderr.splitlines() if "not reachable" in line)
    assert "set TAILRUN_CA" in line and "spooling to" in line and "tailrun sync" in line
    assert any((tmp_path / "home" / "spool").glob("*/*.seg"))
