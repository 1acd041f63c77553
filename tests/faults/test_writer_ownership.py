"""A run-scoped token cannot silence another writer (issue 8, item 9).

Before: `IngestRequest(writer="runner:<victim>", seq=2**63-1)` with no events was accepted from any
run-scoped token, and everything that writer sent afterwards was acknowledged and dropped. Now
(contracts C1 and C2) writers belong to the principal that first wrote them, "runner:" and
"liveness:" ids belong to the service, and seq only moves forward by batches actually applied.
"""
from __future__ import annotations

import uuid

import grpc
import pytest
from faultkit import ingest, ingest_refusal
from ingest_events import points, start
from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc
from tailrun_service.auth import run_token
from tailrun_service.runner.writer import RunWriter

TOKEN = "the service token"
HUGE_SEQ = 2 ** 63 - 1


@pytest.fixture
def secured(service_factory):
    return service_factory(token=TOKEN, with_runner=False)


def _values(service, run_id: str) -> list[float]:
    return [v for chunk in service.store.iter_metrics(run_id, "m") for v in chunk.columns[0].values]


def _new_run(service) -> str:
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    ingest(service.address,
           pb.IngestRequest(writer=f"admin-{run_id}", seq=1, events=[start(run_id, "owners")]), token=TOKEN)
    return run_id


def test_a_run_token_cannot_silence_the_runners_writer(secured):
    victim = f"run-{uuid.uuid4().hex[:12]}"
    writer = RunWriter(secured.store, victim)        # the runner's in-process writer of a submitted run
    assert writer.send([start(victim, "owners")]) == []
    attacker = run_token(TOKEN, _new_run(secured))
    for token in (attacker, TOKEN):                  # nobody outside the service, not even admin
        for request in (pb.IngestRequest(writer=f"runner:{victim}", seq=HUGE_SEQ),
                        pb.IngestRequest(writer=f"runner:{victim}", seq=0),
                        pb.IngestRequest(writer="liveness:anything", seq=1)):
            refused = ingest_refusal(secured.address, request, token=token)
            assert refused.code() == grpc.StatusCode.PERMISSION_DENIED, refused
            assert repr(request.writer) in refused.details() and "reserved" in refused.details()
    writer.status("Completed")                       # the victim's later batches are stored
    assert secured.store.get_run(victim).status == "Completed"


def test_a_run_token_cannot_use_another_runs_writer(secured):
    victim, other = _new_run(secured), _new_run(secured)
    victim_token, attacker = run_token(TOKEN, victim), run_token(TOKEN, other)
    ingest(secured.address, pb.IngestRequest(writer="victim-writer", seq=1, events=[points(victim, "m", [1.0])]),
           token=victim_token)
    for seq in (0, 2, HUGE_SEQ):
        events = [points(other, "m", [9.0])] if seq else []
        refused = ingest_refusal(secured.address, pb.IngestRequest(writer="victim-writer", seq=seq, events=events),
                                 token=attacker)
        assert refused.code() == grpc.StatusCode.PERMISSION_DENIED, refused
        assert "'victim-writer'" in refused.details() and "belongs to another caller" in refused.details()
    acks = ingest(secured.address,
                  pb.IngestRequest(writer="victim-writer", seq=0),
                  pb.IngestRequest(writer="victim-writer", seq=2, events=[points(victim, "m", [2.0])]),
                  token=victim_token)
    assert [a.committed_seq for a in acks] == [1, 2]
    assert _values(secured, victim) == [1.0, 2.0] and _values(secured, other) == []
    # The full token may use any writer that is not the service's (it uploads spools of runs).
    ingest(secured.address, pb.IngestRequest(writer="victim-writer", seq=3, events=[points(victim, "m", [3.0])]),
           token=TOKEN)
    assert _values(secured, victim) == [1.0, 2.0, 3.0]


def test_seq_moves_forward_only_by_applied_batches(secured):
    run_id = _new_run(secured)
    token = run_token(TOKEN, run_id)
    for first in (HUGE_SEQ, 2):  # a new writer starts at 1
        request = pb.IngestRequest(writer="w", seq=first, events=[points(run_id, "m", [0.0])])
        refused = ingest_refusal(secured.address, request, token=token)
        assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION, refused
        assert refused.details() == f"writer w: expected seq 1, got {first}"
    ingest(secured.address, pb.IngestRequest(writer="w", seq=1, events=[points(run_id, "m", [1.0])]), token=token)
    refused = ingest_refusal(secured.address, pb.IngestRequest(writer="w", seq=5, events=[points(run_id, "m", [5.0])]),
                             token=token)
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.details() == "writer w: expected seq 2, got 5"
    acks = ingest(secured.address,
                  pb.IngestRequest(writer="w", seq=0),
                  pb.IngestRequest(writer="w", seq=1, events=[points(run_id, "m", [1.0])]),   # a duplicate
                  pb.IngestRequest(writer="w", seq=2),                                 # empty: advances
                  pb.IngestRequest(writer="w", seq=3, events=[points(run_id, "m", [3.0])]), token=token)
    assert [a.committed_seq for a in acks] == [1, 1, 2, 3]
    assert _values(secured, run_id) == [1.0, 3.0]


def test_the_liveness_writer_retries_a_failed_patch_at_the_same_seq(service_factory):
    """The in-process liveness writer used up a seq even when its batch failed: with gaps
    refused it would then fail forever. It marks a silent run as before."""
    from tailrun_service.liveness import LivenessMonitor

    service = service_factory(with_runner=False, heartbeat_timeout=None)
    run_id = _new_run_no_token(service)
    clock = [0.0]
    monitor = LivenessMonitor(service.store, timeout=1.0, clock=lambda: clock[0])
    assert monitor.check_once() == []
    clock[0] = 1.5
    guard = service.store.db.write_guard
    service.store.db.write_guard = _unusable
    with pytest.raises(Exception, match="store is gone"):
        monitor.check_once()
    service.store.db.write_guard = guard
    assert monitor.check_once() == [(run_id, "NotResponding")]
    assert service.store.get_run(run_id).status == "NotResponding"


def _unusable() -> None:
    raise RuntimeError("the store is gone (test)")


def _new_run_no_token(service) -> str:
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    with grpc.insecure_channel(service.address) as channel:
        list(pb_grpc.TrackerStub(channel).Ingest(
            iter([pb.IngestRequest(writer=f"w-{run_id}", seq=1, events=[start(run_id, "owners")])]), timeout=20))
    return run_id
