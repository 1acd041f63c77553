"""Submitted runs on a real one-node Slurm cluster (tests/slurm/conftest.py): the run is an sbatch
job, its console, logs, outputs and metrics arrive through the job bootstrap, and the service
follows the job's state in Slurm."""
from __future__ import annotations

import json

import pytest

from tailrun import Estimator, Experiment, ScriptRunConfig

from slurmkit import console as _console, wait_for

pytestmark = pytest.mark.slow

SEED = """\
from tailrun import Run
import sys
run = Run.get_context()
for i in range(3):
    run.log("loss", 1.0 / (i + 1))
print("training on", sys.argv[1:])
with open("outputs/model.txt", "w") as f:
    f.write("weights")
"""


def test_seed_style_submit_to_a_slurm_target(slurm_ws, slurm_service, source_dir, capsys):
    folder = source_dir({"train.py": SEED})
    config = ScriptRunConfig(str(folder), script="train.py", arguments=["--lr", 0.1], compute_target="cpu-cluster")
    run = Experiment(slurm_ws, "slurm-seed").submit(config)
    details = run.wait_for_completion(show_output=True, raise_on_error=True)
    assert details["status"] == "Completed"
    assert "training on ['--lr', '0.1']" in capsys.readouterr().out
    assert run.get_metrics()["loss"] == [1.0, 0.5, 1.0 / 3]
    info = slurm_service.store.get_run(run.id)
    assert info.target == "cpu-cluster" and info.properties["slurm_job_id"].isdigit()
    assert info.tags["slurm_state"] == "COMPLETED"
    files = {f.path for f in slurm_service.store.list_files(run.id)}
    assert {"outputs/model.txt", "user_logs/std_log.txt", "system_logs/tailrun_job.json"} <= files
    report = json.loads(slurm_service.store.open_file(run.id, "system_logs/tailrun_job.json").read())
    assert report["job_id"] == info.properties["slurm_job_id"] and report["exit_code"] == 0


def test_estimator_arguments_reach_the_script(slurm_ws, source_dir, capsys):
    folder = source_dir({"train.py": "import sys\nprint('argv', sys.argv[1:])\n"})
    estimator = Estimator(source_directory=str(folder), entry_script="train.py", compute_target="cpu-cluster",
                          script_params={"--epochs": 2, "--verbose": "", "--layers": [3, 4]})
    run = Experiment(slurm_ws, "slurm-estimator").submit(estimator)
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    assert "argv ['--epochs', '2', '--verbose', '--layers', '3', '4']" in capsys.readouterr().out


def test_output_is_streamed_while_the_job_runs(slurm_ws, slurm_service, source_dir, tmp_path):
    go = tmp_path / "go"
    folder = source_dir({"train.py": f"""\
import os, time
print("first line", flush=True)
while not os.path.exists({str(go)!r}):
    time.sleep(0.05)
print("second line")
"""})
    run = Experiment(slurm_ws, "slurm-live").submit(ScriptRunConfig(str(folder), script="train.py",
                                                                    compute_target="cpu-cluster"))
    wait_for("the first line while the job runs", lambda: "first line" in _console(slurm_service, run.id))
    info = slurm_service.store.get_run(run.id)
    assert info.status == "Running" and info.tags["slurm_state"].startswith("RUNNING on ")
    assert "second line" not in _console(slurm_service, run.id)
    go.touch()
    assert run.wait_for_completion()["status"] == "Completed"
    assert "second line" in _console(slurm_service, run.id)


def test_a_failing_job_fails_the_run_with_its_traceback(slurm_ws, slurm_service, source_dir):
    folder = source_dir({"train.py": "print('about to fail')\nraise ValueError('bad learning rate')\n"})
    run = Experiment(slurm_ws, "slurm-fail").submit(ScriptRunConfig(str(folder), script="train.py",
                                                                    compute_target="cpu-cluster"))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    error = details["error"]["error"]
    assert error["code"] == "UserError" and "ValueError: bad learning rate" in error["message"]
    assert "Traceback (most recent call last)" in error["message"]
    info = slurm_service.store.get_run(run.id)
    assert info.tags["slurm_state"] == "FAILED"   # the batch step ended with the script's exit code


def test_cancel_scancels_the_job(slurm_ws, slurm_service, slurm_cluster, source_dir):
    folder = source_dir({"train.py": "import time\nprint('ready', flush=True)\ntime.sleep(300)\n"})
    run = Experiment(slurm_ws, "slurm-cancel").submit(ScriptRunConfig(str(folder), script="train.py",
                                                                      compute_target="cpu-cluster"))
    wait_for("the script to start", lambda: "ready" in _console(slurm_service, run.id))
    run.cancel()
    assert run.wait_for_completion()["status"] == "Canceled"
    info = slurm_service.store.get_run(run.id)
    assert info.error_json == "" and info.tags["slurm_state"] == "CANCELLED"
    job = info.properties["slurm_job_id"]
    state = slurm_cluster.run("squeue", "--noheader", "--states=all", f"--jobs={job}", "--format=%T").stdout
    assert state.strip() == "CANCELLED"


def test_max_run_duration_is_the_time_limit(slurm_ws, slurm_service, slurm_cluster, source_dir):
    folder = source_dir({"train.py": "import time\nprint('started', flush=True)\ntime.sleep(300)\n"})
    config = ScriptRunConfig(str(folder), script="train.py", compute_target="cpu-cluster",
                             max_run_duration_seconds=2)
    run = Experiment(slurm_ws, "slurm-limit").submit(config)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["error"]["code"] == "TimeLimitExceeded"
    assert "max_run_duration_seconds (2 s)" in details["error"]["error"]["message"]
    job = slurm_service.store.get_run(run.id).properties["slurm_job_id"]
    shown = slurm_cluster.run("scontrol", "show", "job", job).stdout
    assert "TimeLimit=00:02:00" in shown    # Slurm's own limit: whole minutes, the backstop


def test_two_tasks_log_into_one_run_as_two_writers(slurm_ws, slurm_service, slurm_cluster, source_dir):
    from tailrun.runconfig import PyTorchConfiguration

    folder = source_dir({"train.py": """\
import os
from tailrun import Run
run = Run.get_context()
rank = int(os.environ["RANK"])
run.log("rank", rank)
run.log_row("ranks", rank=rank, world=int(os.environ["WORLD_SIZE"]), local=int(os.environ["LOCAL_RANK"]))
print("hello from rank", rank, "of", os.environ["WORLD_SIZE"], "master", os.environ["MASTER_ADDR"])
"""})
    config = ScriptRunConfig(str(folder), script="train.py", compute_target="cpu-cluster",
                             distributed_job_config=PyTorchConfiguration(process_count=2, node_count=1))
    run = Experiment(slurm_ws, "slurm-ranks").submit(config)
    assert run.wait_for_completion(raise_on_error=True)["status"] == "Completed"
    assert sorted(run.get_metrics()["rank"]) == [0, 1]
    rows = run.get_metrics()["ranks"]
    assert sorted(rows["rank"]) == [0, 1] and rows["world"] == [2, 2] and sorted(rows["local"]) == [0, 1]
    console = _console(slurm_service, run.id)
    assert "0: hello from rank 0 of 2" in console and "1: hello from rank 1 of 2" in console
    writers = _writers_of(slurm_service, run.id)
    assert len(writers) >= 3, writers   # the bootstrap and one per rank
    job = slurm_service.store.get_run(run.id).properties["slurm_job_id"]
    shown = slurm_cluster.run("scontrol", "show", "job", job).stdout
    assert "NumNodes=1" in shown and "NumTasks=2" in shown


def test_settings_slurm_cannot_honour_are_reported_and_distribution_is_not(slurm_ws, slurm_service, source_dir):
    from tailrun import Environment
    from tailrun.runconfig import MpiConfiguration

    env = Environment("custom-image")
    env.docker.base_image = "example.org/team/train:1"
    config = ScriptRunConfig(str(source_dir({"train.py": "print('ok')\n"})), script="train.py",
                             compute_target="cpu-cluster", environment=env,
                             distributed_job_config=MpiConfiguration(process_count_per_node=1, node_count=1))
    run = Experiment(slurm_ws, "slurm-ignored").submit(config)
    details = run.wait_for_completion(raise_on_error=True)
    ignored = [w for w in details["warnings"] if w.startswith("tailrun ignored: ")]
    assert len(ignored) == 1 and "docker image example.org/team/train:1" in ignored[0]
    assert "distributed" not in ignored[0]   # Slurm starts the nodes and processes itself
    assert _console(slurm_service, run.id).startswith(ignored[0] + "\n[tailrun] Slurm job ")


def _writers_of(service, run_id: str) -> set[str]:
    """The writers that used the run's own token (the job's, never the service's)."""
    from sqlalchemy import text

    with service.store.db.read() as conn:
        rows = conn.execute(text("SELECT writer, owner FROM writers")).all()
    return {writer for writer, owner in rows if owner == f"run:{run_id}"}


def test_compute_list_shows_the_partitions_live_state(slurm_ws, slurm_service, source_dir, tmp_path):
    import subprocess
    import sys

    def listed() -> dict[str, list[str]]:
        done = subprocess.run([sys.executable, "-m", "tailrun.cli", "compute", "list", "--address",
                               slurm_service.address, "--token", slurm_service.token],
                              capture_output=True, text=True, timeout=60, check=True)
        return {line.split()[0]: line.split(None, 3) for line in done.stdout.splitlines()[1:]}

    assert listed()["cpu-cluster"] == ["cpu-cluster", "slurm", "Succeeded",
                                       "partition debug up: 1 idle, 0 allocated, 0 down"]
    go = tmp_path / "go"
    folder = source_dir({"train.py": f"import os, time\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n"})
    run = Experiment(slurm_ws, "slurm-busy").submit(ScriptRunConfig(str(folder), script="train.py",
                                                                    compute_target="cpu-cluster"))
    wait_for("the node to show the job", lambda: listed()["cpu-cluster"][3] ==
             "partition debug up: 0 idle, 1 allocated, 0 down")
    target = slurm_ws.compute_targets["cpu-cluster"]
    assert target.properties["jobs"] == "1" and target.provisioning_state == "Succeeded"
    go.touch()
    assert run.wait_for_completion()["status"] == "Completed"


def test_tailrun_submit_to_a_target(slurm_service, source_dir):
    import subprocess
    import sys

    folder = source_dir({"hello.py": "import sys\nprint('hello from', sys.argv[1])\n"})
    done = subprocess.run([sys.executable, "-m", "tailrun.cli", "submit", "-C", str(folder), "hello.py",
                           "--target", "cpu-cluster", "--wait", "--address", slurm_service.address,
                           "--token", slurm_service.token, "--", "slurm"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[tailrun] Slurm job " in done.stdout and "hello from slurm" in done.stdout


def test_a_tls_service_gives_its_jobs_the_ca(service_factory, slurm_cluster, slurm_config, source_dir, tmp_path,
                                             monkeypatch):
    import subprocess

    from tailrun import Workspace

    cert, key = tmp_path / "service.pem", tmp_path / "service.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=service",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    service = service_factory(compute_config=slurm_config(), tls_cert=cert, tls_key=key)
    monkeypatch.setenv("TAILRUN_CA", str(cert))
    folder = source_dir({"train.py": "from tailrun import Run\nRun.get_context().log('tls', 1)\nprint('over tls')\n"})
    run = Experiment(Workspace(address=service.address), "slurm-tls").submit(
        ScriptRunConfig(str(folder), script="train.py", compute_target="cpu-cluster"))
    assert run.wait_for_completion(raise_on_error=True)["status"] == "Completed"
    assert run.get_metrics()["tls"] == 1 and "over tls" in _console(service, run.id)


def test_system_metrics_are_sampled_by_the_job_bootstrap(slurm_ws, slurm_service, source_dir):
    # The same script as the local runner's test (tests/sdk/test_system_metrics.py): a worker that
    # daemonized away from the script still counts; the script's own SDK does not sample twice.
    from tailrun import RunConfiguration
    from tailrun.v1 import tailrun_pb2 as pb
    from system_metrics_kit import BASE_NAMES, FAST, SUBMITTED
    config = RunConfiguration()
    config.environment_variables = dict(FAST)
    config.target = "cpu-cluster"
    run = Experiment(slurm_ws, "slurm-system").submit(
        ScriptRunConfig(str(source_dir({"train.py": SUBMITTED})), script="train.py", run_config=config))
    assert run.wait_for_completion()["status"] == "Completed"
    assert slurm_service.store.get_run(run.id).properties["slurm_job_id"].isdigit()
    got = run.get_system_metrics()
    assert set(got) == BASE_NAMES and max(got["memory_rss_mb"]) >= 96
    chunks = list(slurm_service.store.iter_metrics(run.id, "system/cpu_percent", system=True))
    assert {c.kind for c in chunks} == {pb.METRIC_KIND_SYSTEM}
    steps = [s for c in chunks for s in c.steps]
    assert steps == list(range(len(steps))) and len(steps) >= 3
