"""Tokens on a real server: every RPC but health needs one; run-scoped tokens write only their
own run tree and may not archive experiments or cancel other runs."""
from __future__ import annotations

import grpc
import pytest
from google.protobuf import message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc

from grpc_util import TIMEOUT, IngestSession, bearer, metric_values, new_id, points, start, stub
from tailrun.v1 import tailrun_pb2 as pb
from tailrun_service.auth import parse_run_token, run_token

TOKEN = "correct horse battery staple"


@pytest.fixture
def secured(service_factory):
    return service_factory(token=TOKEN, with_runner=False)


def test_run_tokens_round_trip_and_resist_tampering() -> None:
    token = run_token(TOKEN, "exp.v2_1700000000_ab12cd34")
    assert token.startswith("run.exp.v2_1700000000_ab12cd34.")
    assert parse_run_token(TOKEN, token) == "exp.v2_1700000000_ab12cd34"
    assert parse_run_token("another service token", token) is None
    forged = token.replace("ab12cd34", "ab12cd35", 1)
    assert parse_run_token(TOKEN, forged) is None
    for garbage in ("", "run.", "run..", "run.x", TOKEN, "run.x.zz"):
        assert parse_run_token(TOKEN, garbage) is None


def _call_every_rpc(address: str, metadata: tuple) -> dict[str, grpc.StatusCode]:
    """Call each Tracker RPC once with an empty request; the status code each one ended with."""
    channel = grpc.insecure_channel(address)
    codes = {}
    for method in pb.DESCRIPTOR.services_by_name["Tracker"].methods:
        request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        shape = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
                 (True, False): channel.stream_unary, (True, True): channel.stream_stream}
        callable_ = shape[(method.client_streaming, method.server_streaming)](
            f"/tailrun.v1.Tracker/{method.name}", request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString)
        request = iter([request_cls()]) if method.client_streaming else request_cls()
        try:
            answer = callable_(request, metadata=metadata, timeout=5)
            if method.server_streaming:
                next(iter(answer))
            codes[method.name] = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            codes[method.name] = exc.code()
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                assert exc.details() == "missing or wrong token"
    channel.close()
    return codes


def test_without_the_token_every_rpc_is_unauthenticated(secured) -> None:
    for metadata in ((), bearer("wrong"), (("authorization", TOKEN),)):   # none, wrong, no "Bearer"
        codes = _call_every_rpc(secured.address, metadata)
        assert len(codes) == len(pb.DESCRIPTOR.services_by_name["Tracker"].methods)
        assert set(codes.values()) == {grpc.StatusCode.UNAUTHENTICATED}, codes


def test_with_the_token_rpcs_get_through(secured) -> None:
    codes = _call_every_rpc(secured.address, bearer(TOKEN))
    assert grpc.StatusCode.UNAUTHENTICATED not in codes.values(), codes
    assert codes["ListExperiments"] == grpc.StatusCode.OK and codes["ListRuns"] == grpc.StatusCode.OK
    assert codes["GetRun"] == grpc.StatusCode.INVALID_ARGUMENT   # it reached the servicer


def test_health_needs_no_token(secured) -> None:
    health_stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(secured.address))
    answer = health_stub.Check(health_pb2.HealthCheckRequest(service="tailrun.v1.Tracker"), timeout=TIMEOUT)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_run_scoped_token_writes_its_own_run_tree_only(secured) -> None:
    tracker = stub(secured.address)
    mine, other = new_id(), new_id()
    with IngestSession(tracker, metadata=bearer(TOKEN)) as session:
        assert session.send(1, [start(mine), start(other)]).rejected == []
    scoped = bearer(run_token(TOKEN, mine))
    child, grandchild, stranger_child = new_id(), new_id(), new_id()
    with IngestSession(tracker, metadata=scoped) as session:
        ack = session.send(1, [points(mine, "m", [1.0]), points(other, "m", [9.0]),
                               start(child, parent=mine), points(child, "m", [2.0])])
        assert ack.committed_seq == 1
        assert len(ack.rejected) == 1 and other in ack.rejected[0]
        ack = session.send(2, [start(grandchild, parent=child), points(grandchild, "m", [3.0]),
                               start(stranger_child, parent=other),
                               start(other, parent=mine)])   # claiming an existing run: refused
        assert len(ack.rejected) == 2, ack.rejected
    assert metric_values(tracker, mine, metadata=scoped) == [1.0]
    assert metric_values(tracker, child, metadata=scoped) == [2.0]
    assert metric_values(tracker, grandchild, metadata=scoped) == [3.0]
    assert metric_values(tracker, other, metadata=scoped) == []
    with pytest.raises(grpc.RpcError) as info:
        tracker.GetRun(pb.GetRunRequest(run_id=stranger_child), metadata=scoped, timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert tracker.GetRun(pb.GetRunRequest(run_id=other), metadata=scoped, timeout=TIMEOUT).parent_run_id == ""


def test_a_run_scoped_token_may_not_archive_or_touch_other_runs(secured) -> None:
    tracker = stub(secured.address)
    mine, other, child = new_id(), new_id(), new_id()
    with IngestSession(tracker, metadata=bearer(TOKEN)) as session:
        session.send(1, [start(mine), start(other), start(child, parent=mine)])
    scoped = bearer(run_token(TOKEN, mine))

    def code_of(call) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            call()
        return info.value.code()

    archive = pb.SetExperimentArchivedRequest(name="exp", archived=True)
    assert code_of(lambda: tracker.SetExperimentArchived(archive, metadata=scoped, timeout=TIMEOUT)) \
        == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: tracker.CancelRun(pb.CancelRunRequest(run_id=other), metadata=scoped,
                                             timeout=TIMEOUT)) == grpc.StatusCode.PERMISSION_DENIED
    foreign = pb.SubmitRequest(spec=pb.SubmitSpec(experiment="exp", parent_run_id=other))
    assert code_of(lambda: tracker.SubmitRun(iter([foreign]), metadata=scoped, timeout=TIMEOUT)) \
        == grpc.StatusCode.PERMISSION_DENIED
    # Its own subtree passes the permission check (then: this service has no runner).
    assert code_of(lambda: tracker.CancelRun(pb.CancelRunRequest(run_id=child), metadata=scoped,
                                             timeout=TIMEOUT)) == grpc.StatusCode.UNIMPLEMENTED
    # Submitting runs code on the service's machine: only the service's token may, even for a child.
    own = pb.SubmitRequest(spec=pb.SubmitSpec(experiment="exp", parent_run_id=mine))
    assert code_of(lambda: tracker.SubmitRun(iter([own]), metadata=scoped, timeout=TIMEOUT)) \
        == grpc.StatusCode.PERMISSION_DENIED
    # A token minted for another run, or by another service, is not accepted at all.
    forged = bearer(run_token("not the service token", mine))
    assert code_of(lambda: tracker.ListRuns(pb.ListRunsRequest(), metadata=forged, timeout=TIMEOUT)) \
        == grpc.StatusCode.UNAUTHENTICATED
    # The service token itself may archive.
    assert tracker.SetExperimentArchived(archive, metadata=bearer(TOKEN), timeout=TIMEOUT).archived_time > 0
