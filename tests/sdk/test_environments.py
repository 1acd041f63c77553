"""Registered environments through a real service: Environment.register/get/list, ws.environments,
the files Azure ML reads and writes (requirements, conda specifications, save_to_directory), and
the environment of a submitted run (`ScriptRunConfig(environment=Environment.get(...))`,
`Run.get_environment`)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from recorder_reset import reset_recorder
from tailrun import Environment, Estimator, Experiment, ScriptRunConfig, Workspace
from tailrun.environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, NO_IMAGES, CondaDependencies
from tailrun.exceptions import AzureMLException, InvalidRequest, NotFound, UserErrorException


def six_env(name: str = "train", *pip: str) -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(pip) or ["six"])
    return env


def test_register_get_and_list_versions(ws):
    first = six_env().register(ws)
    assert (first.name, first.version) == ("train", "1")
    assert six_env().register(workspace=ws).version == "1"      # unchanged: the same version
    changed = six_env("train", "six", "numpy")
    registered = changed.register(ws)
    assert registered.version == "2" and changed.version is None   # the original is not touched
    assert registered == changed                                   # equal definitions, versions aside
    six_env("other").register(ws)

    latest = Environment.get(ws, "train")
    assert latest.version == "2"
    assert latest.python.conda_dependencies.pip_packages == ["six", "numpy"]
    by_version = Environment.get(workspace=ws, name="train", version="1")
    assert by_version.version == "1" and by_version.python.conda_dependencies.pip_packages == ["six"]
    assert Environment.get(ws, "train", 1) == by_version

    listed = Environment.list(ws)
    assert {name: env.version for name, env in listed.items()} == {"other": "1", "train": "2"}
    assert listed["train"] == latest
    assert {name: env.version for name, env in ws.environments.items()} == {"other": "1", "train": "2"}


def test_unknown_names_and_versions_say_what_exists(ws):
    assert ws.environments == {}
    with pytest.raises(NotFound, match="no environments are registered"):
        Environment.get(ws, "train")
    six_env().register(ws)
    six_env("train", "numpy").register(ws)
    with pytest.raises(NotFound, match=r"no environment named 'trian'; registered environments: 'train'"):
        Environment.get(ws, "trian")
    with pytest.raises(NotFound, match=r"environment 'train' has no version 3; its versions are 1, 2"):
        Environment.get(ws, "train", version="3")
    for bad in ("latest", "0", -1, 1.5):
        with pytest.raises(UserErrorException, match="environment version must be a whole number"):
            Environment.get(ws, "train", version=bad)
    with pytest.raises(UserErrorException, match="no labels"):
        Environment.get(ws, "train", label="production")


def test_a_definition_round_trips_with_its_docker_and_python_settings(ws):
    env = Environment("full")
    assert env.docker.base_image == DEFAULT_CPU_IMAGE and env.docker.shm_size == "2g"
    env.docker.enabled = True
    env.docker.base_dockerfile = "FROM ubuntu:22.04\nRUN echo hi\n"
    assert env.docker.base_image is None                 # the two exclude each other, as in Azure ML
    env.docker.arguments = ["--ipc=host"]
    env.docker.shm_size = "16g"
    env.docker.gpu_support = True
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["six==1.17.0"], conda_packages=["numpy=1.26"], python_version="3.11")
    env.python.conda_dependencies.add_channel("conda-forge")
    env.environment_variables = {"MY_VAR": "1"}

    got = Environment.get(ws, env.register(ws).name)
    assert got == env and got.version == "1"
    assert got.docker._to_dict() == {"enabled": True, "base_image": None, "base_dockerfile": env.docker.base_dockerfile,
                                     "arguments": ["--ipc=host"], "shm_size": "16g", "shared_volumes": True,
                                     "gpu_support": True}
    deps = got.python.conda_dependencies
    assert (deps.pip_packages, deps.conda_packages, deps.conda_channels, deps.get_python_version()) == (
        ["six==1.17.0"], ["numpy=1.26"], ["conda-forge"], "3.11")
    env.docker.base_image = "my/image:1"
    assert env.docker.base_dockerfile is None and env.register(ws).version == "2"


def test_the_service_refuses_bad_definitions_and_names(ws):
    client = ws._client()
    with pytest.raises(InvalidRequest, match="environment definition of 'x' must be a JSON object, not list"):
        client.register_environment("x", "[1]")
    with pytest.raises(InvalidRequest, match="definition_json is required"):
        client.register_environment("x", "")
    with pytest.raises(InvalidRequest, match="invalid environment name 'a/b'"):
        Environment("a/b").register(ws)
    assert ws.environments == {}


def test_estimator_images_follow_use_gpu():
    assert Estimator(".", entry_script="t.py", compute_target="local").environment.docker.base_image == DEFAULT_CPU_IMAGE
    gpu = Estimator(".", entry_script="t.py", compute_target="local", use_gpu=True)
    assert gpu.environment.docker.base_image == DEFAULT_GPU_IMAGE
    custom = Estimator(".", entry_script="t.py", compute_target="local", custom_docker_image="me/img:1")
    assert custom.environment.docker.base_image == "me/img:1"


def test_a_definition_recorded_before_the_docker_fields_reads_with_defaults():
    env = Environment._from_dict({"name": "old", "version": None, "python": {}, "docker": {"enabled": False}})
    assert env.docker.base_image == DEFAULT_CPU_IMAGE and env.docker.arguments == []
    assert Environment._from_dict({"name": "none"}).docker.shm_size == "2g"


def test_from_pip_requirements_reads_nested_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.txt").write_text("# shared\nsix==1.17.0\n")
    (tmp_path / "requirements.txt").write_text("-r sub/base.txt\nnumpy>=1.20  # math\n\n")
    env = Environment.from_pip_requirements("reqs", tmp_path / "requirements.txt")
    assert env.python.conda_dependencies.pip_packages == ["six==1.17.0", "numpy>=1.20"]
    assert env.python.conda_dependencies.conda_packages == ["pip"]          # as Azure ML adds it
    pinned = Environment.from_pip_requirements("reqs", str(tmp_path / "requirements.txt"), pip_version="23.3")
    assert pinned.python.conda_dependencies.conda_packages == ["pip=23.3"]
    with pytest.raises(ValueError, match="cannot read the pip requirements file"):
        Environment.from_pip_requirements("reqs", tmp_path / "missing.txt")


def test_existing_conda_environments_and_images_are_refused_with_what_to_do(ws, capsys):
    with pytest.raises(UserErrorException, match=r"conda env export --no-builds --name myenv.*from_conda_specification"):
        Environment.from_existing_conda_environment("e", "myenv")
    env = six_env("imaged")
    with pytest.raises(UserErrorException, match="without container images"):
        env.get_image_details(ws)
    env.build_local(ws)
    assert NO_IMAGES in capsys.readouterr().out
    build = env.build(ws)                                  # registers, as Azure ML's build does
    assert build.status == "Succeeded" and build.wait_for_completion(show_output=True) is build
    assert "without container images" in capsys.readouterr().out
    assert Environment.get(ws, "imaged").version == "1"


def test_save_to_directory_and_load_from_directory(tmp_path):
    env = six_env("saved", "six", "--index-url https://example.invalid/simple")
    env.python.conda_dependencies.add_conda_package("setuptools")
    env.python.conda_dependencies.set_python_version("3.11")
    env.python.conda_dependencies.add_channel("conda-forge")
    env.docker.base_dockerfile = "FROM python:3.11\n"
    env.environment_variables = {"SOME_VAR": "x", "lower_case": "y"}
    folder = tmp_path / "env"
    env.save_to_directory(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["BaseDockerfile", "azureml_environment.json",
                                                        "conda_dependencies.yml"]
    saved = json.loads((folder / "azureml_environment.json").read_text())
    assert saved["python"]["userManagedDependencies"] is False and "condaDependencies" not in saved["python"]
    assert saved["environmentVariables"] == {"SOME_VAR": "x", "lower_case": "y"}
    assert "baseDockerfile" not in saved["docker"]
    assert "- python=3.11" in (folder / "conda_dependencies.yml").read_text()
    assert Environment.load_from_directory(folder) == env

    with pytest.raises(FileExistsError):
        env.save_to_directory(folder)
    env.docker.base_image = "other:1"
    env.save_to_directory(str(folder), overwrite=True)
    assert Environment.load_from_directory(str(folder)).docker.base_image == "other:1"
    with pytest.raises(FileNotFoundError, match="azureml_environment.json"):
        Environment.load_from_directory(tmp_path)


def test_load_from_a_directory_azure_ml_wrote(tmp_path):
    (tmp_path / "azureml_environment.json").write_text(json.dumps({
        "name": "downloaded", "version": "4", "environmentVariables": {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"},
        "python": {"userManagedDependencies": True, "interpreterPath": "/usr/bin/python3",
                   "condaDependenciesFile": None, "baseCondaEnvironment": None},
        "docker": {"enabled": False, "baseImage": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230103.v1",
                   "platform": {"os": "Linux", "architecture": "amd64"}, "sharedVolumes": True, "shmSize": "2g",
                   "arguments": [], "baseImageRegistry": {"address": None}},
        "spark": {"repositories": [], "packages": [], "precachePackages": True}, "r": None}))
    (tmp_path / "conda_dependencies.yml").write_text(
        "name: project_environment\ndependencies:\n- python=3.8.13\n- pip:\n  - azureml-defaults\n  - six\n"
        "channels:\n- anaconda\n- conda-forge\n")
    env = Environment.load_from_directory(tmp_path)
    assert (env.name, env.version, env.environment_variables) == ("downloaded", "4", {"EXAMPLE_ENV_VAR": "EXAMPLE_VALUE"})
    assert env.python.user_managed_dependencies is True and env.python.interpreter_path == "/usr/bin/python3"
    assert env.docker.base_image.endswith(":20230103.v1") and env.docker.shm_size == "2g"
    deps = env.python.conda_dependencies
    assert (deps.pip_packages, deps.conda_channels, deps.get_python_version()) == (
        ["azureml-defaults", "six"], ["anaconda", "conda-forge"], "3.8.13")


# ---------------------------------------------------------------- submitted runs

def _tiny_wheel(folder: Path, name: str, value: str) -> Path:
    """A pure-Python wheel built here, so installing it downloads nothing."""
    wheel = folder / f"{name}-0.1-py3-none-any.whl"
    info = f"{name}-0.1.dist-info"
    files = {f"{name}/__init__.py": f"VALUE = {value!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tailrun-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def _source(tmp_path: Path, script: str) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text(script)
    return folder


def test_conda_specification_pip_part_is_installed_in_a_submitted_run(ws, service, tmp_path, capsys):
    wheel = _tiny_wheel(tmp_path, "tailrun_tinypkg", "installed from the conda file")
    spec = tmp_path / "environment.yml"
    spec.write_text("name: tiny\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - setuptools\n"
                    f"  - pip\n  - pip:\n    - {wheel}\n")
    env = Environment.from_conda_specification("tiny", spec)
    deps = env.python.conda_dependencies
    assert (deps.pip_packages, deps.conda_packages, deps.conda_channels, deps.get_python_version()) == (
        [str(wheel)], ["setuptools", "pip"], ["conda-forge"], "3.11")
    env.register(ws)

    script = ("import tailrun_tinypkg\nfrom tailrun import Run\n"
              "Run.get_context().log('value', tailrun_tinypkg.VALUE)\nprint('from', tailrun_tinypkg.__file__)\n")
    config = ScriptRunConfig(str(_source(tmp_path, script)), script="train.py",
                             environment=Environment.get(ws, "tiny"))
    run = Experiment(ws, "envs").submit(config)
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    assert f"from {service.data_dir / 'envs'}" in capsys.readouterr().out   # the run's own venv
    assert run.get_metrics() == {"value": "installed from the conda file"}

    used = run.get_environment()
    assert used == Environment.get(ws, "tiny") and used.version == "1"
    assert run.get_details()["runDefinition"]["environment"]["version"] == "1"


def test_get_environment_of_a_run_that_was_not_submitted(ws):
    run = Experiment(ws, "interactive").start_logging()
    run.complete()
    with pytest.raises(AzureMLException, match=f"run {run.id} has no environment definition: only submitted runs"):
        run.get_environment()


def test_a_submitted_script_may_register_with_its_run_scoped_token(service_factory, tmp_path, capsys):
    service = service_factory(token="service-secret")
    reset_recorder()
    try:
        ws = Workspace(address=service.address, token=service.token)
        script = ("from tailrun import Environment, Workspace\n"
                  "env = Environment('from-a-run')\nenv.python.user_managed_dependencies = True\n"
                  "print('registered', env.register(Workspace()).version)\n")
        run = Experiment(ws, "register").submit(ScriptRunConfig(str(_source(tmp_path, script)), script="train.py"))
        assert run.wait_for_completion(show_output=True)["status"] == "Completed"
        assert "registered 1" in capsys.readouterr().out
        assert Environment.get(ws, "from-a-run").python.user_managed_dependencies is True
    finally:
        reset_recorder()


def test_the_registry_on_postgresql(pg_service):
    reset_recorder()
    try:
        ws = Workspace(address=pg_service.address)
        assert six_env("pg").register(ws).version == "1"
        assert six_env("pg").register(ws).version == "1"
        assert six_env("pg", "numpy").register(ws).version == "2"
        assert Environment.get(ws, "pg", "1").python.conda_dependencies.pip_packages == ["six"]
        assert {name: env.version for name, env in ws.environments.items()} == {"pg": "2"}
    finally:
        reset_recorder()
