"""Run.take_snapshot / restore_snapshot / get_snapshot_id against a real service: a submitted
run's source folder comes back byte for byte, an interactive run takes one (once, as in Azure ML),
and a submitted script reads its own with its run-scoped token."""
from __future__ import annotations

import getpass
import os
import re
import tempfile
import zipfile
from pathlib import Path

import pytest

from file_tree import write_tree
from recorder_reset import reset_recorder
from tailrun import Experiment, ScriptRunConfig, Workspace
from tailrun.exceptions import SnapshotException

TOKEN = "sdk snapshot token"


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
