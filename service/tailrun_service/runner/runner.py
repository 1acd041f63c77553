"""The runner: accepts submitted runs, queues them under the concurrency limit and supervises
each one in a thread (see supervisor.py). It writes to the store only through `apply_batch`.

Folders under the data dir: work/<run_id> (the unpacked snapshot, the script's cwd; the zip is kept in
snapshots/<id>.zip, see ../snapshots.py), runs/<run_id> (the
runner's own files, see state.py), envs/<hash> (built environments). When scripts run as another
user (`run_as`, see isolation.py), work/, envs/ and the scripts' homes are under the run root
instead, outside the data dir (which is then 0700).
"""
from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tailrun import _status as st
from tailrun._exec.envs import EnvBuilder
from tailrun._exec.files import CONSOLE_PATH
from tailrun.v1 import tailrun_pb2 as pb

from ..artifacts import validate_run_id
from ..compute.targets import Launch, build_targets
from ..errors import InvalidArgument, NotFound
from ..ignored_settings import ignored_line
from ..snapshots import SNAPSHOT_PROPERTY, SnapshotStore
from .isolation import RUN_ROOT_BASE, resolve_run_user, root_folder, run_root_for
from .queue import RunQueue
from .recovery import recover
from .state import RunState
from .supervisor import RunnerContext, Supervisor, make_error
from .workdir import unpack_snapshot
from .writer import RunWriter

log = logging.getLogger("tailrun_service.runner")
DEFAULT_GRACE_SECONDS = 5.0


class Runner:
    """Accepts submitted runs and dispatches each to its compute target (compute/targets.py);
    executes those of the `local` target on this machine.

    `address` is the service's own host:port, given to the scripts as TAILRUN_ADDRESS (it may be
    set after construction, once the server knows its port); `token` is the service token (runs
    get a run-scoped token derived from it); `max_concurrent` defaults to the number of cores;
    `ca_file` (a TLS service): the PEM scripts verify the service's certificate with;
    `run_as`: the user scripts run as (the service must be root; see isolation.py);
    `compute_config`: the other targets ({name: table}, see compute/targets.py).
    `start()` recovers the runs a previous service process left behind."""

    def __init__(self, store: Any, data_dir: str | Path, address: str | None = None,
                 token: str | None = None, max_concurrent: int | None = None,
                 grace_seconds: float = DEFAULT_GRACE_SECONDS, ca_file: str | Path | None = None,
                 run_as: str | None = None, compute_config: dict[str, dict[str, Any]] | None = None) -> None:
        self.store = store
        self.data_dir = Path(data_dir)
        self.snapshots = SnapshotStore(self.data_dir)
        self.runs_root = self.data_dir / "runs"
        self.run_user = resolve_run_user(run_as) if run_as else None
        if self.run_user is None:
            self.work_root, self.homes_root, envs_root = self.data_dir / "work", None, self.data_dir / "envs"
            self.work_root.mkdir(parents=True, exist_ok=True)
        else:
            os.chmod(self.data_dir, 0o700)
            run_root = run_root_for(self.data_dir)   # made by the first submit (_make_run_root)
            self.work_root, self.homes_root, envs_root = run_root / "work", run_root / "homes", run_root / "envs"
            problem = self.run_user.can_run_service_python()
            if problem:
                log.warning("submitted scripts run as user %s, who cannot run this service's Python (%s): %s. "
                            "Runs with the default environment will fail; install Python and tailrun where "
                            "that user can read them, give runs another interpreter, or start the service "
                            "with --run-as root (scripts then run as root, not isolated)",
                            self.run_user.name, sys.executable, problem)
        self.runs_root.mkdir(parents=True, exist_ok=True)
        self.address = address
        self.token = token or None
        self.max_concurrent = int(max_concurrent or os.cpu_count() or 1)
        self.ctx = RunnerContext(store=store, address=self.child_address, token=self.token,
                                 grace_seconds=grace_seconds, envs=EnvBuilder(envs_root),
                                 ca_file=str(ca_file) if ca_file else None, run_user=self.run_user)
        self._lock = threading.RLock()
        self._queue = RunQueue(self.max_concurrent, self._start_run)
        self._pending: dict[str, tuple[RunState, RunWriter]] = {}
        self._supervisors: dict[str, Supervisor] = {}
        self._stopped = False
        self._kill_on_stop = True
        self._started = False
        self.targets = build_targets(self, compute_config)
        from ..orchestration import Orchestrator   # sweeps and pipelines: parents it drives
        self.orchestrator = Orchestrator(self)

    def start(self) -> None:
        """Recover the runs a previous service process left behind (once; submit calls it too)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        recover(self)
        self.targets.start()
        self.orchestrator.start()   # after recovery: the children it submitted are known again

    # ------------------------------------------------------------------ service-facing API

    def submit(self, spec: pb.SubmitSpec, snapshot: bytes, properties: dict[str, str] | None = None) -> pb.RunInfo:
        """Create the run (NotStarted), check its snapshot, keep the zip (see snapshots.py) and hand
        the run to its compute target (local: unpacked and queued); returns the run. An
        orchestrated run (a sweep, a pipeline) goes to the orchestrator, which submits its children
        back through here. `properties` (from the orchestrator) are the run's from its creation,
        e.g. a pipeline step's `azureml.runsource`."""
        if self.orchestrator.handles(spec):
            return self.orchestrator.submit(spec, snapshot)
        run_id, definition = self._validate(spec)
        target = self.targets.get(str(definition.get("target") or "local"))
        self.start()
        with self._lock:
            if self._stopped:
                raise InvalidArgument("the service is stopping and accepts no new runs")
        try:
            self.store.get_run(run_id)
            raise InvalidArgument(f"run id {run_id!r} already exists; submit with a new run id")
        except NotFound:
            pass
        if self.run_user is not None:
            self._make_run_root()
        work_dir = self.work_root / run_id
        if work_dir.exists():
            raise InvalidArgument(f"run id {run_id!r} was already submitted to this service")
        try:
            unpack_snapshot(snapshot, work_dir)
            _check_script(definition, work_dir)
            (work_dir / "outputs").mkdir(exist_ok=True)
            if self.run_user is not None:
                self.run_user.own(work_dir)
            snapshot_id = self.snapshots.put(snapshot).snapshot_id
        except BaseException:
            shutil.rmtree(work_dir, ignore_errors=True)
            raise
        if target.kind != "local":   # checked here; the target's job fetches the snapshot itself
            shutil.rmtree(work_dir, ignore_errors=True)
            return self._launch_remote(target, spec, run_id, definition, snapshot, snapshot_id, properties)
        state = RunState(run_id=run_id, experiment=spec.experiment, definition=definition,
                         work_dir=str(work_dir), state_dir=str(self.runs_root / run_id),
                         home_dir=str(self.homes_root / run_id) if self.homes_root else "")
        state.folder.mkdir(parents=True, exist_ok=True)
        # What the definition asks for that this runner cannot honour: the first line of the
        # driver log, and a warning of the run (never dropped silently).
        ignored = ignored_line(definition, platform.python_version())
        state.console.write_text(f"{ignored}\n" if ignored else "")
        state.save()
        writer = RunWriter(self.store, run_id)
        events = [pb.Event(start=_run_start(spec, definition, snapshot_id, properties))]
        if ignored:
            events.append(pb.Event(patch=pb.RunPatch(run_id=run_id, warnings=[ignored], time=time.time())))
        rejected = writer.send(events)
        if rejected:
            state.forget()
            shutil.rmtree(work_dir, ignore_errors=True)
            raise InvalidArgument(f"the run could not be created: {'; '.join(rejected)}")
        target.launch(Launch(run_id, spec.experiment, definition, snapshot, writer, local_state=state))
        return self.store.get_run(run_id)

    def _launch_remote(self, target: Any, spec: pb.SubmitSpec, run_id: str, definition: dict[str, Any],
                       snapshot: bytes, snapshot_id: str, properties: dict[str, str] | None) -> pb.RunInfo:
        """A run on another target: created, its ignored settings said (first console line and a
        warning), then launched; a refusal by the target fails the run and reaches the client."""
        writer = RunWriter(self.store, run_id)
        events = [pb.Event(start=_run_start(spec, definition, snapshot_id, properties))]
        # The interpreter on the target is not known here: no Python version to compare.
        ignored = ignored_line(definition, None, distributes=True)
        if ignored:
            events += [pb.Event(patch=pb.RunPatch(run_id=run_id, warnings=[ignored], time=time.time())),
                       writer.chunk(CONSOLE_PATH, 0, f"{ignored}\n".encode(), append=True)]
        rejected = writer.send(events)
        if rejected:
            raise InvalidArgument(f"the run could not be created: {'; '.join(rejected)}")
        try:
            target.launch(Launch(run_id, spec.experiment, definition, snapshot, writer))
        except InvalidArgument as exc:   # refused by the target: the run says why, and so does the error
            writer.status(st.FAILED, error_json=make_error("ComputeTargetError", str(exc)))
            raise
        except Exception as exc:
            log.exception("run %s: compute target %s failed to launch it", run_id, target.name)
            writer.status(st.FAILED, error_json=make_error("ComputeTargetError", f"{target.name}: {exc}"))
            raise InvalidArgument(f"compute target {target.name!r} could not start the run: {exc}") from None
        return self.store.get_run(run_id)

    def launch_local(self, launch: Launch) -> None:
        """The local target: queue the run under the concurrency limit."""
        with self._lock:
            self._pending[launch.run_id] = (launch.local_state, launch.writer)
        launch.writer.status(st.QUEUED)
        self._queue.push(launch.run_id)

    def cancel(self, run_id: str) -> pb.RunInfo:
        """Cancel a queued or executing run through its target (local: Canceled at once if it was
        waiting, else SIGTERM to its process group, SIGKILL after the grace period, and
        CancelRequested until it has ended). An orchestrated run cancels its children and ends
        Canceled once they have."""
        orchestrated = self.orchestrator.cancel(run_id)
        if orchestrated is not None:
            return orchestrated
        for target in self.targets:
            if target.cancel(run_id):
                return self.store.get_run(run_id)
        info = self.store.get_run(run_id)   # NotFound for an unknown run
        if st.is_terminal(info.status):
            return info
        raise InvalidArgument(f"run {run_id!r} ({info.run_type or 'unknown'} run, {info.status}) is not "
                              "executed by this service's runner, so it cannot be canceled here")

    def cancel_local(self, run_id: str) -> bool:
        """The local target's cancel; False if the run is not one of its queued or executing runs."""
        with self._lock:
            pending = self._pending.pop(run_id, None)
            supervisor = self._supervisors.get(run_id)
        if pending is not None:
            self._queue.remove(run_id)
            state, writer = pending
            writer.status(st.CANCELED)
            state.forget()
            return True
        if supervisor is not None:
            supervisor.request_stop("cancel")
            return True
        return False

    def stop(self, kill_runs: bool = True, timeout: float | None = None) -> None:
        """Stop accepting runs. With `kill_runs` executing runs are terminated and marked Failed
        ("the service stopped..."), waiting ones too; without, executing runs keep running and
        waiting ones stay Queued: the next service adopts the first and queues the others again.
        The first call decides; a later one (Service.stop after run_forever) only waits."""
        self.orchestrator.stop()
        with self._lock:
            first = not self._stopped
            self._stopped = True
            if first:
                self._kill_on_stop = kill_runs
            kill_runs = self._kill_on_stop
            waiting = self._queue.drain() if first else []
            supervisors = list(self._supervisors.values())
        if first:
            for target in self.targets:
                if target.kind != "local":
                    target.stop(kill_runs)
        for run_id in waiting:
            with self._lock:
                pending = self._pending.pop(run_id, None)
            if pending is not None and kill_runs:
                state, writer = pending
                writer.status(st.FAILED, error_json=make_error("ServiceStopped",
                                                           "the service stopped before the run started"))
                state.forget()
        for supervisor in supervisors:
            if kill_runs:
                supervisor.request_stop("shutdown")
            else:
                supervisor.detach()
        deadline = time.monotonic() + (timeout if timeout is not None else self.ctx.grace_seconds + 30)
        for supervisor in supervisors:
            supervisor.join(max(0.0, deadline - time.monotonic()))

    close = stop

    # ------------------------------------------------------------------ introspection

    def child_address(self) -> str:
        """The address scripts connect to: a wildcard bind address becomes loopback."""
        if not self.address:
            raise RuntimeError("the runner does not know the service's address (Runner.address is unset)")
        host, _, port = self.address.rpartition(":")
        if host in ("", "0.0.0.0", "[::]", "::", "*"):
            host = "127.0.0.1"
        return f"{host}:{port}"

    def active_runs(self) -> list[str]:
        """The runs this service drives: on every target, and the orchestrated parents (the
        liveness monitor leaves them alone)."""
        return self.targets.active_runs() + self.orchestrator.active_runs()

    def active_local_runs(self) -> list[str]:
        with self._lock:
            return sorted(self._supervisors)

    def queued_runs(self) -> list[str]:
        return self._queue.waiting()

    # ------------------------------------------------------------------ internals

    def _start_run(self, run_id: str) -> None:
        with self._lock:
            pending = self._pending.pop(run_id, None)
            if pending is None or self._stopped:   # canceled meanwhile
                supervisor = None
            else:
                state, writer = pending
                supervisor = Supervisor(self.ctx, state, writer, on_exit=self._on_exit)
                self._supervisors[run_id] = supervisor
        if supervisor is None:
            self._queue.finished(run_id)
            return
        supervisor.start()

    def _make_run_root(self) -> None:
        """The folders of scripts running as another user: root's, 0711 (see isolation.py)."""
        root_folder(RUN_ROOT_BASE)
        root_folder(self.work_root.parent)
        for folder, mode in ((self.work_root, 0o711), (self.homes_root, 0o711), (self.ctx.envs.envs_dir, 0o755)):
            root_folder(folder, mode)

    def requeue(self, state: RunState, writer: RunWriter) -> None:
        """Queue again a run a previous service accepted but had not started (recovery)."""
        with self._lock:
            self._pending[state.run_id] = (state, writer)
        writer.status(st.QUEUED)
        self._queue.push(state.run_id)

    def adopt(self, state: RunState, writer: RunWriter) -> Supervisor:
        """Supervise a run a previous service process started (recovery)."""
        supervisor = Supervisor(self.ctx, state, writer, on_exit=self._on_exit, adopted=True)
        with self._lock:
            self._supervisors[state.run_id] = supervisor
        self._queue.occupy(state.run_id)
        supervisor.start()
        return supervisor

    def _on_exit(self, supervisor: Supervisor) -> None:
        with self._lock:
            self._supervisors.pop(supervisor.run_id, None)
        self._queue.finished(supervisor.run_id)

    def _validate(self, spec: pb.SubmitSpec) -> tuple[str, dict[str, Any]]:
        run_id = validate_run_id(spec.run_id.strip())
        if not spec.experiment.strip():
            raise InvalidArgument("the submitted run names no experiment")
        try:
            definition = json.loads(spec.run_definition_json or "{}")
        except ValueError as exc:
            raise InvalidArgument(f"run_definition_json is not valid JSON: {exc}") from None
        if not isinstance(definition, dict):
            raise InvalidArgument("run_definition_json must be a JSON object (a RunConfiguration)")
        if definition.get("command") and definition.get("script"):
            raise InvalidArgument("the run definition has both a command and a script; give one")
        if not definition.get("command") and not definition.get("script"):
            raise InvalidArgument("the run definition has neither a script nor a command to run")
        limit = definition.get("max_run_duration_seconds")
        if limit is not None and (not isinstance(limit, (int, float)) or limit <= 0):
            raise InvalidArgument(f"max_run_duration_seconds must be a positive number, got {limit!r}")
        return run_id, definition


def _check_script(definition: dict[str, Any], work_dir: Path) -> None:
    script = definition.get("script")
    if not script:
        return
    path = (work_dir / str(script)).resolve()
    if not str(path).startswith(str(work_dir.resolve()) + os.sep) or not path.is_file():
        raise InvalidArgument(f"script {script!r} is not in the snapshot of the source directory")


def _run_start(spec: pb.SubmitSpec, definition: dict[str, Any], snapshot_id: str,
               extra_properties: dict[str, str] | None = None) -> pb.RunStart:
    command = definition.get("command")
    script = definition.get("script") or (command if isinstance(command, str) else " ".join(map(str, command)))
    properties = {"azureml.runsource": "experiment", **(extra_properties or {}), SNAPSHOT_PROPERTY: snapshot_id}
    return pb.RunStart(
        run_id=spec.run_id.strip(), experiment=spec.experiment, parent_run_id=spec.parent_run_id,
        display_name=spec.display_name, description=spec.description, tags=dict(spec.tags),
        properties=properties, run_type="script", status=st.NOT_STARTED, time=time.time(),
        submitted_by=spec.submitted_by,
        run_definition_json=spec.run_definition_json or "{}", target=str(definition.get("target") or "local"),
        script=str(script), arguments=[str(a) for a in definition.get("arguments") or []])
