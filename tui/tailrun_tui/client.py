"""Service access for the UI in plain Python (no Textual): unary queries, file reads, and a Watch
feed that reconnects with backoff and resumes from its cursor.

Blocking calls are meant to run in worker threads; the UI drains `WatchFeed` from a timer so that
incoming events reach the screen in ~100 ms batches instead of one message per event.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import grpc

from tailrun import _channel
from tailrun._settings import DEFAULT_PORT, Settings
from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

QUERY_TIMEOUT = 15.0
# Watch backoff: 1, 2, 4 … capped, so a restarted service is picked up within a few seconds.
BACKOFF_START = 1.0
BACKOFF_MAX = 8.0
_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class ServiceError(Exception):
    """A failed service call, with a message meant for the screen."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.code = code

    @property
    def refused(self) -> bool:
        return self.code in _REFUSED

    @property
    def unreachable(self) -> bool:
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def describe_error(exc: BaseException, address: str) -> ServiceError:
    """Turn a gRPC error into one line a user can act on."""
    if isinstance(exc, ServiceError):
        return exc
    if not isinstance(exc, grpc.RpcError):
        return ServiceError(f"{type(exc).__name__}: {exc}")
    code = exc.code() if callable(getattr(exc, "code", None)) else None
    details = (exc.details() if callable(getattr(exc, "details", None)) else "") or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        msg = f"cannot reach the tailrun service at {address}"
    elif code == grpc.StatusCode.UNAUTHENTICATED:
        msg = (f"the service at {address} refused the token" if details and "token" in details.lower()
               else f"the service at {address} needs a valid token (--token or TAILRUN_TOKEN)")
        if details:
            msg += f": {details}"
        return ServiceError(msg, code)
    elif code == grpc.StatusCode.PERMISSION_DENIED:
        msg = f"the service at {address} refused this request: {details}"
        return ServiceError(msg, code)
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        msg = f"the service at {address} did not answer in time"
    elif code == grpc.StatusCode.NOT_FOUND:
        return ServiceError(details or "not found", code)
    else:
        name = code.name.lower() if code else "error"
        msg = f"{name}: {details}" if details else name
        return ServiceError(msg, code)
    return ServiceError(msg, code)


def resolve_settings(address: str | None = None, token: str | None = None) -> Settings:
    """Flags, then environment, then the per-user local service if one is running."""
    settings = Settings.resolve(address=address, token=token)
    if settings.address:
        return settings
    try:
        from tailrun._local import local_service
        from tailrun._settings import home_dir

        found = local_service(home_dir())
    except Exception:  # a broken local-service state file must not stop the UI
        found = None
    if found:
        return Settings(found[0], settings.token or found[1], settings.ca_file)
    return Settings(f"127.0.0.1:{DEFAULT_PORT}", settings.token, settings.ca_file)


@dataclass
class RunListing:
    runs: list[pb.RunInfo]
    metric_names: list[str]   # scalar metrics with a value in any of the runs, sorted


class TrackerClient:
    """Blocking queries against one service. Thread-safe (gRPC channels are)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.address = settings.address or f"127.0.0.1:{DEFAULT_PORT}"
        self._channel = _channel.open_channel(Settings(self.address, settings.token, settings.ca_file))
        self._stub = pb_grpc.TrackerStub(self._channel)
        self._metadata = _channel.call_metadata(settings)

    def close(self) -> None:
        self._channel.close()

    def _call(self, method: str, request: Any, timeout: float = QUERY_TIMEOUT) -> Any:
        try:
            return getattr(self._stub, method)(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise describe_error(exc, self.address) from None

    # ------------------------------------------------------------------ queries

    def list_experiments(self) -> list[pb.Experiment]:
        return list(self._call("ListExperiments", pb.ListExperimentsRequest(view_type="ActiveOnly")).experiments)

    def get_experiment(self, name: str) -> pb.Experiment | None:
        found = self._call("ListExperiments", pb.ListExperimentsRequest(view_type="All", name=name)).experiments
        return found[0] if found else None

    def list_runs(self, experiment: str = "", parent_run_id: str = "", include_children: bool = False,
                  metric_columns: list[str] | tuple[str, ...] = (), offer_names: bool = True) -> RunListing:
        """Every page of the list, each run with only the last values of `metric_columns`, and
        (with `offer_names`) the scalar metric names the runs have: the columns it can offer."""
        req = pb.ListRunsRequest(experiment=experiment, parent_run_id=parent_run_id,
                                 include_children=include_children, select_metrics=True,
                                 metric_columns=list(metric_columns), list_metric_names=offer_names)
        listing = RunListing([], [])
        names: set[str] = set()
        while True:
            page = self._call("ListRuns", req)
            listing.runs += page.runs
            names.update(page.metric_names)
            if not page.next_page_token:
                listing.metric_names = sorted(names)
                return listing
            req.page_token = page.next_page_token

    def get_run(self, run_id: str) -> pb.RunInfo:
        return self._call("GetRun", pb.GetRunRequest(run_id=run_id))

    def get_series(self, run_id: str, name: str, max_points: int, tail: int = 0,
                   with_times: bool = False) -> pb.SeriesResponse:
        req = pb.SeriesRequest(run_id=run_id, name=name, max_points=max(2, max_points), tail=tail,
                               with_times=with_times)
        return self._call("GetSeries", req)

    def get_plot_series(self, run_id: str, name: str, max_points: int, tail: int = 0,
                        with_times: bool = False) -> tuple[pb.SeriesResponse, tuple[float, float] | None]:
        """A series to draw, and its true last point when the answer is downsampled (min/max
        buckets need not keep it): one more small query that reads only the last chunk."""
        resp = self.get_series(run_id, name, max_points, tail=tail, with_times=with_times)
        last = None
        if resp.downsampled:
            end = self.get_series(run_id, name, 2, tail=1, with_times=with_times)
            if end.y and end.y[-1] == end.y[-1]:   # a None/str last value is no number to show
                last = (end.x[-1], end.y[-1], *end.t[-1:])   # (x, y[, time])
        return resp, last

    def get_metric(self, run_id: str, name: str, max_points: int = 100_000) -> list[pb.MetricPoints]:
        """Whole chunks of one metric (tables, images), stopping after about `max_points` rows."""
        out: list[pb.MetricPoints] = []
        seen = 0
        try:
            stream = self._stub.GetMetrics(pb.GetMetricsRequest(run_id=run_id, name=name, batched=True),
                                           timeout=QUERY_TIMEOUT * 4, metadata=self._metadata)
            for data in stream:
                for points in data.batch if data.batch else [data.points]:
                    out.append(points)
                    seen += max(len(points.times), _rows(points))
                if seen >= max_points:
                    stream.cancel()
                    break
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise describe_error(exc, self.address) from None
        return out

    def list_files(self, run_id: str) -> list[pb.FileInfo]:
        return list(self._call("ListFiles", pb.ListFilesRequest(run_id=run_id)).files)

    def read_file(self, run_id: str, path: str, offset: int = 0, limit: int = 0) -> bytes:
        return b"".join(self.iter_file(run_id, path, offset, limit))

    def iter_file(self, run_id: str, path: str, offset: int = 0, limit: int = 0) -> Iterator[bytes]:
        req = pb.ReadFileRequest(run_id=run_id, path=path, offset=offset, limit=limit)
        try:
            for chunk in self._stub.ReadFile(req, timeout=600, metadata=self._metadata):
                yield chunk.data
        except grpc.RpcError as exc:
            raise describe_error(exc, self.address) from None

    def download(self, run_id: str, path: str, folder: Path) -> Path:
        """Save a run file into `folder` under its base name, never overwriting an existing file."""
        name = path.rsplit("/", 1)[-1] or "download"
        target = folder / name
        stem, dot, ext = name.partition(".")
        n = 1
        while target.exists():
            target = folder / (f"{stem} ({n}){dot}{ext}")
            n += 1
        partial = target.with_name(target.name + ".part")
        try:
            with open(partial, "wb") as fh:
                for data in self.iter_file(run_id, path):
                    fh.write(data)
            os.replace(partial, target)
        finally:
            if partial.exists():
                partial.unlink()
        return target

    def models_of_run(self, run_id: str) -> list[pb.ModelInfo]:
        """The model versions registered from this run, by name, newest version first."""
        return list(self._call("ListModels", pb.ListModelsRequest(run_id=run_id)).models)

    def read_output(self, run_id: str, offset: int = 0, tail_bytes: int = 0) -> pb.OutputText:
        return self._call("ReadOutput", pb.ReadOutputRequest(run_id=run_id, offset=offset,
                                                             tail_bytes=tail_bytes))

    def watch(self, **request: Any) -> "WatchFeed":
        return WatchFeed(self, pb.WatchRequest(**request))


def _rows(points: pb.MetricPoints) -> int:
    return max((len(c.values) for c in points.columns), default=0)


# ---------------------------------------------------------------------- Watch


@dataclass
class FeedState:
    """Where the feed stands, for the status line."""
    kind: str = "connecting"       # connecting | live | disconnected | refused | stopped
    message: str = ""
    retry_at: float = 0.0          # monotonic time of the next attempt (disconnected)
    generation: int = 0            # bumps on every (re)connect: screens reload what they show

    def retry_in(self) -> int:
        return max(0, round(self.retry_at - time.monotonic()))


@dataclass
class FeedBatch:
    events: list[pb.WatchEvent] = field(default_factory=list)
    state: FeedState = field(default_factory=FeedState)


class WatchFeed:
    """Follows one Watch request forever: reconnects with backoff, resumes after the last cursor.

    `run()` blocks (call it from a worker thread); `drain()` is called from the UI thread.
    """

    def __init__(self, client: TrackerClient, request: pb.WatchRequest) -> None:
        self._client = client
        self._request = request
        self.cursor = request.cursor
        self._events: deque[pb.WatchEvent] = deque()
        self._lock = threading.Lock()
        self._state = FeedState()
        self._stop = threading.Event()
        self._call: Any = None

    @property
    def state(self) -> FeedState:
        with self._lock:
            return FeedState(**vars(self._state))

    def _set_state(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._state, key, value)

    def drain(self) -> FeedBatch:
        with self._lock:
            events = list(self._events)
            self._events.clear()
            return FeedBatch(events, FeedState(**vars(self._state)))

    def stop(self) -> None:
        self._stop.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._set_state(kind="stopped", message="")

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        backoff = BACKOFF_START
        generation = 0
        while not self._stop.is_set():
            req = pb.WatchRequest()
            req.CopyFrom(self._request)
            req.cursor = self.cursor
            try:
                self._call = self._client._stub.Watch(req, metadata=self._client._metadata)
                for event in self._call:
                    if event.cursor:
                        self.cursor = max(self.cursor, event.cursor)
                    if self._state.kind != "live":
                        generation += 1
                        backoff = BACKOFF_START
                        self._set_state(kind="live", message="", generation=generation)
                    if event.caught_up:
                        continue
                    with self._lock:
                        self._events.append(event)
                # The server ended the stream (shutdown): reconnect like any other drop.
                err = ServiceError(f"the service at {self._client.address} closed the stream")
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    break
                err = describe_error(exc, self._client.address)
            finally:
                self._call = None
            if self._stop.is_set():
                break
            if err.refused:
                self._set_state(kind="refused", message=str(err))
                return
            self._set_state(kind="disconnected", message=str(err),
                            retry_at=time.monotonic() + backoff)
            if self._stop.wait(backoff):
                break
            backoff = min(BACKOFF_MAX, backoff * 2)
            self._set_state(kind="connecting")
