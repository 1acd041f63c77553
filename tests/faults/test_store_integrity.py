"""The store's files vanish under a running service (issue 8, item 6).

Before: SQLite went on writing to the unlinked database file and artifact writes made the deleted
folders again, so every batch was acknowledged and readable, and after a restart the run did not
exist. Now the service compares its data dir, database file and artifact folder with what it
opened, refuses every batch (and the handshake) with UNAVAILABLE while they are gone, replaced or
unwritable, and logs why once; the client keeps its data in the spool.
"""
from __future__ import annotations

import json
import logging
import shutil
import uuid

import grpc
from faultkit import (
    ServiceProcess,
    ingest,
    ingest_refusal,
    script_env,
    spawn_script,
    wait_for,
)
from ingest_events import points, start
from tailrun._spool import iter_records
from tailrun.v1 import tailrun_pb2 as pb

STORE_LOG = "the store cannot be used"


def test_a_script_keeps_its_data_when_the_data_dir_is_deleted(tmp_path):
    """A real service process and a real script: after `rm -rf <data dir>` nothing more is
    acknowledged, the script's spool keeps every later batch, the service log says why once."""
    data = tmp_path / "data"
    service = ServiceProcess(data).start()
    deleted = tmp_path / "deleted"
    home = tmp_path / "home"
    home.mkdir()
    script = spawn_script(f"""
        import json, pathlib, time
        from tailrun import Experiment, Workspace
        from tailrun._recorder import recorder

        run = Experiment(Workspace(), "vanish").start_logging(outputs=False, snapshot_directory=None)
        for i in range(10):
            run.log("before", float(i))
        run.flush(30)
        s = recorder().status()
        print(json.dumps({{"run": run.id, "acked": s.acked_seq, "last": s.last_seq}}), flush=True)
        while not pathlib.Path({str(deleted)!r}).exists():
            time.sleep(0.02)
        for i in range(10):
            run.log("after", float(i))
        run.flush(30)   # returns once the batches are spooled: the service refuses them
        s = recorder().status()
        print(json.dumps({{"acked": s.acked_seq, "last": s.last_seq, "error": s.last_error,
                           "spool": str(recorder()._spool.folder)}}), flush=True)
    """, script_env(home, service.address, TAILRUN_EXIT_TIMEOUT="1"), tmp_path / "cwd")
    try:
        before = json.loads(script.stdout.readline())
        assert before["acked"] >= 1, before
        shutil.rmtree(data)
        deleted.touch()
        after = json.loads(script.stdout.readline() or "{}")
        _, err = script.communicate(timeout=60)
    finally:
        if script.poll() is None:
            script.kill()
    assert after, f"the script did not report: {err}"
    # Nothing logged after the deletion (batches after before["last"]) was acknowledged, and the
    # spool holds every unacknowledged batch.
    assert after["acked"] <= before["last"] < after["last"], (before, after)
    assert "UNAVAILABLE" in after["error"] and f"the data dir {data} was deleted" in after["error"], after
    spooled = {seq for seq, record, _ in iter_records(tmp_path / after["spool"]) if record}
    assert set(range(after["acked"] + 1, after["last"] + 1)) <= spooled
    # The service said why, once (not per refused request).
    log = service.log_tail(100_000)
    assert log.count(STORE_LOG) == 1, log
    assert f"the data dir {data} was deleted" in log

    # The restart half: a restarted service opens a new store there and answers again. What it
    # acknowledged before the deletion went with the deleted files; nothing after it was acked.
    service.kill()
    service.start()
    reply = ingest(service.address, pb.IngestRequest(writer=f"w-{uuid.uuid4().hex}", seq=1,
                                                      events=[start(f"r-{uuid.uuid4().hex}", "vanish")]))
    assert reply[-1].committed_seq == 1 and not reply[-1].rejected
    service.stop()


def test_deleted_data_dir_answers_unavailable_and_logs_once(service, caplog):
    caplog.set_level(logging.ERROR, logger="tailrun_service.store")
    run_id, writer = f"r-{uuid.uuid4().hex}", f"w-{uuid.uuid4().hex}"
    first = ingest(service.address, pb.IngestRequest(writer=writer, seq=1, events=[start(run_id, "vanish")]))
    assert first[0].committed_seq == 1
    assert service.store.check_usable() is None
    shutil.rmtree(service.data_dir)

    reason = f"the data dir {service.data_dir} was deleted"
    assert service.store.check_usable() == reason
    for request in (pb.IngestRequest(writer=writer, seq=2, events=[points(run_id, "m", [1.0])]),
                    pb.IngestRequest(writer=writer, seq=0),
                    pb.IngestRequest(writer=f"w-{uuid.uuid4().hex}", seq=1, events=[start("other", "vanish")])):
        refused = ingest_refusal(service.address, request)
        assert refused.code() == grpc.StatusCode.UNAVAILABLE, refused
        assert reason in refused.details() and "nothing was stored" in refused.details()
    assert not (service.data_dir / "artifacts").exists(), "a write made the deleted folders again"
    said = [r.getMessage() for r in caplog.records if STORE_LOG in r.getMessage()]
    assert len(said) == 1 and reason in said[0], said


def test_a_data_dir_made_again_at_the_same_path_is_not_the_store(service):
    shutil.rmtree(service.data_dir)
    (service.data_dir / "artifacts").mkdir(parents=True)
    reason = service.store.check_usable()
    assert reason is not None and "was replaced" in reason and str(service.data_dir) in reason
    refused = ingest_refusal(service.address, pb.IngestRequest(writer="w", seq=1, events=[start("r", "vanish")]))
    assert refused.code() == grpc.StatusCode.UNAVAILABLE


def test_postgresql_service_checks_its_artifact_folder(pg_service):
    """The database is remote, the artifact folder is local: deleting it stops acknowledgements."""
    run_id, writer = f"r-{uuid.uuid4().hex}", f"w-{uuid.uuid4().hex}"
    ingest(pg_service.address, pb.IngestRequest(writer=writer, seq=1, events=[start(run_id, "vanish")]))
    shutil.rmtree(pg_service.data_dir / "artifacts")
    chunk = pb.Event(file=pb.FileChunk(run_id=run_id, path="outputs/a.txt", data=b"a", last=True))
    refused = ingest_refusal(pg_service.address, pb.IngestRequest(writer=writer, seq=2, events=[chunk]))
    assert refused.code() == grpc.StatusCode.UNAVAILABLE
    assert f"the artifact folder {pg_service.data_dir / 'artifacts'} was deleted" in refused.details()
    assert not (pg_service.data_dir / "artifacts").exists()
    # The batch was not stored: the writer resumes after seq 1 once the folder is back.
    (pg_service.data_dir / "artifacts").mkdir()
    assert "was replaced" in pg_service.store.check_usable()
    with pg_service.store.db.read() as conn:
        from tailrun_service.store.ingest import committed_seq
        assert committed_seq(conn, writer) == 1


def test_the_periodic_check_notices_without_traffic(tmp_path, caplog):
    """No request needed: the background check logs the reason (what health can poll too)."""
    from tailrun_service.store import Store
    from tailrun_service.store.integrity import StoreIntegrity

    caplog.set_level(logging.ERROR, logger="tailrun_service.store")
    store = Store.open(None, tmp_path / "data")
    try:
        store.integrity.close()   # the one started by open checks every 2 s: use a fast one
        store.integrity = StoreIntegrity({"data dir": tmp_path / "data"}, {}).start(interval=0.01)
        shutil.rmtree(tmp_path / "data")
        wait_for(lambda: any(STORE_LOG in r.getMessage() for r in caplog.records), 10,
                 "the periodic check to log the deleted data dir")
    finally:
        store.close()
