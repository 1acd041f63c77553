"""`Estimator` (Azure ML's deprecated `azureml.train.estimator.Estimator`): a script, its
`script_params` and its environment in one object; `Experiment.submit(estimator)` turns it into a
ScriptRunConfig.

Differences from Azure ML: without `compute_target` the target is "local" (the service's own
machine; Azure ML defaults to "amlcompute"); Docker and GPU image settings are accepted and ignored; `submit(est, script_params=...)` updates a copy of the estimator's script_params.

`distributed_training=Mpi() / Gloo() / Nccl() / ParameterServer()` (or the older
`distributed_backend="mpi" | "gloo" | "nccl" | "ps"`) becomes the run configuration's distributed job
config, as in Azure ML (see tailrun.distributed_training). The framework estimators (SKLearn,
PyTorch, TensorFlow, Chainer) are in tailrun.framework_estimators.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from . import distributed_training as distributed_training_config
from .environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, CondaDependencies, Environment


def script_params_to_arguments(script_params: Mapping[Any, Any] | None) -> list[Any]:
    """Azure ML's argv rule: each entry, in order, becomes key then value; a non-string iterable
    value is spread; a None or "" value is dropped (a bare flag); 0 and False are kept."""
    arguments: list[Any] = []
    for key, value in (script_params or {}).items():
        arguments.append(key)
        if value is None or (isinstance(value, str) and value == ""):
            continue
        if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
            arguments.extend(value)
        else:
            arguments.append(value)
    return arguments


class Estimator:
    def __init__(self, source_directory: str, *, compute_target: Any = None, vm_size: str | None = None,
                 vm_priority: str | None = None, entry_script: str | None = None,
                 script_params: Mapping[str, Any] | None = None, node_count: int = 1,
                 process_count_per_node: int = 1, distributed_backend: str | None = None,
                 distributed_training: Any = None, use_gpu: bool = False, use_docker: bool = True,
                 custom_docker_base_image: str | None = None, custom_docker_image: str | None = None,
                 image_registry_details: Any = None, user_managed: bool = False,
                 conda_packages: list[str] | None = None, pip_packages: list[str] | None = None,
                 conda_dependencies_file_path: str | None = None, pip_requirements_file_path: str | None = None,
                 conda_dependencies_file: str | None = None, pip_requirements_file: str | None = None,
                 environment_variables: dict[str, str] | None = None,
                 environment_definition: Environment | None = None, inputs: list[Any] | None = None,
                 source_directory_data_store: Any = None, shm_size: str | None = None,
                 resume_from: Any = None, max_run_duration_seconds: float | None = None,
                 **kwargs: Any) -> None:
        from .script_run import TrainingException

        image = custom_docker_image or custom_docker_base_image
        if node_count < 1:
            raise TrainingException(f"node_count must be at least 1, got {node_count}")
        if process_count_per_node < 1:
            raise TrainingException(f"process_count_per_node must be at least 1, got {process_count_per_node}")
        if environment_definition is not None:
            conflicts = [name for name, value in (
                ("pip_packages", pip_packages), ("conda_packages", conda_packages),
                ("custom_docker_image", image), ("use_gpu", use_gpu), ("user_managed", user_managed),
                ("shm_size", shm_size), ("environment_variables", environment_variables),
                ("conda_dependencies_file", conda_dependencies_file or conda_dependencies_file_path),
                ("pip_requirements_file", pip_requirements_file or pip_requirements_file_path)) if value]
            if conflicts:
                raise TrainingException(
                    f"environment_definition cannot be combined with {', '.join(conflicts)}: put these "
                    "settings into the Environment instead")
        if not use_docker and image:
            raise TrainingException("custom_docker_image needs use_docker=True")
        if vm_size:
            warnings.warn("tailrun: vm_size is ignored; scripts run on the tailrun service's machine",
                          stacklevel=2)
        self._distribution = distributed_training_config.resolve(
            distributed_training, distributed_backend, process_count_per_node)
        self.source_directory = source_directory
        self.entry_script = entry_script
        self.script_params: dict[str, Any] = dict(script_params or {})
        self.compute_target = compute_target if compute_target is not None else "local"
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node
        self.max_run_duration_seconds = max_run_duration_seconds
        self.inputs = list(inputs or [])
        self.shm_size = shm_size
        self._environment = environment_definition or self._build_environment(
            user_managed, conda_packages, pip_packages, conda_dependencies_file or conda_dependencies_file_path,
            pip_requirements_file or pip_requirements_file_path, environment_variables,
            image or (DEFAULT_GPU_IMAGE if use_gpu else DEFAULT_CPU_IMAGE))

    @staticmethod
    def _build_environment(user_managed: bool, conda_packages: list[str] | None, pip_packages: list[str] | None,
                           conda_file: str | None, pip_file: str | None,
                           environment_variables: dict[str, str] | None, image: str | None) -> Environment:
        if pip_file:
            env = Environment.from_pip_requirements("estimator-environment", pip_file)
        elif conda_file:
            env = Environment.from_conda_specification("estimator-environment", conda_file)
        else:
            env = Environment("estimator-environment")
        deps: CondaDependencies = env.python.conda_dependencies
        for package in conda_packages or ():
            deps.add_conda_package(package)
        for package in pip_packages or ():
            deps.add_pip_package(package)
        env.python.user_managed_dependencies = bool(user_managed)
        env.environment_variables = dict(environment_variables or {})
        env.docker.base_image = image
        return env

    @property
    def environment(self) -> Environment:
        return self._environment

    @property
    def run_config(self) -> Any:
        return self._script_run_config().run_config

    def _script_run_config(self, script_params: Mapping[str, Any] | None = None) -> Any:
        """The ScriptRunConfig this estimator stands for; `script_params` update a copy of its own."""
        from .runconfig import RunConfiguration
        from .script_run import ScriptRunConfig, TrainingException

        if not self.entry_script:
            raise TrainingException("the Estimator has no entry_script: pass entry_script='train.py'")
        params = dict(self.script_params)
        params.update(script_params or {})
        config = RunConfiguration(script=self.entry_script, arguments=script_params_to_arguments(params))
        config.target = self.compute_target
        config.environment = self._environment
        config.node_count = self.node_count
        config.mpi.process_count_per_node = self.process_count_per_node
        config._use_distributed_job_config(distributed_training_config.job_config(
            self._distribution, self.node_count, self.process_count_per_node))
        config.max_run_duration_seconds = self.max_run_duration_seconds
        if self.shm_size:
            config.docker.shm_size = self.shm_size
        return ScriptRunConfig(self.source_directory, run_config=config)

    def __repr__(self) -> str:
        return f"Estimator(source_directory={self.source_directory!r}, entry_script={self.entry_script!r})"
