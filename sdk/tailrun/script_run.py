"""Running scripts as experiments: `ScriptRunConfig`, `Experiment.submit` and `ScriptRun`
(Azure ML's `azureml.core.ScriptRunConfig` / `ScriptRun`).

    config = ScriptRunConfig(source_directory="scripts", script="train.py", arguments=["--lr", 0.1])
    run = Experiment(ws, "my-exp").submit(config)
    run.wait_for_completion(show_output=True)

`submit` checks the configuration, zips the source folder (see `_snapshot`), streams it to the
service with `SubmitRun` and returns a `ScriptRun` whose id is `<experiment>_<unix seconds>_<8 hex>`.
The service runs the script in its own working folder and process group and owns its status.

RunConfiguration, Environment and Estimator live in `runconfig`, `environment` and `estimator`
and are re-exported here. ActivityFailedException, TrainingException and UserErrorException are
defined here and exported by `tailrun.exceptions` (the same classes).
"""
from __future__ import annotations

import json
import logging
import re
import time
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .environment import CondaDependencies, Environment
from .estimator import Estimator
from .exceptions import TailrunError
from .run import Run, _user
from .runconfig import RunConfiguration
from .wire import CHUNK_BYTES

if TYPE_CHECKING:  # pragma: no cover
    from .experiment import Experiment
    from .v1 import tailrun_pb2 as pb

__all__ = ["ScriptRunConfig", "RunConfiguration", "Environment", "CondaDependencies", "Estimator",
           "ScriptRun", "submit", "submit_definition", "ActivityFailedException", "TrainingException", "UserErrorException"]

log = logging.getLogger("tailrun")
LOCAL_TARGET = "local"
SUBMIT_TIMEOUT = 600.0


class UserErrorException(TailrunError, ValueError):
    """A run configuration that cannot be submitted (missing script, unknown target, ...)."""


class TrainingException(TailrunError, ValueError):
    """An Estimator with conflicting or invalid arguments."""


class ActivityFailedException(TailrunError):
    """`wait_for_completion(raise_on_error=True)` on a run that Failed; carries its error JSON."""

    def __init__(self, error_details: dict[str, Any] | str, run_id: str | None = None) -> None:
        self.error = error_details if isinstance(error_details, dict) else {"error": {"message": str(error_details)}}
        self.error_details = json.dumps(self.error, indent=4)
        self.run_id = run_id
        super().__init__(f"Activity Failed:\n{self.error_details}")


class ScriptRunConfig:
    """A script (or a command) in a source folder, with the RunConfiguration to run it under.

    With `run_config`, compute_target, environment, distributed_job_config, max_run_duration_seconds
    and docker_runtime_config are ignored (with a warning); script, arguments and command passed
    here override the run_config's."""

    MAX_DURATION_SECONDS_DEFAULT = 2592000

    def __init__(self, source_directory: str, script: str | None = None, arguments: list[Any] | None = None,
                 run_config: RunConfiguration | None = None, compute_target: Any = None,
                 environment: Environment | None = None, distributed_job_config: Any = None,
                 resume_from: Any = None, max_run_duration_seconds: float | None = MAX_DURATION_SECONDS_DEFAULT,
                 command: str | list[str] | None = None, docker_runtime_config: Any = None) -> None:
        if script and command:
            raise UserErrorException("ScriptRunConfig: give either script (with arguments) or command, not both")
        if command and arguments:
            raise UserErrorException("ScriptRunConfig: arguments cannot be combined with command; "
                                     "put them into the command")
        self.source_directory = source_directory
        if run_config is not None:
            ignored = [name for name, value in (
                ("compute_target", compute_target), ("environment", environment),
                ("distributed_job_config", distributed_job_config),
                ("docker_runtime_config", docker_runtime_config)) if value is not None]
            if max_run_duration_seconds != self.MAX_DURATION_SECONDS_DEFAULT:
                ignored.append("max_run_duration_seconds")
            if ignored:
                warnings.warn(f"ScriptRunConfig: run_config is given, so {', '.join(ignored)} "
                              "are ignored; set them on the run_config", stacklevel=2)
        else:
            run_config = RunConfiguration()
            run_config.target = compute_target if compute_target is not None else LOCAL_TARGET
            if environment is not None:
                run_config.environment = environment
            run_config.max_run_duration_seconds = max_run_duration_seconds
            run_config.node_count = 1
            run_config._use_distributed_job_config(distributed_job_config)
            if docker_runtime_config is not None:   # as Azure ML: it becomes the run's docker section
                run_config.docker = docker_runtime_config
        if script:
            run_config.script = script
        if arguments is not None:
            run_config.arguments = list(arguments)
        if command:
            run_config.command = command
        self.run_config = run_config
        self.script = run_config.script
        self.arguments = list(run_config.arguments)
        self.command = run_config.command

    def _definition(self) -> dict[str, Any]:
        """The run definition sent to the service, after the checks of submit."""
        config = self.run_config
        script = self.script if self.script is not None else config.script
        command = self.command or config.command
        if script and command:
            raise UserErrorException("the run configuration has both a script and a command; give one")
        if not script and not command:
            raise UserErrorException("nothing to run: give ScriptRunConfig a script (or a command)")
        source = Path(self.source_directory)
        if not source.is_dir():
            raise UserErrorException(f"source_directory {str(self.source_directory)!r} is not a folder")
        definition = config._to_dict()
        if script:
            definition["script"] = _script_in(source, script)
            definition["arguments"] = [str(a) for a in (self.arguments if self.arguments else config.arguments)]
        else:
            definition["script"] = None
            definition["arguments"] = []
        limit = definition.get("max_run_duration_seconds")
        if limit is not None and (not isinstance(limit, (int, float)) or limit <= 0):
            raise UserErrorException(f"max_run_duration_seconds must be a positive number, got {limit!r}")
        return definition

    def __repr__(self) -> str:
        return (f"ScriptRunConfig(source_directory={self.source_directory!r}, script={self.script!r}, "
                f"arguments={self.arguments!r})")


def _script_in(source: Path, script: str) -> str:
    """The script's path relative to the source folder; it must be a file inside it."""
    path = Path(script)
    full = (path if path.is_absolute() else source / path).resolve()
    root = source.resolve()
    if root != full and root not in full.parents:
        raise UserErrorException(f"script {script!r} is outside source_directory {str(source)!r}")
    if not full.is_file():
        raise UserErrorException(f"script {script!r} was not found in source_directory {str(source)!r}")
    return full.relative_to(root).as_posix()


def new_run_id(experiment_name: str) -> str:
    """`<experiment>_<unix seconds>_<8 hex>`; characters outside [A-Za-z0-9_-] become `_`."""
    safe = re.sub(r"[^A-Za-z0-9_\-]", "_", experiment_name)
    return f"{safe}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


def submit(experiment: "Experiment", config: Any, tags: dict[str, Any] | None = None, **kwargs: Any) -> "Run":
    """What `Experiment.submit(config, tags=None, **kwargs)` does: a ScriptRunConfig or an Estimator
    here; a config with a `_tailrun_submit(experiment, tags=, **kwargs)` method (HyperDriveConfig,
    Pipeline) submits itself."""
    own_submit = getattr(config, "_tailrun_submit", None)
    if own_submit is not None:   # a sweep, a pipeline: the config knows how it is submitted
        return own_submit(experiment, tags=tags, **kwargs)
    if isinstance(config, Estimator):
        allowed = {"script_params", "inputs"}
    elif isinstance(config, ScriptRunConfig):
        allowed = {"run_id", "credential_passthrough"}
    else:
        raise TypeError(f"Experiment.submit: expected a ScriptRunConfig or an Estimator, got "
                        f"{type(config).__name__}")
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise TypeError(f"Experiment.submit({type(config).__name__}) got unexpected keyword arguments "
                        f"{', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    if isinstance(config, Estimator):
        config = config._script_run_config(kwargs.get("script_params"))
    definition = config._definition()
    run_id = kwargs.get("run_id") or new_run_id(experiment.name)
    info = submit_definition(experiment, run_id, definition, config.source_directory, tags)
    return ScriptRun._attach(experiment, run_id, info)


def submit_definition(experiment: "Experiment", run_id: str, definition: dict[str, Any],
                      source_directory: str, tags: dict[str, Any] | None = None) -> "pb.RunInfo":
    """Send a checked run definition with the zipped source folder (SubmitRun); the created run.
    Shared by every submitted kind (scripts, sweeps, pipelines)."""
    from ._snapshot import SnapshotError, build_snapshot
    from .v1 import tailrun_pb2 as pb

    try:
        snapshot = build_snapshot(source_directory)
    except SnapshotError as exc:
        raise UserErrorException(str(exc)) from None
    spec = pb.SubmitSpec(experiment=experiment.name, run_id=run_id,
                         run_definition_json=json.dumps(definition), submitted_by=_user(),
                         tags={str(k): "" if v is None else str(v) for k, v in (tags or {}).items()})
    with snapshot:
        return _send(experiment.workspace._client(), spec, snapshot)


TARGET_NOT_FOUND = "ComputeTargetNotFound: "   # how the service starts its refusal of an unknown target


def _send(client: Any, spec: "pb.SubmitSpec", snapshot: Any) -> "pb.RunInfo":
    import grpc

    from .v1 import tailrun_pb2 as pb

    def requests() -> Iterator[pb.SubmitRequest]:
        yield pb.SubmitRequest(spec=spec)
        while chunk := snapshot.read(CHUNK_BYTES):
            yield pb.SubmitRequest(snapshot_chunk=chunk)

    try:
        tracker = client._tracker()   # resolves the service (and its token) first
        return tracker.SubmitRun(requests(), timeout=SUBMIT_TIMEOUT, metadata=client._metadata())
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT and (exc.details() or "").startswith(TARGET_NOT_FOUND):
            from .exceptions import ComputeTargetException
            raise ComputeTargetException(exc.details()) from None
        raise client._error(exc, f"submitting run {spec.run_id!r}") from None


class ScriptRun(Run):
    """A submitted run, seen from outside (the submitting process, `Run.get`, `get_runs`)."""

    def cancel(self) -> None:
        """Ask the service to cancel the run (SIGTERM to its processes, SIGKILL after a grace
        period); the status becomes CancelRequested, then Canceled."""
        self._apply_info(self._client().cancel_run(self.id))
