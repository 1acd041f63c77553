"""Many open streams (issue 8, item 12): every running script holds an Ingest stream, every open UI
a Watch stream. 1,000 of them, each on its own connection, must leave health checks, queries and
new batches answering: an idle stream holds no server thread.

The clients are one child process on grpc.aio (this file run as a script), so it needs no thread
per stream either. Deadlines are generous (no timing assertion); a server that parks each stream on
a worker thread of a bounded pool never answers the streams past its pool size, nor health.
"""
from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ingest_events import points, start

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

STREAMS = 1000                 # half Ingest, half Watch
RPC_DEADLINE = 10              # seconds, for health and the queries while the streams are open
OPEN_DEADLINE = 120            # seconds, for all 1,000 streams to give their first answer


def _raise_fd_limit(needed: int) -> None:
    """Each stream has its own connection: a descriptor per stream on each side (the child inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"this test needs {needed} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def _open_ingest(channel: grpc.aio.Channel, writer: str) -> grpc.aio.StreamStreamCall:
    call = pb_grpc.TrackerStub(channel).Ingest(timeout=OPEN_DEADLINE * 3)
    await call.write(pb.IngestRequest(writer=writer, seq=0))   # the handshake
    ack = await call.read()
    assert ack.writer == writer and ack.committed_seq == 0, ack
    return call


async def _open_watch(channel: grpc.aio.Channel, run_id: str) -> grpc.aio.UnaryStreamCall:
    call = pb_grpc.TrackerStub(channel).Watch(pb.WatchRequest(run_id=run_id), timeout=OPEN_DEADLINE * 3)
    first = await call.read()
    assert first.caught_up, first
    return call


async def _with_open_streams(address: str) -> None:
    run_id = str(uuid.uuid4())
    control = grpc.aio.insecure_channel(address)
    tracker = pb_grpc.TrackerStub(control)
    health = health_pb2_grpc.HealthStub(control)
    setup = tracker.Ingest(timeout=RPC_DEADLINE)
    await setup.write(pb.IngestRequest(writer="setup", seq=1, events=[start(run_id, "streams")]))
    assert (await setup.read()).committed_seq == 1
    await setup.done_writing()

    channels = [grpc.aio.insecure_channel(address) for _ in range(STREAMS)]
    try:
        opening = [_open_ingest(ch, f"idle-{i}") if i % 2 == 0 else _open_watch(ch, run_id)
                   for i, ch in enumerate(channels)]
        done, pending = await asyncio.wait([asyncio.ensure_future(o) for o in opening], timeout=OPEN_DEADLINE)
        for task in pending:
            task.cancel()
        assert not pending, f"only {len(done)} of {STREAMS} streams answered within {OPEN_DEADLINE} s"
        calls = [task.result() for task in done]
        ingests = [c for c in calls if isinstance(c, grpc.aio.StreamStreamCall)]
        watches = [c for c in calls if isinstance(c, grpc.aio.UnaryStreamCall)]
        assert (len(ingests), len(watches)) == (STREAMS // 2, STREAMS // 2)

        # All 1,000 are open and idle: health, queries and a new batch still answer.
        answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=RPC_DEADLINE)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        assert (await tracker.GetRun(pb.GetRunRequest(run_id=run_id), timeout=RPC_DEADLINE)).run_id == run_id
        listed = await tracker.ListRuns(pb.ListRunsRequest(experiment="streams"), timeout=RPC_DEADLINE)
        assert [r.run_id for r in listed.runs] == [run_id]

        # One of the idle writers sends a batch: it commits, and every watcher sees it.
        await ingests[0].write(pb.IngestRequest(writer="idle-0", seq=1, events=[points(run_id, "m", [42.0])]))
        assert (await asyncio.wait_for(ingests[0].read(), OPEN_DEADLINE)).committed_seq == 1
        seen = await asyncio.wait_for(asyncio.gather(*(w.read() for w in watches)), OPEN_DEADLINE)
        assert all(list(e.metrics.columns[0].values) == [42.0] for e in seen)

        answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=RPC_DEADLINE)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        assert (await tracker.GetRun(pb.GetRunRequest(run_id=run_id), timeout=RPC_DEADLINE)).run_id == run_id
        for call in calls:
            call.cancel()
    finally:
        await asyncio.gather(*(ch.close() for ch in channels), control.close())


@pytest.mark.slow
def test_1000_open_streams_leave_health_queries_and_ingest_answering(service_factory) -> None:
    _raise_fd_limit(2 * STREAMS + 512)
    service = service_factory(with_runner=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])   # the child imports tests/ingest_events.py
    done = subprocess.run([sys.executable, __file__, service.address], env=env, capture_output=True,
                          text=True, timeout=OPEN_DEADLINE * 4)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok"], done.stdout
    # The streams' ends are noticed: nothing stays counted as in flight.
    assert service.servicer.wait_idle(timeout=OPEN_DEADLINE)


if __name__ == "__main__":   # the clients, in their own process
    asyncio.run(_with_open_streams(sys.argv[1]))
    print("ok")
