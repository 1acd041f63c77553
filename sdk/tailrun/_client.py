"""Reads from the service: unary queries, the streamed metric and file reads, and `Watch`.

Used by `Run`'s read methods, `Experiment`, the CLI and RunDetails. Writes never come through
here (they go through the recorder's queue). gRPC errors become `tailrun.exceptions` with a
message that names the address and what to do, instead of a raw `_InactiveRpcError`.
"""
from __future__ import annotations

import threading
from typing import IO, Any, Callable, Iterator, TypeVar

import grpc

from ._channel import call_metadata, open_channel, tls_hint
from ._settings import Settings
from .exceptions import (AuthenticationError, InvalidRequest, ModelNotFoundException,
                         ModelPathNotFoundException, NotFound, RunNotFound, ServiceError,
                         ServiceUnavailable)
from .v1 import tailrun_pb2 as pb
from .v1 import tailrun_pb2_grpc as pb_grpc
from .wire import CHUNK_BYTES

T = TypeVar("T")
UNARY_TIMEOUT = 60.0
TRANSFER_TIMEOUT = 600.0      # a snapshot: up to 300 MB each way


def resolve_read_settings(settings: Settings, start_local: bool = False) -> Settings:
    """Where to send queries: the configured address, else the per-user local service if it runs.

    Only a Workspace's client starts the local service (`start_local`): its calls also submit and
    register, and list compute targets, which a new service can answer. The query commands and
    RunDetails never start one (an empty new service could not answer them)."""
    if settings.address:
        return settings
    from ._local import local_service, server_installed, start_local_service
    from ._settings import home_dir
    found = local_service(home_dir())
    if not found and start_local and server_installed():
        found = start_local_service(home_dir())
    if not found:
        raise ServiceUnavailable(
            "no tailrun service is configured or running: set TAILRUN_ADDRESS, pass "
            "Workspace(address=...) or --address, or start one with `tailrun server`")
    return Settings(found[0], settings.token or found[1], settings.ca_file)


class Client:
    """A lazily connected client of the Tracker service. Thread-safe; one channel per client."""

    def __init__(self, settings: Settings, start_local: bool = False) -> None:
        self.settings = settings
        self.start_local = start_local
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._stub: pb_grpc.TrackerStub | None = None
        self._resolved: Settings | None = settings if settings.address else None

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
                                       "(check TAILRUN_TOKEN or Workspace(token=...))")
        if code == grpc.StatusCode.NOT_FOUND:
            if run_id is not None and "file" not in what:
                return RunNotFound(f"no run {run_id!r} on the tailrun service at {self.address}: {details}")
            return NotFound(f"{what}: {details}")
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidRequest(f"{what}: {details}")
        return ServiceError(f"{what} failed on the tailrun service at {self.address}: "
                            f"{code.name if code else 'error'}: {details}")

    def _unary(self, method: str, request: Any, what: str, run_id: str | None = None) -> Any:
        call: Callable[..., Any] = getattr(self._tracker(), method)
        try:
            return call(request, timeout=UNARY_TIMEOUT, metadata=self._metadata())
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

    def set_experiment_archived(self, name: str, experiment_id: str, archived: bool) -> pb.Experiment:
        req = pb.SetExperimentArchivedRequest(name=name, id=experiment_id, archived=archived)
        return self._unary("SetExperimentArchived", req, f"archiving experiment {name!r}")

    def list_runs(self, req: pb.ListRunsRequest | None = None, **fields: Any) -> list[pb.RunInfo]:
        """Every run of the list (all its pages)."""
        return list(self.iter_runs(req, **fields))

    def iter_runs(self, req: pb.ListRunsRequest | None = None, **fields: Any) -> Iterator[pb.RunInfo]:
        """The runs of the list page by page, asking for the next page only when it is reached.
        Lists leave out metric names and values unless asked (`select_metrics=False`)."""
        fields.setdefault("select_metrics", True)
        page_req = pb.ListRunsRequest()
        if req is not None:
            page_req.CopyFrom(req)
        else:
            page_req = pb.ListRunsRequest(**fields)
        while True:
            page = self._unary("ListRuns", page_req, "listing runs")
            yield from page.runs
            if not page.next_page_token:
                return
            page_req.page_token = page.next_page_token

    def get_run(self, run_id: str) -> pb.RunInfo:
        return self._unary("GetRun", pb.GetRunRequest(run_id=run_id), f"reading run {run_id!r}", run_id)

    def cancel_run(self, run_id: str) -> pb.RunInfo:
        return self._unary("CancelRun", pb.CancelRunRequest(run_id=run_id), f"canceling run {run_id!r}", run_id)

    # ------------------------------------------------------------------ metrics

    def get_metrics(self, run_id: str, name: str = "", system: bool = False) -> list[pb.MetricPoints]:
        """Every stored chunk of the run's metrics (or of one metric), in logged order; with
        `system`, of its system metrics instead (stored names: "system/cpu_percent")."""
        req = pb.GetMetricsRequest(run_id=run_id, name=name, batched=True, system=system)
        chunks: list[pb.MetricPoints] = []
        for data in self._stream("GetMetrics", req, f"reading metrics of run {run_id!r}", run_id):
            chunks += data.batch if data.batch else [data.points]
        return chunks

    def get_series(self, req: pb.SeriesRequest) -> pb.SeriesResponse:
        return self._unary("GetSeries", req, f"reading series {req.name!r} of run {req.run_id!r}", req.run_id)

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

    def read_file_bytes(self, run_id: str, path: str) -> bytes:
        return b"".join(self.read_file(run_id, path))

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

    def _model_call(self, method: str, request: Any, what: str, timeout: float | None = UNARY_TIMEOUT) -> Any:
        try:
            return getattr(self._tracker(), method)(request, timeout=timeout, metadata=self._metadata())
        except grpc.RpcError as exc:
            raise self._model_error(exc, what) from None

    def register_model(self, requests: Iterator[pb.RegisterModelRequest], name: str) -> pb.ModelInfo:
        """RegisterModel: `requests` is the spec, then the files' chunks (none: the run's files).
        No deadline: a large model takes as long as its upload."""
        return self._model_call("RegisterModel", requests, f"registering model {name!r}", timeout=None)

    def get_model(self, name: str, version: int = 0) -> pb.ModelInfo:
        return self._model_call("GetModel", pb.GetModelRequest(name=name, version=version),
                                f"reading model {name!r}")

    def list_models(self, req: pb.ListModelsRequest) -> list[pb.ModelInfo]:
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
        """Iterate the live events of a run or experiment; `.cancel()` (from any thread) ends it."""
        req = req if req is not None else pb.WatchRequest(**fields)
        call = self._tracker().Watch(req, metadata=self._metadata())
        return Watch(self, call, req)


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
