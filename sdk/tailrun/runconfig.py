"""`RunConfiguration` (Azure ML's `azureml.core.runconfig`): everything about how a script runs,
except where its files come from. `ScriptRunConfig` links it with a source folder and a script.

The fields and defaults are Azure ML's; the tailrun service uses script/arguments/command, target
(a compute target of the service: "local", or e.g. a Slurm partition), environment,
environment_variables, max_run_duration_seconds and history (output_collection,
directories_to_watch). On a Slurm target node_count and the MPI/PyTorch process counts become the
job's nodes and tasks; on "local" they have no effect. Docker, data and AmlCompute settings are kept
(and saved) but have no effect.
The service names each one the user set in the run's warnings and at the top of its driver log
("tailrun ignored: ..."), which `wait_for_completion()` shows.
`save`/`load` write JSON (not YAML: the SDK has no YAML dependency) under `.tailrun/`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, CondaDependencies, Environment  # noqa: F401 (re-exported)

CONFIG_DIR = ".tailrun"


class HistoryConfiguration:
    def __init__(self) -> None:
        self.output_collection = True
        self.snapshot_project = True
        self.directories_to_watch = ["logs"]


class DockerConfiguration:
    """Azure ML's docker settings: accepted and recorded on the run definition; runs execute as
    processes on the service's machine, not in a container."""

    def __init__(self, use_docker: bool = False, shm_size: str | None = "2g", shared_volumes: bool = True,
                 arguments: list[str] | None = None) -> None:
        self.use_docker = use_docker
        self.shm_size = shm_size
        self.shared_volumes = shared_volumes
        self.arguments = list(arguments or [])

    def _to_dict(self) -> dict[str, Any]:
        return {"use_docker": self.use_docker, "shm_size": self.shm_size,
                "shared_volumes": self.shared_volumes, "arguments": list(self.arguments)}


class MpiConfiguration:
    """An MPI job (Azure ML's): on a Slurm target, node_count nodes with process_count_per_node
    tasks each; on "local" recorded only (one process)."""

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1) -> None:
        self.process_count_per_node = process_count_per_node
        self.node_count = node_count


class PyTorchConfiguration:
    """A PyTorch distributed job (Azure ML's): on a Slurm target, process_count tasks over node_count
    nodes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT set); on "local" recorded only."""

    def __init__(self, communication_backend: str = "nccl", process_count: int | None = None,
                 node_count: int = 1) -> None:
        self.communication_backend = communication_backend
        self.process_count = process_count
        self.node_count = node_count


class TensorflowConfiguration:
    """A TensorFlow parameter-server job (Azure ML's): recorded on the run definition; tailrun starts one process."""

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count


class AmlComputeConfiguration:
    def __init__(self) -> None:
        self.vm_size: str | None = None
        self.vm_priority: str | None = None


class RunConfiguration:
    """How a script runs: script, arguments or command, target, environment, limits."""

    def __init__(self, script: str | None = None, arguments: list[Any] | None = None,
                 framework: str | None = None, communicator: str | None = None,
                 conda_dependencies: CondaDependencies | None = None, _history_enabled: bool | None = None,
                 _path: str | None = None, _name: str | None = None,
                 command: str | list[str] | None = None) -> None:
        self.script = script
        self.arguments: list[Any] = list(arguments or [])
        self.command: str | list[str] = command or ""
        self.target = "local"
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.node_count = 1
        self.max_run_duration_seconds: float | None = None
        self.environment = Environment("default-environment")
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.environment_variables: dict[str, str] = {}
        self.history = HistoryConfiguration()
        if _history_enabled is False:
            self.history.output_collection = False
        self.docker = DockerConfiguration()
        self.mpi = MpiConfiguration()
        self.pytorch = PyTorchConfiguration()
        self.tensorflow = TensorflowConfiguration()
        self.data: dict[str, Any] = {}
        self.data_references: dict[str, Any] = {}
        self.output_data: dict[str, Any] = {}
        self.amlcompute = AmlComputeConfiguration()

    @property
    def conda_dependencies(self) -> CondaDependencies:
        return self.environment.python.conda_dependencies

    @conda_dependencies.setter
    def conda_dependencies(self, value: CondaDependencies) -> None:
        self.environment.python.conda_dependencies = value

    # ------------------------------------------------------------------ (de)serialisation

    def _to_dict(self) -> dict[str, Any]:
        """The run definition the service receives (also what `save` writes)."""
        command = self.command
        definition = {
            "script": self.script,
            "arguments": [str(a) for a in self.arguments],
            "command": command if isinstance(command, str) else [str(c) for c in command],
            "target": _target_name(self.target),
            "framework": self.framework,
            "communicator": self.communicator,
            "node_count": self.node_count,
            "max_run_duration_seconds": self.max_run_duration_seconds,
            "environment": self.environment._to_dict() if self.environment is not None else None,
            "environment_variables": {str(k): str(v) for k, v in (self.environment_variables or {}).items()},
            "history": {"output_collection": bool(self.history.output_collection),
                        "snapshot_project": bool(self.history.snapshot_project),
                        "directories_to_watch": list(self.history.directories_to_watch or [])},
            "docker": self.docker._to_dict(),
            "mpi": vars(self.mpi).copy(), "pytorch": vars(self.pytorch).copy(),
            "tensorflow": vars(self.tensorflow).copy(), "amlcompute": vars(self.amlcompute).copy(),
        }
        # Datasets are not supported; their names are kept so the service can say they were ignored.
        for key in ("data", "data_references", "output_data"):
            if getattr(self, key):
                definition[key] = sorted(str(name) for name in getattr(self, key))
        return definition

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "RunConfiguration":
        config = cls(script=data.get("script"), arguments=data.get("arguments"),
                     framework=data.get("framework"), communicator=data.get("communicator"),
                     command=data.get("command") or None)
        config.target = data.get("target") or "local"
        config.node_count = data.get("node_count") or 1
        config.max_run_duration_seconds = data.get("max_run_duration_seconds")
        if data.get("environment"):
            config.environment = Environment._from_dict(data["environment"])
        config.environment_variables = dict(data.get("environment_variables") or {})
        history = data.get("history") or {}
        config.history.output_collection = history.get("output_collection", True)
        config.history.snapshot_project = history.get("snapshot_project", True)
        config.history.directories_to_watch = list(history.get("directories_to_watch") or ["logs"])
        docker = data.get("docker") or {}
        config.docker = DockerConfiguration(docker.get("use_docker", False), docker.get("shm_size", "2g"),
                                            docker.get("shared_volumes", True), docker.get("arguments"))
        for section in ("mpi", "pytorch", "tensorflow", "amlcompute"):
            vars(getattr(config, section)).update(data.get(section) or {})
        return config

    def _use_distributed_job_config(self, config: Any) -> None:
        """Record a `distributed_job_config` as Azure ML's ScriptRunConfig does: the config in its
        section (mpi, pytorch, tensorflow), the framework, the communicator and the node count."""
        if config is None:
            return
        if isinstance(config, MpiConfiguration):
            self.framework, self.communicator, self.mpi = "Python", "IntelMpi", config
            self.node_count = config.node_count
        elif isinstance(config, PyTorchConfiguration):
            backend = str(config.communication_backend or "nccl").lower()
            self.framework, self.pytorch = "PyTorch", config
            self.communicator = {"nccl": "Nccl", "gloo": "Gloo"}.get(backend, config.communication_backend)
            self.node_count = config.node_count
        elif isinstance(config, TensorflowConfiguration):
            self.framework, self.communicator, self.tensorflow = "TensorFlow", "ParameterServer", config
            self.node_count = config.worker_count + config.parameter_server_count
        else:
            self.node_count = getattr(config, "node_count", 1) or 1

    def save(self, path: str | os.PathLike | None = None, name: str | None = None,
             separate_environment_yaml: bool = False) -> str:
        """Write `<path>/.tailrun/<name>.runconfig` (JSON); returns the file's path."""
        target = _config_file(path, name or "runconfig")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self._to_dict(), indent=2) + "\n")
        return str(target)

    @staticmethod
    def load(path: str | os.PathLike | None = None, name: str | None = None) -> "RunConfiguration":
        target = _config_file(path, name or "runconfig")
        if not target.is_file() and path is not None and Path(path).is_file():
            target = Path(path)
        try:
            return RunConfiguration._from_dict(json.loads(target.read_text()))
        except OSError as exc:
            raise ValueError(f"cannot read the run configuration {str(target)!r}: {exc}") from None

    def __repr__(self) -> str:
        return f"RunConfiguration(script={self.script!r}, target={_target_name(self.target)!r})"


def _target_name(target: Any) -> str:
    """A compute target given as a name or as an object with a `name`."""
    if target is None:
        return "local"
    return str(getattr(target, "name", target))


def _config_file(path: str | os.PathLike | None, name: str) -> Path:
    base = Path(path) if path is not None else Path.cwd()
    if base.suffix == ".runconfig":
        return base
    return base / CONFIG_DIR / f"{name}.runconfig"
