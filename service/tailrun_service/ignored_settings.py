"""What of a run definition (a serialised RunConfiguration) tailrun cannot honour, and why.

Every submitted run gets at most one line, "tailrun ignored: <setting> (<why>); ...", written at
the top of its driver log (user_logs/std_log.txt) and recorded in its warnings, so a setting is
never dropped silently. Only what the user asked for is reported: Azure ML's defaults (the
default CPU/GPU base images, shm_size "2g", shared volumes, one node) are not noise to report.
The SDK recognises the line by its prefix (`IGNORED_PREFIX`).

Targets share this: `ignored_line(definition, python_version)` with the Python version of the
interpreter that will run the script on that target (None when unknown, e.g. a custom one).
"""
from __future__ import annotations

from typing import Any

IGNORED_PREFIX = "tailrun ignored: "
# Azure ML's default images (azureml.core.environment.DEFAULT_CPU_IMAGE / DEFAULT_GPU_IMAGE):
# every Environment has one unless the user picks another, so they say nothing about intent.
DEFAULT_IMAGES = frozenset({
    "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04",
    "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu20.04",
})
DEFAULT_SHM_SIZE = "2g"
NO_DOCKER = "runs execute directly on the service's machine, without Docker"


def ignored_line(definition: dict[str, Any], python_version: str | None, distributes: bool = False) -> str | None:
    """The one line for a run, or None when everything it asks for is honoured. `distributes`:
    the target starts the nodes and processes of a distributed job itself (Slurm)."""
    items = ignored_settings(definition, python_version, distributes)
    return IGNORED_PREFIX + "; ".join(items) if items else None


def ignored_settings(definition: dict[str, Any], python_version: str | None, distributes: bool = False) -> list[str]:
    """Each setting that has no effect (or a different one), with the reason in parentheses."""
    items: list[str] = []
    env = _section(definition, "environment")
    items += _docker(_section(env, "docker"), _section(definition, "docker"))
    items += _python(_section(env, "python"), python_version)
    if not distributes:
        items += _distribution(definition)
    compute = _section(definition, "amlcompute")
    for key in ("vm_size", "vm_priority"):
        if compute.get(key):
            items.append(f"amlcompute.{key} {compute[key]} (runs use the service's machine as it is)")
    for key in ("data", "data_references", "output_data"):
        if definition.get(key):
            items.append(f"{key} {', '.join(map(str, definition[key]))} (datasets are not mounted: "
                         "read files by path)")
    history = _section(definition, "history")
    if history.get("snapshot_project") is False:
        items.append("history.snapshot_project=False (the source folder is always sent: the script runs from it)")
    return items


def _docker(env_docker: dict[str, Any], run_docker: dict[str, Any]) -> list[str]:
    items = []
    image = _get(env_docker, "base_image", "baseImage")
    if image and image not in DEFAULT_IMAGES:
        items.append(f"docker image {image} ({NO_DOCKER})")
    if _get(env_docker, "base_dockerfile", "baseDockerfile"):
        items.append(f"docker base_dockerfile ({NO_DOCKER})")
    enabled = [name for name, on in (("environment.docker.enabled", env_docker.get("enabled")),
                                     ("docker.use_docker", run_docker.get("use_docker"))) if on is True]
    if enabled and not items:
        items.append(f"{' and '.join(enabled)} ({NO_DOCKER})")
    shm = _get(run_docker, "shm_size", "shmSize") or _get(env_docker, "shm_size", "shmSize")
    if shm and str(shm).lower() != DEFAULT_SHM_SIZE:
        items.append(f"shm_size {shm} (no container: the machine's /dev/shm is used)")
    if run_docker.get("shared_volumes") is False or env_docker.get("shared_volumes") is False:
        items.append("docker.shared_volumes=False (no container: the script sees the machine's files)")
    arguments = list(run_docker.get("arguments") or []) + list(env_docker.get("arguments") or [])
    if arguments:
        items.append(f"docker arguments {' '.join(map(str, arguments))} ({NO_DOCKER})")
    return items


def _python(python: dict[str, Any], python_version: str | None) -> list[str]:
    items = []
    deps = _section(python, "conda_dependencies")
    pip, conda = list(deps.get("pip_packages") or []), list(deps.get("conda_packages") or [])
    if python.get("user_managed_dependencies"):
        packages = [p for p in pip + conda if not str(p).startswith("-")]
        if packages:
            items.append(f"packages {', '.join(map(str, packages))} (python.user_managed_dependencies=True: "
                         "the interpreter is used as it is, nothing is installed)")
    elif conda:
        items.append(f"conda packages {', '.join(map(str, conda))} (installed with pip from PyPI, not with "
                     "conda: a conda-only package fails to install)")
    if deps.get("channels"):
        items.append(f"conda channels {', '.join(map(str, deps['channels']))} (pip does not use conda channels)")
    wanted = str(deps.get("python_version") or "").strip()
    interpreter = str(python.get("interpreter_path") or "python")
    custom = python.get("user_managed_dependencies") and interpreter not in ("python", "python3")
    if wanted and python_version and not custom and not _same_version(wanted, python_version):
        items.append(f"python {wanted} (the service runs Python {python_version})")
    return items


def _distribution(definition: dict[str, Any]) -> list[str]:
    """MPI / PyTorch / TensorFlow jobs and several nodes: tailrun starts one process on one machine."""
    nodes = _int(definition.get("node_count"), 1)
    processes = _int(_section(definition, "mpi").get("process_count_per_node"), 1)
    pytorch = _int(_section(definition, "pytorch").get("process_count"), 1)
    communicator = str(definition.get("communicator") or "None")
    asked = []
    if communicator != "None":
        asked.append(f"communicator {communicator}")
    if nodes > 1:
        asked.append(f"node_count {nodes}")
    if processes > 1:
        asked.append(f"process_count_per_node {processes}")
    if pytorch > 1:
        asked.append(f"pytorch process_count {pytorch}")
    if not asked:
        return []
    return [f"distributed training ({', '.join(asked)}) (tailrun starts the script once, as one process)"]


def _same_version(wanted: str, running: str) -> bool:
    """"3.12" matches 3.12.x; "3.12.1" must match the running micro version when it is known."""
    wanted_parts = wanted.lstrip("=").split(".")
    running_parts = running.split(".")
    return running_parts[:len(wanted_parts)] == wanted_parts[:len(running_parts)]


def _section(data: dict[str, Any] | None, key: str) -> dict[str, Any]:
    value = (data or {}).get(key)
    return value if isinstance(value, dict) else {}


def _get(data: dict[str, Any], *keys: str) -> Any:
    return next((data[k] for k in keys if data.get(k)), None)


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default
