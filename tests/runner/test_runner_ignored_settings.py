"""A submitted run whose definition asks for what tailrun cannot honour: the one line opens its
driver log, is in its warnings, and wait_for_completion shows it once (logged without the console,
streamed with it)."""
from __future__ import annotations

import logging
import platform

from tailrun import Environment, Experiment, ScriptRunConfig
from tailrun.environment import CondaDependencies
from tailrun.runconfig import DockerConfiguration

LINE = ("tailrun ignored: docker image example.org/team/trainer:1 (runs execute directly on the "
        "service's machine, without Docker); shm_size 8g (no container: the machine's /dev/shm is "
        f"used); python 3.7 (the service runs Python {platform.python_version()})")


def config(source_dir) -> ScriptRunConfig:
    folder = source_dir({"train.py": "print('trained')\n"})
    env = Environment.from_docker_image("trainer", "example.org/team/trainer:1")
    env.python.conda_dependencies = CondaDependencies.create(python_version="3.7")
    return ScriptRunConfig(str(folder), script="train.py", environment=env,
                           docker_runtime_config=DockerConfiguration(use_docker=True, shm_size="8g"))


def test_the_line_opens_the_driver_log_and_is_a_warning(ws, source_dir, caplog, capsys) -> None:
    run = Experiment(ws, "ignored").submit(config(source_dir))
    with caplog.at_level(logging.WARNING, logger="tailrun"):
        details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert details["warnings"] == [LINE]
    assert [r.getMessage() for r in caplog.records if r.name == "tailrun"] == [LINE]
    console = run._client().read_output(run.id).text
    assert console == f"{LINE}\ntrained\n"
    assert run.get_details()["warnings"] == [LINE]
    assert capsys.readouterr().out == ""      # show_output=False prints nothing itself


def test_with_show_output_the_line_is_printed_once(ws, source_dir, capsys) -> None:
    run = Experiment(ws, "ignored").submit(config(source_dir))
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert out.count(LINE) == 1
    assert out.index(LINE) < out.index("trained") < out.index("Execution Summary")


def test_a_default_run_has_no_warning(ws, source_dir) -> None:
    folder = source_dir({"train.py": "print('plain')\n"})
    run = Experiment(ws, "ignored").submit(ScriptRunConfig(str(folder), script="train.py"))
    details = run.wait_for_completion()
    assert "warnings" not in details
    assert run._client().read_output(run.id).text == "plain\n"


def test_a_silent_failure_is_not_described_by_the_line(ws, source_dir) -> None:
    run_config = config(source_dir)
    folder = source_dir({"train.py": "import sys\nsys.exit(3)\n"})
    run_config.source_directory = str(folder)
    run = Experiment(ws, "ignored").submit(run_config)
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "tailrun ignored" not in details["error"]["error"]["message"]
    assert "3" in details["error"]["error"]["message"]
