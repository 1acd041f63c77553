"""Batches and the 16 MiB message limit; spools that are too large or damaged (issue 8, items 1 and 8).

A real service (in-process, loopback port 0), real child scripts and a real `tailrun sync` process:
long strings are sized by their encoded bytes, so every batch is taken and `complete()` returns; a
spooled batch over the limit (written by an older version) is replayed in parts, once however often
sync runs, even after a sync that died half-way; a damaged record in the middle of a spool loses that batch only, and sync says so.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

from tailrun.client import Client
from tailrun.wire import decode_column
from tailrun._encode import Encoder
from tailrun.wire import EVENT, POINT
from tailrun._settings import Settings
from tailrun._spool import spool_root
from tailrun._split import MESSAGE_LIMIT, PART_BYTES, split_events
from tailrun._connection import _Stream
from tailrun.v1 import tailrun_pb2 as pb

SCRIPT = """
import json
from tailrun import Experiment, Workspace
run = Experiment(Workspace(), "long-strings").start_logging(outputs=False, snapshot_directory=None)
for i in range({count}):
    run.log("s", f"{{i:06d}}" + "x" * {pad})
run.complete()
print(json.dumps({{"run_id": run.id}}))
"""


def _stored_strings(service: Any, run_id: str) -> list[str]:
    client = Client(Settings(address=service.address, token=service.token))
    try:
        return [v for mp in client.get_metrics(run_id) for v in decode_column(mp.columns[0])]
    finally:
        client.close()


def _run_status(service: Any, run_id: str) -> str:
    client = Client(Settings(address=service.address, token=service.token))
    try:
        return client.get_run(run_id).status
    finally:
        client.close()


@pytest.mark.parametrize("count, pad", [(60_000, 394), (400, 59_994)], ids=["60k-x-400B", "400-x-60KB"])
def test_long_strings_are_all_stored_and_complete_returns(service, run_script, count: int, pad: int) -> None:
    # Before: the first batch (RunStart + ~21-24 MB of strings) was refused by the service's
    # message limit after every reconnect, so the run never existed and complete() waited 300 s.
    done = run_script(SCRIPT.format(count=count, pad=pad), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "gave up" not in done.stderr and "RESOURCE_EXHAUSTED" not in done.stderr, done.stderr
    run_id = json.loads(done.stdout.strip().splitlines()[-1])["run_id"]
    assert _run_status(service, run_id) == "Completed"
    assert _stored_strings(service, run_id) == [f"{i:06d}" + "x" * pad for i in range(count)]


# ---------------------------------------------------------------- spools replayed by `tailrun sync`

def _frame(record: bytes) -> bytes:
    return struct.pack("<II", len(record), zlib.crc32(record)) + record


def _write_spool(home: Path, address: str, writer: str, records: list[bytes]) -> Path:
    """A spool left by a dead process (as `_spool.SpoolWriter` lays it out)."""
    folder = spool_root(home) / writer
    folder.mkdir(parents=True, mode=0o700)
    (folder / "000001.seg").write_bytes(b"".join(_frame(r) for r in records))
    (folder / "target.json").write_text(json.dumps({"address": address, "token": None, "local": False,
                                                    "pid": 0, "writer": writer, "created": 1.0}))
    return folder


def _batches(writer: str, items: list[tuple], first: int = 1, **sizes: int) -> list[bytes]:
    """The items encoded as this writer's batches first, first + 1, ... (as the recorder numbers them)."""
    out = []
    for seq, batch in enumerate(Encoder(writer, **sizes).encode(items), first):
        out.append(batch.wire(writer, seq))
    return out


def _sync(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
    env["TAILRUN_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "tailrun.cli", "sync", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _send(service: Any, writer: str, requests: list[pb.IngestRequest]) -> None:
    """Send requests on one Ingest stream and wait for their acks."""
    acked = threading.Event()

    def on_ack(stream: Any, ack: pb.IngestAck) -> None:
        if ack.committed_seq >= requests[-1].seq:
            acked.set()

    stream = _Stream(service.address, service.token, None, writer, on_ack, threading.Event())
    try:
        for request in requests:
            stream.send(request.SerializeToString())
        assert acked.wait(60), stream.error
    finally:
        stream.close()


def _start(run_id: str) -> tuple:
    return (EVENT, run_id, "start", {"run_id": run_id, "experiment": "spooled", "status": "Running",
                                     "time": 1.0})


def _end(run_id: str) -> tuple:
    return (EVENT, run_id, "patch", {"run_id": run_id, "status": "Completed", "time": 2.0})


def test_sync_sends_an_oversized_spooled_batch_in_parts_exactly_once(service, tailrun_home) -> None:
    writer, run_id = uuid.uuid4().hex, str(uuid.uuid4())
    logged = [f"{i:06d}" + "x" * 394 for i in range(60_000)]
    # Sized as the old encoder did (24 bytes a point): one ~24 MB batch holding the run's start.
    records = _batches(writer, [_start(run_id)] + [(POINT, run_id, "s", v, i, 1.0) for i, v in enumerate(logged)],
                       max_points=10 ** 9, max_bytes=10 ** 12)
    records += _batches(writer, [_end(run_id)], first=2)
    assert len(records[0]) > MESSAGE_LIMIT
    _write_spool(tailrun_home, service.address, writer, records)
    # An earlier sync that died after sending two of the parts (contract C4: `<writer>~<seq>`).
    parts = split_events(pb.IngestRequest.FromString(records[0]).events, PART_BYTES)
    _send(service, f"{writer}~1", [pb.IngestRequest(writer=f"{writer}~1", seq=n, events=events)
                                   for n, events in enumerate(parts[:2], 1)])

    first = _sync(tailrun_home)
    assert first.returncode == 0, first.stderr
    assert "sent 2 batches" in first.stdout
    assert f"1 over the message limit were sent in {len(parts)} parts" in first.stdout
    assert _stored_strings(service, run_id) == logged
    assert _run_status(service, run_id) == "Completed"
    assert not (spool_root(tailrun_home) / writer).exists()

    # The same spool again (a copy restored from a backup): nothing is stored twice.
    _write_spool(tailrun_home, service.address, writer, records)
    again = _sync(tailrun_home)
    assert again.returncode == 0, again.stderr
    assert "sent 0 batches" in again.stdout and "2 were already stored" in again.stdout
    assert _stored_strings(service, run_id) == logged


def test_sync_gets_past_a_corrupt_middle_record_and_reports_the_lost_batch(service, tailrun_home) -> None:
    writer, run_id = uuid.uuid4().hex, str(uuid.uuid4())
    records = _batches(writer, [_start(run_id)])
    for part in range(4):   # batches 2..5: ten points each
        records += _batches(writer, [(POINT, run_id, "m", float(10 * part + i), 10 * part + i, 1.0)
                                     for i in range(10)], first=part + 2)
    records += _batches(writer, [_end(run_id)], first=6)
    folder = _write_spool(tailrun_home, service.address, writer, records)
    segment = folder / "000001.seg"
    data = bytearray(segment.read_bytes())
    damaged_at = sum(8 + len(r) for r in records[:2])   # batch 3: flip a byte of its payload
    data[damaged_at + 8 + len(records[2]) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))

    plan = _sync(tailrun_home, "--dry-run")
    assert "would send 5 batches" in plan.stdout and "seq 3" in plan.stderr, plan

    done = _sync(tailrun_home)
    assert done.returncode == 1, done   # something was lost: say so in the exit status too
    assert "sent 5 batches" in done.stdout
    assert f"LOST data of writer {writer}: 1 batch (seq 3) could not be read from the spool and is lost" \
        in done.stderr, done.stderr
    assert f"{8 + len(records[2])} bytes at 000001.seg:{damaged_at}" in done.stderr, done.stderr
    client = Client(Settings(address=service.address, token=service.token))
    try:
        steps = [s for mp in client.get_metrics(run_id) for s in mp.steps]
        committed = service.store.committed_seq(writer)
    finally:
        client.close()
    assert steps == list(range(10)) + list(range(20, 40))   # all but the damaged batch's points
    assert committed == 6 and _run_status(service, run_id) == "Completed"


def test_a_tag_value_over_the_service_limit_is_refused_where_it_is_set(ws) -> None:
    # Before: queued as is, the service refused the whole start (the run never existed) or patch.
    from tailrun import Experiment

    experiment = Experiment(ws, "long-tags")
    with pytest.raises(ValueError, match="is 70000 characters long; the limit is 65536"):
        experiment.start_logging(tags={"t": "v" * 70_000}, outputs=False, snapshot_directory=None)
    run = experiment.start_logging(outputs=False, snapshot_directory=None)
    with pytest.raises(ValueError, match="is 70000 characters long; the limit is 65536"):
        run.set_tags({"t": "v" * 70_000})
    run.set_tags({"t": "v" * 65_536})
    run.complete()
    assert run.get_tags()["t"] == "v" * 65_536
