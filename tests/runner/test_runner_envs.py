"""Environments: a pip package from the registry installed into a virtual environment that is
built once and reused; a user-managed interpreter runs as given."""
from __future__ import annotations

import sys

from tailrun import Environment, Experiment, ScriptRunConfig
from tailrun.environment import CondaDependencies

SHOW_SIX = """\
import sys, six
from tailrun.core import Run
Run.get_context().log("six", six.__version__)
print("six from", six.__file__)
print("python", sys.executable)
"""


def test_pip_environment_is_built_once_and_reused(ws, source_dir, service, capsys):
    folder = source_dir({"train.py": SHOW_SIX})
    env = Environment("with-six")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    first = Experiment(ws, "envs").submit(ScriptRunConfig(str(folder), script="train.py", environment=env))
    assert first.wait_for_completion(show_output=True)["status"] == "Completed"
    out = capsys.readouterr().out
    assert "[tailrun] building environment" in out and "Successfully installed six" in out

    envs = [p for p in (service.data_dir / "envs").iterdir() if p.is_dir()]
    assert len(envs) == 1
    env_dir = envs[0]
    assert f"six from {env_dir}" in out           # the package came from the built environment
    assert first.get_metrics()["six"]              # and tailrun is importable there too
    built = env_dir.stat().st_ino, (env_dir / ".tailrun-ready").stat().st_mtime_ns

    # The same package set, spelled through add_pip_package: the environment is reused.
    env2 = Environment("six-again")
    env2.python.conda_dependencies.add_pip_package("six")
    second = Experiment(ws, "envs").submit(ScriptRunConfig(str(folder), script="train.py", environment=env2))
    assert second.wait_for_completion(show_output=True)["status"] == "Completed"
    out = capsys.readouterr().out
    assert f"[tailrun] using environment {env_dir.name}" in out and "building" not in out
    assert f"six from {env_dir}" in out
    assert [p for p in (service.data_dir / "envs").iterdir() if p.is_dir()] == [env_dir]
    assert (env_dir.stat().st_ino, (env_dir / ".tailrun-ready").stat().st_mtime_ns) == built


def test_requirements_file_environment(ws, source_dir, service, tmp_path, capsys):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\nsix==1.17.0\n")
    env = Environment.from_pip_requirements("reqs", str(requirements))
    assert env.python.conda_dependencies.pip_packages == ["six==1.17.0"]
    run = Experiment(ws, "envs").submit(
        ScriptRunConfig(str(source_dir({"train.py": SHOW_SIX})), script="train.py", environment=env))
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    assert f"six from {service.data_dir / 'envs'}" in capsys.readouterr().out


def test_user_managed_environment_runs_the_given_interpreter(ws, source_dir, service, capsys):
    env = Environment("mine")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    env.python.conda_dependencies.add_pip_package("not-installed-when-user-managed")
    folder = source_dir({"train.py": "import sys\nprint('python', sys.executable)\n"})
    run = Experiment(ws, "envs").submit(ScriptRunConfig(str(folder), script="train.py", environment=env))
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    assert f"python {sys.executable}" in capsys.readouterr().out
    assert not (service.data_dir / "envs").exists() or not any((service.data_dir / "envs").iterdir())


def test_missing_interpreter_fails_the_run_with_the_reason(ws, source_dir):
    env = Environment("missing")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = "/nonexistent/bin/python"
    run = Experiment(ws, "envs").submit(
        ScriptRunConfig(str(source_dir({"train.py": ""})), script="train.py", environment=env))
    details = run.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Failed"
    assert "'/nonexistent/bin/python' does not exist" in details["error"]["error"]["message"]
