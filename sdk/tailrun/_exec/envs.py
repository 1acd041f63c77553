"""The environment of a submitted run, prepared where the run executes: its Python environment and
its variables, by the service's runner (the `local` target) or by the job bootstrap on a Slurm node
(`python -m tailrun.job`). "This interpreter" below is the one running that code: the service's,
or the job's on the node.

- `python.user_managed_dependencies=True`: the given interpreter, as is ("python", the default,
  means this interpreter, which can `import tailrun`).
- otherwise, with pip packages (CondaDependencies' pip and conda packages, or a requirements file's
  lines): a virtual environment built once per distinct package set under <envs dir>/<hash>
  and reused by later runs. It also sees this interpreter's packages (after its own), so
  `import tailrun` works without installing it again.
- otherwise (nothing to install): this interpreter.

Build output is appended to the run's console file, so it is streamed while the run is Preparing.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import site
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .process import kill_group, spawn, wait_with

# Packages that only exist for Azure ML (tailrun replaces them) and conda-only names pip can't use.
_SKIPPED_PREFIXES = ("azureml-", "azureml_", "azure-ml")
_CONDA_ONLY = {"python", "pip", "conda", "setuptools", "wheel"}
_READY = ".tailrun-ready"


def run_vars(definition: dict[str, Any]) -> dict[str, str]:
    """The environment variables a run asked for: its Environment's, then its own."""
    user_vars = dict((definition.get("environment") or {}).get("environment_variables") or {})
    user_vars.update(definition.get("environment_variables") or {})
    return {str(k): str(v) for k, v in user_vars.items()}


def script_env(interpreter: str, definition: dict[str, Any]) -> dict[str, str]:
    """The environment a run's script starts from, before the TAILRUN_* settings of the run: this
    process's without its own TAILRUN_* settings (its token, home, address are not the run's),
    unbuffered, `interpreter`'s folder first on PATH (and its venv), and the run's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
    env["PYTHONUNBUFFERED"] = "1"
    bin_dir = os.path.dirname(interpreter)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", os.defpath)
    if (Path(bin_dir).parent / "pyvenv.cfg").exists():
        env["VIRTUAL_ENV"] = str(Path(bin_dir).parent)
    env.update(run_vars(definition))
    return env


class EnvironmentSetupError(Exception):
    """The environment could not be prepared; the message is shown as the run's error."""


class Canceled(Exception):
    """The run was canceled (or the service is stopping) while its environment was being built."""


@dataclass(frozen=True)
class EnvPlan:
    interpreter: str                   # the interpreter to run when nothing is built
    packages: tuple[str, ...] = ()     # pip requirement lines; empty = nothing to build
    key: str = ""                      # folder name under envs/ when built
    notes: tuple[str, ...] = field(default=())


def plan_environment(definition: dict[str, Any], work_dir: Path) -> EnvPlan:
    """What the run definition asks for; raises EnvironmentSetupError for an unusable interpreter."""
    env = definition.get("environment") or {}
    python = env.get("python") or {}
    interpreter_path = str(python.get("interpreter_path") or "python")
    if python.get("user_managed_dependencies"):
        return EnvPlan(interpreter=resolve_interpreter(interpreter_path, work_dir))
    conda = python.get("conda_dependencies") or {}
    packages, notes = [], []
    for line in [*(conda.get("pip_packages") or []), *(conda.get("conda_packages") or [])]:
        line = str(line).strip()
        name = line.split("=")[0].split("<")[0].split(">")[0].split("[")[0].strip().lower()
        if not line or line.startswith("#"):
            continue
        if name.startswith(_SKIPPED_PREFIXES) or name in _CONDA_ONLY:
            notes.append(f"skipping {line!r}: not needed with tailrun")
            continue
        if line not in packages:
            packages.append(line)
    if not packages:
        return EnvPlan(interpreter=sys.executable, notes=tuple(notes))
    identity = {"python": os.path.realpath(sys.executable), "version": sys.version,
                "packages": sorted(packages)}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return EnvPlan(interpreter=sys.executable, packages=tuple(packages), key=key, notes=tuple(notes))


def resolve_interpreter(path: str, work_dir: Path) -> str:
    if path in ("python", "python3"):
        return sys.executable
    if "/" in path:
        candidate = Path(path) if os.path.isabs(path) else work_dir / path
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        raise EnvironmentSetupError(f"python.interpreter_path {path!r} does not exist or is not executable")
    found = shutil.which(path)
    if not found:
        raise EnvironmentSetupError(f"python.interpreter_path {path!r} was not found on the PATH")
    return found


class EnvBuilder:
    """Builds and reuses virtual environments under `envs_dir` (one per package set)."""

    def __init__(self, envs_dir: Path) -> None:
        self.envs_dir = Path(envs_dir)

    def env_dir(self, key: str) -> Path:
        return self.envs_dir / key

    def ensure(self, plan: EnvPlan, console: Path, tick: Callable[[], bool]) -> str:
        """The interpreter of the planned environment, built if needed. `tick` is called while
        waiting (streams the console) and returns False to cancel."""
        for note in plan.notes:
            _say(console, note)
        if not plan.packages:
            return plan.interpreter
        self.envs_dir.mkdir(parents=True, exist_ok=True)
        target = self.env_dir(plan.key)
        with open(self.envs_dir / f"{plan.key}.lock", "a+") as lock:
            # Another run may be building the same environment: wait for it, then reuse.
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not tick():
                        raise Canceled()
                    time.sleep(0.1)
            try:
                if (target / _READY).exists():
                    _say(console, f"using environment {plan.key} ({' '.join(plan.packages)})")
                    return str(target / "bin" / "python")
                self._build(plan, target, console, tick)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return str(target / "bin" / "python")

    def _build(self, plan: EnvPlan, target: Path, console: Path, tick: Callable[[], bool]) -> None:
        started = time.monotonic()
        _say(console, f"building environment {plan.key}: pip install {' '.join(plan.packages)}")
        tmp = self.envs_dir / f"{plan.key}.building"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
        try:
            self._step([sys.executable, "-m", "venv", "--without-pip", str(tmp)], console, tick,
                       "creating the virtual environment")
            requirements = tmp / "tailrun-requirements.txt"
            requirements.write_text("\n".join(plan.packages) + "\n")
            # The service's pip installs into the new environment: no pip bootstrap per env.
            self._step([sys.executable, "-m", "pip", "--python", str(tmp / "bin" / "python"), "install",
                        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
                        "-r", str(requirements)], console, tick, "pip install")
            _link_service_packages(tmp)
            (tmp / _READY).write_text(json.dumps({"packages": list(plan.packages), "built": time.time()}))
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _say(console, f"environment {plan.key} ready in {time.monotonic() - started:.1f} s")

    @staticmethod
    def _step(argv: list[str], console: Path, tick: Callable[[], bool], what: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PIP_NO_INPUT="1")
        proc = spawn(argv, cwd=console.parent, env=env, console=console)
        code = wait_with(proc, tick)
        if code is None:
            kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
            raise Canceled()
        if code != 0:
            raise EnvironmentSetupError(f"environment build failed: {what} exited with code {code} "
                                    "(its output is in user_logs/std_log.txt)")


def _link_service_packages(env_dir: Path) -> None:
    """Let the new environment see the service's packages (tailrun, grpcio, protobuf) after its own."""
    site_dirs = list((env_dir / "lib").glob("python*/site-packages"))
    if not site_dirs:
        return
    lines = [f"import site; site.addsitedir({d!r})" for d in site.getsitepackages() if os.path.isdir(d)]
    import tailrun  # where the SDK lives, also when it is not installed in site-packages
    lines.append(os.path.dirname(os.path.dirname(os.path.abspath(tailrun.__file__))))
    (site_dirs[0] / "zz_tailrun_service.pth").write_text("\n".join(lines) + "\n")


def _say(console: Path, line: str) -> None:
    with open(console, "ab") as out:
        out.write(f"[tailrun] {line}\n".encode())
