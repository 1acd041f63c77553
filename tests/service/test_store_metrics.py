"""Store: metric points round-trip exactly; row metrics; series downsampling (SQLite and PostgreSQL)."""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from storekit import Writer, make_store, row, scalar, start, store  # noqa: F401

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_service.errors import InvalidArgument, NotFound
from tailrun_service.store.series import downsample

NAN_PAYLOAD = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]


def bits(values) -> list[int]:
    return [struct.unpack("<Q", struct.pack("<d", v))[0] for v in values]


def test_values_of_every_type_round_trip_bit_exactly(store):
    w = Writer(store)
    # float, int, bool, None, str, bigint, NaN with a payload, +inf, -inf
    values = [1.5, 7.0, 1.0, math.nan, math.nan, math.nan, NAN_PAYLOAD, math.inf, -math.inf]
    kinds = [0, 1, 2, 3, 4, 5, 0, 0, 0]
    big = str(2**80)
    w.send(start("r"), scalar("r", "m", values, steps=list(range(9)), times=[float(i) for i in range(9)],
                              kinds=kinds, ints=[7], strs=["héllo", big]))
    (mp,) = store.iter_metrics("r", "m")
    col = mp.columns[0]
    assert bits(col.values) == bits(values)
    assert list(col.kinds) == kinds and list(col.ints) == [7] and list(col.strs) == ["héllo", big]
    assert list(mp.steps) == list(range(9)) and list(mp.times) == [float(i) for i in range(9)]
    assert (mp.kind, mp.first_index, mp.run_id, mp.name) == (pb.METRIC_KIND_SCALAR, 0, "r", "m")
    # int64 extremes survive in `ints` (sint64 on the wire, int64 in the store)
    w.send(scalar("r", "ints", [0.0, 0.0], kinds=[1, 1], ints=[-2**63, 2**63 - 1]))
    (mp,) = store.iter_metrics("r", "ints")
    assert list(mp.columns[0].ints) == [-2**63, 2**63 - 1] and not mp.steps


def test_chunks_come_back_in_order_with_first_index(store):
    w = Writer(store)
    w.send(start("r"))
    for k in range(5):
        w.send(scalar("r", "loss", [float(k * 3 + i) for i in range(3)], steps=[k * 3 + i for i in range(3)]),
               scalar("r", "other", [0.0]))
    chunks = list(store.iter_metrics("r"))
    assert [(c.name, c.first_index) for c in chunks] == [("loss", i * 3) for i in range(5)] + [("other", i) for i in range(5)]
    assert [v for c in chunks if c.name == "loss" for v in c.columns[0].values] == [float(i) for i in range(15)]
    assert list(store.iter_metrics("r", "missing")) == []
    with pytest.raises(NotFound):
        list(store.iter_metrics("no-such-run"))


def test_large_series_round_trips(store):
    w = Writer(store)
    w.send(start("r"))
    rng = np.random.default_rng(1)
    data = rng.standard_normal(200_000)
    for i in range(0, len(data), 10_000):
        part = data[i:i + 10_000]
        w.send(scalar("r", "big", part.tolist(), steps=list(range(i, i + len(part)))))
    got = np.concatenate([np.array(c.columns[0].values) for c in store.iter_metrics("r", "big")])
    assert np.array_equal(got, data)


def test_row_metric_columns_appearing_later_read_back_as_none(store):
    w = Writer(store)
    w.send(start("r"), row("r", "rows", {"a": [1.0, 2.0]}))
    w.send(row("r", "rows", {"a": [3.0], "b": [30.0]}))
    w.send(row("r", "rows", {"b": [40.0]}))
    chunks = list(store.iter_metrics("r", "rows"))
    assert [c.first_index for c in chunks] == [0, 2, 3]
    for c in chunks:
        assert [col.name for col in c.columns] == ["a", "b"]
    first, second, third = chunks
    assert list(first.columns[1].kinds) == [3, 3] and all(math.isnan(v) for v in first.columns[1].values)
    assert list(second.columns[0].values) == [3.0] and list(second.columns[1].values) == [30.0]
    assert list(third.columns[0].kinds) == [3] and list(third.columns[1].values) == [40.0]


def test_metric_limits(store):
    w = Writer(store)
    w.send(start("r"))
    too_many = pb.MetricPoints(run_id="r", name="wide", kind=pb.METRIC_KIND_ROW, times=[1.0])
    for i in range(101):
        too_many.columns.add(name=f"c{i}", values=[1.0])
    long_str = scalar("r", "s", [math.nan], kinds=[4], strs=["x" * (64 * 1024 + 1)])
    two_cols = row("r", "sc", {"a": [1.0], "b": [2.0]}, kind=pb.METRIC_KIND_SCALAR)
    result = w.send(pb.Event(metrics=too_many), long_str, two_cols,
                    scalar("r", "k", [1.0], kinds=[9]), row("r", "r2", {"c" * 256: [1.0]}))
    assert len(result.rejected) == 5
    assert "101 columns, the limit is 100" in result.rejected[0]
    assert "longer than 65536 bytes" in result.rejected[1]
    assert "a SCALAR metric has one column" in result.rejected[2]
    assert "unknown value kind 9" in result.rejected[3]
    assert "column name" in result.rejected[4] and "255" in result.rejected[4]


def test_the_metric_names_limit_holds_within_and_across_batches(store, monkeypatch):
    """The run's count of metrics is taken once per batch (ingest stays linear in new names) and
    still stops the name over the limit, in the batch that crosses it and in later ones; a re-sent
    batch creates nothing."""
    from tailrun import wire
    monkeypatch.setattr(wire, "MAX_METRICS_PER_RUN", 5)
    w = Writer(store)
    w.send(start("r"), start("other"), scalar("r", "m0", [0.0]))
    result = w.send(*(scalar("r", f"m{i}", [float(i)]) for i in range(1, 7)),
                    scalar("r", "m0", [0.5]), scalar("other", "x", [1.0]))
    assert [m.split(": ", 1)[0] for m in result.rejected] == ["metric 'm5' of run 'r'", "metric 'm6' of run 'r'"]
    assert all("the run already has 5 metrics (the limit)" in m for m in result.rejected)
    assert store.apply_batch(w.name, w.seq, [scalar("r", "late", [1.0])]).rejected == []   # a re-send
    later = w.send(scalar("r", "m7", [7.0]), scalar("r", "m4", [4.5]))
    assert len(later.rejected) == 1 and "metric 'm7'" in later.rejected[0]
    stored = {}
    for chunk in store.iter_metrics("r"):
        stored.setdefault(chunk.name, []).extend(chunk.columns[0].values)
    assert stored == {"m0": [0.0, 0.5], "m1": [1.0], "m2": [2.0], "m3": [3.0], "m4": [4.0, 4.5]}
    assert [c.name for c in store.iter_metrics("other")] == ["x"]


def test_series_downsampling_keeps_a_spike(store):
    w = Writer(store)
    w.send(start("r"))
    y = np.sin(np.arange(100_000) / 1000.0)
    y[54_321] = 50.0   # a one-point spike up
    y[77_777] = -40.0  # and one down
    y[10:20] = np.nan
    for i in range(0, len(y), 25_000):
        w.send(scalar("r", "s", y[i:i + 25_000].tolist(), steps=list(range(2 * i, 2 * (i + 25_000), 2))))
    resp = store.get_series(pb.SeriesRequest(run_id="r", name="s", max_points=500))
    assert resp.downsampled and resp.has_steps and resp.total_points == 100_000
    assert len(resp.x) == len(resp.y) <= 500
    assert 50.0 in resp.y and -40.0 in resp.y
    assert resp.x[list(resp.y).index(50.0)] == 2 * 54_321
    assert list(resp.x) == sorted(resp.x)
    assert not any(math.isnan(v) for v in resp.y)  # NaN is ignored when another point exists
    # Small enough: every point, unchanged.
    tail = store.get_series(pb.SeriesRequest(run_id="r", name="s", max_points=500, tail=100))
    assert not tail.downsampled and list(tail.x) == [float(2 * i) for i in range(99_900, 100_000)]
    assert list(tail.y) == y[-100:].tolist()
    mid = store.get_series(pb.SeriesRequest(run_id="r", name="s", first_index=24_990, max_points=0, tail=0))
    assert len(mid.x) == 100_000 - 24_990 and mid.x[0] == 2 * 24_990


def test_series_without_steps_uses_the_index_and_errors(store):
    w = Writer(store)
    w.send(start("r"), scalar("r", "s", [5.0, 6.0, 7.0]), row("r", "t", {"a": [1.0], "b": [2.0]}))
    resp = store.get_series(pb.SeriesRequest(run_id="r", name="s", max_points=10))
    assert list(resp.x) == [0.0, 1.0, 2.0] and list(resp.y) == [5.0, 6.0, 7.0] and not resp.has_steps
    with pytest.raises(NotFound):
        store.get_series(pb.SeriesRequest(run_id="r", name="nope", max_points=10))
    with pytest.raises(InvalidArgument, match="single-column"):
        store.get_series(pb.SeriesRequest(run_id="r", name="t", max_points=10))


def test_downsample_edges():
    x = np.arange(10, dtype=float)
    y = np.array([1, 9, 2, 2, 2, 2, 2, -5, 2, 2], dtype=float)
    sx, sy, down = downsample(x, y, 4)
    # two buckets of five: (min 1 @0, max 9 @1) and (max 2 @5, min -5 @7), each pair in x order
    assert down and list(sx) == [0.0, 1.0, 5.0, 7.0] and list(sy) == [1.0, 9.0, 2.0, -5.0]
    all_nan = np.full(8, np.nan)
    sx, sy, _ = downsample(np.arange(8.0), all_nan, 4)
    assert len(sx) == 2  # one point per all-NaN bucket, so the gap shows
    sx, sy, _ = downsample(x, y, 1)
    assert list(sy) == [9.0]


def test_a_bigint_that_is_not_an_integer_is_refused_and_the_rest_stored(store):
    """A BIGINT value is an integer's decimal text, or every reader would fail on it."""
    w = Writer(store)
    w.send(start("r"))
    big = str(-(2 ** 90))
    bad = {"not a number": "'not a number' that is not an integer", " 12": "' 12' that is not an integer",
           "1_000": "'1_000'", "١٢": "not an integer", "": "'' that is not an integer",
           "1" * 4301: "a BIGINT value of 4301 digits; the limit is 4300"}
    events = [scalar("r", f"bad{i}", [math.nan, 1.0], kinds=[4, 5], strs=["a str is free text", text])
              for i, text in enumerate(bad)]
    result = w.send(*events, scalar("r", "good", [math.nan, 0.0], kinds=[5, 4], strs=[big, "text"]))
    assert len(result.rejected) == len(bad)
    for line, why in zip(result.rejected, bad.values()):
        assert line.startswith("metric 'bad") and "has a BIGINT value" in line and why in line, line
        assert "\n" not in line
    assert store.get_run("r").metric_names == ["good"]
    (mp,) = store.iter_metrics("r", "good")
    assert list(mp.columns[0].strs) == [big, "text"]


def test_metric_data_batched_holds_the_same_chunks_in_order(store, monkeypatch):
    """GetMetrics' `batched` answer: the chunks of every metric, in order, several per message;
    small metrics are read a window at a time, big ones a page of chunks at a time: same answer."""
    from tailrun_service.store import series

    monkeypatch.setattr(series, "CHUNKS_PER_QUERY", 3)
    monkeypatch.setattr(series, "BATCH_BYTES", 200)
    monkeypatch.setattr(series, "MAX_WINDOW", 2)
    w = Writer(store)
    w.send(start("r1"))
    for i in range(4):
        w.send(*[scalar("r1", f"m{j}", [float(i * 10 + j)]) for j in range(5)])
    single = [d.points for d in store.metric_data("r1")]
    monkeypatch.setattr(series, "SMALL_POINTS", 2)   # each metric alone, paged by 3 chunks
    assert [d.points for d in store.metric_data("r1")] == single
    batches = list(store.metric_data("r1", batched=True))
    assert 1 < len(batches) < len(single) == 20
    assert [p for d in batches for p in d.batch] == single
    assert [(p.name, p.first_index) for p in single] == [(f"m{j}", i) for j in range(5) for i in range(4)]
    assert [p.columns[0].values[0] for p in single if p.name == "m3"] == [3.0, 13.0, 23.0, 33.0]
    assert [p for d in store.metric_data("r1", "m2", batched=True) for p in d.batch] == \
        [p for p in single if p.name == "m2"]


def test_system_metrics_are_kept_apart_from_the_runs_own(store):
    # Kind SYSTEM (issue 11): not in GetMetrics' default answer, metric_names or last_metrics
    # (the runs table's columns), but in RunInfo.last_system_metrics and, asked for, GetMetrics.
    w = Writer(store)
    w.send(start("r"), scalar("r", "loss", [0.5, 0.25]),
           scalar("r", "system/cpu_percent", [12.5, 150.0], steps=[0, 1], kind=pb.METRIC_KIND_SYSTEM),
           scalar("r", "system/memory_rss_mb", [100.0, 101.5], steps=[0, 1], kind=pb.METRIC_KIND_SYSTEM))
    assert [c.name for c in store.iter_metrics("r")] == ["loss"]
    system = list(store.iter_metrics("r", system=True))
    assert [(c.name, c.kind, list(c.steps), list(c.columns[0].values)) for c in system] == [
        ("system/cpu_percent", pb.METRIC_KIND_SYSTEM, [0, 1], [12.5, 150.0]),
        ("system/memory_rss_mb", pb.METRIC_KIND_SYSTEM, [0, 1], [100.0, 101.5])]
    assert list(store.iter_metrics("r", "system/cpu_percent")) == []   # by name too: only when asked
    info = store.get_run("r")
    assert list(info.metric_names) == ["loss"] and dict(info.last_metrics) == {"loss": 0.25}
    assert dict(info.last_system_metrics) == {"system/cpu_percent": 150.0, "system/memory_rss_mb": 101.5}
    (listed,) = store.list_runs(pb.ListRunsRequest())
    assert dict(listed.last_system_metrics) == dict(info.last_system_metrics)
    page = store.list_runs_page(pb.ListRunsRequest(select_metrics=True, metric_columns=["loss"],
                                                   list_metric_names=True))
    assert list(page.metric_names) == ["loss"] and not page.runs[0].last_system_metrics
    series = store.get_series(pb.SeriesRequest(run_id="r", name="system/cpu_percent", max_points=10))
    assert list(series.y) == [12.5, 150.0] and list(series.x) == [0.0, 1.0]
    # A system metric has one float column, like a scalar.
    mp = pb.MetricPoints(run_id="r", name="system/two", kind=pb.METRIC_KIND_SYSTEM, times=[1.0])
    mp.columns.add(name="a", values=[1.0])
    mp.columns.add(name="b", values=[2.0])
    (reason,) = w.send(pb.Event(metrics=mp)).rejected
    assert "a SYSTEM metric has one column, got 2" in reason
