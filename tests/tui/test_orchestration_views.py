"""The Trials tab of a sweep and the Steps tab of a pipeline, against a real service that ran a
real 6-trial grid sweep and a real pipeline with a failing step (its dependant skipped) and a
re-submission that reuses its first step: pilot tests, a live test (a trial that finishes moves
to the top) and snapshots at 80×24 and 120×40."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from .conftest import screen_text, settle, show_tab
from .seed import NOW

pytestmark = pytest.mark.timeout(180)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

# accuracy over 5 steps: best at lr=0.01, then the smaller batch.
TRIAL = """\
import argparse
from tailrun import Run
p = argparse.ArgumentParser(); p.add_argument("--lr", type=float); p.add_argument("--batch", type=int)
a = p.parse_args()
run = Run.get_context()
for step in range(5):
    run.log("accuracy", round(0.9 - abs(a.lr - 0.01) * 2 - a.batch / 1000 + 0.01 * step, 4))
"""
# score = --q, then (once the test creates <go><q>) --q + 1 and the trial ends.
WAITING_TRIAL = """\
import argparse, os, time
from tailrun import Run
p = argparse.ArgumentParser(); p.add_argument("--q", type=float); p.add_argument("--go"); a = p.parse_args()
run = Run.get_context()
run.log("score", a.q)
run.flush()
while not os.path.exists(f"{a.go}{a.q}"):
    time.sleep(0.02)
run.log("score", a.q + 1)
"""
# A step that runs until the test creates the file named by its argument.
GATE = """\
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
"""
OK = "from tailrun import Run\nRun.get_context().log('rows', 3)\n"
FAIL = "import sys\nprint('bad input')\nsys.exit(3)\n"


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def pipeline(ws: Any, src: Path) -> Any:
    """prep -> train -> evaluate; prep -> report (train fails when fail.py does)."""
    from tailrun.pipeline.core import Pipeline
    from tailrun.pipeline.steps import PythonScriptStep

    prep = PythonScriptStep("prep.py", name="prep", source_directory=str(src))
    train = PythonScriptStep("fail.py", name="train", source_directory=str(src), allow_reuse=False)
    evaluate = PythonScriptStep("ok.py", name="evaluate", source_directory=str(src), allow_reuse=False)
    report = PythonScriptStep("ok.py", name="report", source_directory=str(src), allow_reuse=False)
    train.run_after(prep)
    evaluate.run_after(train)
    report.run_after(prep)
    return Pipeline(ws, steps=[prep, train, evaluate, report])


@pytest.fixture(scope="module")
def orchestrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A service with its runner, after a finished grid sweep and two runs of one pipeline."""
    from recorder_reset import reset_recorder
    from tailrun import Experiment, ScriptRunConfig, Workspace
    from tailrun.train.hyperdrive import GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal, choice
    from tailrun_service.server import serve

    root = tmp_path_factory.mktemp("orchestrated")
    home = write(root / "home", {})
    saved = os.environ.get("TAILRUN_HOME")
    os.environ["TAILRUN_HOME"] = str(home)
    svc = serve(host="127.0.0.1", port=0, data_dir=root / "data", with_runner=True, heartbeat_timeout=None)
    try:
        reset_recorder()
        ws = Workspace(address=svc.address)
        sampling = GridParameterSampling({"--lr": choice(0.01, 0.1), "--batch": choice(16, 32, 64)})
        sweep = Experiment(ws, "grid").submit(HyperDriveConfig(
            run_config=ScriptRunConfig(str(write(root / "sweep", {"train.py": TRIAL})), "train.py"),
            hyperparameter_sampling=sampling, primary_metric_name="accuracy",
            primary_metric_goal=PrimaryMetricGoal.MAXIMIZE, max_total_runs=6, max_concurrent_runs=3))
        assert sweep.wait_for_completion(show_output=False)["status"] == "Completed"
        src = write(root / "steps", {"prep.py": OK, "ok.py": OK, "fail.py": FAIL})
        first = Experiment(ws, "pipes").submit(pipeline(ws, src), continue_on_step_failure=True)
        assert first.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
        again = Experiment(ws, "pipes").submit(pipeline(ws, src), continue_on_step_failure=True)
        assert again.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
        # Snapshots: a pipeline whose steps all pass (a failure's message names run ids, which vary)
        ok_src = write(root / "ok-steps", {"prep.py": OK, "ok.py": OK, "fail.py": OK})
        ok = Experiment(ws, "pipes").submit(pipeline(ws, ok_src))
        assert ok.wait_for_completion(show_output=False) == "Completed"
        for run, name in ((sweep, "grid-sweep"), (ok, "nightly")):
            run.display_name = name   # the status line shows it instead of the run id (which varies)
        svc.ids = {"sweep": sweep.id, "pipeline": first.id, "again": again.id, "ok": ok.id,
                   "first_prep": first.find_step_run("prep")[0].id}
        svc.root = root
        yield svc
    finally:
        svc.stop(grace=1)
        reset_recorder()
        if saved is None:
            os.environ.pop("TAILRUN_HOME", None)
        else:
            os.environ["TAILRUN_HOME"] = saved


@pytest.fixture
def app_for(orchestrated: Any) -> Callable[..., Any]:
    from tailrun._settings import Settings
    from tailrun_tui.app import TailrunApp

    def make(**kwargs: Any) -> Any:
        return TailrunApp(Settings(orchestrated.address, None), clock=lambda: NOW, image_renderer="halfcell",
                          service_label="127.0.0.1:50051", **kwargs)

    return make


async def until(pilot: Any, check: Callable[[], Any], what: str, timeout: float = 30) -> None:
    """Let the UI work until `check()` holds (a live event has shown); fails naming `what`."""
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not shown after {timeout} s: {what}\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


def rows(table: Any) -> list[list[str]]:
    """The table's cells as text; a status without its glyph."""
    return [[str(cell).split()[-1] if j == (2 if table.id == "steps" else 1) else str(cell)
             for j, cell in enumerate(table.get_row_at(i))] for i in range(table.row_count)]


async def test_a_sweep_shows_its_trials_best_first_with_curves_and_a_scatter(app_for: Any, orchestrated: Any) -> None:
    from tailrun_tui.screens.run import RunScreen

    app = app_for(run_id=orchestrated.ids["sweep"])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "8 Trials" in screen_text(app)
        view = await show_tab(pilot, "8", "#sweep-view")
        table = view.query_one("#trials")
        assert [str(c.label) for c in table.columns.values()] == ["#", "Status", "accuracy ↑", "lr", "batch"]
        got = [(r[2], r[3], r[4]) for r in rows(table)]
        assert got == [("0.924", "0.01", "16"), ("0.908", "0.01", "32"), ("0.876", "0.01", "64"),
                       ("0.744", "0.1", "16"), ("0.728", "0.1", "32"), ("0.696", "0.1", "64")]
        assert all(r[1] == "Completed" for r in rows(table))
        curves = view.query_one("#trial-curves")
        assert len(curves.series) == 6 and all(s.total == 5 for _, s in curves.series)
        assert curves.series[0][1].last() == pytest.approx(0.924)   # the best trial draws first
        scatter = view.query_one("#trial-scatter")
        assert scatter.param == "--lr" and sorted(m for _, m in scatter.points)[-1] == pytest.approx(0.924)
        await pilot.press("p")
        assert scatter.param == "--batch" and len(scatter.points) == 6
        assert "accuracy vs batch" in screen_text(app)
        await pilot.press("p")
        assert scatter.param == "--lr"
        # j/k move through the trials, enter opens one.
        assert app.focused is table
        await pilot.press("j", "enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == table.coordinate_to_cell_key(
            (1, 0)).row_key.value
        assert "8 Trials" not in screen_text(app)   # a trial has no trials of its own
        await pilot.press("8")
        assert "no sweep or pipeline" in " ".join(str(n.message) for n in app._notifications)


async def test_a_pipeline_shows_its_steps_in_order_with_skipped_and_reused(app_for: Any, orchestrated: Any) -> None:
    app = app_for(run_id=orchestrated.ids["pipeline"])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        assert "8 Steps" in screen_text(app)
        table = app.screen.query_one("#steps")
        got = rows(table)
        assert [r[1] for r in got] in (["prep", "train", "report", "evaluate"], ["prep", "report", "train", "evaluate"])
        by_name = {r[1]: r for r in got}
        assert by_name["prep"][2:4] == ["Completed", "—"] and by_name["report"][2:4] == ["Completed", "prep"]
        assert by_name["train"][2:] == ["Failed", "prep", "UserError: exit code 3: bad input"]
        assert by_name["prep"][4] == ""
        # Canceled with the error code Skipped: the pipeline never ran it.
        assert by_name["evaluate"][2] == "Skipped" and by_name["evaluate"][3] == "train"
        assert by_name["evaluate"][4].startswith("not run: step 'train'")
        assert "4 steps · 2 completed, 1 failed, 1 skipped" in screen_text(app)

    app = app_for(run_id=orchestrated.ids["again"])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot)
        by_name = {r[1]: r for r in rows(app.screen.query_one("#steps"))}
        assert by_name["prep"][4] == f"reused {orchestrated.ids['first_prep']}"
        assert by_name["train"][4] == "UserError: exit code 3: bad input"   # not reusable: it ran again


async def test_a_trial_that_finishes_shows_and_moves_to_the_top(app_for: Any, orchestrated: Any) -> None:
    from tailrun import Experiment, ScriptRunConfig, Workspace
    from tailrun.train.hyperdrive import GridParameterSampling, HyperDriveConfig, PrimaryMetricGoal, choice

    root = orchestrated.root
    go = root / "go-"
    src = write(root / "waiting", {"train.py": WAITING_TRIAL})
    sampling = GridParameterSampling({"--q": choice(0.1, 0.2)})
    sweep = Experiment(Workspace(address=orchestrated.address), "live").submit(HyperDriveConfig(
        run_config=ScriptRunConfig(str(src), "train.py", arguments=["--go", str(go)]),
        hyperparameter_sampling=sampling, primary_metric_name="score", primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_total_runs=2, max_concurrent_runs=2))
    try:
        app = app_for(run_id=sweep.id, tab="child-runs")
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            view = app.screen.query_one("#sweep-view")
            table = view.query_one("#trials")
            await until(pilot, lambda: [r[2] for r in rows(table)] == ["0.2", "0.1"], "two running trials, best first")
            assert all(r[1] == "Running" for r in rows(table))
            assert "⚠" not in screen_text(app)   # a trial with no point yet is no error
            (root / "go-0.1").touch()   # the worst trial logs 1.1 and ends
            await until(pilot, lambda: rows(table)[0][1:4] == ["Completed", "1.1", "0.1"],
                        "the finished trial at the top")
            assert [r[2] for r in rows(table)] == ["1.1", "0.2"]
            curves = view.query_one("#trial-curves")
            await until(pilot, lambda: any(s.total == 2 for _, s in curves.series), "its curve grew")
    finally:
        for q in ("0.1", "0.2"):
            (root / f"go-{q}").touch()
    assert sweep.wait_for_completion(show_output=False)["status"] == "Completed"


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", ["sweep", "ok"])
def test_snapshot(case: str, size: tuple[int, int], snap_compare: Any, app_for: Any, orchestrated: Any) -> None:
    app = app_for(run_id=orchestrated.ids[case])

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("8")
        await settle(pilot, timeout=5)
        await pilot.pause(0.5)   # a loaded machine repaints late (focus moves)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_a_running_pipeline_shows_its_waiting_steps_and_their_progress(app_for: Any, orchestrated: Any) -> None:
    from tailrun import Experiment, Workspace
    from tailrun.pipeline.core import Pipeline
    from tailrun.pipeline.steps import PythonScriptStep

    root = orchestrated.root
    go = root / "go-pipeline"
    src = write(root / "gated", {"gate.py": GATE, "ok.py": OK})
    ws = Workspace(address=orchestrated.address)
    gate = PythonScriptStep("gate.py", name="gate", arguments=[str(go)], source_directory=str(src), allow_reuse=False)
    after = PythonScriptStep("ok.py", name="after", source_directory=str(src), allow_reuse=False)
    after.run_after(gate)
    run = Experiment(ws, "gated").submit(Pipeline(ws, steps=[gate, after]))
    try:
        app = app_for(run_id=run.id, tab="child-runs")
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            table = app.screen.query_one("#steps")
            await until(pilot, lambda: [r[1:4] for r in rows(table)] == [["gate", "Running", "—"],
                                                                         ["after", "waiting", "gate"]],
                        "the gate running, the next step waiting for it")
            await pilot.press("j", "enter")   # a waiting step is no run yet: nothing opens
            assert app.screen.query_one("#steps") is table
            go.touch()
            await until(pilot, lambda: [r[1:3] for r in rows(table)] == [["gate", "Completed"], ["after", "Completed"]],
                        "both steps completed")
            await until(pilot, lambda: "2 steps · 2 completed" in screen_text(app), "the summary")
    finally:
        go.touch()
    assert run.wait_for_completion(show_output=False) == "Completed"


def test_a_hyperparameter_of_strings_is_placed_by_its_sorted_values() -> None:
    from tailrun_tui.widgets.sweep_view import param_axis

    assert param_axis(["0.1", "1e-3", "2"]) == ([0.1, 0.001, 2.0], [], [])
    assert param_axis(["sgd", "adam", "sgd"]) == ([1.0, 0.0, 1.0], [0.0, 1.0], ["adam", "sgd"])
