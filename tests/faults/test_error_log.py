"""A server-side write failure that clients retry (issue 8, item 15, the service's part): the
database turns read-only under a running service, a client re-sends a batch many times, and the
service's log says so once, with a count, instead of one traceback per attempt.
"""
from __future__ import annotations

import logging
import re
import time

import grpc
from pg_server import admin_connection
import pytest

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc

ATTEMPTS = 200


def _make_read_only(dbname: str) -> None:
    """Every new session of the database is read-only; the service's open ones are cut, so its pool
    reconnects into read-only sessions (reads work, every write fails)."""
    with admin_connection() as admin:
        admin.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))


def _send_once(tracker: pb_grpc.TrackerStub, run_id: str) -> grpc.RpcError | None:
    """One attempt as a reconnecting client makes it: a new stream, the handshake, the batch."""
    requests = [pb.IngestRequest(writer="retrier", seq=0),
                pb.IngestRequest(writer="retrier", seq=1, events=[pb.Event(start=pb.RunStart(
                    run_id=run_id, experiment="ro", status="Running", time=time.time()))])]
    try:
        acks = list(tracker.Ingest(iter(requests), timeout=30))
    except grpc.RpcError as exc:
        return exc
    raise AssertionError(f"a write to a read-only database was acknowledged: {acks}")


def _exception_text(record: logging.LogRecord) -> str:
    return str(record.exc_info[1]) if record.exc_info else ""


@pytest.mark.postgres
def test_a_repeated_write_failure_is_logged_once_with_a_count(pg_database, service_factory, caplog) -> None:
    service = service_factory(store_url=pg_database, with_runner=False, heartbeat_timeout=None)
    tracker = pb_grpc.TrackerStub(grpc.insecure_channel(service.address))
    assert tracker.ListRuns(pb.ListRunsRequest(), timeout=30).runs is not None   # the pool is warm
    _make_read_only(pg_database.rsplit("/", 1)[1])
    caplog.set_level(logging.INFO, logger="tailrun_service")
    for _ in range(ATTEMPTS):
        error = _send_once(tracker, "ro-run")
        assert error.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE), error
    service.stop()   # writes the count still pending
    lines = [r for r in caplog.records if r.getMessage().startswith("Ingest failed")
             and "read-only transaction" in r.getMessage() + _exception_text(r)]
    tracebacks = [r for r in lines if r.exc_info]
    assert len(tracebacks) <= 1, f"{len(tracebacks)} tracebacks for one repeated error"
    counted = [int(m.group(1)) for r in lines if (m := re.search(r"repeated (\d+) times in the last", r.getMessage()))]
    assert len(lines) == 1 + len(counted), [r.getMessage() for r in lines]
    assert 1 + sum(counted) == ATTEMPTS   # every attempt is accounted for, none logged on its own
    assert len(counted) <= 1 + (caplog.records[-1].created - lines[0].created) / service.servicer.errors.interval
