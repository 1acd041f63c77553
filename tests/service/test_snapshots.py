"""Snapshots on a real service: stored once by content under <data-dir>/snapshots, recorded on the
run as ContentSnapshotId, read back byte for byte; run-scoped tokens reach only their own run's."""
from __future__ import annotations

import hashlib
import io
import zipfile

import grpc
import pytest

from grpc_util import TIMEOUT, IngestSession, bearer, new_id, start, stub
from tailrun.v1 import tailrun_pb2 as pb
from tailrun_service.auth import run_token
from tailrun_service.errors import InvalidArgument, NotFound
from tailrun_service.snapshots import MAX_SNAPSHOT_FILES, SnapshotStore

TOKEN = "snapshot service token"


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def put(tracker, run_id: str, data: bytes, metadata: tuple = (), chunk: int = 1000) -> pb.SnapshotInfo:
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [b""]
    chunks = [pb.SnapshotChunk(run_id=run_id, data=parts[0])] + [pb.SnapshotChunk(data=p) for p in parts[1:]]
    return tracker.PutSnapshot(iter(chunks), metadata=metadata, timeout=TIMEOUT)


def read(tracker, metadata: tuple = (), **request) -> bytes:
    return b"".join(c.data for c in tracker.ReadSnapshot(pb.ReadSnapshotRequest(**request),
                                                          metadata=metadata, timeout=TIMEOUT))


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def properties(tracker, run_id: str, metadata: tuple = ()) -> dict[str, str]:
    return dict(tracker.GetRun(pb.GetRunRequest(run_id=run_id), metadata=metadata, timeout=TIMEOUT).properties)


# ---------------------------------------------------------------- the store itself

def test_a_zip_is_stored_once_by_content(tmp_path) -> None:
    snapshots = SnapshotStore(tmp_path)
    data = make_zip({"train.py": b"print(1)\n", "pkg/util.py": b"x = 2\n"})
    first = snapshots.put(data)
    again = snapshots.put(data)
    assert first == again
    assert first.snapshot_id == hashlib.sha256(data).hexdigest()[:32]
    assert (first.size, first.file_count) == (len(data), 2)
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == [f"{first.snapshot_id}.zip"]
    with snapshots.open(first.snapshot_id) as fh:
        assert fh.read() == data
    # b"" (a submission with nothing in it) is kept as an empty zip, so it can be read back as one.
    empty = snapshots.put(b"")
    with zipfile.ZipFile(snapshots.path_of(empty.snapshot_id)) as archive:
        assert archive.namelist() == []


def test_bad_zips_and_ids_are_refused_naming_the_problem(tmp_path) -> None:
    snapshots = SnapshotStore(tmp_path)
    with pytest.raises(InvalidArgument, match="not a valid zip file"):
        snapshots.put(b"this is not a zip")
    with pytest.raises(InvalidArgument, match=r"'\.\./evil\.py' is not a plain relative path"):
        snapshots.put(make_zip({"../evil.py": b""}))
    with pytest.raises(InvalidArgument, match=f"over the limit of {MAX_SNAPSHOT_FILES}"):
        snapshots.put(make_zip({f"f{i}": b"" for i in range(MAX_SNAPSHOT_FILES + 1)}))
    with pytest.raises(InvalidArgument, match="is not a snapshot id"):
        snapshots.path_of("../../tailrun.db")
    with pytest.raises(NotFound, match="no snapshot '0{32}' on this service"):
        snapshots.path_of("0" * 32)
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == []   # nothing half-written left


# ---------------------------------------------------------------- over gRPC

def test_put_records_the_first_snapshot_on_the_run_and_read_returns_the_bytes(service) -> None:
    tracker = stub(service.address)
    run_id, bare = new_id(), new_id()
    with IngestSession(tracker) as session:
        session.send(1, [start(run_id), start(bare)])
    first_zip = make_zip({"a.py": b"a" * 5000})
    second_zip = make_zip({"b.py": b"b"})
    first = put(tracker, run_id, first_zip)
    assert first.file_count == 1 and first.size == len(first_zip)
    assert properties(tracker, run_id)["ContentSnapshotId"] == first.snapshot_id
    # A second one is stored too, but the run keeps its first (properties are add-only).
    second = put(tracker, run_id, second_zip)
    assert second.snapshot_id != first.snapshot_id
    assert properties(tracker, run_id)["ContentSnapshotId"] == first.snapshot_id
    assert read(tracker, run_id=run_id) == first_zip
    assert read(tracker, snapshot_id=second.snapshot_id) == second_zip
    assert (service.data_dir / "snapshots" / f"{second.snapshot_id}.zip").read_bytes() == second_zip

    error = refused(lambda: read(tracker, run_id=bare))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert f"run {bare!r} has no snapshot" in error.details()
    error = refused(lambda: read(tracker, snapshot_id="f" * 32))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "no snapshot 'fff" in error.details()
    error = refused(lambda: read(tracker, run_id="no-such-run"))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "no-such-run" in error.details()
    error = refused(lambda: read(tracker))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "snapshot_id or a run_id" in error.details()


def test_put_refuses_unknown_runs_bad_zips_and_oversized_streams(service) -> None:
    tracker = stub(service.address)
    run_id = new_id()
    with IngestSession(tracker) as session:
        session.send(1, [start(run_id)])
    error = refused(lambda: put(tracker, "no-such-run", make_zip({"a": b""})))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "no-such-run" in error.details()
    error = refused(lambda: tracker.PutSnapshot(iter([]), timeout=TIMEOUT))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "no chunk was sent" in error.details()
    error = refused(lambda: put(tracker, run_id, b"not a zip"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "not a valid zip" in error.details()
    service.servicer.max_snapshot_bytes = 2000   # the same bound as SubmitRun's, made small
    error = refused(lambda: put(tracker, run_id, make_zip({"big": bytes(range(256)) * 20})))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "over the limit" in error.details()
    assert "ContentSnapshotId" not in properties(tracker, run_id)   # nothing recorded


def test_a_run_scoped_token_puts_and_reads_only_its_own_runs_snapshot(service_factory) -> None:
    secured = service_factory(token=TOKEN, with_runner=False)
    tracker = stub(secured.address)
    admin = bearer(TOKEN)
    mine, other, child = new_id(), new_id(), new_id()
    with IngestSession(tracker, metadata=admin) as session:
        session.send(1, [start(mine), start(other), start(child, parent=mine)])
    scoped = bearer(run_token(TOKEN, mine))
    own_zip, other_zip = make_zip({"mine.py": b"1"}), make_zip({"other.py": b"2"})
    own = put(tracker, mine, own_zip, metadata=scoped)
    assert read(tracker, metadata=scoped, run_id=mine) == own_zip
    assert read(tracker, metadata=scoped, snapshot_id=own.snapshot_id) == own_zip   # its run's, by id
    put(tracker, child, make_zip({"child.py": b"3"}), metadata=scoped)   # a run it started
    theirs = put(tracker, other, other_zip, metadata=admin)

    for call in (lambda: put(tracker, other, own_zip, metadata=scoped),
                 lambda: read(tracker, metadata=scoped, run_id=other),
                 lambda: read(tracker, metadata=scoped, snapshot_id=theirs.snapshot_id),
                 lambda: read(tracker, metadata=scoped, run_id=mine, snapshot_id=theirs.snapshot_id)):
        assert refused(call).code() == grpc.StatusCode.PERMISSION_DENIED
    assert properties(tracker, other, admin)["ContentSnapshotId"] == theirs.snapshot_id
    assert read(tracker, metadata=admin, snapshot_id=own.snapshot_id) == own_zip   # admin: everything
    assert refused(lambda: read(tracker, run_id=mine)).code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_runner_keeps_each_submitted_zip(service, tmp_path) -> None:
    tracker = stub(service.address)
    data = make_zip({"train.py": b"print('hello')\n"})
    run_id = f"snap_{new_id()[:8]}"
    spec = pb.SubmitSpec(experiment="snap", run_id=run_id, run_definition_json='{"script": "train.py"}')
    requests = [pb.SubmitRequest(spec=spec), pb.SubmitRequest(snapshot_chunk=data)]
    info = tracker.SubmitRun(iter(requests), timeout=TIMEOUT)
    snapshot_id = info.properties["ContentSnapshotId"]
    assert snapshot_id == hashlib.sha256(data).hexdigest()[:32]
    assert read(tracker, run_id=run_id) == data
    assert read(tracker, snapshot_id=snapshot_id) == data


def test_recording_the_snapshot_works_on_postgresql(pg_service) -> None:
    tracker = stub(pg_service.address)
    run_id = new_id()
    with IngestSession(tracker) as session:
        session.send(1, [start(run_id)])
    data = make_zip({"train.py": b"print('pg')\n"})
    info = put(tracker, run_id, data)
    assert properties(tracker, run_id)["ContentSnapshotId"] == info.snapshot_id
    assert read(tracker, run_id=run_id) == data
