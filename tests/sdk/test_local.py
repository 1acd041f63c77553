"""Zero configuration and offline use: the per-user local service, spool-only mode, `tailrun sync`."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tailrun._local import health_check, read_state
from tailrun.cli import main as tailrun_main

_LOGGER = """
import sys, time
{before}
from tailrun._recorder import recorder
from tailrun.wire import EVENT, POINT
from tailrun._settings import Settings
rec = recorder()
rec.configure(Settings.resolve())
q = rec.queue
q.append((EVENT, "{run}", "experiment", {{"name": "offline"}}))
q.append((EVENT, "{run}", "start", {{"run_id": "{run}", "experiment": "offline", "status": "Running"}}))
for i in range({n}):
    q.append((POINT, "{run}", "m", float(i), i, time.time()))
print("flushed", rec.flush(60))
"""


def _log(home: Path, run: str, n: int, address: str | None = None, before: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "TAILRUN_HOME": str(home)}
    env.pop("TAILRUN_ADDRESS", None)
    if address:
        env["TAILRUN_ADDRESS"] = address
        env["TAILRUN_EXIT_TIMEOUT"] = "2"   # a dead address: the exit drain would wait 40 s for it
    return subprocess.run([sys.executable, "-c", _LOGGER.format(run=run, n=n, before=before)], env=env,
                          capture_output=True, text=True, timeout=120)


def _dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _count(service: Any, run_id: str) -> int:
    return sum(len(mp.times) for mp in service.store.iter_metrics(run_id))


def test_no_address_starts_the_local_service_once_and_says_where(tailrun_home: Path) -> None:
    try:
        first = _log(tailrun_home, "run-1", 2000)
        assert first.returncode == 0, first.stderr
        assert "flushed True" in first.stdout
        told = [line for line in first.stderr.splitlines() if line.startswith("tailrun:")]
        assert len(told) == 1 and "local service at 127.0.0.1:" in told[0] and "tailrun ui" in told[0]
        state = read_state(tailrun_home)
        assert stat.S_IMODE(os.stat(tailrun_home / "local-service.json").st_mode) == 0o600
        assert state["token"] and health_check(state["address"])
        second = _log(tailrun_home, "run-2", 10)          # finds the running service
        assert second.returncode == 0, second.stderr
        assert read_state(tailrun_home)["pid"] == state["pid"]
        assert (tailrun_home / "data").is_dir()
    finally:
        _stop_local_service(tailrun_home)


_SUBMITTER = """
import getpass
from tailrun.core import Workspace, Experiment, ScriptRunConfig
ws = Workspace.from_config()
print("targets", sorted(ws.compute_targets))
run = Experiment(ws, "zero-config").submit(ScriptRunConfig("src", "whoami.py"))
run.wait_for_completion()
print("status", run.get_status())
print("same user", run.get_metrics()["user"] == getpass.getuser())
"""


def test_with_no_service_configured_a_workspace_starts_the_local_one_to_submit_to(tailrun_home: Path,
                                                                                   tmp_path: Path) -> None:
    """A new user's first call may be a query or a submit, not a log: the Workspace starts the
    per-user local service too, and that service runs scripts as the user who started it."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "whoami.py").write_text(
        "import getpass\nfrom tailrun.core.run import Run\nRun.get_context().log('user', getpass.getuser())\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TAILRUN_ADDRESS", "TAILRUN_TOKEN")}
    env["TAILRUN_HOME"] = str(tailrun_home)
    try:
        done = subprocess.run([sys.executable, "-c", _SUBMITTER], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "targets ['local']" in done.stdout
        assert "status Completed" in done.stdout and "same user True" in done.stdout
    finally:
        _stop_local_service(tailrun_home)


def _stop_local_service(home: Path) -> None:
    pid = read_state(home).get("pid")
    if pid:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def test_without_the_server_extra_it_spools_and_sync_uploads(tailrun_home: Path, service: Any,
                                                             capsys: Any) -> None:
    done = _log(tailrun_home, "run-off", 3000, before="sys.modules['tailrun_service'] = None")
    assert done.returncode == 0, done.stderr
    assert "flushed True" in done.stdout
    told = [line for line in done.stderr.splitlines() if line.startswith("tailrun:")]
    assert len(told) == 1 and "spooling to" in told[0] and "tailrun sync" in told[0]
    assert tailrun_main(["sync", "--dry-run"]) == 0
    assert "would send" in capsys.readouterr().out
    assert tailrun_main(["sync", "--address", service.address]) == 0
    assert "sent " in capsys.readouterr().out
    assert _count(service, "run-off") == 3000
    assert tailrun_main(["sync"]) == 0
    assert "nothing to upload" in capsys.readouterr().out


def test_sync_uploads_an_abandoned_spool_exactly_once(tailrun_home: Path, service: Any, capsys: Any,
                                                      tmp_path: Path) -> None:
    done = _log(tailrun_home, "run-s", 5000, address=_dead_address())
    assert done.returncode == 0, done.stderr
    (folder,) = (tailrun_home / "spool").iterdir()
    target = json.loads((folder / "target.json").read_text())
    assert target["pid"] and target["address"]
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert tailrun_main(["sync", "--address", service.address]) == 0
    out = capsys.readouterr().out
    assert "sent" in out and folder.name in out
    assert not folder.exists()
    assert _count(service, "run-s") == 5000
    shutil.copytree(copy, folder)           # the same spool again: nothing is stored twice
    assert tailrun_main(["sync", "--address", service.address]) == 0
    assert "already stored" in capsys.readouterr().out
    assert _count(service, "run-s") == 5000


def test_sync_with_nowhere_to_send_is_a_clear_error(tailrun_home: Path, capsys: Any) -> None:
    done = _log(tailrun_home, "run-n", 10, before="sys.modules['tailrun_service'] = None")
    assert done.returncode == 0, done.stderr
    code = tailrun_main(["sync", "--address", _dead_address()])
    assert code == 1
    assert "could not upload" in capsys.readouterr().err
    assert list((tailrun_home / "spool").iterdir())   # kept for the next try


@pytest.fixture(autouse=True)
def _no_leftover_local_service(tailrun_home: Path):
    yield
    pid = read_state(tailrun_home).get("pid")
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
