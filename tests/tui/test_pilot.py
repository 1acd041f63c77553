"""Pilot tests of the UI against a real service with seeded runs: navigation, keys, every tab,
live updates from Watch, and the honest states (down service, refused token, restart)."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from tailrun_tui.screens.compare import CompareScreen
from tailrun_tui.screens.experiments import ExperimentsScreen
from tailrun_tui.screens.help import HelpScreen
from tailrun_tui.screens.run import RunScreen
from tailrun_tui.screens.runs import RunsScreen

from .conftest import screen_text, settle
from .seed import EXPERIMENT, RUN_DONE, RUN_FAILED, RUN_LIVE, T0, Seeder

pytestmark = pytest.mark.timeout(120)


async def test_experiments_filter_and_drill_in(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "mnist" in text and "scratch" in text and "● 1" in text
        await pilot.press("slash", "m", "n", "i", "enter")
        await settle(pilot)
        text = screen_text(app)
        assert "mnist" in text and "scratch" not in text and "1 of 2" in text
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen) and app.screen.experiment == EXPERIMENT
        text = screen_text(app)
        for word in ("baseline", "big-lr", "still-going", "✓ Completed", "✗ Failed", "● Running", "loss"):
            assert word in text, word
        assert "fold-1" not in text          # child runs live on their parent's Overview
        await pilot.press("escape")
        await pilot.press("escape")          # esc on the first screen clears the filter, never quits
        await settle(pilot)
        assert isinstance(app.screen, ExperimentsScreen) and app.is_running
        assert "scratch" in screen_text(app)


async def test_empty_experiment_shows_a_hint(make_app: Any) -> None:
    app = make_app(experiment="scratch")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "No runs in scratch yet" in screen_text(app)


async def test_runs_sort_select_and_compare(make_app: Any) -> None:
    app = make_app(experiment=EXPERIMENT)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs")
        assert [table.runs[r].number for r in table._shown] == [4, 3, 1]   # newest first
        await pilot.press("s")
        assert table.sort_key == "status"
        for _ in range(len(table.sort_keys()) - 1):   # every column once, back to number
            await pilot.press("s")
        assert table.sort_key == "number"
        await pilot.press("S")
        assert [table.runs[r].number for r in table._shown] == [1, 3, 4]
        await pilot.press("home", "space", "j", "space")
        assert len(table.selected) == 2 and "2 selected" in screen_text(app)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        text = screen_text(app)
        assert "tag lr" in text and "0.01" in text and "1.0" in text
        assert "#1 baseline" in text and "#3 big-lr" in text    # the legend
        plot = app.screen.query_one("#compare-plot")
        assert all(s.loaded and s.total for _, s in plot.series)
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_run_tabs_show_everything_logged(make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app(run_id=RUN_DONE)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        text = screen_text(app)
        assert "✓ Completed" in text and "fold-1" in text and "git = abc123" in text and "5m 00s" in text

        await pilot.press("2")
        await settle(pilot)
        metrics = app.screen.query_one("#metrics-view")
        assert sorted(metrics.series) == ["accuracy", "loss", "lr"]
        assert all(s.loaded and s.total == 200 for s in metrics.series.values())
        assert metrics.series["lr"].has_steps is False
        await pilot.press("l", "m", "a")
        await settle(pilot)
        assert metrics.log_scale and metrics.smoothing == 0.6 and metrics.tail == 100
        assert all(s.loaded for s in metrics.series.values())

        await pilot.press("3")
        await settle(pilot)
        assert "epoch 3/3 loss=0.30" in screen_text(app) and "run finished" in screen_text(app)

        await pilot.press("4")
        await settle(pilot)
        text = screen_text(app)
        assert "per_class" in text and "ship" in text and "102" in text and "epoch_summary" in text

        await pilot.press("5")
        await settle(pilot)
        images = app.screen.query_one("#images-view")
        assert sorted(e.path for e in images.entries.values()) == ["outputs/broken.png", "outputs/samples.png"]
        assert app.screen.query(".image")          # the first image is drawn
        await pilot.press("down")
        await settle(pilot)
        assert "cannot display this image" in screen_text(app)

        await pilot.press("6")
        await settle(pilot)
        files = app.screen.query_one("#files-view")
        tree = files.query_one("#file-tree")
        for path, expected in (("outputs/metrics.csv", "acc"), ("outputs/config.json", '"layers"'),
                               ("outputs/model.bin", "binary file")):
            node = next(n for n in _walk(tree.root) if n.data == path)
            tree.move_cursor(node)
            await settle(pilot)
            assert expected in screen_text(app), path
        await pilot.press("d")
        await settle(pilot)
        assert (tmp_path / "model.bin").read_bytes() == bytes(range(256)) * 8

        await pilot.press("1", "escape")       # opened with --run: back goes to its experiment
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen) and app.screen.experiment == EXPERIMENT


def _walk(node: Any):
    yield node
    for child in node.children:
        yield from _walk(child)


async def test_failed_run_shows_error_and_traceback(make_app: Any) -> None:
    app = make_app(run_id=RUN_FAILED)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "✗ Failed" in text and "UserError: ValueError: loss is nan" in text
        assert 'raise ValueError("loss is nan")' in text


async def test_live_points_output_and_status_arrive_from_watch(make_app: Any, seeded: Any) -> None:
    app = make_app(run_id=RUN_LIVE)
    seeder = Seeder(seeded.address)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("2")
            await settle(pilot)
            series = app.screen.query_one("#metrics-view").series["loss"]
            before = series.total
            seeder.send(_points(RUN_LIVE, "loss", [0.5, 0.4, 0.3], first_step=before))
            await pilot.press("3")
            await settle(pilot)
            assert "waiting for output" in screen_text(app)
            seeder.log_text(RUN_LIVE, "logs/user_log.txt", 0, "hello from the live run\n")
            await _until(pilot, lambda: "hello from the live run" in screen_text(app))
            assert series.total == before + 3 and series.ys[-1] == 0.3
            seeder.patch(RUN_LIVE, T0 + 3500, status="Completed")
            await _until(pilot, lambda: "Completed" in screen_text(app) and "run finished" in screen_text(app))
    finally:
        seeder.patch(RUN_LIVE, T0 + 3500, status="Running")
        seeder.close()


def _points(run_id: str, name: str, values: list[float], first_step: int) -> Any:
    from tailrun.v1 import tailrun_pb2 as pb

    return pb.Event(metrics=pb.MetricPoints(run_id=run_id, name=name, kind=pb.METRIC_KIND_SCALAR,
                                            times=[T0 + 3100] * len(values),
                                            steps=list(range(first_step, first_step + len(values))),
                                            columns=[pb.Column(values=values)]))


async def _until(pilot: Any, predicate: Any, timeout: float = 8.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, screen_text(pilot.app)
        await pilot.pause(0.1)


async def test_output_follow_new_lines_and_search(make_app: Any, seeded: Any) -> None:
    from tailrun_tui.widgets.output_log import OutputView

    seeder = Seeder(seeded.address)
    run_id = "00000000-0000-4000-8000-0000000000aa"
    seeder.start(run_id, "output-test", T0)
    offset = seeder.log_text(run_id, "logs/user_log.txt", 0, "".join(f"line {i}\n" for i in range(100)))
    app = make_app(run_id=run_id)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("3")
            await settle(pilot)
            view = app.screen.query_one(OutputView)
            assert view.output_log.auto_scroll and "following" in screen_text(app)
            await pilot.press("f")
            assert not view.output_log.auto_scroll
            seeder.log_text(run_id, "logs/user_log.txt", offset, "new a\nnew b\n")
            await _until(pilot, lambda: "+2 new lines" in screen_text(app))
            await pilot.press("end")
            await settle(pilot)
            assert view.output_log.auto_scroll and "new b" in screen_text(app)
            await pilot.press("slash", "l", "i", "n", "e", " ", "4", "enter")
            await settle(pilot)
            assert len(view.matches) == 11, view.matches   # line 4, 40..49
            first = view.match_index   # the first match at or below the top of the view
            assert f"match {first + 1}/11" in screen_text(app)
            await pilot.press("n")
            assert view.match_index == (first + 1) % 11
            await pilot.press("N", "N")
            assert view.match_index == (first - 1) % 11
    finally:
        seeder.close()


async def test_help_lists_every_binding_of_the_screen(make_app: Any) -> None:
    app = make_app(experiment=EXPERIMENT)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        for word in ("Filter runs", "Next sort column", "Compare the selected runs", "Mark the run for compare",
                     "Choose metric columns", "Leave tailrun", "command palette"):
            assert word in text, word
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_down_service_is_a_message_not_a_traceback(make_app: Any) -> None:
    app = make_app(address=f"127.0.0.1:{_free_port()}")
    async with app.run_test(size=(100, 30)) as pilot:
        await _until(pilot, lambda: "cannot reach the tailrun service" in screen_text(app)
                     or "disconnected — retrying in" in screen_text(app))
        assert app.is_running and isinstance(app.screen, ExperimentsScreen)


async def test_refused_token_is_a_message(service_factory: Any, make_app: Any) -> None:
    svc = service_factory(token="s3cret", with_runner=False)
    app = make_app(address=svc.address, token="wrong")
    async with app.run_test(size=(120, 30)) as pilot:
        await _until(pilot, lambda: app.screen._state is not None and app.screen._state.kind == "refused")
        assert app.is_running and "token" in screen_text(app)


async def test_reconnects_after_a_service_restart(service_factory: Any, make_app: Any, tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "restart-data"
    svc = service_factory(port=port, data_dir=data, with_runner=False)
    seeder = Seeder(svc.address)
    seeder.start("00000000-0000-4000-8000-0000000000bb", "restart-exp", T0)
    seeder.close()
    app = make_app(address=svc.address)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "restart-exp" in screen_text(app)
        svc.stop(grace=0)
        await _until(pilot, lambda: "disconnected — retrying in" in screen_text(app))
        service_factory(port=port, data_dir=data, with_runner=False)
        await _until(pilot, lambda: "● live" in screen_text(app), timeout=20)
        await _until(pilot, lambda: "restart-exp" in screen_text(app))   # reloaded after the reconnect
