"""`Run`: one execution of a training script (Azure ML's `azureml.core.Run`).

A Run is created by `Experiment.start_logging()`, `run.child_run()`, `Run.get_context()`,
`Experiment.submit()` (a `ScriptRun`, defined in tailrun.script_run), or attached to an existing
run by `Run.get` / `Run.list` / `get_runs` / `get_children`. Subclasses are constructed through
`Run._attach(experiment, run_id, info=None)`.

Writes (metrics, tags, status, files) are queued and sent in the background; reads
(`get_metrics`, `get_details`, `get_status`, files) flush first, then ask the service.

Differences from Azure ML, on purpose:
- `Run.get_context()` outside a submitted run returns a run that *records* (like
  `start_logging`, in an experiment named after the script's file stem); Azure ML's offline run
  only prints.
- Runs this process started that are still active at interpreter exit are completed by an
  atexit hook (an uncaught exception marks them Failed with the traceback first).
- `sys.exit(0)` inside `with run:` marks the run Completed (Azure ML 1.61 leaves it Running).
- Tag values of None are stored as ""; reading `number` does not warn.
- `get_details()["logFiles"]` maps each log path to its `aml://artifactId/...` URI (download it
  with `download_file`).
- The console of several runs active at once in one process is captured once and written to
  the `logs/user_log.txt` of each of them.
"""
from __future__ import annotations

import getpass
import importlib
import json
import os
import re
import sys
import time
import traceback
import uuid
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Iterator

from . import _lifecycle, _run_console, _status
from .run_children import ChildrenMixin
from .run_files import FilesMixin
from .run_logging import LoggingMixin, clean_artifact_path, fast_log
from .wire import EVENT
from .run_models import ModelsMixin
from .run_reads import ReadsMixin
from .run_snapshots import SnapshotsMixin
from .run_tags import TagsMixin, tag_value

if TYPE_CHECKING:  # pragma: no cover
    from .experiment import Experiment
    from .v1 import tailrun_pb2 as pb

MAX_RUN_ID, MAX_DISPLAY_NAME, MAX_DESCRIPTION, MAX_ERROR_MESSAGE = 256, 256, 5000, 3000
_RUN_ID = re.compile(r"^[A-Za-z0-9_\-.]+$")

class Run(LoggingMixin, TagsMixin, FilesMixin, ReadsMixin, ChildrenMixin, SnapshotsMixin, ModelsMixin):
    """A run of an experiment: log metrics and files, set tags, read everything back."""

    def __init__(self, experiment: "Experiment", run_id: str, outputs: Any = None, **kwargs: Any) -> None:
        """Attach to an existing run, as Azure ML's `Run(experiment, run_id)` does; its status,
        tags and properties are read from the service at once (NotFound if there is no such run)."""
        self._setup(experiment, run_id, None)
        self._fetch()

    @classmethod
    def _attach(cls, experiment: "Experiment", run_id: str, info: "pb.RunInfo | None" = None) -> "Run":
        """A Run object for an existing run; nothing is sent. Subclasses are built this way."""
        run = cls.__new__(cls)
        run._setup(experiment, run_id, info)
        return run

    def _setup(self, experiment: "Experiment", run_id: str, info: "pb.RunInfo | None") -> None:
        self._experiment = experiment
        self._ws = experiment.workspace
        self._id = run_id
        self._append = self._first_append  # replaced by the queue's bound append on first use
        self._time = time.time
        self._scalar_steps: dict[str, bool] = {}
        self._kinds: dict[str, int] = {}
        self._outputs: tuple[Path, str] | None = None
        self._early_uploads: dict[str, tuple[int, int]] = {}   # outputs sent by register_model
        self._tee = False         # attached to the shared console tee
        self._sampled = False     # attached to the system-metrics sampler (`_run_system`)
        self._owner = False       # this process started the run and finishes it
        self._submitted = False   # the context of a submitted run: the service owns its status
        self._finished = False
        self._parent_obj: Run | None = None
        self._start_event: dict[str, Any] | None = None   # the RunStart this process sent
        self._pending_snapshot: Any = None   # start_logging's snapshot, sent in the background
        self._apply_info(info)

    def _apply_info(self, info: "pb.RunInfo | None") -> None:
        self._info = info
        self._status = info.status if info is not None else _status.NOT_STARTED
        self._tags = dict(info.tags) if info is not None else {}
        self._properties = dict(info.properties) if info is not None else {}
        self._display_name = (info.display_name or None) if info is not None else None
        self._description = (info.description or None) if info is not None else None
        self._parent_id = (info.parent_run_id or None) if info is not None else None
        self._run_type = (info.run_type or None) if info is not None else None

    def _first_append(self, item: tuple) -> None:
        self._use_queue()
        if self._start_event is not None and self._owner and not self._finished:
            # First use in a forked child (see `_after_fork_in_child`): the parent's RunStart may
            # still be unsent, and the service refuses events of a run it does not know; a
            # repeated start is idempotent.
            self._append((EVENT, self._id, "start", self._start_event))
        self._append(item)

    def _after_fork_in_child(self) -> None:
        """In a forked child: the next queued item re-binds the queue and re-sends the start."""
        self.__dict__.pop("log", None)
        self._append = self._first_append

    def _use_queue(self) -> None:
        """Bind the hot path to the process queue (the deque never changes, even after fork)."""
        self._append = self._recorder().queue.append
        if type(self).log is LoggingMixin.log:  # a subclass overriding log() keeps its own
            self.log = fast_log(self)  # type: ignore[method-assign]

    def _recorder(self) -> Any:
        return self._ws._recorder()

    def _client(self) -> Any:
        return self._ws._client()

    # ------------------------------------------------------------------ starting

    @classmethod
    def _start(cls, experiment: "Experiment", *, run_id: str | None = None, parent_id: str | None = None,
               outputs: Any = None, default_outputs: bool = True, display_name: str | None = None,
               description: str | None = None, tags: dict[str, Any] | None = None,
               run_type: str = "interactive", console: bool = False, start_time: float | None = None,
               properties: dict[str, str] | None = None) -> "Run":
        """Create and start a run (status Running) owned by this process. `start_time` and
        `properties` are for importers (the original start time; properties set at creation)."""
        run_id = _check_run_id(run_id) if run_id is not None else str(uuid.uuid4())
        run = cls._attach(experiment, run_id)
        run._tags = {str(k): tag_value(v) for k, v in (tags or {}).items()}
        run._display_name = _check_text(display_name, "display_name", MAX_DISPLAY_NAME)
        run._description = _check_text(description, "description", MAX_DESCRIPTION)
        run._parent_id, run._run_type = parent_id, run_type
        run._status, run._owner = _status.RUNNING, True
        run._outputs = _outputs_folder(outputs, default_outputs)
        run._use_queue()
        start = run._start_event = {"run_id": run_id, "experiment": experiment.name, "run_type": run_type,
                 "status": _status.RUNNING, "time": start_time or time.time(), "tags": run._tags,
                 "submitted_by": _user()}
        if properties:
            run._properties = dict(properties)
            start["properties"] = run._properties
        if parent_id:
            start["parent_run_id"] = parent_id
        if run._display_name:
            start["display_name"] = run._display_name
        if run._description:
            start["description"] = run._description
        run._append((EVENT, run_id, "start", start))
        if console:
            run._start_console()
        if parent_id is None:   # a child run shares its parent's process: sampled into the parent
            run._start_system_metrics()
        _lifecycle.register(run)
        return run

    def _start_console(self) -> None:
        """Tee stdout/stderr into logs/user_log.txt; a failure here never stops the run."""
        try:
            _run_console.attach(self._recorder(), self._id)
            self._tee = True
        except Exception as exc:  # capture is a convenience; the run must go on without it
            warnings.warn(f"tailrun: console capture is off for run {self._id}: {exc}", stacklevel=3)

    def _start_system_metrics(self) -> None:
        """Sample CPU, memory, I/O and GPUs into this run; a failure here never stops the run."""
        try:
            from . import _run_system
            _run_system.attach(self._recorder(), self._id)
            self._sampled = True
        except Exception as exc:
            warnings.warn(f"tailrun: system metrics are off for run {self._id}: {exc}", stacklevel=3)

    def _stop_system_metrics(self) -> None:
        if self._sampled:
            self._sampled = False
            try:
                from . import _run_system
                _run_system.detach(self._id)
            except Exception as exc:
                print(f"tailrun: stopping system metrics failed: {exc}", file=sys.stderr)

    def _patch(self, **fields: Any) -> None:
        self._append((EVENT, self._id, "patch", {"run_id": self._id, "time": time.time(), **fields}))

    # ------------------------------------------------------------------ identity

    @property
    def id(self) -> str:
        return self._id

    @property
    def experiment(self) -> "Experiment":
        return self._experiment

    @property
    def name(self) -> str:
        """Deprecated in Azure ML: the display name, else the id."""
        return self._display_name or self._id

    @property
    def type(self) -> str:
        if self._run_type is None:
            self._run_type = self._fetch().run_type or "interactive"
        return self._run_type

    @property
    def number(self) -> int:
        """The per-experiment run number (assigned by the service)."""
        info = self._info if self._info is not None and self._info.number else self._fetch()
        return int(info.number)

    @property
    def display_name(self) -> str | None:
        return self._display_name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self._display_name = _check_text(value, "display_name", MAX_DISPLAY_NAME)
        self._patch(display_name=self._display_name or "")

    @property
    def description(self) -> str | None:
        return self._description

    @description.setter
    def description(self, value: str) -> None:
        self._description = _check_text(value, "description", MAX_DESCRIPTION)
        self._patch(description=self._description or "")

    @property
    def status(self) -> str:
        """The last known status (`get_status()` asks the service)."""
        return self._status

    def get_status(self) -> str:
        """The current status; asks the service unless the run is known to be finished."""
        if self._finished and not self._submitted or _status.is_terminal(self._status):
            return self._status
        return self._fetch().status

    def get_detailed_status(self) -> dict[str, Any]:
        return {"status": self.get_status(), "details": None}

    def get_portal_url(self) -> str:
        """The command that opens the UI on this run: `tailrun ui --run ID`, with `--address` when
        the workspace names a service (not the per-user local one)."""
        address = getattr(self._ws, "address", None)
        return f"tailrun ui --address {address} --run {self._id}" if address else f"tailrun ui --run {self._id}"

    def wait_for_completion(self, show_output: bool = False, wait_post_processing: bool = False,
                            raise_on_error: bool = True) -> dict[str, Any]:
        """Wait until the run is Completed, Failed or Canceled (followed through Watch, no polling
        loop) and return `get_details()`. Works on any run: submitted, or interactive (it then
        waits for whoever runs it to finish it).

        With `show_output`, the console (`user_logs/std_log.txt`) is streamed live, then an
        execution summary is printed. A Failed run raises ActivityFailedException unless
        `raise_on_error=False` (then the error is printed); Canceled never raises. Ctrl-C stops
        waiting, says the run is still executing, and re-raises KeyboardInterrupt; the run goes on.
        tailrun's Finalizing only uploads outputs, so the wait always ends at the final status
        (`wait_post_processing` is accepted for compatibility)."""
        from ._script_wait import wait

        return wait(self, show_output=show_output, raise_on_error=raise_on_error)

    def _fetch(self) -> "pb.RunInfo":
        """Flush what this process queued, then read the run from the service."""
        self._recorder().flush(300)
        info = self._client().get_run(self._id)
        local_status = self._status if self._owner and self._finished else None
        self._apply_info(info)
        if local_status:  # our own finish may be spooled but not yet stored
            self._status = local_status if not _status.is_terminal(info.status) else info.status
        return info

    def __str__(self) -> str:
        return (f"Run(Experiment: {self._experiment.name},\nId: {self._id},\n"
                f"Type: {self._run_type or 'interactive'},\nStatus: {self._status})")

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    # ------------------------------------------------------------------ finishing

    def flush(self, timeout_seconds: float = 300) -> None:
        """Wait until everything logged so far is acknowledged (stored) by the service or, while
        the service is unreachable or refuses the token, durably spooled to disk (fsync'ed) to be
        sent when it is back (or by `tailrun sync`). Returns after `timeout_seconds` at most.
        The exit drain is stricter: it waits for the service, not the spool (TAILRUN_EXIT_TIMEOUT)."""
        self._recorder().flush(timeout_seconds)

    def complete(self) -> None:
        """Upload the tracked outputs folder, stop console capture, mark the run Completed and
        wait until all of it is stored. In a submitted run the status is left to the service."""
        self._finish_completed(wait=True)

    def fail(self, error_details: BaseException | str | None = None, error_code: str | None = None) -> None:
        """Like `complete()`, but attach an error and mark the run Failed. An exception becomes
        "User program failed with <Type>: <message>" plus its stack trace. In a submitted run this
        is final too: the run ends Failed with this error whatever the script's exit code."""
        self._finish(_status.FAILED, _error_json(error_details, error_code), wait=True, final=True)

    def cancel(self) -> None:
        """Mark the run Canceled (after uploading outputs). In a submitted run this is final, as
        `fail()` is: the script goes on, and when it exits the run ends Canceled whatever its exit
        code (Azure ML's submitted-run context only warns). To stop a submitted run from
        outside: `tailrun cancel RUN_ID` or `ScriptRun.cancel()`."""
        self._finish(_status.CANCELED, None, wait=True, final=True)

    def _finish_completed(self, wait: bool) -> None:
        self._finish(_status.COMPLETED, None, wait=wait)

    def _finish_failed(self, exc: BaseException, wait: bool) -> None:
        self._finish(_status.FAILED, _error_json(exc, None), wait=wait)

    def _finish(self, status: str, error_json: str | None, wait: bool, final: bool = False,
                extra: dict[str, Any] | None = None) -> None:
        """`extra`: more RunPatch fields sent with the final status in the same event (importers:
        the original end `time`, the property that marks an import complete)."""
        if self._finished:
            if wait:
                self.flush()
            return
        self._finished = True
        _lifecycle.unregister(self)
        self._stop_system_metrics()
        self._stop_console()
        self._upload_outputs()
        fields: dict[str, Any] = {}
        if not self._submitted:
            fields["status"] = status
            self._status = status
        elif final:
            # The runner sets a submitted run's status when the script ends (after its console
            # and outputs are stored); it reads this file and keeps Failed with our error.
            self._status = status
            _write_final_status(self._id, status, error_json)
        if error_json is not None:
            fields["error_json"] = error_json
        if extra:
            fields.update(extra)
        if fields:
            self._patch(**fields)
        if wait:
            self.flush()
        self._settle_snapshot(wait)

    def _stop_console(self) -> None:
        if self._tee:
            self._tee = False
            try:
                _run_console.detach(self._id)
            except Exception as exc:
                print(f"tailrun: stopping console capture failed: {exc}", file=sys.stderr)

    def _upload_outputs(self) -> None:
        if self._outputs is None:
            return
        folder, prefix = self._outputs
        if folder.is_dir():
            try:
                self._queue_folder(prefix, folder, skip=self._early_uploads)
            except OSError as exc:  # an unreadable file must not keep the run from finishing
                warnings.warn(f"tailrun: uploading {folder} for run {self._id} failed: {exc}", stacklevel=4)

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if exc is None or (isinstance(exc, SystemExit) and exc.code in (0, None)):
            self.complete()
        else:
            if exc.__traceback__ is None and tb is not None:
                exc = exc.with_traceback(tb)
            self.fail(exc)
        return False

    # ------------------------------------------------------------------ finding runs

    @classmethod
    def get_context(cls, allow_offline: bool = True, used_for_context_manager: bool = False,
                    **kwargs: Any) -> "Run":
        """The run this script runs in.

        Inside a submitted run (TAILRUN_RUN_ID and TAILRUN_EXPERIMENT set) that run; its
        `complete()` flushes but leaves the status to the service; `fail()` and `cancel()` are
        final (the run ends Failed with that error, or Canceled, when the script exits). Otherwise, with `allow_offline=True`, a run that
        records like `start_logging` in an experiment named after the script's file stem (Azure
        ML's offline run only prints); with `allow_offline=False`, RunEnvironmentException.
        """
        from .run_context import get_context
        return get_context(allow_offline)

    @staticmethod
    def get(workspace: Any, run_id: str) -> "Run":
        """The run with this id (any experiment)."""
        from .experiment import Experiment
        info = workspace._client().get_run(run_id)
        return _attach_info(Experiment._attach(workspace, info.experiment), info)

    @staticmethod
    def list(experiment: "Experiment", type: str | None = None, tags: Any = None, properties: Any = None,
             status: str | None = None, include_children: bool = False) -> Iterator["Run"]:
        """Runs of an experiment, newest first (a generator)."""
        from .experiment import _filter_dict
        experiment.workspace._recorder().flush(300)
        infos = experiment.workspace._client().iter_runs(
            experiment=experiment.name, include_children=include_children, status=status or "",
            tags={k: v or "" for k, v in _filter_dict(tags).items()},
            properties={k: v or "" for k, v in _filter_dict(properties).items()})
        for info in infos:
            if type is None or info.run_type == type:
                yield _attach_info(experiment, info)


# ---------------------------------------------------------------------- helpers

def _attach_info(experiment: "Experiment", info: "pb.RunInfo") -> Run:
    """Attach with the most specific class: by the run's `azureml.runsource` property (pipeline
    runs and their steps), else by its run_type (a ScriptRun for submitted runs, a HyperDriveRun)."""
    cls: type[Run] = Run
    where = RUN_CLASSES.get(info.properties.get("azureml.runsource", "")) or RUN_CLASSES.get(info.run_type)
    if where is not None:
        module, _, name = where.partition(":")
        cls = getattr(importlib.import_module(module), name)
    return cls._attach(experiment, info.run_id, info)


# run_type or azureml.runsource -> the Run subclass that reads it ("module:Class", imported when
# such a run is read)
RUN_CLASSES = {
    "script": "tailrun.script_run:ScriptRun",
    "hyperdrive": "tailrun.train.hyperdrive.run:HyperDriveRun",
    "azureml.PipelineRun": "tailrun.pipeline.core.run:PipelineRun",
    "azureml.StepRun": "tailrun.pipeline.core.run:StepRun",
    "azureml.ReusedStepRun": "tailrun.pipeline.core.run:StepRun",
}


def _outputs_folder(outputs: Any, default: bool) -> tuple[Path, str] | None:
    """(local folder, artifact prefix) to upload at the end, created now; None = track nothing."""
    if outputs is False or (outputs is None and not default):
        return None
    folder = "./outputs" if outputs is None or outputs is True else os.fspath(outputs)
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    resolved = path.resolve()
    try:
        prefix = resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        prefix = resolved.name
    return resolved, clean_artifact_path(prefix or "outputs", "outputs folder")


ENV_STATUS_FILE = "TAILRUN_STATUS_FILE"   # set by the runner: where fail() in a submitted run says so


def _write_final_status(run_id: str, status: str, error_json: str | None) -> None:
    """Tell the runner (TAILRUN_STATUS_FILE) the final status the script set for its run."""
    path = os.environ.get(ENV_STATUS_FILE)
    if not path or os.environ.get("TAILRUN_RUN_ID") != run_id:
        return
    try:
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"run_id": run_id, "status": status, "error_json": error_json}, f)
        os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(f"tailrun: could not record the final status {status} of run {run_id}: {exc}",
                      stacklevel=4)


def _error_json(error: BaseException | str | None, code: str | None) -> str:
    if isinstance(error, BaseException):
        stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        head = f"User program failed with {type(error).__name__}: {error}"
        room = MAX_ERROR_MESSAGE - len(head) - 2
        message = head if room <= 0 else f"{head}\n\n{stack[-room:]}"
    elif error is None:
        message = "The run failed"
    else:
        message = str(error)
    return json.dumps({"error": {"code": code or "UserError", "message": message[:MAX_ERROR_MESSAGE]}})


def _check_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or len(run_id) > MAX_RUN_ID:
        raise ValueError(f"invalid run_id {run_id!r}: use 1-{MAX_RUN_ID} letters, digits, '_', '-' or '.'")
    return run_id


def _check_text(value: Any, what: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"{what} is {len(value)} characters long; the limit is {limit}")
    return value


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""
