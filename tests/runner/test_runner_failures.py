"""Failures: a failing script, bad configurations caught at submit time, snapshot rules and limits."""
from __future__ import annotations

import json

import pytest

from tailrun import Environment, Estimator, Experiment, ScriptRunConfig
from tailrun.exceptions import ComputeTargetException
from tailrun.script_run import ActivityFailedException, TrainingException, UserErrorException

FAILING = """\
print("starting")
def train():
    raise ValueError("loss is NaN at step 3")
train()
"""


def test_failing_script_is_failed_and_wait_raises_with_the_traceback(ws, source_dir, capsys):
    run = Experiment(ws, "failures").submit(ScriptRunConfig(str(source_dir({"bad.py": FAILING})), script="bad.py"))
    with pytest.raises(ActivityFailedException) as caught:
        run.wait_for_completion(show_output=True)
    message = caught.value.error["error"]["message"]
    assert message.startswith("Traceback (most recent call last):")
    assert 'in train\n    raise ValueError("loss is NaN at step 3")' in message
    assert message.endswith("ValueError: loss is NaN at step 3")
    assert caught.value.error["error"]["exit_code"] == 1
    assert "ValueError: loss is NaN at step 3" in str(caught.value)
    assert run.get_status() == "Failed"
    assert "starting" in capsys.readouterr().out


def test_failed_run_without_raise_prints_the_error(ws, source_dir, capsys):
    run = Experiment(ws, "failures").submit(
        ScriptRunConfig(str(source_dir({"exit3.py": "import sys\nprint('bye')\nsys.exit(3)\n"})), script="exit3.py"))
    details = run.wait_for_completion(show_output=True, raise_on_error=False)
    assert details["status"] == "Failed"
    assert details["error"]["error"]["message"] == "exit code 3: bye"
    out = capsys.readouterr().out
    assert "\nError:\n" in out and '"exit code 3: bye"' in out


def test_missing_script_is_a_clear_error_at_submit(ws, source_dir, service):
    config = ScriptRunConfig(str(source_dir({"train.py": "print(1)"})), script="tain.py")
    with pytest.raises(UserErrorException, match=r"script 'tain.py' was not found in source_directory"):
        Experiment(ws, "bad-input").submit(config)
    assert not service.store.list_runs(_all_runs())


def test_script_outside_the_source_directory_is_refused(ws, source_dir, tmp_path):
    (tmp_path / "elsewhere.py").write_text("print(1)")
    config = ScriptRunConfig(str(source_dir({"train.py": ""})), script=str(tmp_path / "elsewhere.py"))
    with pytest.raises(UserErrorException, match="outside source_directory"):
        Experiment(ws, "bad-input").submit(config)


def test_command_with_script_is_refused(source_dir):
    with pytest.raises(UserErrorException, match="either script .* or command, not both"):
        ScriptRunConfig(str(source_dir({"train.py": ""})), script="train.py", command=["python", "train.py"])


def test_command_runs_in_the_snapshot(ws, source_dir, capsys):
    folder = source_dir({"train.py": "import sys\nprint('via command', sys.argv[1])\n"})
    run = Experiment(ws, "commands").submit(ScriptRunConfig(str(folder), command=["python", "train.py", "ok"]))
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    assert "via command ok" in capsys.readouterr().out


def test_unknown_compute_target_is_refused(ws, source_dir):
    config = ScriptRunConfig(str(source_dir({"train.py": ""})), script="train.py", compute_target="gpu-cluster")
    with pytest.raises(ComputeTargetException, match=r"unknown compute target 'gpu-cluster'.*known compute "
                                                     r"targets are 'local'"):
        Experiment(ws, "bad-input").submit(config)


def test_estimator_validation_errors():
    env = Environment("mine")
    with pytest.raises(TrainingException, match="environment_definition cannot be combined with pip_packages"):
        Estimator(".", entry_script="t.py", environment_definition=env, pip_packages=["six"])
    with pytest.raises(TrainingException, match="node_count must be at least 1"):
        Estimator(".", entry_script="t.py", node_count=0)
    with pytest.raises(TrainingException, match="custom_docker_image needs use_docker=True"):
        Estimator(".", entry_script="t.py", use_docker=False, custom_docker_image="img")
    with pytest.raises(TypeError):
        Estimator(".", "t.py")  # everything after source_directory is keyword-only


def test_submit_refuses_unknown_keyword_arguments(ws, source_dir):
    config = ScriptRunConfig(str(source_dir({"train.py": ""})), script="train.py")
    with pytest.raises(TypeError, match="unexpected keyword arguments script_params"):
        Experiment(ws, "bad-input").submit(config, script_params={"--a": 1})


def test_snapshot_honours_ignore_files(ws, source_dir, service, capsys):
    folder = source_dir({
        "train.py": "import os\nprint(sorted(os.listdir('.')), sorted(os.listdir('data')))\n",
        ".gitignore": "*.ckpt\n/data/big/\n",
        "model.ckpt": "weights", "data/small.csv": "1", "data/big/x.bin": "0" * 100,
        ".git/HEAD": "ref: refs/heads/main",
    })
    run = Experiment(ws, "snapshots").submit(ScriptRunConfig(str(folder), script="train.py"))
    run.wait_for_completion(show_output=True)
    assert "['.gitignore', 'data', 'outputs', 'train.py'] ['small.csv']" in capsys.readouterr().out

    # a .tailrunignore replaces .gitignore (as .amlignore does in Azure ML)
    (folder / ".tailrunignore").write_text("data/\n")
    run = Experiment(ws, "snapshots").submit(ScriptRunConfig(str(folder), script="train.py"))
    with pytest.raises(ActivityFailedException, match="FileNotFoundError"):
        run.wait_for_completion()


def test_snapshot_file_limit_is_a_clear_error(ws, source_dir, service):
    folder = source_dir({"train.py": ""})
    for i in range(2001):
        (folder / f"f{i}.txt").touch()
    with pytest.raises(UserErrorException, match=r"has 2002 files, over the limit of 2000"):
        Experiment(ws, "bad-input").submit(ScriptRunConfig(str(folder), script="train.py"))


def test_package_that_fails_to_install_fails_the_run(ws, source_dir):
    env = Environment("broken")
    env.python.conda_dependencies.add_pip_package("no-such-package-tailrun-test")
    run = Experiment(ws, "envs").submit(
        ScriptRunConfig(str(source_dir({"train.py": "print(1)"})), script="train.py", environment=env))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "environment build failed: pip install exited with code 1" in details["error"]["error"]["message"]
    assert "no-such-package-tailrun-test" in run._client().read_output(run.id).text


def _all_runs():
    from tailrun.v1 import tailrun_pb2 as pb
    return pb.ListRunsRequest(include_children=True)


def test_error_json_is_stored_on_the_run(ws, source_dir, service):
    run = Experiment(ws, "failures").submit(ScriptRunConfig(str(source_dir({"bad.py": FAILING})), script="bad.py"))
    run.wait_for_completion(raise_on_error=False)
    error = json.loads(service.store.get_run(run.id).error_json)
    assert error["error"]["code"] == "UserError"
