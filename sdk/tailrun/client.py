"""The one client of the service for reads: unary queries, streamed metric and file reads, and
`Watch`, once or followed across reconnects.

Used by `Run`'s read methods, `Experiment`, the CLI, RunDetails and the terminal UI. Logging
never comes through here (it goes through the recorder's queue). gRPC errors become
`tailrun.exceptions` with a message that names the address and what to do, instead of a raw
`_InactiveRpcError`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import IO, Any, Callable, Iterator, TypeVar

import grpc

from ._channel import call_metadata, open_channel, tls_hint
from ._settings import DEFAULT_PORT, Settings
from .exceptions import (AuthenticationError, InvalidRequest, ModelNotFoundException,
                         ModelPathNotFoundException, NotFound, NotSupported, RunNotFound,
                         ServiceError, ServiceUnavailable)
from .v1 import tailrun_pb2 as pb
from .v1 import tailrun_pb2_grpc as pb_grpc
from .wire import CHUNK_BYTES

T = TypeVar("T")
UNARY_TIMEOUT = 60.0
TRANSFER_TIMEOUT = 600.0      # a snapshot: up to 300 MB each way
# Follow's reconnect backoff: 1, 2, 4 … capped, so a restarted service is picked up within seconds.
BACKOFF_START = 1.0
BACKOFF_MAX = 8.0


def resolve_read_settings(settings: Settings, start_local: bool = False,
                          default_address: bool = False) -> Settings:
    """Where to send queries: the configured address, else the per-user local service if it runs.

    Only a Workspace's client starts the local service (`start_local`): its calls also submit and
    register, and list compute targets, which a new service can answer. The query commands and
    RunDetails never start one (an empty new service could not answer them). When nothing runs
    it raises, or with `default_address` answers 127.0.0.1:DEFAULT_PORT: the UI starts before
    its service and connects once it is up."""
    if settings.address:
        return settings
    from ._local import local_service, server_installed, start_local_service
    from ._settings import home_dir
    found = local_service(home_dir())
    if not found and start_local and server_installed():
        found = start_local_service(home_dir())
    if not found and default_address:
        return Settings(f"127.0.0.1:{DEFAULT_PORT}", settings.token, settings.ca_file)
    if not found:
        raise ServiceUnavailable(
            "no tailrun service is configured or running: set TAILRUN_ADDRESS, pass "
            "Workspace(address=...) or --address, or start one with `tailrun server`")
    return Settings(found[0], settings.token or found[1], settings.ca_file)


@dataclass
class RunListing:
    """A list of runs and the scalar metric names any of them has (the columns a table can offer)."""
    runs: list[pb.RunInfo]
    metric_names: list[str]   # sorted


class Client:
    """A lazily connected client of the Tracker service. Thread-safe; one channel per client.
    `timeout`: the deadline of each unary call (the UI asks for a shorter one than a script)."""

    def __init__(self, settings: Settings, start_local: bool = False, timeout: float = UNARY_TIMEOUT) -> None:
        self.settings = settings
        self.start_local = start_local
        self.timeout = timeout
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: pb_grpc.TrackerStub | None = None
        self._resolved: Settings | None = settings if settings.address else None

    @classmethod
    def connect(cls, address: str | None = None, token: str | None = None, ca_file: str | None = None,
                timeout: float = UNARY_TIMEOUT) -> "Client":
        """A client for scripts: the arguments, else TAILRUN_ADDRESS / TAILRUN_TOKEN / TAILRUN_CA,
        else the per-user local service if it runs (ServiceUnavailable otherwise, at the first call)."""
        return cls(Settings.resolve(address=address, token=token, ca_file=ca_file), timeout=timeout)

    @property
    def address(self) -> str:
        if self._resolved is None:
            self._resolved = resolve_read_settings(self.settings, self.start_local)
        return self._resolved.address or ""

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return call_metadata(self._resolved or self.settings)

    def _tracker(self) -> pb_grpc.TrackerStub:
        with self._lock:
            if self._stub is None:
                self.address  # resolves the local service when no address is configured
                assert self._resolved is not None
                self._channel = open_channel(self._resolved)
                self._stub = pb_grpc.TrackerStub(self._channel)
            return self._stub

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._stub = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ error translation

    def _error(self, exc: grpc.RpcError, what: str, run_id: str | None = None) -> ServiceError:
        code = exc.code() if hasattr(exc, "code") else None
        details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
        if code == grpc.StatusCode.UNAVAILABLE:
            hint = tls_hint(self._resolved or self.settings, details) or " (is `tailrun server` running there?)"
            return ServiceUnavailable(f"cannot reach the tailrun service at {self.address}: {details}{hint}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return ServiceUnavailable(f"the tailrun service at {self.address} did not answer {what} in time")
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return AuthenticationError(f"the tailrun service at {self.address} refused {what}: {details} "
                                       "(check TAILRUN_TOKEN, --token or Workspace(token=...))")
        if code == grpc.StatusCode.NOT_FOUND:
            if run_id is not None and "file" not in what:
                return RunNotFound(f"no run {run_id!r} on the tailrun service at {self.address}: {details}")
            return NotFound(f"{what}: {details}")
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidRequest(f"{what}: {details}")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return NotSupported(f"the tailrun service at {self.address} does not offer {what} "
                                f"(an older version?): {details}")
        return ServiceError(f"{what} failed on the tailrun service at {self.address}: "
                            f"{code.name if code else 'error'}: {details}")

    def _unary(self, method: str, request: Any, what: str, run_id: str | None = None) -> Any:
        call: Callable[..., Any] = getattr(self._tracker(), method)
        try:
            return call(request, timeout=self.timeout, metadata=self._metadata())
        except grpc.RpcError as exc:
            raise self._error(exc, what, run_id) from None

    def _stream(self, method: str, request: Any, what: str, run_id: str | None = None,
                timeout: float | None = None) -> Iterator[Any]:
        call = getattr(self._tracker(), method)
        responses = call(request, timeout=timeout, metadata=self._metadata())
        try:
            yield from responses
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise self._error(exc, what, run_id) from None
        finally:
            responses.cancel()

    # ------------------------------------------------------------------ experiments and runs

    def list_experiments(self, view_type: str = "ActiveOnly", name: str = "") -> list[pb.Experiment]:
        req = pb.ListExperimentsRequest(view_type=view_type, name=name)
        return list(self._unary("ListExperiments", req, "listing experiments").experiments)

    def get_experiment(self, name: str) -> pb.Experiment | None:
        """The experiment of that name, archived or not; None when there is none."""
        found = self.list_experiments(view_type="All", name=name)
        return found[0] if found else None

    def set_experiment_archived(self, name: str, experiment_id: str, archived: bool) -> pb.Experiment:
        req = pb.SetExperimentArchivedRequest(name=name, id=experiment_id, archived=archived)
        return self._unary("SetExperimentArchived", req, f"archiving experiment {name!r}")

    def list_runs(self, req: pb.ListRunsRequest | None = None, **fields: Any) -> list[pb.RunInfo]:
        """Every run of the list (all its pages)."""
        return list(self.iter_runs(req, **fields))

    def iter_runs(self, req: pb.ListRunsRequest | None = None, **fields: Any) -> Iterator[pb.RunInfo]:
        """The runs of the list page by page, asking for the next page only when it is reached.
        Lists leave out metric names and values unless asked (`select_metrics=False`)."""
        for page in self._run_pages(req, **fields):
            yield from page.runs

    def list_runs_and_metric_names(self, **fields: Any) -> RunListing:
        """Every run of the list, and the scalar metric names they have: with `metric_columns`,
        each run carries only the last values of those (a table's columns), and the names say
        which columns it can offer."""
        fields.setdefault("list_metric_names", True)
        listing, names = RunListing([], []), set()
        for page in self._run_pages(None, **fields):
            listing.runs += page.runs
            names.update(page.metric_names)
        listing.metric_names = sorted(names)
        return listing

    def _run_pages(self, req: pb.ListRunsRequest | None, **fields: Any) -> Iterator[pb.ListRunsResponse]:
        fields.setdefault("select_metrics", True)
        page_req = pb.ListRunsRequest()
        if req is not None:
            page_req.CopyFrom(req)
        else:
            page_req = pb.ListRunsRequest(**fields)
        while True:
            page = self._unary("ListRuns", page_req, "listing runs")
            yield page
            if not page.next_page_token:
                return
            page_req.page_token = page.next_page_token

    def get_run(self, run_id: str) -> pb.RunInfo:
        return self._unary("GetRun", pb.GetRunRequest(run_id=run_id), f"reading run {run_id!r}", run_id)

    def cancel_run(self, run_id: str) -> pb.RunInfo:
        return self._unary("CancelRun", pb.CancelRunRequest(run_id=run_id), f"canceling run {run_id!r}", run_id)

    # ------------------------------------------------------------------ metrics

    def get_metrics(self, run_id: str, name: str = "", system: bool = False,
                    max_rows: int = 0) -> list[pb.MetricPoints]:
        """Every stored chunk of the run's metrics (or of one metric), in logged order; with
        `system`, of its system metrics instead (stored names: "system/cpu_percent"). With
        `max_rows`, whole chunks until about that many rows (a table's or images' first rows),
        within a deadline of a few unary calls."""
        req = pb.GetMetricsRequest(run_id=run_id, name=name, batched=True, system=system)
        chunks: list[pb.MetricPoints] = []
        rows = 0
        stream = self._stream("GetMetrics", req, f"reading metrics of run {run_id!r}", run_id,
                              timeout=self.timeout * 4 if max_rows else None)
        try:
            for data in stream:
                for points in data.batch if data.batch else [data.points]:
                    chunks.append(points)
                    rows += max(len(points.times), max((len(c.values) for c in points.columns), default=0))
                if max_rows and rows >= max_rows:
                    break
        finally:
            stream.close()   # cancels the call when it stopped early
        return chunks

    def get_series(self, req: pb.SeriesRequest | None = None, **fields: Any) -> pb.SeriesResponse:
        req = req if req is not None else pb.SeriesRequest(**fields)
        return self._unary("GetSeries", req, f"reading series {req.name!r} of run {req.run_id!r}", req.run_id)

    def get_plot_series(self, run_id: str, name: str, max_points: int, tail: int = 0,
                        with_times: bool = False) -> tuple[pb.SeriesResponse, tuple[float, ...] | None]:
        """A series to draw in about `max_points` points, and its true last point (x, y[, time])
        when the answer is downsampled (min/max buckets need not keep it): one more small query
        that reads only the last chunk."""
        resp = self.get_series(run_id=run_id, name=name, max_points=max(2, max_points), tail=tail,
                               with_times=with_times)
        last = None
        if resp.downsampled:
            end = self.get_series(run_id=run_id, name=name, max_points=2, tail=1, with_times=with_times)
            if end.y and end.y[-1] == end.y[-1]:   # a None/str last value is no number to show
                last = (end.x[-1], end.y[-1], *end.t[-1:])
        return resp, last

    # ------------------------------------------------------------------ files and output

    def list_files(self, run_id: str, prefix: str = "") -> list[pb.FileInfo]:
        req = pb.ListFilesRequest(run_id=run_id, prefix=prefix)
        return list(self._unary("ListFiles", req, f"listing files of run {run_id!r}", run_id).files)

    def read_file(self, run_id: str, path: str, offset: int = 0, limit: int = 0) -> Iterator[bytes]:
        """The file's bytes, chunk by chunk."""
        req = pb.ReadFileRequest(run_id=run_id, path=path, offset=offset, limit=limit)
        for chunk in self._stream("ReadFile", req, f"reading file {path!r} of run {run_id!r}", run_id):
            if chunk.data:
                yield chunk.data

    def read_file_bytes(self, run_id: str, path: str, offset: int = 0, limit: int = 0) -> bytes:
        return b"".join(self.read_file(run_id, path, offset, limit))

    def read_output(self, run_id: str, offset: int = 0, tail_bytes: int = 0) -> pb.OutputText:
        req = pb.ReadOutputRequest(run_id=run_id, offset=offset, tail_bytes=tail_bytes)
        return self._unary("ReadOutput", req, f"reading the output of run {run_id!r}", run_id)

    # ------------------------------------------------------------------ models

    def _model_error(self, exc: grpc.RpcError, what: str) -> ServiceError:
        """Azure ML's exceptions for a missing model or model_path (the service's message as is)."""
        details = (exc.details() if hasattr(exc, "details") else None) or ""
        if exc.code() == grpc.StatusCode.NOT_FOUND and details.startswith("ModelNotFound"):
            return ModelNotFoundException(details)
        if exc.code() == grpc.StatusCode.NOT_FOUND and details.startswith("Could not locate the provided model_path"):
            return ModelPathNotFoundException(details)
        return self._error(exc, what)

    def _model_call(self, method: str, request: Any, what: str, unbounded: bool = False) -> Any:
        try:
            return getattr(self._tracker(), method)(request, timeout=None if unbounded else self.timeout,
                                                    metadata=self._metadata())
        except grpc.RpcError as exc:
            raise self._model_error(exc, what) from None

    def register_model(self, requests: Iterator[pb.RegisterModelRequest], name: str) -> pb.ModelInfo:
        """RegisterModel: `requests` is the spec, then the files' chunks (none: the run's files).
        No deadline: a large model takes as long as its upload."""
        return self._model_call("RegisterModel", requests, f"registering model {name!r}", unbounded=True)

    def get_model(self, name: str, version: int = 0) -> pb.ModelInfo:
        return self._model_call("GetModel", pb.GetModelRequest(name=name, version=version),
                                f"reading model {name!r}")

    def list_models(self, req: pb.ListModelsRequest | None = None, **fields: Any) -> list[pb.ModelInfo]:
        """The registered model versions that match (`run_id=`: those registered from that run)."""
        req = req if req is not None else pb.ListModelsRequest(**fields)
        return list(self._model_call("ListModels", req, "listing models").models)

    def update_model(self, req: pb.UpdateModelRequest) -> pb.ModelInfo:
        return self._model_call("UpdateModel", req, f"updating model {req.name}:{req.version}")

    def download_model(self, name: str, version: int) -> Iterator[pb.FileChunk]:
        """The files of one version, chunk by chunk (each file's last chunk has `last`)."""
        call = self._tracker().DownloadModel(pb.GetModelRequest(name=name, version=version),
                                             metadata=self._metadata())
        try:
            yield from call
        except grpc.RpcError as exc:
            raise self._model_error(exc, f"downloading model {name}:{version}") from None
        finally:
            call.cancel()

    # ------------------------------------------------------------------ snapshots

    def put_snapshot(self, run_id: str, zipped: IO[bytes]) -> pb.SnapshotInfo:
        """Send a zip (read from `zipped` in 1 MiB chunks) as a snapshot of the run."""
        def chunks() -> Iterator[pb.SnapshotChunk]:
            yield pb.SnapshotChunk(run_id=run_id, data=zipped.read(CHUNK_BYTES))
            while data := zipped.read(CHUNK_BYTES):
                yield pb.SnapshotChunk(data=data)

        try:
            return self._tracker().PutSnapshot(chunks(), timeout=TRANSFER_TIMEOUT, metadata=self._metadata())
        except grpc.RpcError as exc:
            raise self._error(exc, f"taking a snapshot of run {run_id!r}", run_id) from None

    def read_snapshot(self, run_id: str = "", snapshot_id: str = "") -> Iterator[bytes]:
        """The zip of a snapshot (by id, or the run's own), chunk by chunk."""
        req = pb.ReadSnapshotRequest(run_id=run_id, snapshot_id=snapshot_id)
        what = f"reading snapshot {snapshot_id!r}" if snapshot_id else f"reading the snapshot of run {run_id!r}"
        for chunk in self._stream("ReadSnapshot", req, what, None, timeout=TRANSFER_TIMEOUT):
            yield chunk.data

    # ------------------------------------------------------------------ environments

    def register_environment(self, name: str, definition_json: str) -> pb.EnvironmentInfo:
        req = pb.RegisterEnvironmentRequest(name=name, definition_json=definition_json)
        return self._unary("RegisterEnvironment", req, f"registering environment {name!r}")

    def get_environment(self, name: str, version: int = 0) -> pb.EnvironmentInfo:
        """Version 0 = the latest."""
        what = f"reading environment {name!r}" + (f" version {version}" if version else "")
        return self._unary("GetEnvironment", pb.GetEnvironmentRequest(name=name, version=version), what)

    def list_environments(self, name: str = "", latest: bool = False) -> list[pb.EnvironmentInfo]:
        req = pb.ListEnvironmentsRequest(name=name, latest=latest)
        return list(self._unary("ListEnvironments", req, "listing environments").environments)

    # ------------------------------------------------------------------ compute targets

    def list_compute_targets(self) -> list[pb.ComputeTargetInfo]:
        """The service's compute targets (`local` first) with their live state."""
        return list(self._unary("ListComputeTargets", pb.ListComputeTargetsRequest(),
                                "listing compute targets").targets)

    # ------------------------------------------------------------------ live events

    def watch(self, req: pb.WatchRequest | None = None, **fields: Any) -> "Watch":
        """Iterate the live events of a run or experiment over one stream (it ends when the
        connection does); `.cancel()` (from any thread) ends it."""
        req = req if req is not None else pb.WatchRequest(**fields)
        call = self._tracker().Watch(req, metadata=self._metadata())
        return Watch(self, call, req)

    def follow(self, req: pb.WatchRequest | None = None, *, markers: bool = False,
               give_up_after: float | None = None,
               on_state: Callable[["FollowState"], None] | None = None, **fields: Any) -> "Follow":
        """Like `watch`, across reconnects: see `Follow`."""
        req = req if req is not None else pb.WatchRequest(**fields)
        return Follow(self, req, markers=markers, give_up_after=give_up_after, on_state=on_state)


class Watch:
    """An open `Watch` stream: iterate it for `pb.WatchEvent`s; `cancel()` stops it cleanly."""

    def __init__(self, client: Client, call: Any, req: pb.WatchRequest) -> None:
        self._client, self._call, self._req = client, call, req

    def __iter__(self) -> Iterator[pb.WatchEvent]:
        try:
            yield from self._call
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise self._client._error(exc, "watching run events", self._req.run_id or None) from None

    def cancel(self) -> None:
        self._call.cancel()


@dataclass(frozen=True)
class FollowState:
    """Where a `Follow` stands: connecting | live | disconnected (retrying at `retry_at`) |
    refused (the token) | failed (a request no retry can fix, or it gave up) | stopped."""
    kind: str = "connecting"
    message: str = ""              # why it is disconnected, refused or failed
    retry_at: float = 0.0          # time.monotonic() of the next attempt (disconnected)
    generation: int = 0            # bumps when a (re)connected stream brings its first event

    def retry_in(self) -> int:
        return max(0, round(self.retry_at - time.monotonic()))


# Errors about the request itself: reconnecting would get the same answer.
_FINAL = (AuthenticationError, NotFound, InvalidRequest, NotSupported)


class Follow:
    """One Watch request followed until `stop()`: iterating it yields the events of stream after
    stream, reconnecting with backoff (1, 2, 4 … 8 s) and resuming after the last cursor, so a
    restarted service loses and repeats nothing. Each connection first replays what came after
    the cursor, then sends a `caught_up` marker: `caught_up` says whether the current connection's
    came (an event seen before it may be old), and the markers themselves are yielded only with
    `markers`. A refused token raises `AuthenticationError`, a
    request the service rejects its error; with `give_up_after`, the last error once the service
    stayed unreachable that many seconds. `stop()` from any thread ends the iteration cleanly.
    `state` (and `on_state`, called on each change from the iterating thread) say where it stands."""

    def __init__(self, client: Client, req: pb.WatchRequest, markers: bool = False,
                 give_up_after: float | None = None,
                 on_state: Callable[[FollowState], None] | None = None) -> None:
        self._client, self._request = client, req
        self.cursor = req.cursor
        self.markers = markers
        self.caught_up = False
        self.give_up_after = give_up_after
        self._on_state = on_state
        self._state = FollowState()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: Watch | None = None

    @property
    def state(self) -> FollowState:
        with self._lock:
            return self._state

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            watch = self._watch
        if watch is not None:
            watch.cancel()

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._state = state = replace(self._state, **changes)
        if self._on_state is not None:
            self._on_state(state)

    def __iter__(self) -> Iterator[pb.WatchEvent]:
        backoff, down_since = BACKOFF_START, None
        try:
            while not self._stop.is_set():
                req = pb.WatchRequest()
                req.CopyFrom(self._request)
                req.cursor = self.cursor
                watch = None
                try:
                    watch = self._client.watch(req)
                    with self._lock:
                        self._watch = watch
                    if self._stop.is_set():   # stop() came while the call was being opened
                        break
                    for event in watch:
                        self.cursor = max(self.cursor, event.cursor)
                        if self._state.kind != "live":
                            backoff, down_since, self.caught_up = BACKOFF_START, None, False
                            self._set(kind="live", message="", generation=self._state.generation + 1)
                        if event.caught_up:
                            self.caught_up = True
                            if not self.markers:
                                continue
                        yield event
                    # The service ended the stream (a shutdown): reconnect as after any drop.
                    error: ServiceError = ServiceUnavailable(
                        f"the tailrun service at {self._client.address} closed the stream")
                except _FINAL as exc:
                    if not self._stop.is_set():
                        kind = "refused" if isinstance(exc, AuthenticationError) else "failed"
                        self._set(kind=kind, message=str(exc))
                        raise
                    error = exc
                except ServiceError as exc:
                    error = exc
                finally:
                    with self._lock:
                        self._watch = None
                    if watch is not None:
                        watch.cancel()
                if self._stop.is_set():
                    break
                now = time.monotonic()
                down_since = down_since if down_since is not None else now
                if self.give_up_after is not None and now - down_since >= self.give_up_after:
                    self._set(kind="failed", message=str(error))
                    raise error
                self._set(kind="disconnected", message=str(error), retry_at=now + backoff)
                if self._stop.wait(backoff):
                    break
                backoff = min(BACKOFF_MAX, backoff * 2)
                self._set(kind="connecting", message="")
        finally:
            if self._state.kind not in ("refused", "failed"):
                self._set(kind="stopped", message="")
