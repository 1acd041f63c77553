"""The chart grid (issue 12, items 12, 13, 16) against a real service: columns and rows follow the
terminal size, PgUp/PgDn pages, `/` keeps the matching charts, the cursor reads step, value and
time (keys and mouse), and compare draws several metrics of runs from several experiments."""
from __future__ import annotations

import math
from typing import Any

import pytest

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_tui import fmt
from tailrun.client import Client
from tailrun_tui.messages import OpenExperiment
from tailrun_tui.screens.compare import CompareScreen
from tailrun_tui.screens.run import RunScreen
from tailrun_tui.screens.runs import RunsScreen
from tailrun_tui.widgets.chart_grid import grid_shape, name_matches

from .conftest import screen_text, settle
from .seed import EXPERIMENT, RUN_DONE, T0, Seeder

pytestmark = pytest.mark.timeout(120)

WIDE_RUN = "00000000-0000-4000-8000-0000000000e1"
OTHER_EXP_RUN = "00000000-0000-4000-8000-0000000000e2"
NAMES = [f"{group}/{kind}" for group in ("train", "val") for kind in ("loss", "acc", "f1", "auc")] + ["lr"]
SHOWN = sorted(NAMES)   # charts come in name order


@pytest.fixture(scope="module")
def many_metrics(seeded: Any) -> dict[str, list[float]]:
    """A run with 9 metrics (two pages at 120×40), and a run in another experiment that logs loss."""
    values = {name: [math.sin(i / 7 + k) + k for i in range(300)] for k, name in enumerate(NAMES)}
    s = Seeder(seeded.address)
    try:
        s.start(WIDE_RUN, "grid", T0, display_name="wide")
        for name, ys in values.items():
            s.scalars(WIDE_RUN, name, ys, T0 + 1)
        s.start(OTHER_EXP_RUN, "elsewhere", T0, display_name="other")
        s.scalars(OTHER_EXP_RUN, "loss", [2.0 - i * 0.01 for i in range(150)], T0 + 1)
        s.scalars(OTHER_EXP_RUN, "accuracy", [0.4 + i * 0.003 for i in range(150)], T0 + 1)
    finally:
        s.close()
    return values


def test_grid_shape_follows_the_size() -> None:
    assert grid_shape(120, 35, 9) == (2, 3)        # 6 a page
    assert grid_shape(80, 19, 9) == (1, 2)
    assert grid_shape(200, 50, 9) == (3, 3)
    assert grid_shape(120, 35, 1) == (1, 1)        # one chart fills the tab
    assert grid_shape(120, 35, 3) == (2, 2)
    assert grid_shape(30, 5, 4) == (1, 1)          # never zero
    assert name_matches("val/loss", "VAL loss") and not name_matches("train/loss", "val")


async def test_pages_and_filter(make_app: Any, many_metrics: Any) -> None:
    app = make_app(run_id=WIDE_RUN, tab="metrics")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        view = app.screen.query_one("#metrics-view")
        assert view.shape == (2, 3) and len(view.plots) == 6
        assert "9 metrics · page 1/2 (PgUp/PgDn)" in screen_text(app)
        await pilot.press("pagedown")
        await settle(pilot)
        assert list(view.plots) == SHOWN[6:] and "page 2/2" in screen_text(app)
        await pilot.press("pageup")
        await settle(pilot)
        assert list(view.plots) == SHOWN[:6]
        await pilot.press("slash", *"val", "enter")
        await settle(pilot)
        assert list(view.plots) == [n for n in SHOWN if n.startswith("val/")]
        assert "4 of 9 metrics match /val" in screen_text(app) and view.shape == (2, 2)
        assert isinstance(app.focused, type(view.plots["val/loss"]))     # the keys go to a chart
        await pilot.press("escape")                # clears the filter, stays on the run
        await settle(pilot)
        assert len(view.plots) == 6 and isinstance(app.screen, RunScreen)
        await pilot.press("slash", *"nothing", "enter")
        await settle(pilot)
        assert not view.plots and "0 of 9 metrics match /nothing" in screen_text(app)
        await pilot.press("escape", "escape")      # filter, then back
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)

    app = make_app(run_id=WIDE_RUN, tab="metrics")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        view = app.screen.query_one("#metrics-view")
        assert view.shape == (1, 2) and "page 1/5" in screen_text(app)
        await pilot.press("j", "j")                # down past the page: the next page
        await settle(pilot)
        assert view.page == 1 and app.focused is view.plots[SHOWN[2]]


async def test_cursor_reads_step_value_and_time(make_app: Any) -> None:
    app = make_app(run_id=RUN_DONE, tab="metrics")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        view = app.screen.query_one("#metrics-view")
        plot = app.focused
        assert plot is view.plots["accuracy"] and view.series["accuracy"].downsampled
        await pilot.press("left")                  # the cursor appears on the newest point
        await settle(pilot)
        # seed: accuracy[i] = min(0.99, 0.5 + 0.003 i) at time T0 + 1 + i, step i
        assert plot.cursor_x == 199
        assert f"step 199 · 0.99 · {fmt.full_time(T0 + 200)}" in screen_text(app), screen_text(app)
        await pilot.press("home")
        await settle(pilot)
        assert plot.cursor_x == 0 and f"step 0 · 0.5 · {fmt.full_time(T0 + 1)}" in screen_text(app)
        await pilot.press("right")
        x = plot.cursor_x
        series = view.series["accuracy"]
        point = series.point_at(x)
        assert point is not None and point[0] == x and point[2] == T0 + 1 + x   # a real point, its time
        assert f"step {int(x)} · {fmt.number(min(0.99, 0.5 + 0.003 * x))}" in screen_text(app)
        await pilot.press("escape")                # hides the cursor; the run stays open
        await settle(pilot)
        assert plot.cursor_x is None and isinstance(app.screen, RunScreen)
        assert "accuracy  last 0.99 @ step 199" in screen_text(app)
        # The mouse: a click in the middle of the plot puts the cursor near the middle step.
        await pilot.click(plot, offset=(plot.size.width // 2 + 3, plot.size.height // 2))
        await settle(pilot)
        assert plot.cursor_x is not None and 60 <= plot.cursor_x <= 140, plot.cursor_x


def test_series_with_times_are_the_points_times(seeded: Any) -> None:
    """GetSeries(with_times) sends each kept point's own time (downsampled or not)."""
    from tailrun._settings import Settings

    client = Client(Settings(seeded.address, None))
    try:
        for max_points in (20, 1000):
            resp = client.get_series(run_id=RUN_DONE, name="loss", max_points=max_points, with_times=True)
            assert len(resp.t) == len(resp.x) and resp.downsampled == (max_points == 20)
            assert all(t == T0 + 1 + x for x, t in zip(resp.x, resp.t))
        assert not client.get_series(run_id=RUN_DONE, name="loss", max_points=20).t     # not asked: not sent
    finally:
        client.close()


async def test_compare_several_metrics_and_experiments(make_app: Any, many_metrics: Any) -> None:
    app = make_app(experiment=EXPERIMENT)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs")
        baseline = next(r for r in table._shown if table.runs[r].display_name == "baseline")
        table.move_cursor(row=table._shown.index(baseline))
        await pilot.press("space", "escape")
        await settle(pilot)
        app.post_message(OpenExperiment("elsewhere"))
        await settle(pilot)
        assert "1 selected" in screen_text(app)               # the mark made in mnist is kept
        await pilot.press("space")
        await settle(pilot)
        assert "[2 selected in 2 experiments]" in screen_text(app)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        text = screen_text(app)
        assert "compare 2 runs from 2 experiments › accuracy" in text   # both have it
        assert "mnist/#1 baseline" in text and "elsewhere/#1 other" in text and "experiment" in text
        grid = app.screen.query_one("#compare-grid")
        await pilot.press("space", "down", "space")           # accuracy, then loss too
        await settle(pilot)
        assert list(grid.plots) == ["accuracy", "loss"] and grid.shape == (1, 2)   # beside the list: one column
        assert "compare 2 runs from 2 experiments › 2 metrics" in screen_text(app)
        assert "[x] loss" in screen_text(app) and "[x] accuracy" in screen_text(app)
        for plot in grid.plots.values():
            assert all(s.loaded and s.total for _, s in plot.series)   # both runs, each chart
        await pilot.press("up", "space")                      # accuracy off again
        await settle(pilot)
        assert list(grid.plots) == ["loss"]
        # Live points of the run in the other experiment arrive (its Watch covers both).
        seeder = Seeder(app.client.address)
        try:
            seeder.send(pb.Event(metrics=pb.MetricPoints(
                run_id=OTHER_EXP_RUN, name="loss", kind=pb.METRIC_KIND_SCALAR, times=[T0 + 999],
                steps=[150], columns=[pb.Column(values=[0.123])])))
        finally:
            seeder.close()
        series = dict(grid.plots["loss"].series)["elsewhere/#1 other"]
        for _ in range(100):
            if series.xs and series.xs[-1] == 150:
                break
            await pilot.pause(0.1)
        assert series.xs[-1] == 150 and series.ys[-1] == 0.123
