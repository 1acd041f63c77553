"""The UI's service layer without Textual: series bookkeeping, and the Watch feed's reconnect with
cursor resume against a real service that is stopped and started again (no gap, no repeat)."""
from __future__ import annotations

import math
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tailrun._settings import Settings
from tailrun.v1 import tailrun_pb2 as pb
from tailrun_tui.client import TrackerClient, describe_error
from tailrun.metrics_shape import decode_column
from tailrun_tui.series import Series, bucket_min_max, ema

from .seed import T0, Seeder

pytestmark = pytest.mark.timeout(60)


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_watch_feed_resumes_after_a_restart_without_gaps_or_repeats(service_factory: Any, tmp_path: Path) -> None:
    port, data = _free_port(), tmp_path / "feed-data"
    svc = service_factory(port=port, data_dir=data, with_runner=False)
    run_id = "00000000-0000-4000-8000-00000000feed"
    seeder = Seeder(svc.address)
    seeder.start(run_id, "feed", T0)
    seeder.close()
    client = TrackerClient(Settings(svc.address, None))
    feed = client.watch(run_id=run_id, kinds=["metrics"])
    thread = threading.Thread(target=feed.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: feed.state.kind == "live")
        seeder = Seeder(svc.address)
        for i in range(5):
            seeder.scalars(run_id, "loss", [float(i)], T0 + i)
        seeder.close()
        svc.stop(grace=0)
        _wait(lambda: feed.state.kind == "disconnected")
        svc = service_factory(port=port, data_dir=data, with_runner=False)
        seeder = Seeder(svc.address)
        for i in range(5, 8):
            seeder.scalars(run_id, "loss", [float(i)], T0 + i)
        got = _values(feed, 8)
        # A repeat would be a replay from an older cursor, so it would come before a later point.
        seeder.scalars(run_id, "loss", [8.0], T0 + 8)
        seeder.close()
        got += _values(feed, 1)
        assert got == [float(i) for i in range(9)]
        assert feed.state.kind == "live" and feed.state.generation >= 2
    finally:
        feed.stop()
        thread.join(5)
        client.close()
    assert not thread.is_alive()


def _wait(predicate: Any, timeout: float = 15) -> None:
    """Poll `predicate` (the feed's state is set by its thread) until true; fail at the timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"still not true after {timeout} s: {predicate.__doc__ or predicate}"
        time.sleep(0.02)


def _values(feed: Any, count: int, timeout: float = 20) -> list[float]:
    """The next `count` metric values the feed delivers (it queues them for the UI to drain)."""
    got: list[float] = []

    def enough() -> bool:
        got.extend(e.metrics.columns[0].values[0] for e in feed.drain().events)
        return len(got) >= count
    _wait(enough, timeout)
    return got


def test_errors_read_as_one_line(service_factory: Any) -> None:
    svc = service_factory(token="s3cret", with_runner=False)
    client = TrackerClient(Settings(svc.address, "nope"))
    with pytest.raises(Exception) as info:
        client.list_experiments()
    assert info.value.refused and "token" in str(info.value)
    down = TrackerClient(Settings(f"127.0.0.1:{_free_port()}", None))
    with pytest.raises(Exception) as info:
        down.list_experiments()
    assert info.value.unreachable and "cannot reach the tailrun service" in str(info.value)
    assert "Traceback" not in str(describe_error(RuntimeError("x"), "a"))


def test_run_details_prints_a_summary_until_the_run_ends(ws: Any, run_script: Any) -> None:
    """The SDK bridge: off a terminal, RunDetails prints status, values and output lines."""
    code = (
        "import io, sys\n"
        "from tailrun import Workspace, Experiment, RunDetails\n"
        "run = Experiment(Workspace(), 'details').start_logging(display_name='d')\n"
        "run.log('loss', 0.25)\n"
        "run.complete()\n"
        "buf = io.StringIO()\n"
        "RunDetails(run).show(out=buf, interval=0.2, timeout=20)\n"
        "sys.__stderr__.write(buf.getvalue())\n"
        "print('textual' in sys.modules, file=sys.__stderr__)\n"
    )
    result = run_script(code)
    assert result.returncode == 0, result.stderr
    assert "run #1 d: Completed" in result.stderr and "loss=0.25" in result.stderr
    assert result.stderr.strip().endswith("False")     # no Textual for a text summary
