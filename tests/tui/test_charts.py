"""Charts against a real service: the true last value in the title (not a min/max bucket's), whole
step ticks, raw and smoothed curves together, the compare legend outside the plot with `a`, and
NO_COLOR markers that tell the runs apart."""
from __future__ import annotations

import math
from typing import Any

import pytest

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_tui import fmt
from tailrun_tui.screens.compare import CompareScreen
from tailrun_tui.series import Series, bucket_min_max, integer_ticks

from .conftest import screen_text, settle
from .seed import T0, Seeder

pytestmark = pytest.mark.timeout(120)

RUN_A = "00000000-0000-4000-8000-0000000000c1"
RUN_B = "00000000-0000-4000-8000-0000000000c2"


def wavy(n: int, phase: float) -> list[float]:
    """Rising with a wiggle, so the last point is neither the min nor the max of its bucket."""
    return [0.5 + 0.0004 * i + 0.01 * math.sin(i * 1.3 + phase) for i in range(n)]


@pytest.fixture(scope="module")
def chart_runs(seeded: Any) -> dict[str, list[float]]:
    values = {RUN_A: wavy(1000, 0.0), RUN_B: wavy(1000, 1.0)}
    s = Seeder(seeded.address)
    try:
        for run_id, name in ((RUN_A, "wavy-a"), (RUN_B, "wavy-b")):
            s.start(run_id, "charts", T0, display_name=name)
            s.scalars(run_id, "acc", values[run_id], T0 + 1)
    finally:
        s.close()
    return values


def plot_text(plot: Any) -> str:
    """What the chart draws, as text (title, curves, axes, ticks)."""
    return plot.render().plain


async def test_title_shows_the_true_last_value_and_step(make_app: Any, chart_runs: Any, seeded: Any) -> None:
    values = chart_runs[RUN_A]
    app = make_app(run_id=RUN_A, tab="metrics")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        series = app.screen.query_one("#metrics-view").series["acc"]
        assert series.downsampled   # 1000 points for ~160 columns: min/max buckets
        expected = f"last {fmt.number(values[-1])} @ step 999"
        assert expected in screen_text(app), screen_text(app)
        assert series.xs[-1] == 999 and series.ys[-1] == values[-1]   # the line ends there too
        # A live point moves it; still the logged value, not a bucket's.
        s = Seeder(seeded.address)
        try:
            s.send(pb.Event(metrics=pb.MetricPoints(run_id=RUN_A, name="acc", kind=pb.METRIC_KIND_SCALAR,
                                                    times=[T0 + 5000], steps=[1000],
                                                    columns=[pb.Column(values=[0.61234])])))
        finally:
            s.close()
        deadline_text = "last 0.6123 @ step 1,000"
        for _ in range(100):
            if deadline_text in screen_text(app):
                break
            await pilot.pause(0.1)
        assert deadline_text in screen_text(app)


def test_rebucketing_keeps_the_last_point() -> None:
    xs = [float(i) for i in range(1000)]
    ys = wavy(1000, 0.0)
    bx, by = bucket_min_max(xs, ys, 100)
    assert len(bx) <= 100 and (bx[-1], by[-1]) == (999.0, ys[-1])


def test_step_ticks_are_whole_numbers() -> None:
    assert integer_ticks(0, 323) == [0, 100, 200, 300]
    assert integer_ticks(0, 3) == [0, 1, 2, 3]
    assert integer_ticks(5, 5) == [5]
    assert all(isinstance(t, int) for t in integer_ticks(0.0, 161.5))


async def test_ticks_and_smoothing_draw_raw_and_smoothed(make_app: Any, chart_runs: Any) -> None:
    app = make_app(run_id=RUN_A, tab="metrics")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = app.screen.query_one("#metrics-view").plots["acc"]
        lines = plot_text(plot).splitlines()
        axis = lines[[i for i, line in enumerate(lines) if line.strip() == "step"][-1] - 1]
        assert "400" in axis and "." not in axis, lines      # the step axis: whole numbers only (no 161.5)
        await pilot.press("m")
        await settle(pilot)
        drawn = plot.plt._active.monitor.color   # plotext's colour of each curve's points
        assert [c[0] for c in drawn] == ["gray", "cyan"], drawn   # raw (dimmed), then smoothed


async def test_compare_legend_outside_the_plot_and_a_shows_the_last_n(make_app: Any, chart_runs: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_compare([RUN_A, RUN_B])
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        legend = str(app.screen.query_one("#compare-legend").render())
        assert "#1 wavy-a" in legend and "#2 wavy-b" in legend
        plot = app.screen.query_one("#compare-grid").first_plot()
        assert "wavy-a" not in plot_text(plot)                 # nothing drawn over the curves
        await pilot.press("a")
        await settle(pilot)
        assert app.screen.tail == 100 and "last 100 points" in screen_text(app)
        assert all(s.loaded and s.xs[0] >= 900 for _, s in plot.series)


async def test_no_color_gives_each_compared_run_its_own_marker(make_app: Any, chart_runs: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_compare([RUN_A, RUN_B])
        await settle(pilot)
        plot = app.screen.query_one("#compare-grid").first_plot()
        markers = [plot.marker(i) for i in range(len(plot.series))]
        assert len(set(markers)) == 2
        legend = str(app.screen.query_one("#compare-legend").render())
        assert f"{markers[1] * 2} #2 wavy-b" in legend
        assert markers[1] in plot_text(plot)


def test_a_series_without_steps_says_index() -> None:
    s = Series("r", "x")
    s.load(pb.SeriesResponse(total_points=3, x=[0, 1, 2], y=[1.0, 2.0, 3.0]))
    assert s.last_label() == "3 @ #2"
