"""Reading a damaged spool (`_spool_scan`): every readable record, and where the damage is."""
from __future__ import annotations

import os
from pathlib import Path

from tailrun._spool import SpoolWriter, segments
from tailrun._spool_scan import Damage, scan_folder
from tailrun.v1 import tailrun_pb2 as pb

WRITER = "0123456789abcdef0123456789abcdef"


def _batch(seq: int, size: int = 10) -> bytes:
    req = pb.IngestRequest(writer=WRITER, seq=seq)
    req.events.add().heartbeat.run_id = "r" * size
    return req.SerializeToString()


def _spool(tmp_path: Path, seqs: list[int], segment_bytes: int = 64 * 1024 * 1024) -> Path:
    spool = SpoolWriter(tmp_path / WRITER, segment_bytes=segment_bytes)
    for seq in seqs:
        spool.append(seq, _batch(seq, size=10 + seq))
    spool.close(remove=False)
    return spool.folder


def _offset(seq: int) -> int:
    return sum(8 + len(_batch(s, size=10 + s)) for s in range(1, seq))


def test_records_after_a_corrupt_middle_record_are_read_and_the_damage_located(tmp_path: Path) -> None:
    folder = _spool(tmp_path, [1, 2, 3, 4, 5])
    (seg,) = segments(folder)
    raw = bytearray(seg.read_bytes())
    raw[_offset(3) + 12] ^= 0xFF                         # record 3's payload
    raw[_offset(4) + 1] = 0xFF                           # record 4's length field
    seg.write_bytes(bytes(raw))
    got = list(scan_folder(folder))
    assert [item[0] for item in got if not isinstance(item, Damage)] == [1, 2, 5]
    (damage,) = [item for item in got if isinstance(item, Damage)]
    assert (damage.segment, damage.offset, damage.nbytes, damage.tail) == (
        "000001.seg", _offset(3), _offset(5) - _offset(3), False)


def test_a_torn_tail_is_reported_as_such_and_later_segments_are_read(tmp_path: Path) -> None:
    folder = _spool(tmp_path, [1, 2, 3, 4], segment_bytes=_offset(3) + 5)   # 1-2 | 3-4
    first, second = segments(folder)
    os.truncate(first, _offset(2) + 20)                 # record 2 torn (a crash mid-write)
    got = list(scan_folder(folder))
    assert [item[0] for item in got if not isinstance(item, Damage)] == [1, 3, 4]
    (damage,) = [item for item in got if isinstance(item, Damage)]
    assert (damage.segment, damage.offset, damage.nbytes, damage.tail) == ("000001.seg", _offset(2), 20, True)
    assert str(damage) == f"20 bytes at 000001.seg:{_offset(2)}"


def test_an_undamaged_spool_reads_as_iter_records_does(tmp_path: Path) -> None:
    folder = _spool(tmp_path, list(range(1, 50)))
    assert list(scan_folder(folder)) == [(s, _batch(s, size=10 + s)) for s in range(1, 50)]
