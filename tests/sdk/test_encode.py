"""The encoder: queue items -> columnar IngestRequests, and back (every value kind survives)."""
from __future__ import annotations

import math
import time

import pytest

from tailrun._columns import group_points
from tailrun.wire import CHUNK_BYTES, decode_column, encode_column
from tailrun._encode import MAX_BATCH_BYTES, EncodedBatch, Encoder
from tailrun._split import MESSAGE_LIMIT, PART_BYTES, TooLarge, split_event, split_events
from tailrun._recorder import _Marker
from tailrun.wire import ARTIFACT, DESCRIBE, EVENT, FLUSH, LIST, POINT, ROW, TABLE
from tailrun.v1 import tailrun_pb2 as pb

T = 1_700_000_000.5


def decode_rows(points: pb.MetricPoints) -> list[dict]:
    """Rows of a ROW/TABLE metric as dicts (missing cells come back as None)."""
    columns = [(c.name, decode_column(c)) for c in points.columns]
    return [dict(zip((n for n, _ in columns), row)) for row in zip(*(v for _, v in columns))]


def _encode(enc: Encoder, items: list) -> list:
    """The encoder's batches as IngestRequests of its writer (seq 0), flush markers as they are."""
    return [o.request(enc.writer) if isinstance(o, EncodedBatch) else o for o in enc.encode(items)]


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
    (req,) = _encode(enc, items)
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
    metrics = _metrics(_encode(enc, items))
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
    (req,) = _encode(enc, items)
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
    _encode(enc, [(EVENT, "r", "patch", {"run_id": "r", "status": "Completed"})])
    assert enc.active_runs == {}


def test_batches_are_capped_and_flush_markers_keep_their_place() -> None:
    enc = Encoder("w", max_points=1000)
    marker = _Marker()
    items = [(POINT, "r", "m", float(i), i, T) for i in range(2500)]
    out = _encode(enc, items[:1500] + [(FLUSH, marker)] + items[1500:])
    kinds = ["marker" if o is marker else sum(len(m.times) for m in _metrics([o])) for o in out]
    assert kinds == [1000, 500, "marker", 1000]
    steps = [s for m in _metrics(out) for s in m.steps]
    assert steps == list(range(2500))


def test_file_chunks_are_split_at_one_mib() -> None:
    enc = Encoder("w")
    data = bytes(range(256)) * (CHUNK_BYTES // 256 * 2 + 3)
    out = _encode(enc, [(EVENT, "r", "file", {"run_id": "r", "path": "outputs/a.bin", "offset": 10,
                                            "data": data, "last": True})])
    chunks = [ev.file for req in out for ev in req.events]
    assert all(len(c.data) <= CHUNK_BYTES for c in chunks) and len(chunks) == 3
    assert b"".join(c.data for c in chunks) == data
    assert [c.offset for c in chunks] == [10, 10 + CHUNK_BYTES, 10 + 2 * CHUNK_BYTES]
    assert [c.last for c in chunks] == [False, False, True]
    assert all(req.ByteSize() < 2.5 * CHUNK_BYTES for req in out)


def test_a_bad_item_is_reported_and_the_rest_is_kept() -> None:
    errors: list[str] = []
    enc = Encoder("w", on_error=errors.append)
    out = _encode(enc, [(EVENT, "r", "start", {"run_id": "r", "no_such_field": 1}),
                      (POINT, "r", "m", 1.0, 1, T)])
    assert len(errors) == 1 and "EVENT" in errors[0]
    assert [m.name for m in _metrics(out)] == ["m"]


def test_one_million_points_encode_in_reasonable_time() -> None:
    # Not a timing assertion (bench/ measures speed): checks the large-batch path end to end.
    enc = Encoder("w")
    t = time.time()
    items = [(POINT, "r", f"m{k}", float(i), i, t) for i in range(5000) for k in range(10)]
    out = _encode(enc, items)
    assert sum(len(m.times) for m in _metrics(out)) == 50_000
    assert all(pb.IngestRequest.FromString(r.SerializeToString()) == r for r in out)


# ---------------------------------------------------------------- batch sizes (issue 8, item 1)

START = (EVENT, "r", "start", {"run_id": "r", "experiment": "e", "status": "Running", "time": T})


def _sizes(out: list) -> list[int]:
    return [len(r.SerializeToString()) for r in out if isinstance(r, pb.IngestRequest)]


def _values(out: list, name: str) -> list:
    return [v for m in _metrics(out) if m.name == name for v in decode_column(m.columns[0])]


@pytest.mark.parametrize("count, text", [
    (60_000, "x" * 394),          # the reported case: 60,000 strings of 400 characters, ~21 MB
    (400, "y" * 59_994),          # 400 strings of 60 KB
    (400, "é" * 30_000),          # two UTF-8 bytes per character
])
def test_batches_of_long_strings_are_sized_by_their_encoded_bytes(count: int, text: str) -> None:
    enc = Encoder("w" * 32)
    logged = [f"{i:06d}{text}" for i in range(count)]
    out = _encode(enc, [START] + [(POINT, "r", "s", v, i, T) for i, v in enumerate(logged)])
    assert max(_sizes(out)) <= MAX_BATCH_BYTES, _sizes(out)
    assert _values(out, "s") == logged                       # all of them, once, in order
    assert out[0].events[0].WhichOneof("kind") == "start"   # the run is created by the first batch


def test_lists_rows_tables_and_mixed_values_stay_under_the_batch_target() -> None:
    enc = Encoder("w")
    long = "z" * 60_000
    items = [START,
             (LIST, "r", "l", [long] * 300, None, T),
             (TABLE, "r", "t", {"a": [long] * 300, "b": list(range(300))}, 300, T),
             *[(ROW, "r", "row", {"c": long, "n": i}, None, T) for i in range(200)],
             *[(POINT, "r", "mix", [1.5, 2, None, long, True, 2 ** 70][i % 6], i, T) for i in range(600)]]
    out = _encode(enc, items)
    assert max(_sizes(out)) <= MAX_BATCH_BYTES
    assert _values(out, "l") == [long] * 300
    assert sum(len(m.times) for m in _metrics(out) if m.name == "t") == 300
    assert sum(len(m.times) for m in _metrics(out) if m.name == "row") == 200
    assert len(_values(out, "mix")) == 600


def test_one_row_bigger_than_the_target_is_a_batch_of_its_own_below_the_message_limit() -> None:
    enc = Encoder("w")
    row = {f"c{k}": "v" * 65_000 for k in range(100)}    # the largest row the SDK accepts
    out = _encode(enc, [START, (ROW, "r", "big", row, None, T), (ROW, "r", "big", row, None, T)])
    assert len(_sizes(out)) == 3 and max(_sizes(out)) < MESSAGE_LIMIT


def test_rows_with_different_columns_count_the_cells_they_lack() -> None:
    # Rows of one metric share a column set in a batch; missing cells are sent as None.
    enc = Encoder("w")
    out = _encode(enc, [(ROW, "r", "row", {f"c{i}_{k}": 1.0 for k in range(100)}, None, T) for i in range(1000)])
    assert max(_sizes(out)) <= MAX_BATCH_BYTES


def test_a_patch_or_start_with_many_long_tags_is_split_into_events_that_store_the_same() -> None:
    enc = Encoder("w")
    tags = {f"k{i}": f"{i}" + "v" * 60_000 for i in range(300)}
    out = _encode(enc, [(EVENT, "r", "start", {**START[3], "tags": tags}),
                      (EVENT, "r", "patch", {"run_id": "r", "time": T, "set_tags": tags, "status": "Completed"})])
    assert max(_sizes(out)) <= MAX_BATCH_BYTES
    events = [ev for req in out for ev in req.events]
    assert events[0].WhichOneof("kind") == "start"
    patches = [ev.patch for ev in events[1:]]
    assert {k: v for p in patches for k, v in p.set_tags.items()} | dict(events[0].start.tags) == tags
    assert [p.HasField("status") for p in patches].count(True) == 1 and patches[-1].status == "Completed"


def test_a_description_over_the_service_limit_is_dropped_with_a_message_and_the_points_kept() -> None:
    errors: list[str] = []
    enc = Encoder("w", on_error=errors.append)
    out = _encode(enc, [(DESCRIBE, "r", "m", "d" * 70_000), (POINT, "r", "m", 1.0, 1, T)])
    assert _values(out, "m") == [1.0] and not _metrics(out)[0].description
    assert len(errors) == 1 and "description of metric 'm'" in errors[0]


def test_split_request_parts_are_deterministic_and_hold_every_row() -> None:
    enc = Encoder("w", max_points=10**9, max_bytes=10**12)   # as an old version sized its batches
    logged = [f"{i:06d}" + "x" * 394 for i in range(60_000)]
    (big,) = _encode(enc, [START] + [(POINT, "r", "s", v, None, T) for v in logged])
    assert big.ByteSize() > MESSAGE_LIMIT
    parts = split_events(big.events, PART_BYTES)
    assert parts == split_events(pb.IngestRequest.FromString(big.SerializeToString()).events, PART_BYTES)
    assert all(sum(ev.ByteSize() + 8 for ev in p) <= PART_BYTES for p in parts)
    assert parts[0][0].WhichOneof("kind") == "start"
    assert [v for p in parts for ev in p if ev.WhichOneof("kind") == "metrics"
            for v in decode_column(ev.metrics.columns[0])] == logged


def test_split_keeps_value_kinds_file_offsets_and_refuses_what_cannot_be_split() -> None:
    mp = pb.MetricPoints(run_id="r", name="m", kind=pb.METRIC_KIND_SCALAR)
    values = [[1.5, 7, "s" * 50_000, None, True, 2 ** 80][i % 6] for i in range(600)]
    mp.times.extend([T] * 600)
    mp.steps.extend(range(600))
    encode_column(mp.columns.add(), values)
    pieces = split_event(pb.Event(metrics=mp), 1024 * 1024)
    assert len(pieces) > 1 and [v for p in pieces for v in decode_column(p.metrics.columns[0])] == values
    assert [s for p in pieces for s in p.metrics.steps] == list(range(600))
    data = bytes(range(256)) * 20_000
    chunks = [e.file for e in split_event(pb.Event(file=pb.FileChunk(run_id="r", path="a", offset=5, data=data,
                                                                     last=True)), 1024 * 1024)]
    assert b"".join(c.data for c in chunks) == data and [c.last for c in chunks][-2:] == [False, True]
    assert [c.offset for c in chunks] == [5 + sum(len(x.data) for x in chunks[:i]) for i in range(len(chunks))]
    one_row = pb.MetricPoints(run_id="r", name="m", kind=pb.METRIC_KIND_SCALAR, times=[T])
    encode_column(one_row.columns.add(), ["x" * 2_000_000])
    with pytest.raises(TooLarge, match="one row"):
        split_event(pb.Event(metrics=one_row), 1024 * 1024)


def test_a_tag_value_over_the_service_limit_is_left_out_and_the_run_still_starts() -> None:
    errors: list[str] = []
    enc = Encoder("w", on_error=errors.append)
    out = _encode(enc, [(EVENT, "r", "start", {**START[3], "tags": {"ok": "1", "huge": "h" * 70_000}})])
    (start,) = [ev.start for req in out for ev in req.events]
    assert dict(start.tags) == {"ok": "1"}
    assert len(errors) == 1 and "tag 'huge'" in errors[0]
