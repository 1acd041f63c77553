"""`Environment` and `CondaDependencies`: the Python environment a submitted script runs in
(Azure ML's `azureml.core.Environment` and `azureml.core.conda_dependencies`).

What the tailrun service does with it:
- `python.user_managed_dependencies=True`: runs `python.interpreter_path` as is ("python", the
  default, is the service's own interpreter, which can `import tailrun`);
- otherwise, with pip packages (or conda packages, installed with pip): a virtual environment built
  once per distinct package set on the service and reused; nothing to install: the service's own
  interpreter. Docker settings are accepted, not applied (runs execute directly on the machine):
  the run's "tailrun ignored: ..." warning names them, as it names a python_version other than the
  service's and conda packages (installed with pip from PyPI).
- `environment_variables` are set for the script.
Packages named `azureml-*` are skipped: tailrun replaces them.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Iterable


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


class DockerSection:
    """Accepted for compatibility; the tailrun service runs scripts without Docker."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.arguments: list[str] = []
        self.shm_size: str | None = None

    def _to_dict(self) -> dict[str, Any]:
        # All of it is sent, so that the service can say which settings it ignored.
        return {"enabled": self.enabled, "base_image": self.base_image,
                "base_dockerfile": self.base_dockerfile, "arguments": list(self.arguments or []),
                "shm_size": self.shm_size}


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

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike, pip_version: str | None = None) -> "Environment":
        """An environment with the packages of a pip requirements file (nested `-r` files too)."""
        env = Environment(name)
        for line in _requirement_lines(Path(file_path)):
            env.python.conda_dependencies.add_pip_package(line)
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike) -> "Environment":
        """An environment from a conda environment file (its conda packages are installed with pip)."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    @staticmethod
    def from_docker_image(name: str, image: str, container_registry: Any = None,
                          conda_specification: str | None = None, pip_requirements: str | None = None) -> "Environment":
        env = (Environment.from_conda_specification(name, conda_specification) if conda_specification
               else Environment.from_pip_requirements(name, pip_requirements) if pip_requirements
               else Environment(name))
        env.docker.base_image = image
        return env

    def clone(self, new_name: str) -> "Environment":
        env = copy.deepcopy(self)
        env.name = new_name
        return env

    def register(self, workspace: Any) -> "Environment":
        """Accepted for compatibility: environments are sent with each run, not stored."""
        return self

    def _to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "python": self.python._to_dict(),
                "docker": self.docker._to_dict(),
                "environment_variables": {str(k): str(v) for k, v in (self.environment_variables or {}).items()}}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> "Environment":
        env = cls(data.get("name") or "default-environment")
        env.version = data.get("version")
        python = data.get("python") or {}
        env.python.interpreter_path = python.get("interpreter_path") or "python"
        env.python.user_managed_dependencies = bool(python.get("user_managed_dependencies"))
        env.python.conda_dependencies = CondaDependencies(_underlying_structure=python.get("conda_dependencies"))
        docker = data.get("docker") or {}
        env.docker.enabled = bool(docker.get("enabled"))
        env.docker.base_image = docker.get("base_image")
        env.docker.base_dockerfile = docker.get("base_dockerfile")
        env.docker.arguments = list(docker.get("arguments") or [])
        env.docker.shm_size = docker.get("shm_size")
        env.environment_variables = dict(data.get("environment_variables") or {})
        return env

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"


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
