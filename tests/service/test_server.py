"""The service through real gRPC channels: ingest acks and exactly-once, queries and errors,
health and reflection, startup refusals, the CLI, and a graceful SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from grpc_util import (TIMEOUT, IngestSession, WatchCollector, file_chunk, metric_values, new_id,
                       payload_events, points, start, stub)
from tailrun.v1 import tailrun_pb2 as pb
from tailrun.v1 import tailrun_pb2_grpc as pb_grpc


def test_serve_returns_the_server_and_its_bound_port(service) -> None:
    server, port = service
    assert server is service.server
    assert port > 0 and service.address == f"127.0.0.1:{port}"
    assert service.token is None and service.data_dir.is_dir()


def test_a_batch_is_acked_after_commit_and_readable_at_once(service) -> None:
    tracker, run_id = stub(service.address), new_id()
    with IngestSession(tracker) as session:
        ack = session.send(1, [start(run_id), points(run_id, "loss", [3.0, 2.0, 1.0])])
        assert (ack.writer, ack.committed_seq, list(ack.rejected)) == (session.writer, 1, [])
        # A different channel sees the batch right after the ack: it was committed first.
        other = stub(service.address)
        assert other.GetRun(pb.GetRunRequest(run_id=run_id), timeout=TIMEOUT).experiment == "exp"
        assert metric_values(other, run_id, "loss") == [3.0, 2.0, 1.0]
    assert service.store.committed_seq(session.writer) == 1


def test_the_same_writer_and_seq_twice_is_stored_once(service) -> None:
    tracker, run_id, writer = stub(service.address), new_id(), new_id()
    with IngestSession(tracker, writer) as session:
        assert session.send(1, [start(run_id), points(run_id, "acc", [0.5])]).committed_seq == 1
        assert session.send(2, [points(run_id, "acc", [0.6], first_step=1)]).committed_seq == 2
        assert session.send(2, [points(run_id, "acc", [0.6], first_step=1)]).committed_seq == 2
    # A reconnecting writer: the handshake says where to resume; re-sent batches are no-ops.
    with IngestSession(tracker, writer) as session:
        assert session.send(0).committed_seq == 2
        assert session.send(1, [start(run_id), points(run_id, "acc", [0.5])]).committed_seq == 2
        assert session.send(3, [points(run_id, "acc", [0.7], first_step=2)]).committed_seq == 3
    assert metric_values(tracker, run_id, "acc") == [0.5, 0.6, 0.7]


def test_handshake_of_a_new_writer_is_zero(service) -> None:
    with IngestSession(stub(service.address)) as session:
        assert session.send(0).committed_seq == 0


def test_a_bad_event_is_rejected_and_the_rest_stored(service) -> None:
    tracker, run_id = stub(service.address), new_id()
    with IngestSession(tracker) as session:
        ack = session.send(1, [start(run_id), file_chunk(run_id, "../escape.txt", b"x"),
                               points(run_id, "m", [1.0])])
    assert ack.committed_seq == 1 and len(ack.rejected) == 1
    assert "escape" in ack.rejected[0]
    assert metric_values(tracker, run_id, "m") == [1.0]


def _code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            list(result)
    return info.value.code(), info.value.details()


def test_domain_errors_become_status_codes_with_their_message(service) -> None:
    tracker = stub(service.address)
    code, details = _code(lambda: tracker.GetRun(pb.GetRunRequest(run_id="no-such-run"), timeout=TIMEOUT))
    assert code == grpc.StatusCode.NOT_FOUND and "no-such-run" in details
    code, details = _code(lambda: tracker.GetRun(pb.GetRunRequest(), timeout=TIMEOUT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "run_id" in details
    code, details = _code(lambda: tracker.Watch(pb.WatchRequest(kinds=["bogus"]), timeout=TIMEOUT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "bogus" in details
    code, details = _code(lambda: tracker.Ingest(iter([pb.IngestRequest(seq=1)]), timeout=TIMEOUT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "writer" in details
    run_id = new_id()
    with IngestSession(tracker) as session:
        session.send(1, [start(run_id)])
    code, details = _code(lambda: tracker.ReadFile(pb.ReadFileRequest(run_id=run_id, path="../../etc/passwd"),
                                                   timeout=TIMEOUT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "etc/passwd" in details
    # The server is still fine after all that.
    assert tracker.GetRun(pb.GetRunRequest(run_id=run_id), timeout=TIMEOUT).run_id == run_id


def test_read_file_streams_chunks_of_at_most_one_mib(service) -> None:
    tracker, run_id = stub(service.address), new_id()
    data = os.urandom(2 * 1024 * 1024 + 12345)
    half = len(data) // 2
    with IngestSession(tracker) as session:
        session.send(1, [start(run_id), file_chunk(run_id, "outputs/blob.bin", data[:half], last=False)])
        session.send(2, [file_chunk(run_id, "outputs/blob.bin", data[half:], offset=half, last=True)])
    chunks = list(tracker.ReadFile(pb.ReadFileRequest(run_id=run_id, path="outputs/blob.bin"), timeout=TIMEOUT))
    assert len(chunks) == 3 and all(len(c.data) <= 1024 * 1024 for c in chunks)
    assert b"".join(c.data for c in chunks) == data
    assert [c.last for c in chunks] == [False, False, True]
    assert [c.offset for c in chunks] == [0, 1024 * 1024, 2 * 1024 * 1024]
    part = list(tracker.ReadFile(pb.ReadFileRequest(run_id=run_id, path="outputs/blob.bin", offset=100, limit=50),
                                 timeout=TIMEOUT))
    assert b"".join(c.data for c in part) == data[100:150] and part[-1].last
    files = tracker.ListFiles(pb.ListFilesRequest(run_id=run_id, prefix="outputs/"), timeout=TIMEOUT).files
    assert [(f.path, f.size, f.complete) for f in files] == [("outputs/blob.bin", len(data), True)]


def test_experiment_and_run_queries(service) -> None:
    tracker, first, second = stub(service.address), new_id(), new_id()
    with IngestSession(tracker) as session:
        session.send(1, [start(first, "alpha"), start(second, "beta")])
    names = {e.name for e in tracker.ListExperiments(pb.ListExperimentsRequest(), timeout=TIMEOUT).experiments}
    assert {"alpha", "beta"} <= names
    runs = tracker.ListRuns(pb.ListRunsRequest(experiment="alpha"), timeout=TIMEOUT).runs
    assert [r.run_id for r in runs] == [first]
    archived = tracker.SetExperimentArchived(pb.SetExperimentArchivedRequest(name="beta", archived=True),
                                             timeout=TIMEOUT)
    assert archived.name == "beta" and archived.archived_time > 0
    active = {e.name for e in tracker.ListExperiments(pb.ListExperimentsRequest(), timeout=TIMEOUT).experiments}
    assert "beta" not in active and "alpha" in active


def test_health_and_reflection(service) -> None:
    channel = grpc.insecure_channel(service.address)
    health_stub = health_pb2_grpc.HealthStub(channel)
    for name in ("", "tailrun.v1.Tracker"):
        answer = health_stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=TIMEOUT)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflection_stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = reflection_stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=TIMEOUT)
    listed = {s.name for answer in answers for s in answer.list_services_response.service}
    assert {"tailrun.v1.Tracker", "grpc.health.v1.Health"} <= listed


def test_without_a_runner_submit_and_cancel_are_unimplemented(service_factory) -> None:
    service = service_factory(with_runner=False)
    tracker = stub(service.address)
    spec = pb.SubmitRequest(spec=pb.SubmitSpec(experiment="exp"))
    code, details = _code(lambda: tracker.SubmitRun(iter([spec]), timeout=TIMEOUT))
    assert code == grpc.StatusCode.UNIMPLEMENTED and details == "this service does not run scripts"
    code, details = _code(lambda: tracker.CancelRun(pb.CancelRunRequest(run_id="r"), timeout=TIMEOUT))
    assert code == grpc.StatusCode.UNIMPLEMENTED


def test_a_snapshot_over_the_limit_is_refused(service) -> None:
    assert service.runner is not None, "the runner should be available in the dev install"
    service.servicer.max_snapshot_bytes = 4096   # the real limit is 300 MiB; same code path
    tracker = stub(service.address)
    parts = [pb.SubmitRequest(spec=pb.SubmitSpec(experiment="exp"))]
    parts += [pb.SubmitRequest(snapshot_chunk=b"x" * 3000) for _ in range(2)]
    code, details = _code(lambda: tracker.SubmitRun(iter(parts), timeout=TIMEOUT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "over the limit" in details
    code, details = _code(lambda: tracker.SubmitRun(iter(parts[1:]), timeout=TIMEOUT))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "first message" in details


def test_a_non_loopback_host_without_a_token_is_refused(tmp_path: Path) -> None:
    from tailrun_service.server import ServeError, serve

    with pytest.raises(ServeError, match="without a token"):
        serve(host="0.0.0.0", port=0, data_dir=tmp_path / "data", with_runner=False)
    done = subprocess.run([sys.executable, "-m", "tailrun_service", "--host", "0.0.0.0", "--port", "0",
                           "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--token" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("flags, complaint", [
    (["--port", "http"], "not a port number"),
    (["--port", "70000"], "outside 0-65535"),
    (["--max-concurrent-runs", "0"], "at least 1"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--tls-cert", "/no/such.pem", "--tls-key", "/no/such.key"], "no such file"),
])
def test_bad_flags_give_one_clear_line_and_exit_2(flags, complaint, capsys) -> None:
    from tailrun_service.cli import main

    assert main(["server", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert complaint in err and len(err.splitlines()) == 1 and err.startswith("tailrun server:")


def test_stopping_ends_idle_ingest_streams_at_once_with_unavailable(service_factory) -> None:
    """A connected script that sends nothing must not hold up a stop until the grace period ends."""
    import threading

    service = service_factory(with_runner=False)
    session = IngestSession(stub(service.address))
    assert session.send(0).committed_seq == 0   # the stream is open and idle
    stopper = threading.Thread(target=service.stop, kwargs={"grace": 60})
    stopper.start()
    try:
        with pytest.raises(grpc.RpcError) as info:
            next(session._acks)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "shutting down" in info.value.details()   # ended by the service, not by the grace timeout
    finally:
        stopper.join(TIMEOUT * 4)


def test_sigterm_commits_every_acked_batch_and_exits_0(tmp_path: Path) -> None:
    from tailrun_service.store import Store

    data_dir, port_file = tmp_path / "data", tmp_path / "port"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
    proc = subprocess.Popen([sys.executable, "-m", "tailrun_service", "--port", "0", "--port-file",
                             str(port_file), "--data-dir", str(data_dir)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the service did not write its port file"
            time.sleep(0.05)
        port = int(port_file.read_text())
        tracker, run_id, per_batch = stub(f"127.0.0.1:{port}"), new_id(), 50
        session = IngestSession(tracker)
        acked, seq = 0, 0
        try:
            while True:
                seq += 1
                events = [points(run_id, "m", [float(i) for i in range(per_batch)], first_step=seq * per_batch)]
                if seq == 1:
                    events.insert(0, start(run_id))
                acked = session.send(seq, events).committed_seq
                if seq == 20:
                    proc.send_signal(signal.SIGTERM)   # batches keep flowing while it shuts down
        except (grpc.RpcError, StopIteration) as exc:
            assert not isinstance(exc, grpc.RpcError) or exc.code() == grpc.StatusCode.UNAVAILABLE, exc
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"tailrun server listening on 127.0.0.1:{port} (data: {data_dir}, store: sqlite)" in out
    assert acked >= 20
    store = Store.open(None, data_dir)
    try:
        assert store.committed_seq(session.writer) >= acked
        stored = sum(len(chunk.times) for chunk in store.iter_metrics(run_id, "m"))
        assert stored == store.committed_seq(session.writer) * per_batch   # nothing lost, nothing twice
    finally:
        store.close()


@pytest.mark.postgres
def test_ingest_dedup_and_watch_on_postgresql(pg_service) -> None:
    tracker, run_id = stub(pg_service.address), new_id()
    assert not (pg_service.data_dir / "tailrun.db").exists()   # really on PostgreSQL
    watch = WatchCollector(tracker, pb.WatchRequest(from_start=True))
    try:
        with IngestSession(tracker) as session:
            assert session.send(1, [start(run_id), points(run_id, "m", [1.0, 2.0])]).committed_seq == 1
            assert session.send(1, [start(run_id), points(run_id, "m", [1.0, 2.0])]).committed_seq == 1
        assert metric_values(tracker, run_id, "m") == [1.0, 2.0]
        events = watch.wait_for(lambda ev: any(e.HasField("metrics") for e in ev))
        assert [e.WhichOneof("kind") for e in payload_events(events)] == ["run", "metrics"]
    finally:
        watch.stop()


def test_tls_when_a_certificate_is_given(service_factory, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                           "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                           "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    service = service_factory(tls_cert=cert, tls_key=key, with_runner=False)
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    secure = pb_grpc.TrackerStub(grpc.secure_channel(service.address, credentials))
    assert secure.ListExperiments(pb.ListExperimentsRequest(), timeout=TIMEOUT).experiments is not None
    with pytest.raises(grpc.RpcError) as info:   # plaintext cannot talk to a TLS port
        stub(service.address).ListExperiments(pb.ListExperimentsRequest(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_run_script_children_reach_the_service(service, run_script, tailrun_home: Path) -> None:
    code = """
import os, grpc
from tailrun.v1 import tailrun_pb2 as pb, tailrun_pb2_grpc as pb_grpc
with grpc.insecure_channel(os.environ["TAILRUN_ADDRESS"]) as channel:   # closed before exit
    tracker = pb_grpc.TrackerStub(channel)
    acks = list(tracker.Ingest(iter([pb.IngestRequest(writer="child", seq=1, events=[
        pb.Event(start=pb.RunStart(run_id="from-child", experiment="exp"))])]), timeout=20))
print(acks[0].committed_seq, os.environ["TAILRUN_HOME"], os.environ.get("TAILRUN_TOKEN"))
"""
    done = run_script(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", str(tailrun_home), "None"]
    assert service.store.get_run("from-child").experiment == "exp"


@pytest.mark.postgres
def test_an_unexpected_failure_is_internal_and_the_server_survives(pg_service, pg_database: str) -> None:
    from pg_server import admin_connection

    tracker = stub(pg_service.address)
    assert tracker.ListRuns(pb.ListRunsRequest(), timeout=TIMEOUT).runs is not None
    dbname = pg_database.rsplit("/", 1)[1]
    with admin_connection() as admin:   # the database vanishes under us
        admin.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
    with pytest.raises(grpc.RpcError) as info:
        tracker.ListRuns(pb.ListRunsRequest(), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert info.value.details().startswith("ListRuns failed:") and len(info.value.details()) < 300
    health_stub = health_pb2_grpc.HealthStub(grpc.insecure_channel(pg_service.address))
    assert health_stub.Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT).status == \
        health_pb2.HealthCheckResponse.SERVING
