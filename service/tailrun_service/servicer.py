"""The Tracker servicer: a thin translation of RPCs into Store (and Runner) calls.

Domain errors become status codes with their message (NotFound -> NOT_FOUND, InvalidArgument ->
INVALID_ARGUMENT, PermissionDenied -> PERMISSION_DENIED); anything else is logged and answered
with a short INTERNAL, so one bad request never takes the server down.

Register the servicer with `add_to_server`, not the generated `add_TrackerServicer_to_server`:
the generated handlers answer a message that does not parse (random bytes, a string field that is
not valid UTF-8) with grpc's INTERNAL "Exception deserializing request!"; ours answer
INVALID_ARGUMENT naming the message type.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Iterator

import grpc
from google.protobuf.message import DecodeError

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

from .auth import FULL_ACCESS, Caller, RunScope, TokenAuth
from .errors import InvalidArgument, NotFound, PermissionDenied, SeqGap, Unavailable

log = logging.getLogger(__name__)

FILE_CHUNK_BYTES = 1024 * 1024          # ReadFile answers in chunks of at most this
MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024  # a submitted source folder, zipped
WATCH_POLL_SECONDS = 1.0                # how long Watch waits for a change before re-checking the client
CHILDREN_REFRESH_SECONDS = 5.0          # safety net: re-query a watched run's children this often
WATCH_KINDS = {"status": "run", "metrics": "metrics", "output": "output", "files": "file"}
EVENTS_PAGE = 500                       # events per store query; a full page means more backlog
# Error messages echo the offending values, which a client may make huge; grpc carries the message
# in a header limited to 8 KiB (percent-encoded: up to 12 bytes per character), so cut it short.
MAX_MESSAGE_CHARS = 500


class Unimplemented(Exception):
    """The service was started without the part this RPC needs."""


class ShuttingDown(Exception):
    """The server is stopping: clients should reconnect (to this service once restarted)."""


_STATUS_OF = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unimplemented, grpc.StatusCode.UNIMPLEMENTED),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (SeqGap, grpc.StatusCode.FAILED_PRECONDITION),
)


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS] + "… (cut)"


def _reject_nul(request: Any) -> None:
    """Refuse a query whose strings hold a NUL: it names nothing, and PostgreSQL refuses it as a
    parameter (an error the client should see as INVALID_ARGUMENT, not INTERNAL)."""
    for field, value in request.ListFields():
        if field.message_type is not None:
            if not field.message_type.GetOptions().map_entry:
                continue
            texts = [t for pair in value.items() for t in pair if isinstance(t, str)]
        elif field.type == field.TYPE_STRING:
            texts = [value] if isinstance(value, str) else list(value)
        else:
            continue
        if any("\0" in text for text in texts):
            raise InvalidArgument(f"{type(request).__name__}.{field.name} contains a NUL character")


def _require(value: str, what: str) -> str:
    if not value:
        raise InvalidArgument(f"{what} is required")
    return value


class Tracker(pb_grpc.TrackerServicer):
    """Implements tailrun.v1.Tracker over a `Store`; `runner` runs submitted scripts (or None)."""

    def __init__(self, store: Any, runner: Any = None, auth: TokenAuth | None = None,
                 stopping: threading.Event | None = None) -> None:
        self.store = store
        self.runner = runner
        self.auth = auth or TokenAuth(None)
        self.stopping = stopping or threading.Event()
        self.max_snapshot_bytes = MAX_SNAPSHOT_BYTES
        self._active = 0
        self._active_changed = threading.Condition()

    # ------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _guard(self, context: grpc.ServicerContext, rpc: str) -> Iterator[None]:
        """Map errors to status codes, and count in-flight calls (so shutdown can wait for them)."""
        with self._active_changed:
            self._active += 1
        try:
            yield
        except tuple(exc for exc, _ in _STATUS_OF) as exc:
            code = next(code for cls, code in _STATUS_OF if isinstance(exc, cls))
            context.abort(code, _short(str(exc)) or code.name)
        except grpc.RpcError as exc:
            # Reading a request stream whose client went away (cancelled, disconnected, shutdown):
            # nothing to answer and nothing lost, since only committed batches were acknowledged.
            if context.is_active():
                log.exception("%s failed", rpc)
                context.abort(grpc.StatusCode.INTERNAL, f"{rpc} failed: {str(exc)[:200]}")
            log.debug("%s: the client went away: %s", rpc, exc)
        except Exception as exc:
            log.exception("%s failed", rpc)
            context.abort(grpc.StatusCode.INTERNAL, f"{rpc} failed: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            with self._active_changed:
                self._active -= 1
                self._active_changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in flight (after the server stopped accepting); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._active_changed:
            while self._active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._active_changed.wait(remaining)
        return True

    def _caller(self, context: grpc.ServicerContext) -> Caller:
        return self.auth.caller_of(context) if self.auth.token else FULL_ACCESS

    def _scope(self, caller: Caller) -> RunScope:
        return RunScope(caller.run_id or "", self._parent_of)

    def _parent_of(self, run_id: str) -> str | None:
        try:
            return self.store.get_run(run_id).parent_run_id
        except NotFound:
            return None

    # ------------------------------------------------------------------ ingest

    def Ingest(self, request_iterator: Iterator[pb.IngestRequest], context: grpc.ServicerContext):
        with self._guard(context, "Ingest"):
            caller = self._caller(context)
            scope = self._scope(caller) if caller.is_run_scoped else None
            # One request at a time: grpc reads the next message only when we ask for it.
            for request in request_iterator:
                if self.stopping.is_set():
                    raise ShuttingDown("the service is shutting down; re-send after reconnecting")
                writer = _require(request.writer, "IngestRequest.writer")
                if request.seq == 0:
                    if request.events:
                        raise InvalidArgument("an IngestRequest with seq 0 is a handshake and carries no events")
                    committed = self.store.committed_seq(writer, principal=caller.principal)
                    yield pb.IngestAck(writer=writer, committed_seq=committed)
                    continue
                allowed = None
                if scope is not None:
                    scope.prepare(request.events)
                    allowed = scope.allows_event
                result = self.store.apply_batch(writer, request.seq, request.events, allowed,
                                                principal=caller.principal)
                yield pb.IngestAck(writer=writer, committed_seq=result.committed_seq,
                                   rejected=[_short(line) for line in result.rejected])

    # ------------------------------------------------------------------ queries

    def ListExperiments(self, request: pb.ListExperimentsRequest, context: grpc.ServicerContext):
        with self._guard(context, "ListExperiments"):
            _reject_nul(request)
            experiments = self.store.list_experiments(request.view_type or "ActiveOnly", request.name)
            return pb.ListExperimentsResponse(experiments=experiments)

    def SetExperimentArchived(self, request: pb.SetExperimentArchivedRequest, context: grpc.ServicerContext):
        with self._guard(context, "SetExperimentArchived"):
            _reject_nul(request)
            if not request.name and not request.id:
                raise InvalidArgument("SetExperimentArchived needs an experiment name or id")
            return self.store.set_experiment_archived(request.name, request.id, request.archived)

    def ListRuns(self, request: pb.ListRunsRequest, context: grpc.ServicerContext):
        with self._guard(context, "ListRuns"):
            _reject_nul(request)
            return self.store.list_runs_page(request)

    def GetRun(self, request: pb.GetRunRequest, context: grpc.ServicerContext):
        with self._guard(context, "GetRun"):
            _reject_nul(request)
            return self.store.get_run(_require(request.run_id, "run_id"))

    def GetMetrics(self, request: pb.GetMetricsRequest, context: grpc.ServicerContext):
        with self._guard(context, "GetMetrics"):
            _reject_nul(request)
            yield from self.store.metric_data(_require(request.run_id, "run_id"), request.name, request.batched)

    def GetSeries(self, request: pb.SeriesRequest, context: grpc.ServicerContext):
        with self._guard(context, "GetSeries"):
            _reject_nul(request)
            _require(request.run_id, "run_id")
            _require(request.name, "metric name")
            return self.store.get_series(request)

    def ListFiles(self, request: pb.ListFilesRequest, context: grpc.ServicerContext):
        with self._guard(context, "ListFiles"):
            _reject_nul(request)
            files = self.store.list_files(_require(request.run_id, "run_id"), request.prefix)
            return pb.ListFilesResponse(files=files)

    def ReadFile(self, request: pb.ReadFileRequest, context: grpc.ServicerContext):
        with self._guard(context, "ReadFile"):
            _reject_nul(request)
            run_id = _require(request.run_id, "run_id")
            path = _require(request.path, "path")
            with self.store.open_file(run_id, path) as fh:
                # An offset past the end (up to 2**64-1) answers one empty last chunk at the end.
                offset = fh.seek(min(request.offset, fh.seek(0, 2)))
                left = request.limit or None
                while True:
                    size = FILE_CHUNK_BYTES if left is None else min(FILE_CHUNK_BYTES, left)
                    data = fh.read(size)
                    if left is not None:
                        left -= len(data)
                    last = len(data) < size or left == 0
                    yield pb.FileChunk(run_id=run_id, path=path, offset=offset, data=data, last=last)
                    offset += len(data)
                    if last or not context.is_active():
                        return

    def ReadOutput(self, request: pb.ReadOutputRequest, context: grpc.ServicerContext):
        with self._guard(context, "ReadOutput"):
            _reject_nul(request)
            _require(request.run_id, "run_id")
            return self.store.read_output(request)

    # ------------------------------------------------------------------ watch

    def Watch(self, request: pb.WatchRequest, context: grpc.ServicerContext):
        with self._guard(context, "Watch"):
            _reject_nul(request)
            yield from _Watch(self, request, context).events()

    # ------------------------------------------------------------------ submitted runs

    def SubmitRun(self, request_iterator: Iterator[pb.SubmitRequest], context: grpc.ServicerContext):
        with self._guard(context, "SubmitRun"):
            first = next(request_iterator, None)
            if first is None or first.WhichOneof("part") != "spec":
                raise InvalidArgument("SubmitRun: the first message must be a SubmitSpec")
            spec = first.spec
            _reject_nul(spec)
            _require(spec.experiment, "SubmitSpec.experiment")
            caller = self._caller(context)
            if caller.is_run_scoped:  # submitting runs code on this machine: the service's token only
                raise PermissionDenied("submitting a run needs the service's token; a run's own token "
                                       "may only write that run")
            if self.runner is None:
                raise Unimplemented("this service does not run scripts")
            snapshot = bytearray()
            for part in request_iterator:
                if part.WhichOneof("part") != "snapshot_chunk":
                    raise InvalidArgument("SubmitRun: only snapshot chunks may follow the SubmitSpec")
                snapshot += part.snapshot_chunk
                if len(snapshot) > self.max_snapshot_bytes:
                    raise InvalidArgument(f"SubmitRun: the snapshot is over the limit of "
                                          f"{self.max_snapshot_bytes // (1024 * 1024)} MiB")
            return self.runner.submit(spec, bytes(snapshot))

    def CancelRun(self, request: pb.CancelRunRequest, context: grpc.ServicerContext):
        with self._guard(context, "CancelRun"):
            _reject_nul(request)
            run_id = _require(request.run_id, "run_id")
            caller = self._caller(context)
            if caller.is_run_scoped and not self._scope(caller).contains(run_id):
                raise PermissionDenied(f"a run-scoped token may not cancel run {run_id!r}")
            if self.runner is None:
                raise Unimplemented("this service does not run scripts")
            return self.runner.cancel(run_id)


# ---------------------------------------------------------------- registration

SERVICE = pb.DESCRIPTOR.services_by_name["Tracker"]


class _Malformed:
    """What the lenient deserializer returns for bytes that are not a valid message."""
    __slots__ = ("message",)

    def __init__(self, type_name: str) -> None:
        self.message = (f"malformed {type_name}: not a valid protobuf message (bad wire format, "
                        f"or a string field that is not valid UTF-8)")


def _lenient_parser(cls: Any) -> Any:
    type_name = cls.DESCRIPTOR.full_name

    def parse(data: bytes) -> Any:
        try:
            return cls.FromString(data)
        except DecodeError:
            return _Malformed(type_name)
    return parse


def _checked(requests: Iterator[Any]) -> Iterator[Any]:
    """A request stream that raises InvalidArgument (inside the servicer's guard) at a malformed message."""
    for request in requests:
        if isinstance(request, _Malformed):
            raise InvalidArgument(request.message)
        yield request


def _handler(behavior: Any, client_streaming: bool, server_streaming: bool, request_cls: Any,
             response_cls: Any) -> grpc.RpcMethodHandler:
    kwargs = {"request_deserializer": _lenient_parser(request_cls),
              "response_serializer": response_cls.SerializeToString}
    if client_streaming:
        factory = (grpc.stream_stream_rpc_method_handler if server_streaming
                   else grpc.stream_unary_rpc_method_handler)
        return factory(lambda requests, context: behavior(_checked(requests), context), **kwargs)
    if server_streaming:
        def unary_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            if isinstance(request, _Malformed):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
            yield from behavior(request, context)
        return grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs)

    def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
        if isinstance(request, _Malformed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        return behavior(request, context)
    return grpc.unary_unary_rpc_method_handler(unary_unary, **kwargs)


def add_to_server(tracker: Tracker, server: grpc.Server) -> None:
    """Register `tracker` on `server` with handlers that answer unparsable requests INVALID_ARGUMENT."""
    handlers = {
        method.name: _handler(getattr(tracker, method.name), method.client_streaming,
                              method.server_streaming, getattr(pb, method.input_type.name),
                              getattr(pb, method.output_type.name))
        for method in SERVICE.methods
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))


class _Watch:
    """One Watch stream: the backlog after the cursor, one caught_up marker, then live events."""

    def __init__(self, tracker: Tracker, request: pb.WatchRequest, context: grpc.ServicerContext) -> None:
        self.store = tracker.store
        self.stopping = tracker.stopping
        self.context = context
        self.request = request
        unknown = [k for k in request.kinds if k not in WATCH_KINDS]
        if unknown:
            raise InvalidArgument(f"unknown watch kind(s) {', '.join(map(repr, unknown))}; "
                                  f"use {', '.join(WATCH_KINDS)}")
        self.kinds = list(request.kinds) or None
        self.payloads = {WATCH_KINDS[k] for k in request.kinds} or set(WATCH_KINDS.values())
        self.experiment = request.experiment or None
        self.run_ids: set[str] | None = None
        self.tree = bool(request.run_id and request.include_children)
        if request.run_id:
            run = self.store.get_run(request.run_id)   # NotFound for a wrong id
            self.run_ids = {request.run_id}
            if self.tree:
                # Children are found by their `run` events, which need the whole experiment.
                self.experiment = run.experiment
                self._refresh_children()
        self.cursor = request.cursor
        if self.cursor == 0 and not request.from_start:
            self.cursor = self.store.last_event_id()
        elif self.cursor:
            # A cursor from another service's database would wait forever for events that never come.
            newest = self.store.last_event_id()
            if self.cursor > newest:
                raise InvalidArgument(f"cursor {self.cursor} is past the newest event ({newest}) of this "
                                      "service; watch again from cursor 0")

    def _refresh_children(self) -> None:
        req = pb.ListRunsRequest(parent_run_id=self.request.run_id, recursive=True)
        assert self.run_ids is not None
        self.run_ids.update(run.run_id for run in self.store.list_runs(req))
        self.refreshed = time.monotonic()

    def _page(self) -> list[pb.WatchEvent]:
        if not self.tree:
            return self.store.events_after(self.cursor, list(self.run_ids) if self.run_ids else None,
                                           self.experiment, self.kinds, limit=EVENTS_PAGE)
        return self.store.events_after(self.cursor, None, self.experiment, None, limit=EVENTS_PAGE)

    def _wanted(self, event: pb.WatchEvent) -> bool:
        if not self.tree:
            return True
        assert self.run_ids is not None
        kind = event.WhichOneof("kind")
        if kind == "run" and event.run_id not in self.run_ids and event.run.parent_run_id in self.run_ids:
            self.run_ids.add(event.run_id)   # a new child (or grandchild) of the watched run
        return event.run_id in self.run_ids and kind in self.payloads

    def events(self) -> Iterator[pb.WatchEvent]:
        caught_up = False
        while self.context.is_active():
            if self.stopping.is_set():
                raise ShuttingDown(f"the service is shutting down; resume from cursor {self.cursor}")
            page = self._page()
            for event in page:
                self.cursor = max(self.cursor, event.cursor)
                if self._wanted(event):
                    yield event
            if len(page) >= EVENTS_PAGE:
                continue   # more backlog
            if not caught_up:
                caught_up = True
                yield pb.WatchEvent(caught_up=True, cursor=self.cursor)
            if self.tree and time.monotonic() - self.refreshed > CHILDREN_REFRESH_SECONDS:
                self._refresh_children()
            self.store.wait_for_change(self.cursor, timeout=WATCH_POLL_SECONDS)
