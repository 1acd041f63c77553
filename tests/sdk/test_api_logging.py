"""Volume and exactness of `run.log` through the real transport and service."""
from __future__ import annotations

import math
import random
import struct

from api_helpers import start


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_hundred_thousand_points_with_nan_and_inf_read_back_exactly(ws):
    rng = random.Random(1234)
    values = [rng.uniform(-1e6, 1e6) for _ in range(100_000)]
    for i in range(0, len(values), 997):
        values[i] = (math.nan, math.inf, -math.inf, -0.0, 5e-324)[(i // 997) % 5]
    run = start(ws, "volume")
    for step, v in enumerate(values):
        run.log("loss", v, step=step)
    for v in values[:1000]:
        run.log("nostep", v)
    got = run.get_metrics("loss")["loss"]
    assert len(got) == len(values)
    assert [bits(v) for v in got] == [bits(v) for v in values]   # bit-exact, NaN and -0.0 included
    series = run.get_metric_series("loss")
    assert series.steps == list(range(len(values)))
    assert [bits(v) for v in series.values] == [bits(v) for v in values]
    assert series.times == sorted(series.times)
    nostep = run.get_metric_series("nostep")
    assert nostep.steps == [None] * 1000 and [bits(v) for v in nostep.values] == [bits(v) for v in values[:1000]]


def test_descriptions_are_kept(ws):
    run = start(ws, "volume")
    run.log("acc", 0.5, description="validation accuracy")
    run.log("acc", 0.6, description="ignored after the first use")
    run.log_row("r", description="a row metric", a=1)
    series = run.get_metric_series("acc")
    assert series.description == "validation accuracy"
    assert run.get_metric_series("r").description == "a row metric"
    assert run.get_metric_series("r").values == [{"a": 1}]
