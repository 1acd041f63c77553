"""`log_list` takes any finite iterable, as Azure ML does: each is stored exactly like the list of
its elements. An iterable that never ends is refused at MAX_LIST_ITEMS, with nothing stored."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from api_helpers import start

from tailrun import _values


def test_iterables_are_stored_like_lists(ws):
    run = start(ws)
    run.log_list("list", [1, 2.5, 3])
    run.log_list("gen", (v for v in [1, 2.5, 3]))
    run.log_list("array", np.array([1, 2.5, 3]))
    run.log_list("tuple", (1, 2.5, 3))
    run.log_list("ints_list", [0, 1, 2, 3])
    run.log_list("range", range(4))
    run.log_list("int_array", np.arange(4))
    run.log_list("strs", iter(["a", "b"]))
    metrics = run.get_metrics()
    for name in ("gen", "array", "tuple"):
        assert metrics[name] == metrics["list"] == [1.0, 2.5, 3.0], name
        assert all(type(v) is float for v in metrics[name])
    for name in ("range", "int_array"):
        assert metrics[name] == metrics["ints_list"] == [0, 1, 2, 3], name
        assert all(type(v) is int for v in metrics[name])
    assert metrics["strs"] == ["a", "b"]


def test_endless_generator_is_refused_with_nothing_stored(ws):
    run = start(ws)
    consumed = itertools.count()
    endless = (next(consumed) for _ in itertools.repeat(None))
    limit = _values.MAX_LIST_ITEMS
    with pytest.raises(ValueError, match=rf"metric 'endless'.*more than {limit:,} values"):
        run.log_list("endless", endless)
    assert next(consumed) == limit + 1          # at most limit + 1 items were read
    run.log("other", 1)
    assert run.get_metrics() == {"other": 1}    # nothing half-stored under "endless"
    run.log_list("endless", [5, 6])             # the name is still free, for any kind
    assert run.get_metrics()["endless"] == [5, 6]


def test_non_iterables_and_strings_are_refused(ws):
    run = start(ws)
    for bad in (5, "abc", b"ab", {"a": 1}):
        with pytest.raises(TypeError, match="log_list needs a list or another finite iterable"):
            run.log_list("bad", bad)
