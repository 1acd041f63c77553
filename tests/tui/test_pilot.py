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

from .conftest import live_script, screen_text, settle, show_tab
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
        plot = app.screen.query_one("#compare-grid").first_plot()
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

        images = await show_tab(pilot, "5", "#images-view")
        assert sorted(e.path for e in images.entries.values()) == ["outputs/broken.png", "outputs/samples.png"]
        assert app.screen.query(".image")          # the first image is drawn
        await pilot.press("down")
        await settle(pilot)
        assert "cannot display this image" in screen_text(app)

        files = await show_tab(pilot, "6", "#files-view")
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
    from tailrun_tui.widgets.output_view import OutputView

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


# ---------------------------------------------------------------------- issue 12, items 2–9


async def test_runs_list_sorts_by_metric_one_notation_and_space_keeps_the_cursor(make_app: Any, seeded: Any) -> None:
    seeder = Seeder(seeded.address)
    ids = [f"00000000-0000-4000-8000-0000000001{i:02d}" for i in range(4)]
    try:
        for i, (run_id, lr) in enumerate(zip(ids, [0.00125, 7.5e-4, None, 0.002])):
            seeder.start(run_id, "sorting", T0 + i, display_name=f"r{i}")
            if lr is not None:
                seeder.scalars(run_id, "lr", [lr], T0 + i)
        seeder.start("00000000-0000-4000-8000-000000000199", "sorting", T0 + 9, parent_run_id=ids[0])
    finally:
        seeder.close()
    app = make_app(experiment="sorting")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "0.00125" in text and "0.00075" in text and "e-04" not in text   # one notation
        assert "(4 runs + 1 child run)" in text
        table = app.screen.query_one("#runs")
        assert "metric:lr" in table.sort_keys() and table.sort_keys()[-1] == "tags"
        while table.sort_key != "metric:lr":
            await pilot.press("s")
        assert "sorted by lr" in screen_text(app)
        names = [table.runs[r].display_name for r in table._shown]
        assert names == ["r3", "r0", "r1", "r2"]          # largest first, the run without lr last
        await pilot.press("S")
        assert [table.runs[r].display_name for r in table._shown] == ["r1", "r0", "r3", "r2"]
        await pilot.press("home", "space", "j", "space")
        assert table.selected == [table._shown[0], table._shown[1]] and table.cursor_row == 1


async def test_metric_chooser_works_from_the_keyboard(make_app: Any) -> None:
    from textual.widgets import OptionList

    from tailrun_tui.screens.runs import MetricChooser

    app = make_app(experiment=EXPERIMENT)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs")
        assert table.metric_columns == ["accuracy", "loss", "lr"]
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MetricChooser) and isinstance(app.focused, OptionList)
        text = screen_text(app)
        assert "Metric columns" in text and "esc cancels" in text and "[x] accuracy" in text
        await pilot.press("space")                      # accuracy off, and it shows
        assert "[ ] accuracy" in screen_text(app) and "[x] loss" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen) and table.metric_columns == ["loss", "lr"]
        assert not table.selected                       # the keys went to the chooser only


async def test_help_names_the_panes_and_lists_only_the_shown_tab(make_app: Any) -> None:
    app = make_app(run_id=RUN_DONE)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2", "question_mark")
        await settle(pilot)
        text = screen_text(app)
        assert "Metrics tab" in text and "Logarithmic y axis" in text
        for internal in ("MetricsView", "OutputView", "OutputLog", "FileBrowser", "FilterBar", "RunTable"):
            assert internal not in text, internal
        for other_tab in ("Search the output", "Save the file"):
            assert other_tab not in text, other_tab


@pytest.mark.parametrize("away", ["help", "other_tab"])
async def test_image_logged_by_a_live_script_while_the_images_are_not_shown(make_app: Any, seeded: Any,
                                                                           tmp_path: Path, away: str) -> None:
    """A real script logs `log_image(name, plot=fig)` while the UI shows the help over the run
    (the run screen's live feed is paused), or another tab; then `r` and the Images tab show it."""
    source = (
        "import os, sys, time\n"
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "from tailrun import Experiment, Workspace\n"
        "run = Experiment(Workspace(), 'live-images').start_logging(display_name='plots')\n"
        "open('run_id.tmp', 'w').write(run.id); os.replace('run_id.tmp', 'run_id')\n"
        "while not os.path.exists('go'):\n    time.sleep(0.05)\n"
        "fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([0, 1], [1, 0])\n"
        "run.log_image('curve', plot=fig)\n"
        "run.flush()\nopen('logged', 'w').close()\n"
        "while not os.path.exists('stop'):\n    time.sleep(0.05)\n"
        "run.complete()\n")
    with live_script(tmp_path, seeded.address, source) as (proc, run_id):
        app = make_app(run_id=run_id, tab="images" if away == "help" else "overview")
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            if away == "help":
                await pilot.press("question_mark")
                await settle(pilot)
            (tmp_path / "go").touch()
            await _until(pilot, lambda: (tmp_path / "logged").exists(), timeout=30)
            if away == "help":
                await pilot.press("escape", "r")
            else:
                await pilot.press("5")
            await settle(pilot)
            images = app.screen.query_one("#images-view")
            await _until(pilot, lambda: len(images.entries) == 1)
            entry = next(iter(images.entries.values()))
            assert entry.name == "curve" and entry.path.startswith("curve_") and entry.path.endswith(".png")
            await _until(pilot, lambda: bool(app.screen.query(".image")))   # drawn
            text = screen_text(app)
            assert "curve · " in text and "curve #1" not in text and "no images" not in text
            (tmp_path / "stop").touch()
            assert proc.wait(30) == 0


async def test_image_labels_say_step_and_time(make_app: Any) -> None:
    app = make_app(run_id=RUN_DONE, tab="images")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "samples · 22:13:27" in text and "broken · 22:13:28" in text and "samples #1" not in text


async def test_output_source_switch_keeps_keys_and_marks_the_current_match(make_app: Any, seeded: Any) -> None:
    from tailrun_tui.widgets.output_view import CURRENT_MATCH_STYLE, OutputLog, OutputView

    seeder = Seeder(seeded.address)
    run_id = "00000000-0000-4000-8000-0000000000ab"
    try:
        seeder.start(run_id, "output-sources", T0)
        seeder.log_text(run_id, "logs/user_log.txt", 0, "console line\n")
        seeder.log_text(run_id, "logs/extra.log", 0, "extra 1\nextra 2\nextra 3\n")
    finally:
        seeder.close()
    app = make_app(run_id=run_id, tab="output")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.screen.query_one(OutputView)
        assert "console (logs/user_log.txt)" in screen_text(app)
        await pilot.press("o")
        await settle(pilot)
        text = screen_text(app)
        assert view.current == "logs/extra.log" and "extra 3" in text and "console line" not in text
        assert isinstance(app.focused, OutputLog)
        assert "Search" in text and "Follow" in text      # the footer kept the Output keys
        await pilot.press("slash", "e", "x", "t", "r", "a", "enter", "n")
        await settle(pilot)
        log = view.output_log
        current = view.matches[view.match_index]
        assert log.current_match == current
        other = next(i for i in view.matches if i != current)

        def styles(y: int) -> set[str]:
            log._render_line_cache.clear()
            return {str(seg.style) for seg in log._render_line_strip(y, log.rich_style) if seg.style}

        assert any("underline" in s for s in styles(current))
        assert not any("underline" in s for s in styles(other))
        assert "underline" in CURRENT_MATCH_STYLE


async def test_o_with_only_the_console_says_so(make_app: Any) -> None:
    app = make_app(run_id=RUN_FAILED, tab="output")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        view = app.screen.query_one("#output-view")
        await pilot.press("o")
        await _until(pilot, lambda: any("only log so far" in n.message for n in app._notifications))
        assert view.current == "" and "console (logs/user_log.txt)" in screen_text(app)


async def test_files_sizes_whole_current_and_no_writing_note_when_finished(make_app: Any, seeded: Any) -> None:
    app = make_app(run_id=RUN_DONE, tab="files")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "model.bin  2.0K" in text and "user_log.txt  120B" in text and "…" not in text.split("▕")[0], text
        files = app.screen.query_one("#files-view")
        tree = files.query_one("#file-tree")
        node = next(n for n in _walk(tree.root) if n.data == "logs/user_log.txt")
        tree.move_cursor(node)
        await settle(pilot)
        assert "logs/user_log.txt · 120 B · d: download" in screen_text(app)   # run finished: not "being written"

    seeder = Seeder(seeded.address)
    run_id = "00000000-0000-4000-8000-0000000000ac"
    try:
        seeder.start(run_id, "files-live", T0)
        offset = seeder.log_text(run_id, "logs/user_log.txt", 0, "a" * 99 + "\n")
        app = make_app(run_id=run_id, tab="files")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "user_log.txt  100B …" in screen_text(app)
            seeder.log_text(run_id, "logs/user_log.txt", offset, "b" * 1999 + "\n")
            await _until(pilot, lambda: "user_log.txt  2.1K …" in screen_text(app))
    finally:
        seeder.close()


async def test_child_run_duration_moves_and_children_take_keys_at_once(make_app: Any, seeded: Any) -> None:
    seeder = Seeder(seeded.address)
    parent = "00000000-0000-4000-8000-0000000000d0"
    kids = ["00000000-0000-4000-8000-0000000000d1", "00000000-0000-4000-8000-0000000000d2"]
    try:
        seeder.start(parent, "children", T0)
        for i, kid in enumerate(kids):
            seeder.start(kid, "children", T0 + 10 + i, parent_run_id=parent, display_name=f"kid-{i}")
    finally:
        seeder.close()
    now = [T0 + 12]
    app = make_app(run_id=parent, clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#children")
        assert app.focused is table                      # j and enter work without Tab
        now[0] = T0 + 75
        await _until(pilot, lambda: "1m 05s" in screen_text(app))   # kid-0 runs since T0+10
        await pilot.press("j", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == kids[1]


async def test_ui_started_before_the_service_connects_by_itself(service_factory: Any, make_app: Any,
                                                               tmp_path: Path) -> None:
    port = _free_port()
    app = make_app(address=f"127.0.0.1:{port}")
    async with app.run_test(size=(120, 30)) as pilot:
        await _until(pilot, lambda: "cannot reach the tailrun service" in screen_text(app))
        svc = service_factory(port=port, data_dir=tmp_path / "late", with_runner=False)
        seeder = Seeder(svc.address)
        seeder.start("00000000-0000-4000-8000-0000000000be", "late-exp", T0)
        seeder.close()
        await _until(pilot, lambda: "late-exp" in screen_text(app), timeout=20)   # no `r` pressed
        await _until(pilot, lambda: "● live" in screen_text(app))
        text = screen_text(app)
        assert "cannot reach" not in text                     # no stale line
        assert not [n for n in app._notifications if "cannot reach" in n.message]   # nor a stale toast
        assert f"127.0.0.1:{port}" in text                   # the status line names the service
