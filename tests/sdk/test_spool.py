"""The spool: crc framing, torn and corrupt tails, segments, the cap, abandoned folders."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tailrun._spool import (SpoolWriter, abandoned, claim, iter_records, peek_seq, read_segment,
                            segments)
from tailrun.v1 import tailrun_pb2 as pb


def _batch(seq: int, size: int = 10) -> bytes:
    req = pb.IngestRequest(writer="w" * 32, seq=seq)
    req.events.add().heartbeat.run_id = "r" * size
    return req.SerializeToString()


def _three_batch_segment(folder: Path) -> Path:
    """The one segment file of a closed, kept spool of batches 1, 2 and 3."""
    spool = SpoolWriter(folder)
    for seq in (1, 2, 3):
        spool.append(seq, _batch(seq))
    spool.close(remove=False)
    (seg,) = segments(folder)
    return seg


def test_records_round_trip_and_seq_is_peeked(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path / "spool" / "writer1")
    locations = [spool.append(seq, _batch(seq)) for seq in range(1, 6)]
    assert all(loc is not None for loc in locations)
    assert spool.read_at(*locations[2]) == _batch(3)
    got = list(iter_records(spool.folder))
    assert [(seq, rec) for seq, rec, _ in got] == [(s, _batch(s)) for s in range(1, 6)]
    assert peek_seq(pb.IngestRequest(writer="x", seq=300).SerializeToString()) == 300
    assert stat.S_IMODE(os.stat(spool.folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(spool.folder.parent).st_mode) == 0o700


def test_torn_tail_stops_reading_and_reports_skipped_bytes(tmp_path: Path) -> None:
    seg = _three_batch_segment(tmp_path / "w")
    full = seg.stat().st_size
    os.truncate(seg, full - 7)          # a crash in the middle of the last record
    read = read_segment(seg)
    assert read.records == [_batch(1), _batch(2)]
    assert read.skipped == len(_batch(3)) + 8 - 7
    os.truncate(seg, len(_batch(1)) + 8 + 3)   # torn inside the header of record 2
    read = read_segment(seg)
    assert read.records == [_batch(1)] and read.skipped == 3


def test_corrupt_crc_stops_reading(tmp_path: Path) -> None:
    seg = _three_batch_segment(tmp_path / "w")
    raw = bytearray(seg.read_bytes())
    second = len(_batch(1)) + 8
    raw[second + 8 + 4] ^= 0xFF          # flip a byte inside record 2's payload
    seg.write_bytes(bytes(raw))
    read = read_segment(seg)
    assert read.records == [_batch(1)]
    assert read.skipped == len(raw) - second
    assert [seq for seq, rec, _ in iter_records(tmp_path / "w") if rec] == [1]


def test_segments_roll_and_acked_ones_are_deleted(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path / "w", segment_bytes=300)
    for seq in range(1, 21):
        spool.append(seq, _batch(seq, size=40))
    files = segments(spool.folder)
    assert len(files) > 3
    spool.release(acked_seq=10)
    left = [seq for seq, rec, _ in iter_records(spool.folder)]
    assert left[0] <= 11 and left[-1] == 20 and left == list(range(left[0], 21))
    spool.release(acked_seq=20)
    assert len(segments(spool.folder)) == 1     # the segment being written stays
    spool.close(remove=True)
    assert not spool.folder.exists()


def test_cap_drops_new_batches_and_counts_them(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path / "w", max_bytes=3 * (len(_batch(1)) + 8))
    results = [spool.append(seq, _batch(seq)) for seq in range(1, 6)]
    assert [r is not None for r in results] == [True, True, True, False, False]
    assert spool.dropped_batches == 2
    assert [seq for seq, _, _ in iter_records(spool.folder)] == [1, 2, 3]


def test_target_file_is_private_and_holds_the_pid(tmp_path: Path) -> None:
    spool = SpoolWriter(tmp_path / "w")
    spool.set_target("127.0.0.1:1", "secret", local=False)
    target = spool.folder / "target.json"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    data = json.loads(target.read_text())
    assert data["address"] == "127.0.0.1:1" and data["token"] == "secret" and data["pid"] == os.getpid()


def test_only_spools_of_dead_writers_are_abandoned(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    live = SpoolWriter(root / "live")            # held by this process
    live.append(1, _batch(1))
    code = ("import sys; from pathlib import Path; from tailrun._spool import SpoolWriter;"
            "s = SpoolWriter(Path(sys.argv[1])); s.set_target('a:1', None, False); s.append(1, b'x')")
    subprocess.run([sys.executable, "-c", code, str(root / "dead")], check=True, timeout=60)
    assert abandoned(root) == [root / "dead"]
    fd = claim(root / "dead")
    assert fd is not None
    assert claim(root / "dead") is None           # one replayer at a time
    os.close(fd)
    assert claim(root / "live") is None
