"""The user's notes (seed/000_*.txt), with `azureml` -> `tailrun`: a script run as an experiment
with a RunConfiguration, and an Estimator whose script_params reach argparse."""
from __future__ import annotations

import re

import pytest

from tailrun import Estimator
from tailrun.core import Experiment, RunConfiguration, ScriptRunConfig
from tailrun.estimator import script_params_to_arguments

SEED_SCRIPT = """\
import os
from tailrun.core import Run
run = Run.get_context()

# code go here
info_var = 42
run.log('some info', info_var)
print("run", run.id, "env", os.environ["TAILRUN_RUN_ID"], os.environ.get("MY_SETTING"))

# write to output
with open('outputs/my_data.csv', 'w') as fh:
    fh.write('a,b\\n1,2\\n')
os.makedirs('logs', exist_ok=True)
with open('logs/progress.txt', 'w') as fh:
    fh.write('epoch 1\\n')
run.complete()
print("still running after complete()")
"""

ARGPARSE_SCRIPT = """\
import argparse

parser = argparse.ArgumentParser()
parser.add_argument('--reg_rate', type=float, dest='reg', default=.01)
parser.add_argument('--verbose', action='store_true')
args = parser.parse_args()
reg = args.reg

print(reg)
print("verbose", args.verbose)
"""


def test_seed_script_runs_as_an_experiment(ws, service, source_dir, capsys):
    folder = source_dir({"my_experiment.py": SEED_SCRIPT, "data.txt": "x"})

    # create run config obj
    run_config = RunConfiguration()
    run_config.environment_variables = {"MY_SETTING": "from-run-config"}

    # create a script config obj
    script_run_config = ScriptRunConfig(
        source_directory=str(folder),
        script='my_experiment.py',
        run_config=run_config
        )

    # submit
    exp = Experiment(workspace=ws, name='my exp')
    run = exp.submit(config=script_run_config)
    details = run.wait_for_completion(show_output=True)

    assert re.fullmatch(r"my_exp_\d{10}_[0-9a-f]{8}", run.id)
    assert details["status"] == "Completed"
    assert details["runDefinition"]["script"] == "my_experiment.py"
    assert run.get_status() == "Completed"
    assert run.get_metrics() == {"some info": 42}
    names = run.get_file_names()
    assert "outputs/my_data.csv" in names and "logs/progress.txt" in names
    assert "user_logs/std_log.txt" in names
    out = capsys.readouterr().out
    assert f"run {run.id} env {run.id} from-run-config" in out
    # complete() inside the script did not end the run: its last line is still streamed
    assert "still running after complete()" in out
    info = service.store.get_run(run.id)
    assert info.run_type == "script" and info.script == "my_experiment.py" and info.target == "local"


def test_estimator_script_params_reach_argparse(ws, source_dir, capsys):
    folder = source_dir({"train.py": ARGPARSE_SCRIPT})
    estimator = Estimator(source_directory=str(folder), entry_script="train.py", compute_target="local",
                          script_params={'--reg_rate': 0.1, '--verbose': ''})
    run = Experiment(ws, "estimators").submit(estimator)
    details = run.wait_for_completion(show_output=True)

    assert details["status"] == "Completed"
    assert details["runDefinition"]["arguments"] == ["--reg_rate", "0.1", "--verbose"]
    out = capsys.readouterr().out
    assert "\n0.1\nverbose True\n" in out


def test_submit_overrides_estimator_script_params(ws, source_dir, capsys):
    folder = source_dir({"train.py": ARGPARSE_SCRIPT})
    estimator = Estimator(str(folder), entry_script="train.py", script_params={'--reg_rate': 0.1})
    run = Experiment(ws, "estimators").submit(estimator, script_params={'--reg_rate': 0.5})
    run.wait_for_completion(show_output=True)
    assert "\n0.5\n" in capsys.readouterr().out
    assert estimator.script_params == {'--reg_rate': 0.1}


def test_script_params_to_argv_follows_azure_ml():
    params = {"--lr": 0.1, "--flag": "", "--none": None, "--zero": 0, "--list": [1, "b"], "pos": "x"}
    assert script_params_to_arguments(params) == ["--lr", 0.1, "--flag", "--none", "--zero", 0,
                                                  "--list", 1, "b", "pos", "x"]


def test_script_arguments_and_environment_variables(ws, source_dir, capsys):
    from tailrun import Environment

    folder = source_dir({"sub/show.py": "import os, sys\nprint(sys.argv[1:], os.environ['A'], "
                                        "os.environ['PYTHONUNBUFFERED'], os.getcwd().endswith(os.environ['TAILRUN_RUN_ID']))"})
    env = Environment("user-managed")
    env.python.user_managed_dependencies = True
    env.environment_variables = {"A": "from-env"}
    config = ScriptRunConfig(str(folder), script="sub/show.py", arguments=["--x", 1, "y z"], environment=env)
    run = Experiment(ws, "args").submit(config, tags={"kind": "test"})
    run.wait_for_completion(show_output=True)
    assert "['--x', '1', 'y z'] from-env 1 True" in capsys.readouterr().out
    assert run.get_tags()["kind"] == "test"


@pytest.mark.postgres
def test_seed_flow_on_postgresql(pg_service, workspace_of, source_dir, capsys):
    from tailrun.script_run import ActivityFailedException

    ws = workspace_of(pg_service)
    folder = source_dir({"my_experiment.py": SEED_SCRIPT, "bad.py": "raise KeyError('x')\n"})
    run = Experiment(ws, "pg exp").submit(ScriptRunConfig(str(folder), script="my_experiment.py"))
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    assert run.get_metrics() == {"some info": 42}
    failing = Experiment(ws, "pg exp").submit(ScriptRunConfig(str(folder), script="bad.py"))
    with pytest.raises(ActivityFailedException, match="KeyError: 'x'"):
        failing.wait_for_completion()
