"""What happens behind the service's back on a real Slurm cluster: scancel from the shell, a
service restart while the job runs, a requeue; and bad input (a partition that does not exist,
sbatch refusing the job, the Slurm tools missing)."""
from __future__ import annotations

import time

import pytest

from tailrun import Experiment, ScriptRunConfig
from tailrun.exceptions import InvalidRequest

from conftest import TOKEN
from slurmkit import console, wait_for

pytestmark = pytest.mark.slow

WAIT_FOR_GO = """\
import os, sys, time
from tailrun import Run
run = Run.get_context()
print("before", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
run.log("after_go", 1)
print("after", flush=True)
"""


def _submit(ws, folder, *args, run_id=None, **config):
    config = ScriptRunConfig(str(folder), script="train.py", arguments=list(args), compute_target="cpu-cluster",
                             **config)
    return Experiment(ws, "slurm-faults").submit(config, **({"run_id": run_id} if run_id else {}))


def test_scancel_from_the_shell_is_noticed_and_named(slurm_ws, slurm_service, slurm_cluster, source_dir):
    folder = source_dir({"train.py": "import time\nprint('ready', flush=True)\ntime.sleep(300)\n"})
    run = _submit(slurm_ws, folder)
    wait_for("the script to start", lambda: "ready" in console(slurm_service, run.id))
    job = slurm_service.store.get_run(run.id).properties["slurm_job_id"]
    slurm_cluster.run("scancel", job)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Canceled"
    error = details["error"]["error"]
    assert error["code"] == "SlurmJobCanceled" and f"Slurm job {job} was canceled outside tailrun" in error["message"]


def test_service_restart_while_the_job_runs(service_factory, slurm_cluster, slurm_config, source_dir, tmp_path):
    from recorder_reset import reset_recorder
    from tailrun import Workspace

    data_dir = tmp_path / "data"
    first = service_factory(data_dir=data_dir, compute_config=slurm_config(), token=TOKEN)
    reset_recorder()
    go = tmp_path / "go"
    run = _submit(Workspace(address=first.address, token=TOKEN), source_dir({"train.py": WAIT_FOR_GO}), str(go))
    wait_for("the script to start", lambda: "before" in console(first, run.id))
    job = first.store.get_run(run.id).properties["slurm_job_id"]
    first.runner.stop(kill_runs=False)   # as `tailrun server` does on SIGTERM: the job goes on
    first.stop()
    go.touch()                           # the script ends while no service watches it
    second = service_factory(data_dir=data_dir, port=first.port, compute_config=slurm_config(), token=TOKEN)
    reset_recorder()
    again = Workspace(address=second.address, token=TOKEN).get_run(run.id)
    details = again.wait_for_completion(raise_on_error=True)
    assert details["status"] == "Completed"
    text = console(second, run.id)
    assert text.count("before") == 1 and text.count("after") == 1
    assert again.get_metrics()["after_go"] == 1
    assert second.store.get_run(run.id).properties["slurm_job_id"] == job


def test_a_requeued_job_continues_the_same_run(slurm_ws, slurm_service, slurm_cluster, source_dir, tmp_path):
    folder = source_dir({"train.py": """\
import os, time
attempt = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
print("attempt", attempt, flush=True)
while attempt == 0:
    time.sleep(0.05)
print("done on attempt", attempt)
"""})
    run = _submit(slurm_ws, folder)
    wait_for("the first attempt", lambda: "attempt 0" in console(slurm_service, run.id))
    job = slurm_service.store.get_run(run.id).properties["slurm_job_id"]
    slurm_cluster.run("scontrol", "requeue", job)
    # A requeued job waits (its BeginTime, two minutes on) before it is eligible again: start it
    # now, once its first attempt has left the node. Slurm revokes the job's credentials with a
    # one-second granularity: an attempt started within the second of the revocation is killed
    # ("Job credential revoked"), so the restart waits for the clock's next second.
    wait_for("the requeued job to be pending", lambda: slurm_cluster.run(
        "squeue", "--noheader", f"--jobs={job}", "--format=%T|%r").stdout.strip() == "PENDING|BeginTime")
    wait_for("the node to be idle", lambda: slurm_cluster.run("sinfo", "--noheader", "--format=%T").stdout.strip()
             == "idle")
    requeued_at = int(time.time())
    wait_for("the next second", lambda: time.time() >= requeued_at + 2)
    slurm_cluster.run("scontrol", "update", f"JobId={job}", "StartTime=now")
    details = run.wait_for_completion(raise_on_error=True)
    assert details["status"] == "Completed"
    text = console(slurm_service, run.id)
    assert "attempt 0" in text and "restart 1 (requeued by Slurm)" in text and "done on attempt 1" in text
    assert any(f"Slurm requeued job {job} (restart 1)" in w for w in details["warnings"])


def test_a_partition_that_does_not_exist(service_factory, slurm_cluster, slurm_config, source_dir):
    from tailrun import Workspace

    service = service_factory(compute_config=slurm_config(partition="no-such-partition"))
    ws = Workspace(address=service.address)
    with pytest.raises(InvalidRequest, match=r"Slurm refused the job .*partition 'no-such-partition'.*"
                                             r"[Ii]nvalid partition"):
        _submit(ws, source_dir({"train.py": "print(1)\n"}), run_id="bad-partition-run")
    info = service.store.get_run("bad-partition-run")
    assert info.status == "Failed" and "Invalid partition" in info.error_json
    target = {t.name: t for t in ws._client().list_compute_targets()}["cpu-cluster"]
    assert target.state == "Unavailable" and "partition 'no-such-partition' does not exist" in target.detail


def test_sbatch_refusing_the_job_too_many_gpus(service_factory, slurm_cluster, slurm_config, source_dir):
    from tailrun import Workspace

    service = service_factory(compute_config=slurm_config(gpus=8))
    with pytest.raises(InvalidRequest, match=r"Slurm refused the job .*: sbatch: error: "):
        _submit(Workspace(address=service.address), source_dir({"train.py": "print(1)\n"}), run_id="gpu-run")
    info = service.store.get_run("gpu-run")
    assert info.status == "Failed" and "sbatch: error" in info.error_json


def test_slurm_tools_missing(service_factory, slurm_cluster, slurm_config, source_dir, monkeypatch):
    from tailrun import Workspace

    service = service_factory(compute_config=slurm_config())
    monkeypatch.setenv("PATH", "/nonexistent")   # the service's own machine without Slurm's commands
    ws = Workspace(address=service.address)
    with pytest.raises(InvalidRequest, match=r"the Slurm tool 'sbatch' is not installed"):
        _submit(ws, source_dir({"train.py": "print(1)\n"}), run_id="no-tools-run")
    assert service.store.get_run("no-tools-run").status == "Failed"
    target = {t.name: t for t in ws._client().list_compute_targets()}["cpu-cluster"]
    assert target.state == "Unavailable" and "'sinfo' is not installed" in target.detail
