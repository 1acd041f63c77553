"""The one line of settings a run asks for that tailrun cannot honour, computed from definitions
the real SDK classes serialise: only what the user asked for, never Azure ML's defaults."""
from __future__ import annotations

from tailrun import Environment, Estimator, RunConfiguration, ScriptRunConfig
from tailrun.environment import CondaDependencies
from tailrun.runconfig import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, DockerConfiguration, PyTorchConfiguration
from tailrun_service.ignored_settings import ignored_line, ignored_settings

PY = "3.12.3"


def definition(config: ScriptRunConfig) -> dict:
    return config.run_config._to_dict()


def test_defaults_report_nothing(tmp_path) -> None:
    assert ignored_line(RunConfiguration(script="t.py")._to_dict(), PY) is None
    config = ScriptRunConfig(str(tmp_path), script="t.py", environment=Environment("plain"))
    assert ignored_line(definition(config), PY) is None
    for image in (DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE):   # Azure ML's default images are not noise
        env = Environment("default-image")
        env.docker.base_image = image
        assert ignored_settings(definition(ScriptRunConfig(str(tmp_path), script="t.py", environment=env)), PY) == []
    env = Environment("same-python")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["tqdm"], python_version="3.12")
    assert ignored_line(definition(ScriptRunConfig(str(tmp_path), script="t.py", environment=env)), PY) is None


def test_docker_python_and_conda_settings_are_each_named(tmp_path) -> None:
    env = Environment.from_docker_image("gpu", "nvcr.io/nvidia/pytorch:24.01-py3")
    env.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["numpy=1.26"], pip_packages=["tqdm"], python_version="3.8")
    env.python.conda_dependencies.add_channel("conda-forge")
    config = ScriptRunConfig(str(tmp_path), script="t.py", environment=env,
                             docker_runtime_config=DockerConfiguration(use_docker=True, shm_size="16g",
                                                                      arguments=["--ipc=host"]),
                             distributed_job_config=PyTorchConfiguration(process_count=4, node_count=2))
    line = ignored_line(definition(config), PY)
    assert line == (
        "tailrun ignored: docker image nvcr.io/nvidia/pytorch:24.01-py3 (runs execute directly on the "
        "service's machine, without Docker); shm_size 16g (no container: the machine's /dev/shm is used); "
        "docker arguments --ipc=host (runs execute directly on the service's machine, without Docker); "
        "conda packages numpy=1.26 (installed with pip from PyPI, not with conda: a conda-only package "
        "fails to install); conda channels conda-forge (pip does not use conda channels); "
        "python 3.8 (the service runs Python 3.12.3); distributed training (communicator Nccl, "
        "node_count 2, pytorch process_count 4) (tailrun starts the script once, as one process)")


def test_user_managed_packages_docker_flags_and_datasets(tmp_path) -> None:
    env = Environment("mine")
    env.python.user_managed_dependencies = True
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["torch"])
    env.docker.enabled = True
    env.docker.base_dockerfile = "FROM ubuntu\n"
    run_config = RunConfiguration(script="t.py")
    run_config.environment = env
    run_config.data = {"train": object()}
    run_config.amlcompute.vm_size = "STANDARD_NC6"
    run_config.history.snapshot_project = False
    items = ignored_settings(run_config._to_dict(), PY)
    assert items == [
        "docker base_dockerfile (runs execute directly on the service's machine, without Docker)",
        "packages torch (python.user_managed_dependencies=True: the interpreter is used as it is, "
        "nothing is installed)",
        "amlcompute.vm_size STANDARD_NC6 (runs use the service's machine as it is)",
        "data train (datasets are not mounted: read files by path)",
        "history.snapshot_project=False (the source folder is always sent: the script runs from it)"]
    env.docker.base_dockerfile = None
    assert ignored_settings(run_config._to_dict(), PY)[0] == (
        "environment.docker.enabled (runs execute directly on the service's machine, without Docker)")


def test_a_python_version_is_compared_with_the_interpreter_that_runs_the_script(tmp_path) -> None:
    env = Environment("py")
    env.python.conda_dependencies = CondaDependencies.create(python_version="3.12.1")
    config = definition(ScriptRunConfig(str(tmp_path), script="t.py", environment=env))
    assert ignored_settings(config, PY) == ["python 3.12.1 (the service runs Python 3.12.3)"]
    assert ignored_settings(config, "3.12.1") == []
    assert ignored_settings(config, None) == []          # a target that does not know: nothing claimed
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = "/opt/py312/bin/python"   # the user's own interpreter: not ours to judge
    assert ignored_settings(definition(ScriptRunConfig(str(tmp_path), script="t.py", environment=env)), PY) == []


def test_estimator_shm_size_reaches_the_definition(tmp_path) -> None:
    estimator = Estimator(str(tmp_path), entry_script="t.py", shm_size="8g")
    assert ignored_settings(estimator.run_config._to_dict(), PY) == [
        "shm_size 8g (no container: the machine's /dev/shm is used)"]
