"""`Environment` and `CondaDependencies`: the Python environment a submitted script runs in
(Azure ML's `azureml.core.Environment` and `azureml.core.conda_dependencies`).

What the tailrun service does with it:
- `python.user_managed_dependencies=True`: runs `python.interpreter_path` as is ("python", the
  default, is the service's own interpreter, which can `import tailrun`);
- otherwise, with pip packages (or conda packages, installed with pip): a virtual environment built
  once per distinct package set on the service and reused; nothing to install: the service's own
  interpreter. Docker settings are kept in the definition and have no effect (runs execute
  directly on the machine, without images: `build`, `build_local` and `get_image_details` say so);
  the run's "tailrun ignored: ..." warning names those the user set, as it names a python_version
  other than the service's and conda packages (installed with pip from PyPI).
- `environment_variables` are set for the script.
Packages named `azureml-*` are skipped: tailrun replaces them.

The registry: `env.register(ws)` stores the definition on the service as version "1", "2"... of
its name (an unchanged definition keeps its version), `Environment.get(ws, name, version=None)`,
`Environment.list(ws)` / `ws.environments` (the latest version of each name).
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterable


DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
"""Azure ML's default CPU base image (`docker.base_image`); tailrun records it and runs no container."""
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu20.04"
"""Azure ML's default GPU base image name; tailrun records it and runs no container."""
DEFAULT_SHM_SIZE = "2g"
NO_IMAGES = ("tailrun runs scripts directly on its service's machine, without container images: "
             "a run's packages are installed into a virtual environment when a run first needs them")
# save_to_directory / load_from_directory: Azure ML's file names.
DEFINITION_FILE_NAME = "azureml_environment.json"
CONDA_FILE_NAME = "conda_dependencies.yml"
DOCKERFILE_NAME = "BaseDockerfile"

class CondaDependencies:
    """The packages of an environment. Only pip is used to install them (no conda)."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike | None = None,
                 _underlying_structure: dict[str, Any] | None = None) -> None:
        self._pip: list[str] = []
        self._conda: list[str] = []
        self._channels: list[str] = []
        self._python_version: str | None = None
        if conda_dependencies_file_path is not None:
            self._load_conda_file(Path(conda_dependencies_file_path))
        if _underlying_structure:
            self._pip = list(_underlying_structure.get("pip_packages") or [])
            self._conda = list(_underlying_structure.get("conda_packages") or [])
            self._channels = list(_underlying_structure.get("channels") or [])
            self._python_version = _underlying_structure.get("python_version")

    @staticmethod
    def create(pip_packages: Iterable[str] | None = None, conda_packages: Iterable[str] | None = None,
               python_version: str | None = None, pin_sdk_version: bool = True,
               pip_indexurl: str | None = None) -> "CondaDependencies":
        deps = CondaDependencies()
        for package in conda_packages or ():
            deps.add_conda_package(package)
        for package in pip_packages or ():
            deps.add_pip_package(package)
        if pip_indexurl:
            deps.set_pip_option(f"--index-url {pip_indexurl}")
        deps._python_version = python_version
        return deps

    @property
    def pip_packages(self) -> list[str]:
        return list(self._pip)

    @property
    def conda_packages(self) -> list[str]:
        return list(self._conda)

    @property
    def conda_channels(self) -> list[str]:
        return list(self._channels)

    def add_pip_package(self, pip_package: str) -> None:
        _check_package(pip_package, "pip package")
        if pip_package not in self._pip:
            self._pip.append(pip_package)

    def add_conda_package(self, conda_package: str) -> None:
        _check_package(conda_package, "conda package")
        if conda_package not in self._conda:
            self._conda.append(conda_package)

    def remove_pip_package(self, pip_package: str) -> None:
        self._pip = [p for p in self._pip if _name(p) != _name(pip_package)]

    def remove_conda_package(self, conda_package: str) -> None:
        self._conda = [p for p in self._conda if _name(p) != _name(conda_package)]

    def add_channel(self, channel: str) -> None:
        if channel not in self._channels:
            self._channels.append(channel)

    def set_pip_option(self, pip_option: str) -> None:
        """A pip option line (e.g. `--index-url URL`); it goes first in the requirements."""
        if pip_option not in self._pip:
            self._pip.insert(0, pip_option)

    def set_python_version(self, version: str) -> None:
        self._python_version = version

    def get_python_version(self) -> str | None:
        return self._python_version

    def serialize_to_string(self) -> str:
        """A conda environment file with these packages."""
        lines = ["name: project_environment", "dependencies:"]
        if self._python_version:
            lines.append(f"- python={self._python_version}")
        lines += [f"- {p}" for p in self._conda]
        if self._pip:
            lines += ["- pip:"] + [f"  - {p}" for p in self._pip]
        if self._channels:
            lines += ["channels:"] + [f"- {c}" for c in self._channels]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> str:
        Path(path).write_text(self.serialize_to_string())
        return str(path)

    def _to_dict(self) -> dict[str, Any]:
        return {"pip_packages": list(self._pip), "conda_packages": list(self._conda),
                "channels": list(self._channels), "python_version": self._python_version}

    def _load_conda_file(self, path: Path) -> None:
        """Read the `dependencies:` list (and its `- pip:` sub-list) of a conda environment file;
        a small reader, enough for the files conda and Azure ML write."""
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"cannot read the conda dependencies file {str(path)!r}: {exc}") from None
        section, pip_indent = "", None
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].rstrip()
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            item = line.strip()
            if indent == 0 and not item.startswith("-"):
                section = item.split(":", 1)[0].strip()
                pip_indent = None
                continue
            if not item.startswith("-"):
                continue
            value = item[1:].strip().strip("'\"")
            if section == "channels":
                self.add_channel(value)
            elif section != "dependencies":
                continue
            elif value.rstrip(":") == "pip" and value.endswith(":"):
                pip_indent = indent
            elif pip_indent is not None and indent > pip_indent:
                self.add_pip_package(value)
            else:
                pip_indent = None
                if value.startswith("python=") or value.startswith("python =="):
                    self._python_version = value.split("=", 1)[1].lstrip("=")
                elif value:
                    self.add_conda_package(value)


class PythonSection:
    def __init__(self) -> None:
        self.interpreter_path = "python"
        self.user_managed_dependencies = False
        self.conda_dependencies = CondaDependencies()
        self.conda_dependencies_file: str | None = None
        self.base_conda_environment: str | None = None

    def _to_dict(self) -> dict[str, Any]:
        deps = self.conda_dependencies or CondaDependencies()
        return {"interpreter_path": self.interpreter_path,
                "user_managed_dependencies": bool(self.user_managed_dependencies),
                "conda_dependencies": deps._to_dict()}


class ContainerRegistry:
    """Azure ML's `ContainerRegistry` (where `docker.base_image` is pulled from): `address`,
    `username`, `password`. Accepted so that environment code runs; tailrun pulls no images, so it is
    not stored in the run definition (it holds a password) and has no effect."""

    def __init__(self) -> None:
        self.address: str | None = None
        self.username: str | None = None
        self.password: str | None = None

    def __repr__(self) -> str:
        return f"ContainerRegistry(address={self.address!r}, username={self.username!r})"


class DockerSection:
    """Azure ML's docker settings, kept in the definition; the tailrun service runs scripts without
    containers. As in Azure ML, `base_image` and `base_dockerfile` exclude each other: setting one
    clears the other, and a `base_dockerfile` that names a file is read. `base_image_registry` is
    accepted and not stored (see ContainerRegistry)."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image_registry = ContainerRegistry()
        self._base_image: str | None = DEFAULT_CPU_IMAGE
        self._base_dockerfile: str | None = None
        self.arguments: list[str] = []
        self.shm_size: str | None = DEFAULT_SHM_SIZE
        self.shared_volumes = True
        self.gpu_support = False

    @property
    def base_image(self) -> str | None:
        return self._base_image

    @base_image.setter
    def base_image(self, value: str | None) -> None:
        self._base_image = value or None
        if value:
            self._base_dockerfile = None

    @property
    def base_dockerfile(self) -> str | None:
        return self._base_dockerfile

    @base_dockerfile.setter
    def base_dockerfile(self, value: Any) -> None:
        if hasattr(value, "read"):
            value = value.read()
        elif value and os.path.isfile(value):
            value = Path(value).read_text()
        self._base_dockerfile = value or None
        if value:
            self._base_image = None

    def _to_dict(self) -> dict[str, Any]:
        return {"enabled": bool(self.enabled), "base_image": self.base_image,
                "base_dockerfile": self.base_dockerfile, "arguments": [str(a) for a in self.arguments or []],
                "shm_size": self.shm_size, "shared_volumes": bool(self.shared_volumes),
                "gpu_support": bool(self.gpu_support)}

    def _update(self, data: dict[str, Any]) -> None:
        self.enabled = bool(data.get("enabled", False))
        self._base_image = data.get("base_image", DEFAULT_CPU_IMAGE)
        self._base_dockerfile = data.get("base_dockerfile")
        self.arguments = list(data.get("arguments") or [])
        self.shm_size = data.get("shm_size", DEFAULT_SHM_SIZE)
        self.shared_volumes = bool(data.get("shared_volumes", True))
        self.gpu_support = bool(data.get("gpu_support", False))


class Environment:
    """A named Python environment for submitted runs (see the module docstring)."""

    def __init__(self, name: str = "default-environment", **kwargs: Any) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("Environment name must be a non-empty string")
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}

    # ------------------------------------------------------------------ made from files

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike, pip_version: str | None = None) -> "Environment":
        """An environment with the packages of a pip requirements file (nested `-r` files too).
        As in Azure ML, the conda package `pip` (`pip=<pip_version>`) is added to the definition;
        the service installs with its own pip."""
        env = Environment(name)
        for line in _requirement_lines(Path(file_path)):
            env.python.conda_dependencies.add_pip_package(line)
        env.python.conda_dependencies.add_conda_package(f"pip={pip_version}" if pip_version else "pip")
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike) -> "Environment":
        """An environment from a conda environment file: its pip packages are installed; its conda
        packages, channels and python version are kept in the definition."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    @staticmethod
    def from_existing_conda_environment(name: str, conda_environment_name: str) -> "Environment":
        """Not supported: tailrun does not use conda. Azure ML exports the conda environment and
        reads the export; do that step yourself (the error says how)."""
        from .exceptions import UserErrorException
        raise UserErrorException(
            f"tailrun does not manage conda environments, so it cannot read {conda_environment_name!r}: "
            f"export it with `conda env export --no-builds --name {conda_environment_name} > environment.yml` "
            f"and use Environment.from_conda_specification({name!r}, 'environment.yml') (its pip packages "
            "are installed; conda packages are kept in the definition)")

    @staticmethod
    def from_docker_image(name: str, image: str, container_registry: Any = None,
                          conda_specification: str | None = None, pip_requirements: str | None = None) -> "Environment":
        env = (Environment.from_conda_specification(name, conda_specification) if conda_specification
               else Environment.from_pip_requirements(name, pip_requirements) if pip_requirements
               else Environment(name))
        env.docker.base_image = image
        if container_registry is not None:
            env.docker.base_image_registry = container_registry
        return env

    def clone(self, new_name: str) -> "Environment":
        env = copy.deepcopy(self)
        env.name = new_name
        env.version = None
        return env

    # ------------------------------------------------------------------ the registry on the service

    def register(self, workspace: Any) -> "Environment":
        """Store this definition on the workspace's service; returns the registered Environment,
        `version` "1", "2"...: a new version when the definition differs from the latest one of
        this name, else that latest version unchanged. A `version` set here is not kept: the
        service numbers versions."""
        info = workspace._client().register_environment(self.name, json.dumps(self._to_dict()))
        return Environment._from_info(info)

    @staticmethod
    def get(workspace: Any, name: str, version: str | int | None = None, label: str | None = None) -> "Environment":
        """The registered environment `name`, its latest version unless `version` is given.
        Unknown names and versions raise `tailrun.exceptions.NotFound`, naming what exists."""
        from .exceptions import UserErrorException
        if label is not None:
            raise UserErrorException("Environment.get: tailrun environments have no labels; "
                                     f"pass version= instead of label={label!r}")
        return Environment._from_info(workspace._client().get_environment(name, _version_number(version)))

    @staticmethod
    def list(workspace: Any) -> dict[str, "Environment"]:
        """`{name: Environment}`: the latest version of each registered environment."""
        infos = workspace._client().list_environments(latest=True)
        return {info.name: Environment._from_info(info) for info in infos}

    @staticmethod
    def _from_info(info: Any) -> "Environment":
        env = Environment._from_dict(json.loads(info.definition_json))
        env.version = str(info.version)
        return env

    # ------------------------------------------------------------------ images (none with tailrun)

    def build(self, workspace: Any, image_build_compute: str | None = None) -> "ImageBuildDetails":
        """Registers the environment, as Azure ML does; there is no image to build (see NO_IMAGES)."""
        registered = self.register(workspace)
        return ImageBuildDetails(registered)

    def build_local(self, workspace: Any, platform: str | None = None, **kwargs: Any) -> None:
        """Prints NO_IMAGES: the service builds a run's environment when a run first needs it."""
        print(f"{NO_IMAGES} (environment {self.name!r})")

    def get_image_details(self, workspace: Any) -> None:
        from .exceptions import UserErrorException
        raise UserErrorException(f"{NO_IMAGES}: environment {self.name!r} has no image details")

    # ------------------------------------------------------------------ files

    def save_to_directory(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Azure ML's layout: `azureml_environment.json` (camelCase keys), `conda_dependencies.yml`
        and `BaseDockerfile` (when there is one). The folder must not exist unless `overwrite`."""
        os.makedirs(path, exist_ok=overwrite)
        folder = Path(path)
        definition = _to_azureml_json(self._to_dict())
        definition["python"].pop("condaDependencies", None)
        self.python.conda_dependencies.save(folder / CONDA_FILE_NAME)
        if self.docker.base_dockerfile:
            (folder / DOCKERFILE_NAME).write_text(self.docker.base_dockerfile)
        else:  # one left by an earlier save would replace base_image when loaded
            (folder / DOCKERFILE_NAME).unlink(missing_ok=True)
        definition["docker"].pop("baseDockerfile", None)
        (folder / DEFINITION_FILE_NAME).write_text(json.dumps(definition, indent=4) + "\n")

    @staticmethod
    def load_from_directory(path: str | os.PathLike) -> "Environment":
        """An environment saved by `save_to_directory` (here or by Azure ML, e.g. `az ml environment download`)."""
        folder = Path(path)
        definition_file = folder / DEFINITION_FILE_NAME
        if not definition_file.is_file():
            raise FileNotFoundError(str(definition_file))
        try:
            data = json.loads(definition_file.read_text())
        except ValueError as exc:
            raise ValueError(f"{definition_file} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{definition_file} must hold a JSON object")
        env = Environment._from_dict(_from_azureml_json(data))
        if (folder / CONDA_FILE_NAME).is_file():
            env.python.conda_dependencies = CondaDependencies(folder / CONDA_FILE_NAME)
        if (folder / DOCKERFILE_NAME).is_file():
            env.docker.base_dockerfile = (folder / DOCKERFILE_NAME).read_text()
        return env

    # ------------------------------------------------------------------ the definition

    def _to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "python": self.python._to_dict(),
                "docker": self.docker._to_dict(),
                "environment_variables": {str(k): str(v) for k, v in (self.environment_variables or {}).items()}}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "Environment":
        env = cls(data.get("name") or "default-environment")
        version = data.get("version")
        env.version = None if version is None else str(version)
        python = data.get("python") or {}
        env.python.interpreter_path = python.get("interpreter_path") or "python"
        env.python.user_managed_dependencies = bool(python.get("user_managed_dependencies"))
        env.python.conda_dependencies = CondaDependencies(_underlying_structure=python.get("conda_dependencies"))
        env.docker._update(data.get("docker") or {})
        env.environment_variables = dict(data.get("environment_variables") or {})
        return env

    def __eq__(self, other: object) -> bool:
        """Equal definitions (the version is not compared: a registered copy equals its source)."""
        if not isinstance(other, Environment):
            return NotImplemented
        mine, theirs = self._to_dict(), other._to_dict()
        mine.pop("version")
        theirs.pop("version")
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"


class ImageBuildDetails:
    """What `Environment.build` returns: no image is built (NO_IMAGES); the status is "Succeeded"."""

    status = "Succeeded"

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def get_log(self) -> str:
        return f"{NO_IMAGES}; environment {self.environment.name!r} version {self.environment.version} is registered"

    def wait_for_completion(self, show_output: bool = True) -> "ImageBuildDetails":
        if show_output:
            print(self.get_log())
        return self


def _version_number(version: str | int | None) -> int:
    """Environment.get's version: None = the latest (0 on the wire), else a whole number >= 1."""
    from .exceptions import UserErrorException
    if version is None:
        return 0
    text = str(version).strip()
    if isinstance(version, bool) or not text.isdigit() or int(text) < 1:
        raise UserErrorException(f"environment version must be a whole number like '1', got {version!r}")
    return int(text)


# Azure ML writes azureml_environment.json with camelCase keys; environment variable names are
# the user's own and keep their spelling.
def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def _rekey(value: Any, convert: Any) -> Any:
    if isinstance(value, dict):
        return {convert(k): (v if convert(k) in _USER_KEYS else _rekey(v, convert)) for k, v in value.items()}
    return value


_USER_KEYS = ("environment_variables", "environmentVariables")


def _to_azureml_json(data: dict[str, Any]) -> dict[str, Any]:
    return _rekey(data, _camel)


def _from_azureml_json(data: dict[str, Any]) -> dict[str, Any]:
    return _rekey(data, _snake)


def _requirement_lines(path: Path, depth: int = 0) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read the pip requirements file {str(path)!r}: {exc}") from None
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")) and depth < 10:
            lines += _requirement_lines(path.parent / line.split(None, 1)[1], depth + 1)
        else:
            lines.append(line)
    return lines


def _check_package(package: Any, what: str) -> None:
    if not isinstance(package, str) or not package.strip():
        raise ValueError(f"a {what} must be a non-empty string, got {package!r}")


def _name(requirement: str) -> str:
    for sep in "=<>![; ":
        requirement = requirement.split(sep, 1)[0]
    return requirement.strip().lower().replace("_", "-")
