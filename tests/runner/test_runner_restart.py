"""A service restart never leaves a submitted run stuck in Running: a run whose process lives on
is supervised again; one whose process died is marked Failed with the reason."""
from __future__ import annotations

import json
import time
import os
import signal

from processes import group_alive
from tailrun import Experiment, ScriptRunConfig

UNTIL_FILE = """\
import os, sys, time
print("before restart", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
with open("outputs/result.txt", "w") as fh:
    fh.write("done")
print("after restart")
"""


def _submit_and_detach(service, ws, folder, release, wait_status, wait_console):
    run = Experiment(ws, "restarts").submit(ScriptRunConfig(str(folder), script="s.py", arguments=[str(release)]))
    wait_status(service.store, run.id, "Running")
    wait_console(service.store, run.id, "before restart")
    service.runner.stop(kill_runs=False)   # what a crash or a restart looks like to the run
    service.stop(grace=1)
    return run.id


def test_a_running_run_is_supervised_again_after_a_restart(service_factory, workspace_of, source_dir,
                                                           tmp_path, wait_status, wait_console):
    data_dir = tmp_path / "data"
    first = service_factory(data_dir=data_dir)
    release = tmp_path / "release"
    run_id = _submit_and_detach(first, workspace_of(first), source_dir({"s.py": UNTIL_FILE}), release,
                                wait_status, wait_console)
    state = json.loads((data_dir / "runs" / run_id / "state.json").read_text())
    assert group_alive(state["pid"]), "the run stopped while no service was up"

    second = service_factory(data_dir=data_dir)
    assert second.runner.active_runs() == [run_id]
    release.touch()
    info = wait_status(second.store, run_id, {"Completed", "Failed"})
    assert info.status == "Completed", info.error_json
    console = wait_console(second.store, run_id, "after restart")
    assert console.count("before restart") == 1
    assert "outputs/result.txt" in [f.path for f in second.store.list_files(run_id)]
    # The supervisor forgets the run's state right after writing its final status (in that order:
    # a crash in between leaves a state to recover, never a run nobody finishes).
    state_file = data_dir / "runs" / run_id / "state.json"
    deadline = time.monotonic() + 30
    while state_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not state_file.exists()


def test_a_run_whose_process_died_is_failed_with_the_reason(service_factory, workspace_of, source_dir,
                                                            tmp_path, wait_status, wait_console):
    data_dir = tmp_path / "data"
    first = service_factory(data_dir=data_dir)
    run_id = _submit_and_detach(first, workspace_of(first), source_dir({"s.py": UNTIL_FILE}),
                                tmp_path / "never", wait_status, wait_console)
    state = json.loads((data_dir / "runs" / run_id / "state.json").read_text())
    os.killpg(state["pid"], signal.SIGKILL)   # the machine lost the process while the service was down
    os.waitpid(state["pid"], 0)               # (it is this test process's child: reap it)

    second = service_factory(data_dir=data_dir)
    info = wait_status(second.store, run_id, {"Completed", "Failed", "Canceled"})
    assert info.status == "Failed"
    assert json.loads(info.error_json)["error"]["message"] == "the service restarted while the run was executing"
    assert wait_console(second.store, run_id, "before restart").count("before restart") == 1


def test_stopping_the_service_ends_its_runs(service, ws, source_dir, tmp_path, wait_status, wait_console):
    run = Experiment(ws, "restarts").submit(
        ScriptRunConfig(str(source_dir({"s.py": UNTIL_FILE})), script="s.py", arguments=[str(tmp_path / "x")]))
    wait_console(service.store, run.id, "before restart")
    pid = json.loads((service.data_dir / "runs" / run.id / "state.json").read_text())["pid"]
    service.runner.stop()
    info = service.store.get_run(run.id)
    assert info.status == "Failed"
    assert "the service stopped while the run was executing" in info.error_json
    assert not group_alive(pid), "the run's processes outlived the service"


def test_a_queued_run_is_queued_again_after_a_restart(service_factory, workspace_of, source_dir, tmp_path,
                                                      wait_status, wait_console):
    data_dir = tmp_path / "data"
    first = service_factory(data_dir=data_dir, max_concurrent_runs=1)
    ws = workspace_of(first)
    release = tmp_path / "release"
    folder = source_dir({"s.py": UNTIL_FILE})
    running = Experiment(ws, "restarts").submit(ScriptRunConfig(str(folder), script="s.py", arguments=[str(release)]))
    waiting = Experiment(ws, "restarts").submit(ScriptRunConfig(str(folder), script="s.py", arguments=[str(release)]))
    wait_console(first.store, running.id, "before restart")
    assert first.store.get_run(waiting.id).status == "Queued"
    first.runner.stop(kill_runs=False)   # a graceful stop: runs stay as they are
    first.stop(grace=1)

    second = service_factory(data_dir=data_dir, max_concurrent_runs=1)
    assert second.runner.active_runs() == [running.id]
    assert second.runner.queued_runs() == [waiting.id]
    release.touch()
    for run_id in (running.id, waiting.id):
        info = wait_status(second.store, run_id, {"Completed", "Failed"})
        assert info.status == "Completed", info.error_json
    assert wait_console(second.store, waiting.id, "after restart").count("before restart") == 1
