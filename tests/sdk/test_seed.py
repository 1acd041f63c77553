"""The user's notes (/work/shared/seed/000_*.txt) with `azureml` (and the typo `azure`) replaced by
`tailrun` run unchanged, in real processes, and every value reads back exactly."""
from __future__ import annotations

import json

from api_helpers import script
from tailrun import Run

LOGGING_SECTION = script("""
    from tailrun.core import Workspace
    ws = Workspace.from_config()

    from tailrun.core import Experiment

    # create an experiment variable
    experiment = Experiment(workspace = ws, name = "my-experiment")

    # start the experiment
    run = experiment.start_logging()

    # experiment code goes here
    var = 'my log'
    run.log('observations', var)
    run.log('observations', 0.5)
    run.log_list('losses', [0.9, 0.5, 0.25])
    run.log_row('epoch', n=1, acc=0.75)
    run.log_table('scores', {'class': ['a', 'b'], 'f1': [0.5, 1.0]})

    # end the experiment
    run.complete()

    import json
    metrics = run.get_metrics()
    print(json.dumps(metrics, indent=2))

    import json
    files = run.get_file_names()
    print(json.dumps(files, indent=2))
    print("RUN", run.id)
""")

EXPECTED = {"observations": ["my log", 0.5], "losses": [0.9, 0.5, 0.25], "epoch": {"n": 1, "acc": 0.75},
            "scores": {"class": ["a", "b"], "f1": [0.5, 1.0]}}

EXPERIMENT_SCRIPT = script("""
    import argparse
    from tailrun.core import Run

    parser = argparse.ArgumentParser()
    parser.add_argument('--reg_rate', type=float, dest='reg', default=.01)
    args = parser.parse_args()
    reg = args.reg

    print(reg)

    run = Run.get_context()

    # code go here
    info_var = {'rows': 3}
    run.log('some info', info_var['rows'])
    run.log('regularization', reg)

    # write to output
    import os
    os.makedirs('outputs', exist_ok=True)
    with open('outputs/my_data.csv', 'w') as f:
        f.write('a,b\\n1,2\\n')
    run.complete()
""")

SUBMIT_SECTION = script("""
    from tailrun.core import Workspace
    ws = Workspace.from_config()

    from tailrun.core import Experiment, RunConfiguration, ScriptRunConfig

    # create run config obj
    run_config = RunConfiguration()

    # create a script config obj
    script_run_config = ScriptRunConfig(
        source_directory='scripts_folder',
        script='my_experiment.py',
        arguments=['--reg_rate', '0.1'],
        run_config=run_config
        )

    # submit
    exp = Experiment(workspace=ws, name='my exp')
    run = exp.submit(config=script_run_config)
    run.wait_for_completion(show_output=True)
    print("RUN", run.id)
""")


def test_logging_section(ws, run_script):
    proc = run_script(LOGGING_SECTION)
    assert proc.returncode == 0, proc.stderr
    printed, rest = proc.stdout.split("\n[", 1)
    assert json.loads(printed) == EXPECTED
    run_id = proc.stdout.split("RUN ", 1)[1].split()[0]
    run = Run.get(ws, run_id)
    assert run.get_metrics() == EXPECTED
    assert run.get_status() == "Completed" and run.experiment.name == "my-experiment"
    assert json.loads("[" + rest.split("RUN ", 1)[0]) == run.get_file_names()


def test_running_scripts_as_experiments(ws, run_script, tmp_path):
    folder = tmp_path / "script-cwd" / "scripts_folder"
    folder.mkdir(parents=True)
    (folder / "my_experiment.py").write_text(EXPERIMENT_SCRIPT)
    proc = run_script(SUBMIT_SECTION, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0.1" in proc.stdout   # the script's print, streamed by wait_for_completion
    run = Run.get(ws, proc.stdout.split("RUN ", 1)[1].split()[0])
    assert run.get_status() == "Completed" and run.experiment.name == "my exp"
    assert run.get_metrics() == {"some info": 3, "regularization": 0.1}
    assert "outputs/my_data.csv" in run.get_file_names()
