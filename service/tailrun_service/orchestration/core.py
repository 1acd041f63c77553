"""The orchestration core: parent runs driven by a controller inside the service (interface in
__init__.py). One `Orchestrator` per runner; one thread follows the store's change feed for every
orchestrated run and calls the controllers, under one lock."""
from __future__ import annotations

import importlib
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from tailrun import _status as st
from tailrun.wire import decode_column
from tailrun.v1 import tailrun_pb2 as pb

from ..errors import InvalidArgument, NotFound
from ..runner.supervisor import make_error
from ..runner.writer import RunWriter
from ..snapshots import SNAPSHOT_PROPERTY

log = logging.getLogger("tailrun_service.orchestration")

# kind (the run definition's top-level key) -> "module:Class", imported on first use (a sweep's
# sampler library is not loaded by a service that never runs one), or the class itself.
CONTROLLERS: dict[str, Any] = {
    "hyperdrive": "tailrun_service.orchestration.hyperdrive.controller:HyperDriveController",
    "pipeline": "tailrun_service.orchestration.pipeline.controller:PipelineController",
}
CONSOLE = "user_logs/std_log.txt"
OWNER_KEY = "_service_data_dir"   # in the state: the data dir of the service driving the run
FEED_WAIT_SECONDS = 0.5      # one blocking wait on the store's change feed (also how fast stop() is seen)
EVENTS_PAGE = 500


def controller_kind(definition: dict[str, Any]) -> str | None:
    """The controller kind a run definition asks for, or None for an ordinary run."""
    kinds = [kind for kind in CONTROLLERS if definition.get(kind) is not None]
    if len(kinds) > 1:
        raise InvalidArgument(f"the run definition asks for several orchestrations ({', '.join(kinds)}); give one")
    return kinds[0] if kinds else None


def _controller_class(kind: str) -> type["Controller"]:
    entry = CONTROLLERS[kind]
    if isinstance(entry, type):
        return entry
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)


class Controller:
    """Base of the controller kinds (see the package docstring)."""

    kind = ""
    run_type = ""
    metrics: tuple[str, ...] = ()

    def __init__(self, run: "OrchestratedRun") -> None:
        self.run = run

    @classmethod
    def check(cls, definition: dict[str, Any]) -> None:
        """Refuse a definition that cannot run (InvalidArgument naming the problem)."""

    @classmethod
    def targets(cls, definition: dict[str, Any]) -> set[str]:
        """The compute targets its children will run on (checked at submit)."""
        return {str(definition.get("target") or "local")}

    @classmethod
    def parent_properties(cls, definition: dict[str, Any]) -> dict[str, str]:
        """Properties of the parent run set at creation (besides runsource and snapshot)."""
        return {}

    def update(self) -> None:
        raise NotImplementedError


class OrchestratedRun:
    """One parent run as its controller sees it (see the package docstring)."""

    def __init__(self, orchestrator: "Orchestrator", info: pb.RunInfo, state: dict[str, Any]) -> None:
        self._orch = orchestrator
        self.info = info
        self.run_id = info.run_id
        self.experiment = info.experiment
        self.definition: dict[str, Any] = json.loads(info.run_definition_json or "{}")
        self.state = state
        self.children: dict[str, pb.RunInfo] = {}
        self._series: dict[tuple[str, str], list[Any]] = {}
        self._saved = json.dumps(state, sort_keys=True)
        self._console_size = 0
        self.writer = RunWriter(orchestrator.store, self.run_id)
        self.controller: Controller | None = None
        self.finished = False
        self._wake = 0.0

    # ---------------------------------------------------------------- what controllers read

    @property
    def canceling(self) -> bool:
        return bool(self.state.get("_canceling"))

    @property
    def store(self) -> Any:
        """The service's Store (for queries beyond this run, e.g. a pipeline's reusable runs)."""
        return self._orch.store

    def parent_snapshot(self) -> bytes:
        """The zip submitted with the parent run."""
        return self._orch.snapshot_of(self.info)

    def series(self, child_id: str, name: str) -> list[Any]:
        return list(self._series.get((child_id, name), ()))

    def active_children(self) -> list[str]:
        return [run_id for run_id, info in self.children.items() if not st.is_terminal(info.status)]

    # ---------------------------------------------------------------- what controllers do

    def save(self) -> None:
        text = json.dumps(self.state, sort_keys=True)
        if text != self._saved and not self.finished:   # finish() saved the last state with the status
            self._orch.store.save_orchestration(self.run_id, self.state)
            self._saved = text

    def submit_child(self, key: str, definition: dict[str, Any], *, display_name: str = "",
                     tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
                     snapshot: bytes | None = None) -> pb.RunInfo:
        """`snapshot`: the child's own zip (a pipeline step's folder) instead of the parent's."""
        run_id = f"{self.run_id}_{key}"
        if run_id in self.children:
            return self.children[run_id]
        store = self._orch.store
        try:
            info = store.get_run(run_id)   # submitted before a restart: never twice
        except NotFound:
            spec = pb.SubmitSpec(experiment=self.experiment, run_id=run_id, parent_run_id=self.run_id,
                                 run_definition_json=json.dumps(definition), display_name=display_name,
                                 submitted_by=self.info.submitted_by,
                                 tags={str(k): str(v) for k, v in (tags or {}).items()})
            info = self._orch.runner.submit(spec, snapshot if snapshot is not None else
                                            self._orch.snapshot_of(self.info), properties=properties)
        self.children[run_id] = info
        return info

    def record_child(self, key: str, status: str, *, display_name: str = "", tags: dict[str, str] | None = None,
                     properties: dict[str, str] | None = None, code: str = "", message: str = "") -> pb.RunInfo:
        """A child `<parent>_<key>` that runs nothing, created with its final `status` (error
        {code, message} when given): a pipeline's reused or skipped step. Idempotent, as submit_child."""
        run_id = f"{self.run_id}_{key}"
        if run_id in self.children:
            return self.children[run_id]
        store = self._orch.store
        if not store.run_exists(run_id):
            now = time.time()
            start = pb.RunStart(run_id=run_id, experiment=self.experiment, parent_run_id=self.run_id,
                                display_name=display_name, tags=tags or {}, properties=properties or {},
                                run_type="script", status=status, time=now, submitted_by=self.info.submitted_by,
                                target=str(self.definition.get("target") or "local"))
            events = [pb.Event(start=start)]
            if code:
                events.append(pb.Event(patch=pb.RunPatch(run_id=run_id, error_json=make_error(code, message),
                                                         time=now)))
            rejected = self.writer.send(events)
            if rejected:
                raise InvalidArgument(f"child {run_id!r} could not be recorded: {'; '.join(rejected)}")
        info = store.get_run(run_id)
        self.children[run_id] = info
        self._orch._child_parent[run_id] = self.run_id
        return info

    def shared_folder(self, *parts: str) -> Path:
        """A folder children read and write (a pipeline's data), next to the runner's working
        folders (so the run user owns it when scripts run as another user); created if missing."""
        runner = self._orch.runner
        folder = runner.work_root.parent.joinpath("pipeline_data", *parts)
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            if runner.run_user is not None:
                runner.run_user.own(folder)
        return folder

    def cancel_child(self, run_id: str, code: str, message: str) -> None:
        info = self.children.get(run_id)
        if info is None or st.is_terminal(info.status):
            return
        self.set_child_error(run_id, code, message)
        self.children[run_id] = self._orch.runner.cancel(run_id)

    def set_child_error(self, run_id: str, code: str, message: str) -> None:
        """Record error {code, message} on a child (e.g. again once it is final: a canceled
        script's own SIGTERM handler records "stopped by SIGTERM" meanwhile)."""
        error = make_error(code, message)
        if self.children.get(run_id) is not None and self.children[run_id].error_json == error:
            return
        self.writer.send([pb.Event(patch=pb.RunPatch(run_id=run_id, error_json=error, time=time.time()))])

    def wake_at(self, when: float) -> None:
        """Call `update()` again at unix time `when` (also without events): a time limit."""
        self._wake = when

    def log(self, line: str) -> None:
        data = (line.rstrip("\n") + "\n").encode("utf-8", "replace")
        self.writer.send([self.writer.chunk(CONSOLE, self._console_size, data, append=True)])
        self._console_size += len(data)

    def patch(self, tags: dict[str, str] | None = None, properties: dict[str, str] | None = None,
              warnings: tuple[str, ...] | list[str] = ()) -> None:
        patch = pb.RunPatch(run_id=self.run_id, set_tags=tags or {}, add_properties=properties or {},
                            warnings=list(warnings), time=time.time())
        self.writer.send([pb.Event(patch=patch)])

    def finish(self, status: str, code: str = "", message: str = "") -> None:
        if self.finished:
            return
        for run_id in self.active_children():
            try:
                self.children[run_id] = self._orch.runner.cancel(run_id)
            except Exception:   # already ending, or gone: its own status stays
                log.exception("run %s: canceling child %s failed", self.run_id, run_id)
        self.finished = True
        self.writer.status(status, error_json=make_error(code, message) if code else None)
        self._orch.store.save_orchestration(self.run_id, self.state, final=status)
        self._saved = json.dumps(self.state, sort_keys=True)
        self.info = self._orch.store.get_run(self.run_id)

    # ---------------------------------------------------------------- the core's side

    def _load(self) -> None:
        """Children, followed metrics and console size from the store (creation and restart)."""
        store = self._orch.store
        kids = store.list_runs(pb.ListRunsRequest(parent_run_id=self.run_id))
        for child in sorted(kids, key=lambda r: (r.created_time, r.number, r.run_id)):
            self.children[child.run_id] = child
            for name in self._followed():
                self._series[(child.run_id, name)] = _read_series(store, child.run_id, name)
        for f in store.list_files(self.run_id, "user_logs/"):
            if f.path == CONSOLE:
                self._console_size = f.size

    def _followed(self) -> tuple[str, ...]:
        return tuple(self.controller.metrics) if self.controller is not None else ()

    def _on_metrics(self, points: pb.MetricPoints) -> bool:
        """New points of a followed metric of a child; True if the series grew."""
        if points.run_id not in self.children or points.name not in self._followed() or len(points.columns) != 1:
            return False
        key = (points.run_id, points.name)
        have = self._series.setdefault(key, [])
        first = points.first_index
        if first > len(have):   # a gap (a page boundary): read the series again
            self._series[key] = _read_series(self._orch.store, points.run_id, points.name)
            return True
        values = decode_column(points.columns[0], points.name)
        new = values[len(have) - first:]
        have.extend(new)
        return bool(new)


def _read_series(store: Any, run_id: str, name: str) -> list[Any]:
    values: list[Any] = []
    for points in store.iter_metrics(run_id, name):
        if len(points.columns) == 1 and points.first_index == len(values):
            values.extend(decode_column(points.columns[0], name))
    return values


class Orchestrator:
    """The orchestrated runs of one service: created by the Runner, which routes submissions and
    cancels to it (`handles`, `submit`, `cancel`) and counts its parents as active runs."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.store = runner.store
        self.snapshots = runner.snapshots
        self._lock = threading.RLock()
        self._runs: dict[str, OrchestratedRun] = {}
        self._child_parent: dict[str, str] = {}
        self._cursor = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The service whose runner executes the children: the one that resumes the run.
        self._owner = str(Path(runner.data_dir).resolve())

    # ---------------------------------------------------------------- the runner's side

    def handles(self, spec: pb.SubmitSpec) -> bool:
        try:
            definition = json.loads(spec.run_definition_json or "{}")
        except ValueError:
            return False   # the runner reports it
        return isinstance(definition, dict) and controller_kind(definition) is not None

    def start(self) -> None:
        """Resume the orchestrated runs a previous service left active, then follow the feed."""
        with self._lock:
            if self._thread is not None:
                return
            self._cursor = self.store.last_event_id()   # before reading: nothing missed
            for run_id, kind, state in self.store.active_orchestrations():
                if state.get(OWNER_KEY, self._owner) != self._owner:
                    continue   # another service's (replicas share a PostgreSQL store): its runner has the children
                try:
                    self._resume(run_id, kind, state)
                except Exception:
                    log.exception("orchestrated run %s could not be resumed", run_id)
            self._thread = threading.Thread(target=self._follow, name="tailrun-orchestration", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop following (controllers resume in the next service); orchestrated runs stay active."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)

    def active_runs(self) -> list[str]:
        with self._lock:
            return sorted(self._runs)

    def submit(self, spec: pb.SubmitSpec, snapshot: bytes) -> pb.RunInfo:
        from ..artifacts import validate_run_id
        run_id = validate_run_id(spec.run_id.strip())
        if not spec.experiment.strip():
            raise InvalidArgument("the submitted run names no experiment")
        definition = json.loads(spec.run_definition_json)
        kind = controller_kind(definition)
        assert kind is not None
        cls = _controller_class(kind)
        cls.check(definition)
        for target in sorted(cls.targets(definition)):
            self.runner.targets.get(target)   # InvalidArgument naming the known targets
        if self.store.run_exists(run_id):
            raise InvalidArgument(f"run id {run_id!r} already exists; submit with a new run id")
        snapshot_id = self.snapshots.put(snapshot).snapshot_id
        self.start()
        with self._lock:
            if self._stop.is_set():
                raise InvalidArgument("the service is stopping and accepts no new runs")
            writer = RunWriter(self.store, run_id)
            properties = {"azureml.runsource": cls.run_type, SNAPSHOT_PROPERTY: snapshot_id,
                          **cls.parent_properties(definition)}
            start = pb.RunStart(run_id=run_id, experiment=spec.experiment, parent_run_id=spec.parent_run_id,
                                display_name=spec.display_name, description=spec.description,
                                tags=dict(spec.tags), properties=properties, run_type=cls.run_type,
                                status=st.RUNNING, time=time.time(), submitted_by=spec.submitted_by,
                                run_definition_json=spec.run_definition_json,
                                target=str(definition.get("target") or "local"))
            rejected = writer.send([pb.Event(start=start)])
            if rejected:
                raise InvalidArgument(f"the run could not be created: {'; '.join(rejected)}")
            state = {OWNER_KEY: self._owner}
            self.store.create_orchestration(run_id, kind, state)
            run = self._attach(self.store.get_run(run_id), kind, state)
            self._update(run)
            return self.store.get_run(run_id)

    def cancel(self, run_id: str) -> pb.RunInfo | None:
        """Cancel an orchestrated run and its children; None if `run_id` is not one of them."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None:
                return None
            if not run.canceling:
                run.state["_canceling"] = True
                run.save()
                run.writer.status(st.CANCEL_REQUESTED)
                for child in run.active_children():
                    try:
                        run.children[child] = self.runner.cancel(child)
                    except Exception:
                        log.exception("run %s: canceling child %s failed", run_id, child)
            self._settle(run)
            return self.store.get_run(run_id)

    def snapshot_of(self, info: pb.RunInfo) -> bytes:
        return self.snapshots.path_of(info.properties[SNAPSHOT_PROPERTY]).read_bytes()

    # ---------------------------------------------------------------- internals

    def _attach(self, info: pb.RunInfo, kind: str, state: dict[str, Any]) -> OrchestratedRun:
        run = OrchestratedRun(self, info, state)
        run.controller = _controller_class(kind)(run)
        run._load()
        self._runs[run.run_id] = run
        for child in run.children:
            self._child_parent[child] = run.run_id
        return run

    def _resume(self, run_id: str, kind: str, state: dict[str, Any]) -> None:
        try:
            info = self.store.get_run(run_id)
        except NotFound:
            self.store.save_orchestration(run_id, state, final=st.FAILED)
            return
        if kind not in CONTROLLERS:
            log.error("orchestrated run %s: unknown kind %r; marking it Failed", run_id, kind)
            RunWriter(self.store, run_id).status(st.FAILED, make_error(
                "ServiceError", f"this service has no controller for {kind!r} runs"))
            self.store.save_orchestration(run_id, state, final=st.FAILED)
            return
        run = self._attach(info, kind, state)
        log.info("orchestrated run %s (%s): resumed after a restart, %d children", run_id, kind, len(run.children))
        if st.is_terminal(info.status):
            run.finish(info.status)
            self._forget(run)
            return
        self._update(run)

    def _update(self, run: OrchestratedRun) -> None:
        """Let the controller decide (or settle a cancel), then save its state."""
        for child in run.children:
            self._child_parent[child] = run.run_id
        if run.canceling:
            self._settle(run)
            return
        try:
            assert run.controller is not None
            run.controller.update()
            run.save()
        except Exception as exc:
            log.exception("orchestrated run %s: the controller failed", run.run_id)
            run.finish(st.FAILED, "ServiceError", f"the {run.controller.kind if run.controller else ''} "
                       f"controller failed: {type(exc).__name__}: {exc}")
        for child in run.children:
            self._child_parent[child] = run.run_id
        if run.finished:
            self._forget(run)

    def _settle(self, run: OrchestratedRun) -> None:
        """A canceled parent ends Canceled once its children are final."""
        if not run.active_children():
            run.finish(st.CANCELED)
            self._forget(run)

    def _forget(self, run: OrchestratedRun) -> None:
        self._runs.pop(run.run_id, None)
        for child in run.children:
            self._child_parent.pop(child, None)

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self.store.wait_for_change(self._cursor, FEED_WAIT_SECONDS)
                if self._stop.is_set():
                    return
                self._step()
            except Exception:
                log.exception("orchestration: following the store's changes failed")
                self._stop.wait(1.0)

    def _step(self) -> None:
        with self._lock:
            if not self._runs:
                self._cursor = self.store.last_event_id()
                return
            while True:
                watched = list(self._runs) + list(self._child_parent)
                page = self.store.events_after(self._cursor, watched, kinds=["run", "metrics"], limit=EVENTS_PAGE)
                touched: dict[str, OrchestratedRun] = {}
                for event in page:
                    self._cursor = max(self._cursor, event.cursor)
                    run = self._route(event)
                    if run is not None:
                        touched[run.run_id] = run
                now = time.time()
                for run in self._runs.values():
                    if run._wake and run._wake <= now:
                        run._wake = 0.0
                        touched[run.run_id] = run
                for run in list(touched.values()):
                    if run.run_id in self._runs:
                        self._update(run)
                if len(page) < EVENTS_PAGE:
                    return

    def _route(self, event: pb.WatchEvent) -> OrchestratedRun | None:
        """Apply one event to the run it concerns; that run if its controller should look."""
        kind = event.WhichOneof("kind")
        parent_id = event.run_id if event.run_id in self._runs else self._child_parent.get(event.run_id)
        run = self._runs.get(parent_id or "")
        if run is None:
            return None
        if kind == "run":
            if event.run_id == run.run_id:
                run.info = event.run
                if st.is_terminal(event.run.status) and not run.finished:
                    # Ended by someone else (a store-level cancel, liveness): stop driving it.
                    run.finish(event.run.status)
                    self._forget(run)
                    return None
                return None
            run.children[event.run_id] = event.run
            return run
        if kind == "metrics":
            return run if run._on_metrics(event.metrics) else None
        return None
