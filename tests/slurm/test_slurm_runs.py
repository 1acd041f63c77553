"""Submitted runs on a real one-node Slurm cluster (tests/slurm/conftest.py): the run is an sbatch
job, its console, logs, outputs and metrics arrive through the job bootstrap, and the service
follows the job's state in Slurm."""
from __future__ import annotations

import json

import pytest

from tailrun import Estimator, Experiment, ScriptRunConfig

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
