"""The UI's series bookkeeping without Textual: overlap, gaps, bounds, smoothing, decoding."""
from __future__ import annotations

import math

import pytest

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.metrics_shape import decode_column
from tailrun_tui.series import Series, bucket_min_max, ema


def _chunk(first: int, values: list[float]) -> pb.MetricPoints:
    return pb.MetricPoints(name="loss", kind=pb.METRIC_KIND_SCALAR, first_index=first,
                           steps=list(range(first, first + len(values))), columns=[pb.Column(values=values)])


def test_series_dedupes_overlap_and_asks_for_a_reload_on_a_gap() -> None:
    s = Series("r", "loss", max_points=10)
    s.load(pb.SeriesResponse(total_points=3, x=[0, 1, 2], y=[3.0, 2.0, 1.0], has_steps=True))
    assert s.append(_chunk(1, [2.0, 1.0, 0.5]))        # points 1, 2 were already there
    assert s.xs == [0, 1, 2, 3] and s.total == 4
    assert not s.append(_chunk(0, [3.0]))               # a replay changes nothing
    assert not s.append(_chunk(9, [0.1])) and s.needs_reload


def test_series_stays_bounded_and_keeps_spikes() -> None:
    s = Series("r", "loss", max_points=50)
    s.load(pb.SeriesResponse(total_points=0))
    values = [1.0] * 10_000
    values[5_000] = 99.0
    s.append(_chunk(0, values))
    assert len(s.xs) <= 4 * 50 and s.downsampled and max(s.ys) == 99.0 and s.total == 10_000
    xs, ys = bucket_min_max(list(range(1000)), [float(i % 7) for i in range(1000)], 100)
    assert len(xs) <= 100 and min(ys) == 0.0 and max(ys) == 6.0


def test_smoothing_and_log_view() -> None:
    assert ema([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])   # debiased: no pull to 0
    s = Series("r", "x")
    s.load(pb.SeriesResponse(total_points=3, x=[0, 1, 2], y=[-1.0, 0.0, 10.0]))
    assert s.view(log_scale=True) == ([2], [10.0])


def test_decode_column_gives_logged_python_values() -> None:
    col = pb.Column(values=[1.5, 2.0, 1.0, math.nan, math.nan], kinds=bytes([0, 1, 2, 3, 4]), ints=[2], strs=["a"])
    assert decode_column(col) == [1.5, 2, True, None, "a"]
