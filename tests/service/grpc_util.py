"""Raw gRPC for the service tests: stubs, an ingest session over a real bidirectional stream,
and a collector of Watch events (the events themselves: tests/ingest_events.py)."""
from __future__ import annotations

import queue
import threading
import time
from typing import Any, Iterator

import grpc

# the service tests import the event builders from here
from ingest_events import file_chunk, new_id, patch, points, start  # noqa: F401
from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

TIMEOUT = 20


def stub(address: str) -> pb_grpc.TrackerStub:
    return pb_grpc.TrackerStub(grpc.insecure_channel(address))


def bearer(token: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),) if token else ()


class IngestSession:
    """One open Ingest stream: `send` a batch and wait for its ack."""

    _END = object()

    def __init__(self, tracker: pb_grpc.TrackerStub, writer: str | None = None,
                 metadata: tuple = ()) -> None:
        self.writer = writer or new_id()
        self._requests: queue.Queue = queue.Queue()
        self._acks = tracker.Ingest(self._iter(), metadata=metadata, timeout=TIMEOUT * 3)

    def _iter(self) -> Iterator[pb.IngestRequest]:
        while (item := self._requests.get()) is not self._END:
            yield item

    def send(self, seq: int, events: list[pb.Event] = ()) -> pb.IngestAck:
        self._requests.put(pb.IngestRequest(writer=self.writer, seq=seq, events=list(events)))
        return next(self._acks)

    def close(self) -> None:
        self._requests.put(self._END)
        for _ in self._acks:   # drain, so the call ends cleanly
            pass

    def __enter__(self) -> "IngestSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._acks.cancel()


def metric_values(tracker: pb_grpc.TrackerStub, run_id: str, name: str = "", metadata: tuple = ()) -> list[float]:
    values: list[float] = []
    for data in tracker.GetMetrics(pb.GetMetricsRequest(run_id=run_id, name=name), metadata=metadata,
                                   timeout=TIMEOUT):
        values.extend(data.points.columns[0].values)
    return values


class WatchCollector:
    """Reads a Watch stream on a thread, keeping every event, until `stop()`."""

    def __init__(self, tracker: pb_grpc.TrackerStub, request: pb.WatchRequest, metadata: tuple = ()) -> None:
        self.events: list[pb.WatchEvent] = []
        self.error: grpc.RpcError | None = None
        self._changed = threading.Condition()
        self._call = tracker.Watch(request, metadata=metadata)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._call:
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate, timeout: float = TIMEOUT) -> list[pb.WatchEvent]:
        """Wait until predicate(events) is true; return a copy of the events."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.events):
                if self.error is not None:
                    raise self.error
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"timed out; got {len(self.events)} events: {self.events[-3:]}"
                self._changed.wait(min(remaining, 0.1))   # also re-check predicates on outside state
            return list(self.events)

    @property
    def is_open(self) -> bool:
        """The stream has not ended (by the server, an error or stop())."""
        return self._thread.is_alive()

    def stop(self) -> list[pb.WatchEvent]:
        self._call.cancel()
        self._thread.join(TIMEOUT)
        return list(self.events)


def payload_events(events: list[pb.WatchEvent]) -> list[pb.WatchEvent]:
    return [e for e in events if not e.caught_up]
