"""Helpers of the fuzz tests: raw gRPC calls to the real service (identity serializers, so any bytes
can be sent), a known-good run seeded before fuzzing, and the checks run after every example.

After each example the service must still answer, every refusal must be INVALID_ARGUMENT or
NOT_FOUND with a message (never INTERNAL or UNKNOWN), and the good run must read back byte for
byte as it was seeded.
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from tailrun.v1 import tailrun_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["Tracker"]
CLEAN_REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
CALL_TIMEOUT = 20.0

# Floats whose exact bits must survive the round trip: NaNs with payloads and both signs, the
# infinities, signed zero, the smallest subnormal, the largest finite value.
SPECIAL_FLOAT_BITS = (0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001, 0x7FF4DEADBEEF0001,
                      0x7FF0000000000000, 0xFFF0000000000000, 0x8000000000000000, 0x0000000000000001,
                      0x7FEFFFFFFFFFFFFF)
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


def bits_to_float(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def float_bits(values: Iterable[float]) -> list[int]:
    return [struct.unpack("<Q", struct.pack("<d", v))[0] for v in values]


@dataclass
class Outcome:
    """How one call ended: code OK (with the answers) or the error status and its message."""
    code: grpc.StatusCode
    details: str = ""
    answers: list[bytes] = field(default_factory=list)

    def assert_clean(self, allowed: set[grpc.StatusCode] = CLEAN_REFUSALS, what: str = "") -> None:
        assert self.code == grpc.StatusCode.OK or self.code in allowed, \
            f"{what}: answered {self.code.name}: {self.details!r}"
        if self.code != grpc.StatusCode.OK:
            assert self.details and self.details.strip(), f"{what}: {self.code.name} without a message"


class Raw:
    """Calls any Tracker method with request bytes as given (identity serializers)."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address, options=[
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024)])
        self.methods: dict[str, Any] = {}
        for method in SERVICE.methods:
            path = f"/{SERVICE.full_name}/{method.name}"
            kind = {(False, False): self.channel.unary_unary, (False, True): self.channel.unary_stream,
                    (True, False): self.channel.stream_unary, (True, True): self.channel.stream_stream}
            self.methods[method.name] = kind[(method.client_streaming, method.server_streaming)](
                path, request_serializer=None, response_deserializer=None)
        self.streaming = {m.name: (m.client_streaming, m.server_streaming) for m in SERVICE.methods}

    def close(self) -> None:
        self.channel.close()

    def call(self, name: str, request: bytes | list[bytes], max_answers: int = 50) -> Outcome:
        """One call; a server stream is read up to `max_answers` messages (then cancelled)."""
        client_streaming, server_streaming = self.streaming[name]
        arg = iter(request) if client_streaming else request
        stub = self.methods[name]
        try:
            if not server_streaming:
                return Outcome(grpc.StatusCode.OK, answers=[stub(arg, timeout=CALL_TIMEOUT)])
            call = stub(arg, timeout=CALL_TIMEOUT)
            answers = []
            for answer in call:
                answers.append(answer)
                if len(answers) >= max_answers or (name == "Watch" and pb.WatchEvent.FromString(answer).caught_up):
                    call.cancel()
                    break
            return Outcome(grpc.StatusCode.OK, answers=answers)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and name == "Watch":
                return Outcome(grpc.StatusCode.OK)
            return Outcome(exc.code(), exc.details() or "")

    def ingest(self, *requests: pb.IngestRequest | bytes) -> Outcome:
        return self.call("Ingest", [r if isinstance(r, bytes) else r.SerializeToString() for r in requests])

    def acks(self, outcome: Outcome) -> list[pb.IngestAck]:
        return [pb.IngestAck.FromString(a) for a in outcome.answers]


@dataclass
class GoodRun:
    """A run seeded before fuzzing; `snapshot()` must not change whatever the fuzzing sends."""
    run_id: str
    experiment: str
    values: list[float]
    steps: list[int]
    file_bytes: bytes

    def snapshot(self, raw: Raw) -> tuple:
        metrics = raw.call("GetMetrics", pb.GetMetricsRequest(run_id=self.run_id).SerializeToString())
        run = raw.call("GetRun", pb.GetRunRequest(run_id=self.run_id).SerializeToString())
        data = raw.call("ReadFile", pb.ReadFileRequest(run_id=self.run_id, path="outputs/good.bin")
                        .SerializeToString())
        for outcome, what in ((metrics, "GetMetrics"), (run, "GetRun"), (data, "ReadFile")):
            assert outcome.code == grpc.StatusCode.OK, f"the good run no longer reads back: {what} " \
                f"answered {outcome.code.name}: {outcome.details}"
        info = pb.RunInfo.FromString(run.answers[0])
        stable = (info.run_id, info.experiment, info.status, dict(info.tags), dict(info.properties),
                  sorted(info.metric_names), info.description, info.number, info.created_time)
        file_data = b"".join(pb.FileChunk.FromString(a).data for a in data.answers)
        return tuple(metrics.answers), stable, file_data


def seed_good_run(raw: Raw, writer: str = "fuzz-seed") -> GoodRun:
    """Store a run with special floats, int64-extreme steps, a mixed-type column and a file."""
    run_id = f"good-{uuid.uuid4()}"
    values = [bits_to_float(b) for b in SPECIAL_FLOAT_BITS] + [1.5, -2.25]
    steps = [INT64_MIN, -1, 0, 1, INT64_MAX, 7, 8, 9, 10, 11, 12][:len(values)]
    file_bytes = bytes(range(256)) * 33
    mixed = pb.Column(name="", values=[0.0, 7.0, float("nan"), 1.0],
                      kinds=bytes([0, 1, 4, 2]), ints=[7], strs=["héllo\u2603"])
    events = [
        pb.Event(start=pb.RunStart(run_id=run_id, experiment="fuzz-good", tags={"k": "v"},
                                   description="the good run")),
        pb.Event(metrics=pb.MetricPoints(run_id=run_id, name="special", kind=pb.METRIC_KIND_SCALAR,
                                         times=[1.0] * len(values), steps=steps,
                                         columns=[pb.Column(values=values)])),
        pb.Event(metrics=pb.MetricPoints(run_id=run_id, name="mixed", kind=pb.METRIC_KIND_LIST,
                                         times=[2.0] * 4, columns=[mixed])),
        pb.Event(file=pb.FileChunk(run_id=run_id, path="outputs/good.bin", offset=0, data=file_bytes,
                                   last=True)),
    ]
    outcome = raw.ingest(pb.IngestRequest(writer=writer, seq=0),
                         pb.IngestRequest(writer=writer, seq=1, events=events))
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    assert [list(a.rejected) for a in raw.acks(outcome)] == [[], []]
    return GoodRun(run_id, "fuzz-good", values, steps, file_bytes)


@contextmanager
def fuzzing(service: Any) -> Iterator[tuple[Raw, Checker, GoodRun]]:
    """Raw calls to `service` (a test fixture's service), its seeded good run and the checker."""
    raw = Raw(service.address)
    try:
        good = seed_good_run(raw)
        yield raw, Checker(raw, good), good
    finally:
        raw.close()


def start_target_run(raw: Raw, writer: str = "fuzz-target") -> str:
    """A run the fuzzed events may write to (so they reach the checks past 'unknown run')."""
    run_id = f"target-{uuid.uuid4()}"
    outcome = raw.ingest(pb.IngestRequest(writer=writer, seq=1, events=[
        pb.Event(start=pb.RunStart(run_id=run_id, experiment="fuzz-target"))]))
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    return run_id


class Checker:
    """The after-every-example checks: the service answers and the good run is unchanged."""

    def __init__(self, raw: Raw, good: GoodRun) -> None:
        self.raw, self.good = raw, good
        self.expected = good.snapshot(raw)

    def service_intact(self) -> None:
        health = self.raw.call("ListExperiments", pb.ListExperimentsRequest().SerializeToString())
        assert health.code == grpc.StatusCode.OK, f"the service stopped answering: {health.code.name}"
        assert self.good.snapshot(self.raw) == self.expected, "the good run changed"
