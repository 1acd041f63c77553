"""Azure ML's module paths: every `azureml.core.*` submodule and `azureml.exceptions` name used by
v1 code imports from `tailrun.*` after replacing `azureml` by `tailrun`, and the exception classes
are the ones tailrun raises."""
from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import tailrun
from tailrun import Experiment, Run, ScriptRunConfig
from tailrun.runconfig import RunConfiguration

# (module path, names it exports, the tailrun module that defines them)
PATHS = [
    ("tailrun.core", ["Workspace", "Experiment", "Run", "ScriptRunConfig", "ScriptRun", "RunConfiguration",
                      "Environment", "ComputeTarget", "Model"], None),
    ("tailrun.core.model", ["Model"], "tailrun.model"),
    ("tailrun.core.run", ["Run"], "tailrun.run"),
    ("tailrun.core.workspace", ["Workspace"], "tailrun.workspace"),
    ("tailrun.core.experiment", ["Experiment"], "tailrun.experiment"),
    ("tailrun.core.runconfig", ["RunConfiguration", "DockerConfiguration", "MpiConfiguration",
                                "PyTorchConfiguration", "TensorflowConfiguration", "DEFAULT_CPU_IMAGE",
                                "DEFAULT_GPU_IMAGE"], "tailrun.runconfig"),
    ("tailrun.core.script_run_config", ["ScriptRunConfig"], "tailrun.script_run"),
    ("tailrun.core.script_run", ["ScriptRun"], "tailrun.script_run"),
    ("tailrun.core.environment", ["Environment", "CondaDependencies"], "tailrun.environment"),
    ("tailrun.core.conda_dependencies", ["CondaDependencies"], "tailrun.environment"),
    ("tailrun.core.compute", ["ComputeTarget", "ComputeTargetException"], "tailrun.compute"),
    ("tailrun.core.compute_target", ["ComputeTarget", "ComputeTargetException"], "tailrun.compute"),
    ("tailrun.exceptions", ["AzureMLException", "ActivityFailedException", "UserErrorException",
                            "ExperimentExecutionException", "RunEnvironmentException", "WebserviceException",
                            "ComputeTargetException", "TrainingException", "ModelNotFoundException",
                            "ModelPathNotFoundException"], None),
    ("tailrun.train.estimator", ["Estimator"], "tailrun.estimator"),
    ("tailrun.train.hyperdrive", ["choice", "randint", "uniform", "quniform", "loguniform", "qloguniform",
                                  "normal", "qnormal", "lognormal", "qlognormal", "RandomParameterSampling",
                                  "GridParameterSampling", "BayesianParameterSampling", "BanditPolicy",
                                  "MedianStoppingPolicy", "TruncationSelectionPolicy", "NoTerminationPolicy",
                                  "HyperDriveConfig", "PrimaryMetricGoal", "HyperDriveRun"], None),
    ("tailrun.train.hyperdrive.parameter_expressions", ["choice", "uniform", "qlognormal"],
     "tailrun.train.hyperdrive"),
    ("tailrun.train.hyperdrive.sampling", ["RandomParameterSampling", "GridParameterSampling",
                                           "BayesianParameterSampling"], "tailrun.train.hyperdrive"),
    ("tailrun.train.hyperdrive.policy", ["BanditPolicy", "MedianStoppingPolicy", "TruncationSelectionPolicy",
                                         "NoTerminationPolicy"], "tailrun.train.hyperdrive"),
    ("tailrun.train.hyperdrive.runconfig", ["HyperDriveConfig", "PrimaryMetricGoal"], "tailrun.train.hyperdrive"),
    ("tailrun.train.hyperdrive.run", ["HyperDriveRun"], "tailrun.train.hyperdrive"),
    ("tailrun.pipeline.core", ["Pipeline", "PipelineData", "PipelineStep", "StepSequence", "PipelineRun", "StepRun",
                               "StepRunOutput", "PipelineParameter", "InputPortBinding", "PublishedPipeline",
                               "PortDataReference", "OutputPortBinding", "TrainingOutput", "Schedule",
                               "ScheduleRecurrence", "TimeZone", "PipelineEndpoint"], None),
    ("tailrun.pipeline.core.builder", ["PipelineData", "PipelineStep", "StepSequence"], "tailrun.pipeline.core"),
    ("tailrun.pipeline.core.pipeline", ["Pipeline"], "tailrun.pipeline.core"),
    ("tailrun.pipeline.core.graph", ["PipelineParameter", "InputPortBinding", "PublishedPipeline"],
     "tailrun.pipeline.core"),
    ("tailrun.pipeline.core.run", ["PipelineRun", "StepRun", "StepRunOutput"], "tailrun.pipeline.core"),
    ("tailrun.pipeline.core.schedule", ["Schedule", "ScheduleRecurrence", "TimeZone"], "tailrun.pipeline.core"),
    ("tailrun.pipeline.core.pipeline_endpoint", ["PipelineEndpoint"], "tailrun.pipeline.core"),
    ("tailrun.pipeline.steps", ["PythonScriptStep", "ParallelRunStep", "CommandStep", "EstimatorStep",
                                "HyperDriveStep", "DataTransferStep"], None),
    ("tailrun.pipeline.steps.python_script_step", ["PythonScriptStep"], "tailrun.pipeline.steps"),
    ("tailrun.data", ["OutputFileDatasetConfig", "DatasetConsumptionConfig"], None),
    ("tailrun.data.output_dataset_config", ["OutputFileDatasetConfig"], "tailrun.data"),
    ("tailrun.data.dataset_consumption_config", ["DatasetConsumptionConfig"], "tailrun.data"),
]


@pytest.mark.parametrize("path,names,home", PATHS, ids=[p[0] for p in PATHS])
def test_azureml_module_path_exports_the_tailrun_names(path, names, home):
    module = importlib.import_module(path)
    for name in names:
        value = getattr(module, name)
        if home is not None:
            assert value is getattr(importlib.import_module(home), name), f"{path}.{name} is a copy"
    star: dict = {}
    exec(f"from {path} import *", star)
    assert set(names) <= set(star), f"`from {path} import *` misses {set(names) - set(star)}"


def test_core_names_are_the_tailrun_classes_and_version():
    import tailrun.core as core
    from tailrun.core import Environment, RunConfiguration as RC, ScriptRun
    from tailrun.script_run import ScriptRun as SR

    assert (core.Run, core.Experiment, core.Workspace) == (tailrun.Run, tailrun.Experiment, tailrun.Workspace)
    assert RC is RunConfiguration and Environment is tailrun.Environment and ScriptRun is SR
    assert core.VERSION == tailrun.__version__


def test_bare_core_import_loads_no_run_or_grpc():
    probe = ("import json, sys, tailrun.core\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('tailrun', 'grpc')))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = set(eval(done.stdout))
    assert "tailrun.core" in loaded
    assert not loaded & {"tailrun.run", "tailrun.script_run", "tailrun.experiment", "grpc"}


def test_exceptions_share_the_azureml_base_and_old_names_still_work():
    from tailrun import exceptions as ex
    from tailrun import script_run

    assert ex.TailrunError is ex.AzureMLException
    for name in ("ActivityFailedException", "UserErrorException", "ExperimentExecutionException",
                 "RunEnvironmentException", "WebserviceException", "ComputeTargetException",
                 "TrainingException", "ServiceError", "ServiceUnavailable", "NotFound", "RunNotFound"):
        assert issubclass(getattr(ex, name), ex.AzureMLException), name
    for name in ("ActivityFailedException", "UserErrorException", "TrainingException"):
        assert getattr(ex, name) is getattr(script_run, name)   # the very classes raised, not copies
    assert ex.UserErrorException("bad config").message == "bad config"


def test_unknown_compute_target_raises_compute_target_exception_naming_local(ws, tmp_path):
    from tailrun.core.compute import ComputeTarget
    from tailrun.exceptions import AzureMLException, ComputeTargetException

    local = ComputeTarget(workspace=ws, name="local")
    assert local.name == "local" and ComputeTarget.list(ws) == [local]
    with pytest.raises(ComputeTargetException, match=r"'gpu-cluster'.*known compute targets are 'local'") as caught:
        ComputeTarget(workspace=ws, name="gpu-cluster")
    assert isinstance(caught.value, AzureMLException)
    # the object is accepted where azureml takes a compute target
    (tmp_path / "train.py").write_text("print(1)\n")
    assert ScriptRunConfig(str(tmp_path), script="train.py", compute_target=local)._definition()["target"] == "local"


def test_runconfig_classes_take_azureml_arguments_and_are_recorded():
    from tailrun.core.runconfig import (DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, DockerConfiguration,
                                        MpiConfiguration, PyTorchConfiguration, TensorflowConfiguration)

    assert DEFAULT_CPU_IMAGE.startswith("mcr.microsoft.com/azureml/") and "cuda" in DEFAULT_GPU_IMAGE
    config = RunConfiguration()
    config.docker = DockerConfiguration(use_docker=True, shm_size="8g", shared_volumes=False, arguments=["--ipc=host"])
    config._use_distributed_job_config(PyTorchConfiguration(communication_backend="gloo", process_count=4, node_count=2))
    saved = config._to_dict()
    assert saved["docker"] == {"use_docker": True, "shm_size": "8g", "shared_volumes": False,
                               "arguments": ["--ipc=host"]}
    assert saved["pytorch"] == {"communication_backend": "gloo", "process_count": 4, "node_count": 2}
    assert (saved["framework"], saved["communicator"], saved["node_count"]) == ("PyTorch", "Gloo", 2)
    again = RunConfiguration._from_dict(saved)
    assert again.docker.shared_volumes is False and again.pytorch.process_count == 4

    config._use_distributed_job_config(MpiConfiguration(process_count_per_node=2, node_count=3))
    assert (config.communicator, config.node_count, config._to_dict()["mpi"]) == (
        "IntelMpi", 3, {"process_count_per_node": 2, "node_count": 3})
    config._use_distributed_job_config(TensorflowConfiguration(worker_count=2, parameter_server_count=1))
    assert (config.framework, config.communicator, config._to_dict()["tensorflow"]) == (
        "TensorFlow", "ParameterServer", {"worker_count": 2, "parameter_server_count": 1})


def test_conda_dependencies_from_its_azureml_path_go_into_the_run_definition(tmp_path):
    from tailrun.core.conda_dependencies import CondaDependencies
    from tailrun.core.environment import Environment

    deps = CondaDependencies.create(pip_packages=["six==1.17.0"], conda_packages=["numpy"])
    deps.add_pip_package("tqdm")
    deps.add_conda_package("scipy")
    assert deps.pip_packages == ["six==1.17.0", "tqdm"] and deps.conda_packages == ["numpy", "scipy"]
    assert "- pip:\n  - six==1.17.0\n  - tqdm\n" in deps.serialize_to_string()
    env = Environment("pinned")
    env.python.conda_dependencies = deps
    (tmp_path / "train.py").write_text("print(1)\n")
    definition = ScriptRunConfig(str(tmp_path), script="train.py", environment=env)._definition()
    assert definition["environment"]["python"]["conda_dependencies"]["pip_packages"] == ["six==1.17.0", "tqdm"]


def test_core_run_import_inside_a_script_and_activity_failed_from_a_submitted_run(ws, run_script, tmp_path):
    from tailrun.exceptions import ActivityFailedException, AzureMLException

    proc = run_script(textwrap.dedent("""
        from tailrun.core.run import Run
        from tailrun.core.workspace import Workspace
        from tailrun.core.experiment import Experiment
        run = Experiment(Workspace(), "paths").start_logging()
        Run.get_context()  # offline context outside a submitted run: still importable and callable
        run.log("loss", 0.5)
        run.complete()
        print("RUN_ID", run.id)
    """))
    assert proc.returncode == 0, proc.stderr
    assert Run.get(ws, proc.stdout.split("RUN_ID ")[1].split()[0]).get_metrics() == {"loss": 0.5}

    # Inside a submitted run: the azureml-style imports work, and a failure raises the azureml class.
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(textwrap.dedent("""
        from tailrun.core.run import Run
        from tailrun.core.runconfig import RunConfiguration
        from tailrun.exceptions import UserErrorException
        Run.get_context().log("inside", 1)
        raise UserErrorException("bad input")
    """))
    submitted = Experiment(ws, "paths").submit(ScriptRunConfig(str(tmp_path / "src"), script="train.py"))
    with pytest.raises(ActivityFailedException, match="UserErrorException: bad input") as caught:
        submitted.wait_for_completion()
    assert isinstance(caught.value, AzureMLException)
    assert submitted.get_metrics() == {"inside": 1}


def test_conda_dependencies_pip_packages_are_installed_for_a_submitted_run(ws, service, tmp_path, capsys):
    """The same flow as tests/runner/test_runner_envs.py, spelled with the azureml module paths."""
    from tailrun.core.conda_dependencies import CondaDependencies
    from tailrun.core.environment import Environment
    from tailrun.core.script_run_config import ScriptRunConfig as SRC

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(textwrap.dedent("""
        import six
        from tailrun.core.run import Run
        Run.get_context().log("six", six.__version__)
        print("six from", six.__file__)
    """))
    env = Environment("with-six")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    run = Experiment(ws, "paths").submit(SRC(str(tmp_path / "src"), script="train.py", environment=env))
    assert run.wait_for_completion(show_output=True)["status"] == "Completed"
    assert f"six from {service.data_dir / 'envs'}" in capsys.readouterr().out
    assert run.get_metrics()["six"]


def test_script_run_config_records_its_distributed_job_config(tmp_path) -> None:
    """Azure ML's ScriptRunConfig(distributed_job_config=...) sets framework, communicator and nodes."""
    from tailrun.core.runconfig import MpiConfiguration, PyTorchConfiguration
    from tailrun.core.script_run_config import ScriptRunConfig

    torch = ScriptRunConfig(source_directory=str(tmp_path), script="train.py",
                            distributed_job_config=PyTorchConfiguration(process_count=4, node_count=2))
    assert (torch.run_config.framework, torch.run_config.communicator, torch.run_config.node_count) == \
        ("PyTorch", "Nccl", 2)
    mpi = ScriptRunConfig(source_directory=str(tmp_path), script="train.py",
                          distributed_job_config=MpiConfiguration(process_count_per_node=2, node_count=3))
    assert (mpi.run_config.communicator, mpi.run_config.node_count) == ("IntelMpi", 3)
    plain = ScriptRunConfig(source_directory=str(tmp_path), script="train.py")
    assert plain.run_config.node_count == 1
