"""The Tracker servicer: a thin translation of RPCs into Store (and Runner) calls, on grpc's
asyncio server.

A stream costs no thread while it waits: Ingest awaits its next request, Watch awaits the
WatchFeed's wake-up. Store and runner calls block (SQLAlchemy, files), so they run in bounded
thread pools: writes (Ingest batches, submissions), queries (GetRun, ListRuns, ...) and Watch
pages, so neither a burst of batches nor a commit that wakes a thousand watchers queues a query.

Domain errors become status codes with their message (NotFound -> NOT_FOUND, InvalidArgument ->
INVALID_ARGUMENT, PermissionDenied -> PERMISSION_DENIED, Unavailable -> UNAVAILABLE); anything
else is logged (once, then counted: see repeated_log.py) and answered with a short INTERNAL, so
one bad request never takes the server down.

Register it with registration.add_to_server (unparsable requests answer INVALID_ARGUMENT); one
Watch stream is a watch_session.WatchSession.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable

import grpc

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

from .auth import FULL_ACCESS, Caller, RunScope, TokenAuth
from .errors import InvalidArgument, NotFound, PermissionDenied, SeqGap, ShuttingDown, Unavailable
from .repeated_log import RepeatedErrorLog
from .snapshots import SnapshotRecorder, run_snapshot_id
from .watch_feed import WatchFeed
from .watch_session import WatchSession

log = logging.getLogger(__name__)

FILE_CHUNK_BYTES = 1024 * 1024          # ReadFile answers in chunks of at most this
MAX_SNAPSHOT_BYTES = 300 * 1024 * 1024  # a submitted source folder, zipped
# Blocking store calls at once, per kind; 16 in all, within PostgreSQL's pool (8 + 16 overflow),
# which the runner and the liveness monitor share. Writes are serialised by the database anyway.
WRITE_THREADS = 4
QUERY_THREADS = 8
WATCH_THREADS = 4
METRICS_PER_STEP = 64                   # GetMetrics: chunks read per trip to the query pool
BATCHES_PER_STEP = 4                    # ... or batched messages (~1 MiB each)
# Error messages echo the offending values, which a client may make huge; grpc carries the message
# in a header limited to 8 KiB (percent-encoded: up to 12 bytes per character), so cut it short.
MAX_MESSAGE_CHARS = 500
_STOP_CANCEL = "tailrun: the service is stopping"   # the cancel message that ends an idle stream


class Unimplemented(Exception):
    """The service was started without the part this RPC needs."""


_STATUS_OF = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (Unimplemented, grpc.StatusCode.UNIMPLEMENTED),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),
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


async def _first_spec(request_iterator: AsyncIterator[Any], method: str, spec_type: str) -> Any:
    """The spec that opens a client stream of spec-then-chunks messages (SubmitRun, RegisterModel),
    its strings checked by `_reject_nul`; InvalidArgument when the stream opens with anything else."""
    first = await anext(request_iterator, None)
    if first is None or first.WhichOneof("part") != "spec":
        raise InvalidArgument(f"{method}: the first message must be a {spec_type}")
    _reject_nul(first.spec)
    return first.spec


def _require(value: str, what: str) -> str:
    if not value:
        raise InvalidArgument(f"{what} is required")
    return value


class Tracker(pb_grpc.TrackerServicer):
    """Implements tailrun.v1.Tracker over a `Store`; `runner` runs submitted scripts (or None).
    Its handlers run on the server's event loop; `close()` after the server stopped."""

    def __init__(self, store: Any, runner: Any = None, auth: TokenAuth | None = None,
                 stopping: threading.Event | None = None, snapshots: Any = None) -> None:
        self.store = store
        self.runner = runner
        self.snapshots = snapshots   # a snapshots.SnapshotStore, or None: no snapshot RPCs
        self._snapshot_recorder = SnapshotRecorder(store) if snapshots is not None else None
        self.auth = auth or TokenAuth(None)
        self.stopping = stopping or threading.Event()
        self.max_snapshot_bytes = MAX_SNAPSHOT_BYTES
        self.errors = RepeatedErrorLog(log)
        self.feed = WatchFeed(store, self.errors)
        self._write_pool = ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="tailrun-write")
        self._query_pool = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="tailrun-query")
        self._watch_pool = ThreadPoolExecutor(WATCH_THREADS, thread_name_prefix="tailrun-watch")
        self._active = 0   # calls in flight plus blocking jobs still running in the pools
        self._active_changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None   # the server's, known from the first call
        self._idle_streams: set[asyncio.Task] = set()   # Ingest calls waiting for their next request

    # ------------------------------------------------------------------ plumbing

    def _enter(self) -> None:
        with self._active_changed:
            self._active += 1

    def _leave(self) -> None:
        with self._active_changed:
            self._active -= 1
            self._active_changed.notify_all()

    @contextlib.asynccontextmanager
    async def _guard(self, context: grpc.aio.ServicerContext, rpc: str) -> AsyncIterator[None]:
        """Map errors to status codes, and count in-flight calls (so shutdown can wait for them)."""
        self._enter()
        try:
            yield
        except grpc.aio.AbortError:
            raise   # already answered
        except tuple(exc for exc, _ in _STATUS_OF) as exc:
            code = next(code for cls, code in _STATUS_OF if isinstance(exc, cls))
            if isinstance(exc, Unavailable):   # the service cannot store now: say why, once
                self.errors.report(rpc, exc, traceback=False)
            await context.abort(code, _short(str(exc)) or code.name)
        except Exception as exc:
            self.errors.report(rpc, exc)
            await context.abort(grpc.StatusCode.INTERNAL,
                                f"{rpc} failed: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            self._leave()

    def _in_pool(self, pool: ThreadPoolExecutor, fn: Callable, args: tuple, kwargs: dict) -> asyncio.Future:
        """Run a blocking call in `pool`. It counts as in flight until it really ended, even when
        the awaiting call was cancelled meanwhile: shutdown waits for a batch being committed."""
        self._enter()
        try:
            job = pool.submit(fn, *args, **kwargs)
        except BaseException:
            self._leave()
            raise
        job.add_done_callback(lambda _job: self._leave())
        return asyncio.wrap_future(job)

    async def _blocking_write(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return await self._in_pool(self._write_pool, fn, args, kwargs)

    async def _blocking_read(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return await self._in_pool(self._query_pool, fn, args, kwargs)

    async def _blocking_watch(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return await self._in_pool(self._watch_pool, fn, args, kwargs)

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

    def begin_stop(self) -> None:
        """Streams end with UNAVAILABLE: those waiting (for a request, for a change) at once, the
        others at their next step. Thread-safe."""
        self.stopping.set()
        self.feed.wake_all()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._cut_idle_streams)

    def _cut_idle_streams(self) -> None:
        """On the loop: cancel the Ingest calls that wait for their next request (see _until_stopped)."""
        for task in self._idle_streams:
            task.cancel(_STOP_CANCEL)

    async def _until_stopped(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """A client's request stream that ends with ShuttingDown when the service begins to stop
        while waiting for the next request: an idle stream must not hold up a stop until the grace
        period ends. (A request cut off that way was not acknowledged; the client sends it again.)"""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        iterator = aiter(requests)
        while not self.stopping.is_set():
            self._idle_streams.add(task)
            try:
                request = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError as exc:
                if exc.args != (_STOP_CANCEL,):
                    raise   # the client went away
                task.uncancel()
                break
            finally:
                self._idle_streams.discard(task)
            yield request
        raise ShuttingDown("the service is shutting down; re-send after reconnecting")

    def close(self) -> None:
        """After the server stopped: end the feed thread and the pools, write pending error counts."""
        self.feed.close()
        for pool in (self._write_pool, self._query_pool, self._watch_pool):
            pool.shutdown(wait=True)
        self.errors.close()

    def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        return self.auth.caller_of(context) if self.auth.token else FULL_ACCESS

    def _scope(self, caller: Caller) -> RunScope:
        return RunScope(caller.run_id or "", self._parent_of)

    def _parent_of(self, run_id: str) -> str | None:
        try:
            return self.store.get_run(run_id).parent_run_id
        except NotFound:
            return None

    # ------------------------------------------------------------------ ingest

    async def Ingest(self, request_iterator: AsyncIterator[pb.IngestRequest], context: grpc.aio.ServicerContext):
        async with self._guard(context, "Ingest"):
            caller = self._caller(context)
            scope = self._scope(caller) if caller.is_run_scoped else None
            # One request at a time: grpc reads the next message only when we ask for it.
            async for request in self._until_stopped(request_iterator):
                writer = _require(request.writer, "IngestRequest.writer")
                if request.seq == 0:
                    if request.events:
                        raise InvalidArgument("an IngestRequest with seq 0 is a handshake and carries no events")
                    committed = await self._blocking_read(self.store.committed_seq, writer,
                                                          principal=caller.principal)
                    yield pb.IngestAck(writer=writer, committed_seq=committed)
                    continue
                allowed = None
                if scope is not None:
                    await self._blocking_read(scope.prepare, request.events)
                    allowed = scope.allows_event
                result = await self._blocking_write(self.store.apply_batch, writer, request.seq,
                                                    request.events, allowed, principal=caller.principal)
                yield pb.IngestAck(writer=writer, committed_seq=result.committed_seq,
                                   rejected=[_short(line) for line in result.rejected])

    # ------------------------------------------------------------------ queries

    async def ListExperiments(self, request: pb.ListExperimentsRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ListExperiments"):
            _reject_nul(request)
            experiments = await self._blocking_read(self.store.list_experiments,
                                                    request.view_type or "ActiveOnly", request.name)
            return pb.ListExperimentsResponse(experiments=experiments)

    async def SetExperimentArchived(self, request: pb.SetExperimentArchivedRequest,
                                    context: grpc.aio.ServicerContext):
        async with self._guard(context, "SetExperimentArchived"):
            _reject_nul(request)
            if not request.name and not request.id:
                raise InvalidArgument("SetExperimentArchived needs an experiment name or id")
            return await self._blocking_write(self.store.set_experiment_archived, request.name, request.id,
                                              request.archived)

    async def ListRuns(self, request: pb.ListRunsRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ListRuns"):
            _reject_nul(request)
            return await self._blocking_read(self.store.list_runs_page, request)

    async def GetRun(self, request: pb.GetRunRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "GetRun"):
            _reject_nul(request)
            return await self._blocking_read(self.store.get_run, _require(request.run_id, "run_id"))

    async def GetMetrics(self, request: pb.GetMetricsRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "GetMetrics"):
            _reject_nul(request)
            messages = self.store.metric_data(_require(request.run_id, "run_id"), request.name, request.batched,
                                              request.system)
            # A few messages per trip to the pool: the reading blocks, the sending awaits. Batched
            # messages hold ~1 MiB each, so fewer of them per trip.
            per_step = BATCHES_PER_STEP if request.batched else METRICS_PER_STEP
            while True:
                step = await self._blocking_read(_take, messages, per_step)
                for message in step:
                    yield message
                if len(step) < per_step:
                    return

    async def GetSeries(self, request: pb.SeriesRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "GetSeries"):
            _reject_nul(request)
            _require(request.run_id, "run_id")
            _require(request.name, "metric name")
            return await self._blocking_read(self.store.get_series, request)

    async def ListFiles(self, request: pb.ListFilesRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ListFiles"):
            _reject_nul(request)
            files = await self._blocking_read(self.store.list_files, _require(request.run_id, "run_id"),
                                              request.prefix)
            return pb.ListFilesResponse(files=files)

    async def ReadFile(self, request: pb.ReadFileRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ReadFile"):
            _reject_nul(request)
            run_id = _require(request.run_id, "run_id")
            path = _require(request.path, "path")
            with await self._blocking_read(self.store.open_file, run_id, path) as fh:
                # An offset past the end (up to 2**64-1) answers one empty last chunk at the end.
                offset = await self._blocking_read(_seek_at_most, fh, request.offset)
                left = request.limit or None
                while True:
                    size = FILE_CHUNK_BYTES if left is None else min(FILE_CHUNK_BYTES, left)
                    data = await self._blocking_read(fh.read, size)
                    if left is not None:
                        left -= len(data)
                    last = len(data) < size or left == 0
                    yield pb.FileChunk(run_id=run_id, path=path, offset=offset, data=data, last=last)
                    offset += len(data)
                    if last:
                        return

    async def ReadOutput(self, request: pb.ReadOutputRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ReadOutput"):
            _reject_nul(request)
            _require(request.run_id, "run_id")
            return await self._blocking_read(self.store.read_output, request)

    # ------------------------------------------------------------------ watch

    async def Watch(self, request: pb.WatchRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "Watch"):
            _reject_nul(request)
            session = WatchSession(request, self.store, self.feed, self.stopping, self._blocking_watch)
            async for event in session.events():
                yield event

    # ------------------------------------------------------------------ submitted runs

    async def SubmitRun(self, request_iterator: AsyncIterator[pb.SubmitRequest], context: grpc.aio.ServicerContext):
        async with self._guard(context, "SubmitRun"):
            spec = await _first_spec(request_iterator, "SubmitRun", "SubmitSpec")
            _require(spec.experiment, "SubmitSpec.experiment")
            caller = self._caller(context)
            if caller.is_run_scoped:  # submitting runs code on this machine: the service's token only
                raise PermissionDenied("submitting a run needs the service's token; a run's own token "
                                       "may only write that run")
            if self.runner is None:
                raise Unimplemented("this service does not run scripts")
            snapshot = bytearray()
            async for part in request_iterator:
                if part.WhichOneof("part") != "snapshot_chunk":
                    raise InvalidArgument("SubmitRun: only snapshot chunks may follow the SubmitSpec")
                snapshot += part.snapshot_chunk
                if len(snapshot) > self.max_snapshot_bytes:
                    raise InvalidArgument(f"SubmitRun: the snapshot is over the limit of "
                                          f"{self.max_snapshot_bytes // (1024 * 1024)} MiB")
            return await self._blocking_write(self.runner.submit, spec, bytes(snapshot))

    async def CancelRun(self, request: pb.CancelRunRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "CancelRun"):
            _reject_nul(request)
            run_id = _require(request.run_id, "run_id")
            caller = self._caller(context)
            if caller.is_run_scoped and not await self._blocking_read(self._scope(caller).contains, run_id):
                raise PermissionDenied(f"a run-scoped token may not cancel run {run_id!r}")
            if self.runner is None:
                raise Unimplemented("this service does not run scripts")
            return await self._blocking_write(self.runner.cancel, run_id)

    # ------------------------------------------------------------------ environments
    # Any token may register: Azure ML lets a run's script register environments too.

    async def RegisterEnvironment(self, request: pb.RegisterEnvironmentRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "RegisterEnvironment"):
            _reject_nul(request)
            _require(request.definition_json, "RegisterEnvironmentRequest.definition_json")
            return await self._blocking_write(self.store.register_environment, request.name,
                                              request.definition_json)

    async def GetEnvironment(self, request: pb.GetEnvironmentRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "GetEnvironment"):
            _reject_nul(request)
            return await self._blocking_read(self.store.get_environment, _require(request.name, "environment name"),
                                             request.version)

    async def ListEnvironments(self, request: pb.ListEnvironmentsRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ListEnvironments"):
            _reject_nul(request)
            found = await self._blocking_read(self.store.list_environments, request.name, request.latest)
            return pb.ListEnvironmentsResponse(environments=found)


    # ------------------------------------------------------------------ snapshots

    async def PutSnapshot(self, request_iterator: AsyncIterator[pb.SnapshotChunk],
                          context: grpc.aio.ServicerContext):
        async with self._guard(context, "PutSnapshot"):
            if self.snapshots is None:
                raise Unimplemented("this service does not store snapshots")
            first = await anext(request_iterator, None)
            if first is None:
                raise InvalidArgument("PutSnapshot: no chunk was sent (the first one names the run)")
            _reject_nul(first)
            run_id = _require(first.run_id, "PutSnapshot: the first chunk's run_id")
            caller = self._caller(context)
            if caller.is_run_scoped and not await self._blocking_read(self._scope(caller).contains, run_id):
                raise PermissionDenied(f"a run-scoped token may not put a snapshot for run {run_id!r}")
            await self._blocking_read(self.store.get_run, run_id)   # NotFound before reading 300 MB
            data = bytearray(first.data)
            async for part in request_iterator:
                if part.run_id and part.run_id != run_id:
                    raise InvalidArgument(f"PutSnapshot: a chunk names run {part.run_id[:100]!r}, "
                                          f"the first named {run_id!r}")
                data += part.data
                if len(data) > self.max_snapshot_bytes:
                    raise InvalidArgument(f"PutSnapshot: the snapshot is over the limit of "
                                          f"{self.max_snapshot_bytes // (1024 * 1024)} MiB")
            return await self._blocking_write(self._put_snapshot, run_id, bytes(data))

    def _put_snapshot(self, run_id: str, data: bytes) -> pb.SnapshotInfo:
        assert self.snapshots is not None and self._snapshot_recorder is not None
        info = self.snapshots.put(data)
        self._snapshot_recorder.record(run_id, info.snapshot_id)
        return info

    async def ReadSnapshot(self, request: pb.ReadSnapshotRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ReadSnapshot"):
            if self.snapshots is None:
                raise Unimplemented("this service does not store snapshots")
            _reject_nul(request)
            caller = self._caller(context)
            snapshot_id = await self._blocking_read(self._snapshot_to_read, caller, request)
            with await self._blocking_read(self.snapshots.open, snapshot_id) as fh:
                while True:
                    data = await self._blocking_read(fh.read, FILE_CHUNK_BYTES)
                    if data:
                        yield pb.SnapshotChunk(run_id=request.run_id, data=data)
                    if len(data) < FILE_CHUNK_BYTES:
                        return

    def _snapshot_to_read(self, caller: Caller, request: pb.ReadSnapshotRequest) -> str:
        """Blocking: the id of the snapshot a ReadSnapshot asks for, after the access checks. A
        run-scoped token reads only the snapshot of its own run (or of a run it started)."""
        if not request.snapshot_id and not request.run_id:
            raise InvalidArgument("ReadSnapshot needs a snapshot_id or a run_id")
        run_id = request.run_id or (caller.run_id if caller.is_run_scoped else "")
        if caller.is_run_scoped and not self._scope(caller).contains(run_id):
            raise PermissionDenied(f"a run-scoped token may not read the snapshot of run {run_id!r}")
        own = run_snapshot_id(self.store.get_run(run_id)) if run_id else ""
        if not request.snapshot_id:
            if not own:
                raise NotFound(f"run {run_id!r} has no snapshot (no ContentSnapshotId property): it was "
                               "not submitted with a source folder and took none with Run.take_snapshot")
            return own
        if caller.is_run_scoped and request.snapshot_id != own:
            raise PermissionDenied(f"a run-scoped token may only read its run's own snapshot, not "
                                   f"{request.snapshot_id[:80]!r}")
        return request.snapshot_id


    # ------------------------------------------------------------------ models

    async def RegisterModel(self, request_iterator: AsyncIterator[pb.RegisterModelRequest],
                            context: grpc.aio.ServicerContext):
        async with self._guard(context, "RegisterModel"):
            spec = await _first_spec(request_iterator, "RegisterModel", "RegisterModelSpec")
            registry = self.store.models
            registry.check_spec(spec)
            caller = self._caller(context)
            if caller.is_run_scoped and not (
                    spec.run_id and await self._blocking_read(self._scope(caller).contains, spec.run_id)):
                raise PermissionDenied(f"a run-scoped token may register models only from its own run "
                                       f"{caller.run_id!r} or its children, not from "
                                       f"{'run ' + repr(spec.run_id) if spec.run_id else 'outside a run'}")
            staging = await self._blocking_write(registry.stage)
            try:
                chunks = 0
                async for part in request_iterator:
                    if part.WhichOneof("part") != "file":
                        raise InvalidArgument("RegisterModel: only file chunks may follow the RegisterModelSpec")
                    chunk = part.file
                    await self._blocking_write(staging.write_chunk, chunk.path, chunk.offset, chunk.data, chunk.last)
                    chunks += 1
                model_path = None
                if not chunks:   # no files sent: register the run's own files under model_path
                    if not spec.run_id:
                        raise InvalidArgument("RegisterModel needs the model's files (FileChunk messages) "
                                              "or a run_id whose files to register")
                    model_path = await self._blocking_write(registry.stage_run_files, staging, spec.run_id,
                                                            spec.model_path or spec.name)
                return await self._blocking_write(registry.register, spec, staging, caller.principal, model_path)
            except BaseException:
                self._write_pool.submit(staging.discard)   # a failed registration leaves no files
                raise

    async def GetModel(self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "GetModel"):
            _reject_nul(request)
            return await self._blocking_read(self.store.models.get, _require(request.name, "model name"),
                                             request.version)

    async def ListModels(self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ListModels"):
            _reject_nul(request)
            return pb.ListModelsResponse(models=await self._blocking_read(self.store.models.list, request))

    async def UpdateModel(self, request: pb.UpdateModelRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "UpdateModel"):
            _reject_nul(request)
            _require(request.name, "model name")
            caller = self._caller(context)
            if caller.is_run_scoped:
                model = await self._blocking_read(self.store.models.get, request.name, request.version)
                if not (model.run_id and await self._blocking_read(self._scope(caller).contains, model.run_id)):
                    raise PermissionDenied(f"a run-scoped token may change only the models of its own run "
                                           f"{caller.run_id!r} or its children, not {model.id}")
            return await self._blocking_write(self.store.models.update, request)

    async def DownloadModel(self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "DownloadModel"):
            _reject_nul(request)
            registry = self.store.models
            info = await self._blocking_read(registry.get, _require(request.name, "model name"), request.version)
            for file in info.files:   # each file in chunks; the last chunk of a file has last=true
                with await self._blocking_read(registry.open_file, info.name, info.version, file.path) as fh:
                    offset = 0
                    while True:
                        data = await self._blocking_read(fh.read, FILE_CHUNK_BYTES)
                        last = len(data) < FILE_CHUNK_BYTES
                        yield pb.FileChunk(path=file.path, offset=offset, data=data, last=last)
                        offset += len(data)
                        if last:
                            break

    # ------------------------------------------------------------------ compute targets

    async def ListComputeTargets(self, request: pb.ListComputeTargetsRequest, context: grpc.aio.ServicerContext):
        async with self._guard(context, "ListComputeTargets"):
            if self.runner is None:
                return pb.ListComputeTargetsResponse(targets=[pb.ComputeTargetInfo(
                    name="local", kind="local", state="Unavailable",
                    detail="this service does not run scripts (started with --no-runner)")])
            targets = await self._blocking_read(self.runner.targets.describe_all)
            return pb.ListComputeTargetsResponse(targets=targets)


def _take(items: Any, count: int) -> list[Any]:
    """The next `count` items of an iterator (fewer at its end)."""
    return list(itertools.islice(items, count))


def _seek_at_most(fh: Any, offset: int) -> int:
    return fh.seek(min(offset, fh.seek(0, 2)))
