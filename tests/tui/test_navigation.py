"""Getting around (issue 12, items 14, 17, 18) against a real service: Shift+letter sorts by a
column, the runs filter takes metric expressions, `[`/`]` switch tabs, `:` goes to a view by name,
and below 100 columns the runs table keeps its most useful columns and side lists collapse."""
from __future__ import annotations

from typing import Any

import pytest

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_tui.run_filter import FilterError, parse
from tailrun_tui.screens.command_bar import CommandBar
from tailrun_tui.screens.experiments import ExperimentsScreen
from tailrun_tui.screens.run import RunScreen
from tailrun_tui.screens.runs import RunsScreen

from .conftest import screen_text, settle
from .seed import EXPERIMENT, RUN_DONE, RUN_FAILED, RUN_LIVE

pytestmark = pytest.mark.timeout(120)


def _run(run_id: str, status: str, loss: float | None, **tags: str) -> pb.RunInfo:
    run = pb.RunInfo(run_id=run_id, status=status, display_name=run_id)
    run.tags.update(tags)
    if loss is not None:
        run.last_metrics["loss"] = loss
    return run


def test_filter_expressions() -> None:
    a = _run("a", "Failed", 0.05, seed="4")
    b = _run("b", "Completed", 0.5, seed="5")
    c = _run("c", "Running", None)
    metrics = ["loss", "acc"]

    def picked(text: str) -> list[str]:
        f = parse(text, metrics)
        return [r.run_id for r in (a, b, c) if f.matches(r)]

    assert picked("loss < 0.1") == ["a"]
    assert picked("loss>=0.05") == ["a", "b"]
    assert picked("loss != 0.5") == ["a"]            # a run without the metric never matches
    assert picked("status:fail") == ["a"]
    assert picked("status:failed status:running") == ["a", "c"]   # any of the statuses
    assert picked("tag:seed=4") == ["a"] and picked("tag:seed") == ["a", "b"]
    assert picked("seed=5") == ["b"]                 # not a metric: a word, as a tag reads
    assert picked("status:completed loss < 1") == ["b"]
    assert parse("loss < 0.1", metrics).metrics == ["loss"]
    with pytest.raises(FilterError, match=r"no metric 'los' to compare \(metrics: acc, loss\)"):
        parse("los < 1", metrics)
    with pytest.raises(FilterError, match="status: needs a value"):
        parse("status:", metrics)


async def test_shift_letter_sorts_and_expression_filter(make_app: Any) -> None:
    app = make_app(experiment=EXPERIMENT)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs")
        names = lambda: [table.runs[r].display_name for r in table._shown]  # noqa: E731
        letters = table.sort_letters()
        assert letters["L"] == "metric:loss" and letters["U"] == "status" and letters["R"] == "name"
        # The letter is underlined in its column's title (it shows without colour too).
        title = table.columns["metric:loss"].label
        assert any("underline" in str(span.style) and title.plain[span.start:span.end] == "l" for span in title.spans)
        await pilot.press("L")
        assert table.sort_key == "metric:loss" and names() == ["big-lr", "still-going", "baseline"]
        assert "sorted by loss ↓" in screen_text(app)
        await pilot.press("L")                       # the same letter again: reversed
        assert names() == ["baseline", "still-going", "big-lr"] and "sorted by loss ↑" in screen_text(app)
        await pilot.press("R")
        assert names() == ["baseline", "big-lr", "still-going"]
        await pilot.press("slash", *"loss < 1", "enter")
        await settle(pilot)
        assert names() == ["baseline", "still-going"] and "/loss < 1" in screen_text(app)
        await pilot.press("slash", *"status:fail", "enter")
        await settle(pilot)
        assert names() == ["big-lr"]
        await pilot.press("slash", *"los < 1", "enter")
        await settle(pilot)
        text = screen_text(app)
        assert "no metric 'los' to compare" in text and "loss" in text
        assert names() == ["big-lr"]                 # the filter before stays
        assert "/status:fail" in text
        await pilot.press("escape")
        await settle(pilot)
        assert len(table._shown) == 3 and isinstance(app.screen, RunsScreen)


async def test_filter_on_a_metric_that_is_not_a_column(make_app: Any) -> None:
    app = make_app(experiment=EXPERIMENT)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs")
        await pilot.press("m", "down", "space", "enter")   # loss off the columns
        await settle(pilot)
        assert "metric:loss" not in table.columns
        await pilot.press("slash", *"loss > 1", "enter")
        await settle(pilot)                               # its last values are asked for
        assert [table.runs[r].display_name for r in table._shown] == ["big-lr"]


async def test_brackets_switch_tabs_and_colon_goes_to_a_view(make_app: Any) -> None:
    app = make_app(run_id=RUN_FAILED)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tabs = app.screen.query_one("#tabs")
        assert app.screen.visible_tabs() == ["overview", "metrics", "output", "tables", "images", "files"]
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert tabs.active == "output"
        await pilot.press("left_square_bracket", "left_square_bracket", "left_square_bracket")
        assert tabs.active == "files"                  # wraps; no System tab for this run
        await pilot.press("7")
        assert tabs.active == "files"                  # hidden: a note, not a blank tab
        await settle(pilot)

        await pilot.press("colon")
        bar = app.screen.query_one(CommandBar)
        assert bar.is_open and app.focused is bar.query_one("#command-input")
        await pilot.press(*"metrics", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and tabs.active == "metrics"

        await pilot.press("colon", *"exp nope", "enter")
        await settle(pilot)
        bar = app.screen.query_one(CommandBar)
        assert bar.is_open                             # stays open, says what exists
        assert "no experiment 'nope' (experiments: " in screen_text(app) and "mnist" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen) and not bar.is_open

        await pilot.press("colon", *"run still", "enter")   # the start of a run's name, in its experiment
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == RUN_LIVE
        await pilot.press("colon", *"runs", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen) and app.screen.experiment == EXPERIMENT
        await pilot.press("colon", *"run #1", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == RUN_DONE
        await pilot.press("escape")                    # back to its experiment's runs
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("colon", *"exp scr", "enter")   # a unique start of a name
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen) and app.screen.experiment == "scratch"
        await pilot.press("colon", *"exp", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ExperimentsScreen) and len(app.screen_stack) == 2
        await pilot.press("colon", *"q", "enter")
        await settle(pilot)
        assert not app.is_running


async def test_narrow_terminal_keeps_the_useful_columns_and_collapses_side_lists(make_app: Any) -> None:
    app = make_app(experiment=EXPERIMENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs")
        columns = list(table.columns)
        assert "start" not in columns and "tags" not in columns
        assert {"name", "status", "metric:loss"} <= set(columns)
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= 80
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        assert {"start", "tags"} <= set(table.columns)

    app = make_app(run_id=RUN_DONE, tab="tables")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        side = app.screen.query_one("#table-list")
        assert side.size.width <= 2                    # collapsed: the table has the room
        assert "per_class" in screen_text(app)
        await pilot.press("shift+tab")                 # the list takes the focus and opens
        await settle(pilot)
        assert app.focused is side and side.size.width >= 20
        await pilot.press("down", "enter")
        await settle(pilot)
        assert "epoch_summary" in screen_text(app) and "val_loss" in screen_text(app)
