"""The encoder: queue items -> columnar IngestRequests, and back (every value kind survives)."""
from __future__ import annotations

import math
import time

import pytest

from tailrun._columns import decode_column, decode_rows, encode_column, group_points
from tailrun._encode import MAX_CHUNK_BYTES, Encoder
from tailrun._recorder import ARTIFACT, DESCRIBE, EVENT, FLUSH, LIST, POINT, ROW, TABLE, _Marker
from tailrun.v1 import tailrun_pb2 as pb

T = 1_700_000_000.5


def _metrics(requests: list) -> list[pb.MetricPoints]:
    return [ev.metrics for req in requests if isinstance(req, pb.IngestRequest)
            for ev in req.events if ev.WhichOneof("kind") == "metrics"]


@pytest.mark.parametrize("values", [
    [0.5, -1.25, 3e300],
    [1, -2, 2 ** 63 - 1, -(2 ** 63)],
    [True, False],
    [None, None],
    ["a", "", "ünïcode"],
    [2 ** 64, -(2 ** 70), 10 ** 400],
    [math.nan, math.inf, -math.inf, 1.0],
    [1.5, 2, True, None, "s", 2 ** 80, math.nan, -math.inf],
    [],
])
def test_column_round_trip(values: list) -> None:
    col = pb.Column()
    encode_column(col, values)
    wire = pb.Column.FromString(col.SerializeToString())
    back = decode_column(wire)
    assert len(back) == len(values)
    for got, want in zip(back, values):
        assert type(got) is type(want)
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got)
        else:
            assert got == want
    if all(type(v) is float for v in values):
        assert wire.kinds == b""   # the common case stays one packed array


def test_points_of_one_metric_become_one_message_with_packed_fields() -> None:
    enc = Encoder("w")
    items = [(POINT, "r", f"m{k}", i * 0.5, i, T + i) for i in range(1000) for k in range(3)]
    (req,) = enc.encode(items)
    metrics = _metrics([req])
    assert [m.name for m in metrics] == ["m0", "m1", "m2"]
    for m in metrics:
        assert m.kind == pb.METRIC_KIND_SCALAR
        assert list(m.steps) == list(range(1000))
        assert list(m.times) == [T + i for i in range(1000)]
        assert decode_column(m.columns[0]) == [i * 0.5 for i in range(1000)]
    assert req.writer == "w"


def test_irregular_interleaving_keeps_order_per_metric() -> None:
    items = [(POINT, "r", "a", 1.0, 1, T), (POINT, "r", "b", 2.0, 1, T), (POINT, "r", "a", 3.0, 2, T),
             (POINT, "r2", "a", 4.0, 1, T), (POINT, "r", "a", 5.0, 3, T)]
    groups = group_points(items)
    assert [v[3] for v in groups[("r", "a")]] == [1.0, 3.0, 5.0]
    assert [v[3] for v in groups[("r2", "a")]] == [4.0]
    assert list(groups) == [("r", "a"), ("r", "b"), ("r2", "a")]


def test_points_with_and_without_steps_are_split() -> None:
    enc = Encoder("w")
    items = [(POINT, "r", "m", 1.0, None, T), (POINT, "r", "m", 2.0, 5, T), (POINT, "r", "m", 3.0, 6, T)]
    metrics = _metrics(enc.encode(items))
    assert [(list(m.steps), decode_column(m.columns[0])) for m in metrics] == [([], [1.0]), ([5, 6], [2.0, 3.0])]


def test_list_row_table_artifact_and_description() -> None:
    enc = Encoder("w")
    items = [
        (EVENT, "r", "start", {"run_id": "r", "experiment": "e", "status": "Running"}),
        (DESCRIBE, "r", "rows", "sparse rows"),
        (ROW, "r", "rows", {"a": 1, "b": "x"}, None, T),
        (ROW, "r", "rows", {"c": 2.5}, None, T + 1),
        (LIST, "r", "lst", [1.0, 2, None], None, T),
        (TABLE, "r", "tab", {"x": [1, 2, 3], "y": [0.5, 0.25]}, 3, T),
        (ARTIFACT, "r", "img", pb.METRIC_KIND_IMAGE, "outputs/img.png", T),
    ]
    (req,) = enc.encode(items)
    assert req.events[0].WhichOneof("kind") == "start"   # a run's start precedes its metrics
    by_name = {m.name: m for m in _metrics([req])}
    rows = by_name["rows"]
    assert rows.kind == pb.METRIC_KIND_ROW and rows.description == "sparse rows"
    assert decode_rows(rows) == [{"a": 1, "b": "x", "c": None}, {"a": None, "b": None, "c": 2.5}]
    assert list(rows.times) == [T, T + 1]
    assert decode_column(by_name["lst"].columns[0]) == [1.0, 2, None]
    assert list(by_name["lst"].times) == [T] * 3
    assert decode_rows(by_name["tab"]) == [{"x": 1, "y": 0.5}, {"x": 2, "y": 0.25}, {"x": 3, "y": None}]
    assert by_name["img"].kind == pb.METRIC_KIND_IMAGE
    assert decode_column(by_name["img"].columns[0]) == ["outputs/img.png"]
    assert enc.active_runs == {"r": None}
    enc.encode([(EVENT, "r", "patch", {"run_id": "r", "status": "Completed"})])
    assert enc.active_runs == {}


def test_batches_are_capped_and_flush_markers_keep_their_place() -> None:
    enc = Encoder("w", max_points=1000)
    marker = _Marker()
    items = [(POINT, "r", "m", float(i), i, T) for i in range(2500)]
    out = enc.encode(items[:1500] + [(FLUSH, marker)] + items[1500:])
    kinds = ["marker" if o is marker else sum(len(m.times) for m in _metrics([o])) for o in out]
    assert kinds == [1000, 500, "marker", 1000]
    steps = [s for m in _metrics(out) for s in m.steps]
    assert steps == list(range(2500))


def test_file_chunks_are_split_at_one_mib() -> None:
    enc = Encoder("w")
    data = bytes(range(256)) * (MAX_CHUNK_BYTES // 256 * 2 + 3)
    out = enc.encode([(EVENT, "r", "file", {"run_id": "r", "path": "outputs/a.bin", "offset": 10,
                                            "data": data, "last": True})])
    chunks = [ev.file for req in out for ev in req.events]
    assert all(len(c.data) <= MAX_CHUNK_BYTES for c in chunks) and len(chunks) == 3
    assert b"".join(c.data for c in chunks) == data
    assert [c.offset for c in chunks] == [10, 10 + MAX_CHUNK_BYTES, 10 + 2 * MAX_CHUNK_BYTES]
    assert [c.last for c in chunks] == [False, False, True]
    assert all(req.ByteSize() < 2.5 * MAX_CHUNK_BYTES for req in out)


def test_a_bad_item_is_reported_and_the_rest_is_kept() -> None:
    errors: list[str] = []
    enc = Encoder("w", on_error=errors.append)
    out = enc.encode([(EVENT, "r", "start", {"run_id": "r", "no_such_field": 1}),
                      (POINT, "r", "m", 1.0, 1, T)])
    assert len(errors) == 1 and "EVENT" in errors[0]
    assert [m.name for m in _metrics(out)] == ["m"]


def test_one_million_points_encode_in_reasonable_time() -> None:
    # Not a timing assertion (bench/ measures speed): checks the large-batch path end to end.
    enc = Encoder("w")
    t = time.time()
    items = [(POINT, "r", f"m{k}", float(i), i, t) for i in range(5000) for k in range(10)]
    out = enc.encode(items)
    assert sum(len(m.times) for m in _metrics(out)) == 50_000
    assert all(pb.IngestRequest.FromString(r.SerializeToString()) == r for r in out)
