"""Run.take_snapshot / restore_snapshot / get_snapshot_id against a real service: a submitted
run's source folder comes back byte for byte, an interactive run takes one (once, as in Azure ML),
and a submitted script reads its own with its run-scoped token."""
from __future__ import annotations

import getpass
import os
import re
import socket
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from file_tree import write_tree
from recorder_reset import reset_recorder
from tailrun import Experiment, Run, ScriptRunConfig, Workspace
from tailrun.exceptions import SnapshotException

TOKEN = "sdk snapshot token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def zip_contents(path: str | Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


SOURCE = {
    "train.py": b"print('training')\n",
    "lib/model.py": b"WEIGHTS = 3\n",
    "data.bin": os.urandom(3000),
    "big.ckpt": b"checkpoint, ignored",
    ".tailrunignore": b"*.ckpt\n",
}


def test_a_submitted_runs_snapshot_restores_byte_identical(ws, tmp_path) -> None:
    folder = write_tree(tmp_path / "src", SOURCE)
    run = Experiment(ws, "snapshots").submit(ScriptRunConfig(str(folder), script="train.py"))
    details = run.wait_for_completion()
    snapshot_id = run.get_snapshot_id()
    assert re.fullmatch(r"[0-9a-f]{32}", snapshot_id)
    assert details["properties"]["ContentSnapshotId"] == snapshot_id
    restored = run.restore_snapshot(path=tmp_path / "restored")
    assert restored == str(tmp_path / "restored" / f"{snapshot_id}.zip")
    expected = {name: data for name, data in SOURCE.items() if name != "big.ckpt"}
    assert zip_contents(restored) == expected
    assert sorted(p.name for p in (tmp_path / "restored").iterdir()) == [f"{snapshot_id}.zip"]
    default = Path(run.restore_snapshot())   # Azure ML's default: the temporary folder
    try:
        assert default == Path(tempfile.gettempdir()) / f"{snapshot_id}.zip"
        assert default.read_bytes() == Path(restored).read_bytes()
    finally:
        default.unlink()


def test_submitted_by_is_the_submitting_user(ws, tmp_path) -> None:
    folder = write_tree(tmp_path / "src", {"train.py": b"pass\n"})
    run = Experiment(ws, "snapshots").submit(ScriptRunConfig(str(folder), script="train.py"))
    assert run.wait_for_completion()["submittedBy"] == getpass.getuser() != ""


def test_take_snapshot_on_a_start_logging_run(ws, tmp_path) -> None:
    folder = write_tree(tmp_path / "code", {**SOURCE, ".amlignore": b"data.bin\n"})
    run = Experiment(ws, "snapshots").start_logging(outputs=False, snapshot_directory=None)
    assert run.get_snapshot_id() is None
    with pytest.raises(SnapshotException, match=f"Cannot restore snapshot as run {run.id} has none"):
        run.restore_snapshot(path=tmp_path)
    with pytest.raises(SnapshotException, match="no such file or folder"):
        run.take_snapshot(tmp_path / "missing")

    snapshot_id = run.take_snapshot(str(folder))
    assert run.get_snapshot_id() == snapshot_id == run.get_properties()["ContentSnapshotId"]
    assert zip_contents(run.restore_snapshot(path=tmp_path / "out")) == {
        name: data for name, data in SOURCE.items() if name not in ("big.ckpt", "data.bin")} | {
        ".amlignore": b"data.bin\n"}
    with pytest.raises(SnapshotException, match=f"Cannot take snapshot as the run already has one: {snapshot_id}"):
        run.take_snapshot(str(folder))
    run.complete()

    # A list of a file and a folder: names relative to the folder holding them; a file named
    # explicitly is included even if an ignore file would exclude it.
    other = Experiment(ws, "snapshots").start_logging(outputs=False, snapshot_directory=None)
    other.take_snapshot([folder / "big.ckpt", folder / "lib"])
    assert zip_contents(other.restore_snapshot(path=tmp_path / "out2")) == {
        "big.ckpt": SOURCE["big.ckpt"], "lib/model.py": SOURCE["lib/model.py"]}
    other.complete()


IN_SCRIPT = """\
import zipfile
from tailrun import Run
from tailrun.exceptions import SnapshotException
run = Run.get_context()
path = run.restore_snapshot(path="restored")
print("restored:", sorted(zipfile.ZipFile(path).namelist()))
try:
    run.take_snapshot("train.py")
except SnapshotException as exc:
    print("refused:", exc)
child = run.child_run("step")
print("child took:", child.take_snapshot(["train.py"]) == child.get_snapshot_id())
child.complete()
"""


def test_inside_a_submitted_script_with_its_run_scoped_token(service_factory, tmp_path) -> None:
    secured = service_factory(token=TOKEN)
    reset_recorder()
    try:
        ws = Workspace(address=secured.address, token=TOKEN)
        folder = write_tree(tmp_path / "src", {"train.py": IN_SCRIPT.encode(), "notes.txt": b"n"})
        run = Experiment(ws, "snapshots").submit(ScriptRunConfig(str(folder), script="train.py"))
        details = run.wait_for_completion()
        output = run._client().read_output(run.id).text
        assert details["status"] == "Completed", output
        assert "restored: ['notes.txt', 'train.py']" in output
        assert f"refused: Cannot take snapshot as the run already has one: {run.get_snapshot_id()}" in output
        assert "child took: True" in output
        child = next(iter(run.get_children()))
        assert zip_contents(child.restore_snapshot(path=tmp_path / "child")) == {"train.py": IN_SCRIPT.encode()}
    finally:
        reset_recorder()


# ---------------------------------------------------------------- start_logging's snapshot

def test_start_logging_snapshots_its_folder_as_azure_ml_does(ws, tmp_path, monkeypatch) -> None:
    folder = write_tree(tmp_path / "code", {**SOURCE, ".amlignore": b"data.bin\n"})
    expected = {name: data for name, data in SOURCE.items() if name not in ("big.ckpt", "data.bin")} | {
        ".amlignore": b"data.bin\n"}
    run = Experiment(ws, "snapshots").start_logging(outputs=False, snapshot_directory=str(folder))
    (folder / "train.py").write_bytes(b"changed after the start\n")   # the snapshot is the folder at the start
    snapshot_id = run.get_snapshot_id()
    assert snapshot_id is not None and run.get_properties()["ContentSnapshotId"] == snapshot_id
    assert zip_contents(run.restore_snapshot(path=tmp_path / "out")) == expected
    with pytest.raises(SnapshotException, match=f"already has one: {snapshot_id}"):
        run.take_snapshot(str(folder))
    run.complete()

    monkeypatch.chdir(write_tree(tmp_path / "cwd", {"notebook.py": b"x = 1\n"}))
    default = Experiment(ws, "snapshots").start_logging(outputs=False)   # Azure ML's default: "."
    default.complete()
    assert zip_contents(default.restore_snapshot(path=tmp_path / "out2")) == {"notebook.py": b"x = 1\n"}

    none = Experiment(ws, "snapshots").start_logging(outputs=False, snapshot_directory=None)
    none.complete()
    assert none.get_snapshot_id() is None


def test_start_logging_over_a_snapshot_limit_raises_and_starts_no_run(ws, tmp_path, monkeypatch) -> None:
    many = tmp_path / "many"
    write_tree(many, {f"f{i}.txt": b"" for i in range(2001)})
    big = write_tree(tmp_path / "big", {"readme.md": b"hi"})
    with open(big / "weights.bin", "wb") as out:   # sparse: 301 MB long, nothing written
        out.truncate(301 * 1024 * 1024)
    experiment = Experiment(ws, "snapshot-limits")
    with pytest.raises(SnapshotException, match=r"2001 files, over the limit of 2000.*snapshot_directory=None"):
        experiment.start_logging(outputs=False, snapshot_directory=str(many))
    with pytest.raises(SnapshotException, match=r"over the limit of 300 MB.*snapshot_directory=None"):
        experiment.start_logging(outputs=False, snapshot_directory=big)
    with pytest.raises(SnapshotException, match="snapshot_directory .*missing' is not a folder"):
        experiment.start_logging(outputs=False, snapshot_directory=str(tmp_path / "missing"))
    with pytest.raises(TypeError, match="snapshot_directory must be a folder path or None, not int"):
        experiment.start_logging(outputs=False, snapshot_directory=3)
    assert list(experiment.get_runs()) == []
    (big / ".amlignore").write_text("*.bin\n")   # excluded: within the limits
    run = experiment.start_logging(outputs=False, snapshot_directory=big)
    run.complete()
    assert run.get_snapshot_id() is not None


OFFLINE = """\
import sys, time
from tailrun import Experiment, Workspace
t0 = time.monotonic()
run = Experiment(Workspace(), "offline-snapshot").start_logging(outputs=False, snapshot_directory=".")
print("started", run.id, time.monotonic() - t0, flush=True)
run.log("loss", 0.25)
sys.stdin.readline()      # the test says when to finish
run.complete()
print("completed", flush=True)
"""


def _offline_script(tmp_path: Path, port: int) -> subprocess.Popen:
    cwd = write_tree(tmp_path / "script", {"train.py": b"print('train')\n", "offline.py": OFFLINE.encode()})
    env = dict(os.environ, TAILRUN_ADDRESS=f"127.0.0.1:{port}", TAILRUN_EXIT_TIMEOUT="3",
               TAILRUN_SYSTEM_METRICS="0")
    return subprocess.Popen([sys.executable, "offline.py"], cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_start_logging_with_the_service_down_sends_the_snapshot_when_it_is_back(service_factory, tmp_path) -> None:
    port = free_port()
    script = _offline_script(tmp_path, port)
    started = script.stdout.readline().split()
    assert started[:1] == ["started"], script.stderr.read()
    run_id = started[1]
    assert float(started[2]) < 5          # start_logging never waits for the service
    service = service_factory(port=port)
    out, err = script.communicate("finish\n", timeout=60)
    assert script.returncode == 0 and "completed" in out, err
    assert "was not stored" not in err
    run = Run.get(Workspace(address=service.address), run_id)
    assert run.get_status() == "Completed" and run.get_metrics() == {"loss": 0.25}
    assert zip_contents(run.restore_snapshot(path=tmp_path / "out")) == {
        "train.py": b"print('train')\n", "offline.py": OFFLINE.encode()}


def test_start_logging_with_the_service_down_throughout_says_so_and_loses_nothing_else(
        service_factory, tmp_path, tailrun_home) -> None:
    port = free_port()
    script = _offline_script(tmp_path, port)
    run_id = script.stdout.readline().split()[1]
    out, err = script.communicate("finish\n", timeout=60)
    assert script.returncode == 0 and "completed" in out, err
    said = [line for line in err.splitlines() if "snapshot" in line]
    assert said == [f"tailrun: the snapshot of '.' for run {run_id} was not stored (cannot reach the tailrun "
                    f"service at 127.0.0.1:{port}: " + said[0].split(f"127.0.0.1:{port}: ", 1)[1]], err
    assert f"take it later with Run.get(ws, '{run_id}').take_snapshot('.')" in said[0]
    # The run and its metrics were spooled: `tailrun sync` stores them (the snapshot alone is lost).
    service = service_factory(port=port)
    sync = subprocess.run([sys.executable, "-m", "tailrun.cli", "sync", "--address", service.address],
                          capture_output=True, text=True, timeout=120)
    assert sync.returncode == 0, sync.stderr
    run = Run.get(Workspace(address=service.address), run_id)
    assert run.get_status() == "Completed" and run.get_metrics() == {"loss": 0.25}
    assert run.get_snapshot_id() is None
