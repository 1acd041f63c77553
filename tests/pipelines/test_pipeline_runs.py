"""Pipelines executed by a real service with real step scripts: a file passed through PipelineData,
a failing middle step (dependants skipped, others finish), reuse of an unchanged step on
re-submission, concurrency up to the runner's limit, a never-produced output, a cycle, and a
service restart in the middle of a pipeline (it finishes, no step runs twice)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailrun import Experiment, Run
from tailrun.pipeline.core import Pipeline, PipelineData, PipelineRun, StepRun, StepSequence
from tailrun.pipeline.errors import PipelineValidationError
from tailrun.pipeline.steps import PythonScriptStep
from tailrun.script_run import ActivityFailedException

from pipeline_helpers import EVALUATE, PREP, TRAIN, console, status_of, step_runs, wait_until

BLOCK = """\
import os, sys, time
from tailrun import Run
print("started", sys.argv[1], flush=True)
open(sys.argv[2], "w").close()                 # tell the test it is running
while not os.path.exists(sys.argv[3]):         # wait for the test's go
    time.sleep(0.02)
Run.get_context().log("done", 1)
if sys.argv[1] == "fail":
    sys.exit(3)
"""


def three_step_pipeline(ws, prep_dir: Path, main_dir: Path, log: Path, allow_reuse: bool = True) -> Pipeline:
    prepped, model = PipelineData("prepped"), PipelineData("model")
    prep = PythonScriptStep("prep.py", name="prep", arguments=["--out", prepped, "--log", log], outputs=[prepped],
                            source_directory=str(prep_dir), allow_reuse=allow_reuse)
    train = PythonScriptStep("train.py", name="train", arguments=["--data", prepped, "--out", model, "--log", log],
                             inputs=[prepped], outputs=[model], source_directory=str(main_dir))
    evaluate = PythonScriptStep("evaluate.py", name="evaluate", arguments=["--model", model, "--log", log],
                                inputs=[model], source_directory=str(main_dir))
    return Pipeline(ws, steps=[evaluate])   # the closure brings in train and prep


def test_three_steps_pass_a_file_through_pipeline_data(service, workspace_of, folder, tmp_path, capsys):
    ws = workspace_of(service)
    log = tmp_path / "runs.log"
    prep_dir = folder("prep", {"prep.py": PREP})
    main_dir = folder("main", {"train.py": TRAIN.replace("FACTOR", "1"), "evaluate.py": EVALUATE})
    run = Experiment(ws, "pipes").submit(three_step_pipeline(ws, prep_dir, main_dir, log))
    assert isinstance(run, PipelineRun)
    assert run.wait_for_completion(show_output=True) == "Completed"
    shown = capsys.readouterr().out
    assert f"PipelineRunId: {run.id}" in shown and "PipelineRun Status: Completed" in shown
    for name in ("prep", "train", "evaluate"):
        assert f"StepRun( {name} ) Status: Completed" in shown
    assert shown.index("StepRun( prep ) Status: Completed") < shown.index("StepRun( train ) Status: Running") \
        < shown.index("StepRun( evaluate ) Status: Running")

    steps = list(run.get_steps())
    assert [s.name for s in steps] == ["prep", "train", "evaluate"]
    # `tailrun runs --tree`: the steps under the pipeline, in dependency order (the pipeline was
    # declared by its last step only)
    import subprocess
    import sys
    tree = subprocess.run([sys.executable, "-m", "tailrun.cli", "runs", "pipes", "--tree", "--address",
                           service.address], capture_output=True, text=True, timeout=60)
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()
    parent = next(i for i, line in enumerate(lines) if f" {run.id} " in line)
    assert [line.split()[-1] for line in lines[parent + 1:parent + 4]] == ["prep", "train", "evaluate"]
    assert all(f"  {run.id}_" in line for line in lines[parent + 1:parent + 4])   # indented under it
    assert all(isinstance(s, StepRun) and s.status == "Completed" and not s.is_reused for s in steps)
    assert [s.get_metrics() for s in steps] == [{"rows": 3}, {"sum": 6}, {"score": 60}]
    evaluate = run.find_step_run("evaluate")
    assert len(evaluate) == 1 and "model: 6" in evaluate[0].get_stdout_log()
    assert evaluate[0].pipeline_run_id == run.id and evaluate[0].parent.id == run.id
    # the producer's folder is the consumer's input path, a real folder on the service's machine
    model_folder = Path(run.find_step_run("train")[0].get_output("model").path)
    assert (model_folder / "model.txt").read_text() == "6"
    assert "model: 6" in console(service.store, evaluate[0].id)
    prep_console = console(service.store, steps[0].id)
    written = prep_console.split("prep wrote ", 1)[1].split()[0]
    assert Path(written) == Path(steps[0].get_output("prepped").path) and Path(written).is_absolute()
    assert log.read_text().split() == ["prep", "train", "evaluate"]
    # the pipeline's own console says what it did; Run.get gives the pipeline classes back
    lines = console(service.store, run.id)
    assert "3 steps, in dependency order 'prep', 'train', 'evaluate'" in lines and "pipeline: Completed" in lines
    again = Run.get(ws, run.id)
    assert isinstance(again, PipelineRun) and isinstance(Run.get(ws, steps[1].id), StepRun)
    assert [s["name"] for s in again.get_graph()["steps"]] == ["evaluate", "train", "prep"]
    # each step ran from a snapshot of its own folder
    assert steps[0].properties["ContentSnapshotId"] != steps[1].properties["ContentSnapshotId"]
    assert steps[1].properties["ContentSnapshotId"] == steps[2].properties["ContentSnapshotId"]


@pytest.mark.parametrize("continue_on_step_failure", [False, True])
def test_a_failed_step_fails_the_pipeline_and_skips_its_dependants(service, workspace_of, folder, tmp_path,
                                                                  continue_on_step_failure):
    """a -> fail -> after_fail; a -> side (blocks until `fail` has failed) -> late.
    side finishes either way; late (independent of fail, not yet started when fail failed) runs
    only with continue_on_step_failure, as in Azure ML."""
    ws = workspace_of(service)
    src = folder("src", {"block.py": BLOCK, "ok.py": "print('ok')\n"})
    go_fail, go_side = tmp_path / "go-fail", tmp_path / "go-side"
    a = PythonScriptStep("ok.py", name="a", source_directory=str(src))
    fail = PythonScriptStep("block.py", name="fail", arguments=["fail", tmp_path / "fail-up", go_fail],
                            source_directory=str(src))
    side = PythonScriptStep("block.py", name="side", arguments=["side", tmp_path / "side-up", go_side],
                            source_directory=str(src))
    after_fail = PythonScriptStep("ok.py", name="after_fail", source_directory=str(src))
    late = PythonScriptStep("ok.py", name="late", source_directory=str(src))
    for step in (fail, side):
        step.run_after(a)
    after_fail.run_after(fail)
    late.run_after(side)
    run = Experiment(ws, "pipes").submit(Pipeline(ws, steps=[a, fail, side, after_fail, late]),
                                         continue_on_step_failure=continue_on_step_failure)
    wait_until(lambda: (tmp_path / "fail-up").exists() and (tmp_path / "side-up").exists(), "fail and side running")
    go_fail.touch()
    wait_until(lambda: step_runs(service.store, run.id).get("after_fail"), "after_fail recorded")
    go_side.touch()
    with pytest.raises(ActivityFailedException) as caught:
        run.wait_for_completion(show_output=False)
    assert "step 'fail'" in str(caught.value)

    steps = {s.name: s for s in run.get_steps()}
    assert steps["a"].status == "Completed" and steps["side"].status == "Completed"   # others finish
    assert steps["fail"].status == "Failed"
    skipped = steps["after_fail"]
    assert skipped.status == "Canceled" and skipped.skipped
    assert skipped.get_details()["error"]["error"]["code"] == "Skipped"
    assert "step 'fail'" in skipped.get_details()["error"]["error"]["message"]
    assert skipped.get_stdout_log() == ""                 # nothing ran
    if continue_on_step_failure:
        assert steps["late"].status == "Completed"
    else:
        assert steps["late"].status == "Canceled" and steps["late"].skipped
        assert "continue_on_step_failure is False" in steps["late"].get_details()["error"]["error"]["message"]
    error = run.get_details()["error"]["error"]
    assert error["code"] == "StepFailed" and "step 'fail'" in error["message"] and "'after_fail'" in error["message"]
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"


def test_a_resubmit_reuses_the_unchanged_first_step(service, workspace_of, folder, tmp_path):
    ws = workspace_of(service)
    log = tmp_path / "runs.log"
    prep_dir = folder("prep", {"prep.py": PREP})
    main_dir = folder("main", {"train.py": TRAIN.replace("FACTOR", "1"), "evaluate.py": EVALUATE})
    experiment = Experiment(ws, "pipes")
    first = experiment.submit(three_step_pipeline(ws, prep_dir, main_dir, log))
    assert first.wait_for_completion(show_output=False) == "Completed"
    first_prep = first.find_step_run("prep")[0]

    (main_dir / "train.py").write_text(TRAIN.replace("FACTOR", "2"))    # train changes, prep does not
    second = experiment.submit(three_step_pipeline(ws, prep_dir, main_dir, log))
    assert second.wait_for_completion(show_output=False) == "Completed"
    assert log.read_text().split() == ["prep", "train", "evaluate", "train", "evaluate"]   # prep ran once

    prep = second.find_step_run("prep")[0]
    assert prep.is_reused and prep.id == first_prep.id           # the earlier run itself: linked
    assert prep.get_metrics() == {"rows": 3}
    link = step_runs(service.store, second.id)["prep"]
    assert link.run_id == prep.reused_in_run_id and link.status == "Completed"
    assert link.tags["azureml.reusedrunid"] == first_prep.id and link.tags["azureml.reusedpipeline"] == first.id
    assert link.properties["azureml.runsource"] == "azureml.ReusedStepRun"
    assert service.store.list_files(link.run_id) == [] and link.metric_names == []   # nothing copied
    assert second.find_step_run("train")[0].get_metrics() == {"sum": 12}
    assert second.find_step_run("evaluate")[0].get_metrics() == {"score": 120}
    assert f"reused run {first_prep.id}" in console(service.store, second.id)

    third = experiment.submit(three_step_pipeline(ws, prep_dir, main_dir, log))   # nothing changed
    assert third.wait_for_completion(show_output=False) == "Completed"
    assert [s.is_reused for s in third.get_steps()] == [True, True, True]
    assert log.read_text().split() == ["prep", "train", "evaluate", "train", "evaluate"]

    fourth = experiment.submit(three_step_pipeline(ws, prep_dir, main_dir, log), regenerate_outputs=True)
    assert fourth.wait_for_completion(show_output=False) == "Completed"
    assert not any(s.is_reused for s in fourth.get_steps())
    fifth = experiment.submit(three_step_pipeline(ws, prep_dir, main_dir, log, allow_reuse=False))
    assert fifth.wait_for_completion(show_output=False) == "Completed"
    # prep ran again: its dependants' inputs come from a new run, so they are not reused either
    assert [s.is_reused for s in fifth.get_steps()] == [False, False, False]
    assert log.read_text().split().count("prep") == 3


def test_independent_steps_run_together_up_to_the_runner_limit(service_factory, workspace_of, folder, tmp_path):
    service = service_factory(max_concurrent_runs=2)
    ws = workspace_of(service)
    src = folder("src", {"block.py": BLOCK})
    go = tmp_path / "go"
    steps = [PythonScriptStep("block.py", name=n, arguments=[n, tmp_path / f"{n}-up", go], source_directory=str(src))
             for n in ("one", "two", "three")]
    run = Experiment(ws, "pipes").submit(Pipeline(ws, steps=steps))
    wait_until(lambda: sum((tmp_path / f"{n}-up").exists() for n in ("one", "two", "three")) == 2, "two running")
    runs = step_runs(service.store, run.id)
    assert len(runs) == 3                                  # all three submitted at once...
    assert sorted(r.status for r in runs.values()) == ["Queued", "Running", "Running"]   # ...two run
    go.touch()
    assert run.wait_for_completion(show_output=False) == "Completed"
    assert {s.status for s in run.get_steps()} == {"Completed"}


def test_an_output_never_produced_fails_its_dependant_with_that_reason(service, workspace_of, folder, tmp_path):
    ws = workspace_of(service)
    src = folder("src", {"lazy.py": "print('forgot to write')\n", "use.py": "print('never runs')\n",
                         "after.py": "print('never runs either')\n"})
    out = PipelineData("features")
    lazy = PythonScriptStep("lazy.py", name="lazy", arguments=["--out", out], outputs=[out], source_directory=str(src))
    use = PythonScriptStep("use.py", name="use", arguments=["--in", out], inputs=[out], source_directory=str(src))
    after = PythonScriptStep("after.py", name="after", source_directory=str(src))
    after.run_after(use)
    run = Experiment(ws, "pipes").submit(Pipeline(ws, steps=[lazy, use, after]))
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    steps = {s.name: s for s in run.get_steps()}
    assert steps["lazy"].status == "Completed"
    error = steps["use"].get_details()["error"]["error"]
    assert steps["use"].status == "Failed" and error["code"] == "InputNotProduced"
    assert error["message"] == (f"input 'features' was never produced: step 'lazy' (run {steps['lazy'].id}) "
                                "completed without writing anything to its output 'features'")
    assert steps["use"].get_stdout_log() == ""
    assert steps["after"].skipped
    assert "step 'use'" in run.get_details()["error"]["error"]["message"]


def test_a_cycle_is_refused_by_the_sdk_and_by_the_service(service, workspace_of, folder):
    ws = workspace_of(service)
    src = folder("src", {"a.py": "", "b.py": ""})
    x, y = PipelineData("x"), PipelineData("y")
    a = PythonScriptStep("a.py", name="a", arguments=[x], inputs=[x], outputs=[y], source_directory=str(src))
    b = PythonScriptStep("b.py", name="b", arguments=[y], inputs=[y], outputs=[x], source_directory=str(src))
    pipeline = Pipeline(ws, steps=[a, b])
    with pytest.raises(PipelineValidationError, match="the steps form a cycle: 'a' -> 'b' -> 'a'|"
                                                      "the steps form a cycle: 'b' -> 'a' -> 'b'"):
        Experiment(ws, "pipes").submit(pipeline)
    # a definition that skips the SDK's checks is refused by the service, nothing is created
    from tailrun.exceptions import TailrunError
    from tailrun.pipeline.core.pipeline import snapshot_zip
    from tailrun.script_run import _send
    from tailrun.v1 import tailrun_pb2 as pb

    definition, _, sources = pipeline._definition()
    spec = pb.SubmitSpec(experiment="pipes", run_id="pipes_cycle_1", run_definition_json=json.dumps(
        {"pipeline": definition}))
    with snapshot_zip(sources) as snapshot, pytest.raises(TailrunError, match="the pipeline is not valid: the "
                                                                             "steps form a cycle"):
        _send(ws._client(), spec, snapshot)
    assert status_of(service.store, "pipes_cycle_1") == ""


def test_a_service_restart_mid_pipeline_finishes_it_and_runs_no_step_twice(service_factory, workspace_of,
                                                                          folder, tmp_path):
    data_dir, go = tmp_path / "data", tmp_path / "go"
    src = folder("src", {"block.py": BLOCK, "ok.py": "import sys; print('ran', sys.argv[1])\n"})
    first = service_factory(data_dir=data_dir)
    ws = workspace_of(first)
    before = PythonScriptStep("ok.py", name="before", arguments=["before"], source_directory=str(src))
    middle = PythonScriptStep("block.py", name="middle", arguments=["middle", tmp_path / "middle-up", go],
                              source_directory=str(src))
    after = PythonScriptStep("ok.py", name="after", arguments=["after"], source_directory=str(src))
    run = Experiment(ws, "pipes").submit(Pipeline(ws, steps=StepSequence(steps=[before, middle, after])))
    wait_until(lambda: (tmp_path / "middle-up").exists(), "the middle step running")
    first.runner.stop(kill_runs=False)       # what a restart looks like to the runs
    first.stop(grace=1)

    second = service_factory(data_dir=data_dir)
    assert run.id in second.runner.active_runs()
    go.touch()
    ws2 = workspace_of(second)
    again = Run.get(ws2, run.id)
    assert isinstance(again, PipelineRun)
    assert again.wait_for_completion(show_output=False) == "Completed"
    steps = {s.name: s for s in again.get_steps()}
    assert [(n, s.status) for n, s in steps.items()] == [("before", "Completed"), ("middle", "Completed"),
                                                         ("after", "Completed")]
    assert console(second.store, steps["before"].id).count("ran before") == 1
    assert console(second.store, steps["middle"].id).count("started middle") == 1
    assert console(second.store, steps["after"].id).count("ran after") == 1
    pipeline_console = console(second.store, run.id)
    assert pipeline_console.count("step 'middle': submitted") == 1
    assert pipeline_console.count("step 'after': submitted") == 1



def test_a_pipeline_and_its_reuse_on_postgresql(pg_service, workspace_of, folder, tmp_path):
    ws = workspace_of(pg_service)
    log = tmp_path / "runs.log"
    prep_dir = folder("prep", {"prep.py": PREP})
    main_dir = folder("main", {"train.py": TRAIN.replace("FACTOR", "1"), "evaluate.py": EVALUATE})
    first = Experiment(ws, "pipes").submit(three_step_pipeline(ws, prep_dir, main_dir, log))
    assert first.wait_for_completion(show_output=False) == "Completed"
    second = Experiment(ws, "pipes").submit(three_step_pipeline(ws, prep_dir, main_dir, log))
    assert second.wait_for_completion(show_output=False) == "Completed"
    assert [(s.name, s.is_reused) for s in second.get_steps()] == [("prep", True), ("train", True),
                                                                   ("evaluate", True)]
    assert [s.id for s in second.get_steps()] == [s.id for s in first.get_steps()]
    assert log.read_text().split() == ["prep", "train", "evaluate"]


def test_canceling_a_pipeline_cancels_the_running_step_and_starts_no_other(service, workspace_of, folder,
                                                                           tmp_path):
    ws = workspace_of(service)
    src = folder("src", {"block.py": BLOCK, "ok.py": "print('ok')\n"})
    first = PythonScriptStep("block.py", name="first", arguments=["first", tmp_path / "first-up", tmp_path / "never"],
                             source_directory=str(src))
    second = PythonScriptStep("ok.py", name="second", source_directory=str(src))
    run = Experiment(ws, "pipes").submit(Pipeline(ws, steps=StepSequence(steps=[first, second])))
    wait_until(lambda: (tmp_path / "first-up").exists(), "the first step running")
    run.cancel()
    assert run.wait_for_completion(show_output=False) == "Canceled"
    assert [(s.name, s.status) for s in run.get_steps()] == [("first", "Canceled")]   # second never created


def test_a_step_on_an_unknown_compute_target_is_refused_before_anything_runs(service, workspace_of, folder):
    from tailrun.exceptions import ComputeTargetException
    ws = workspace_of(service)
    src = folder("src", {"ok.py": "print('ok')\n"})
    step = PythonScriptStep("ok.py", name="gpu", compute_target="gpu-cluster", source_directory=str(src))
    with pytest.raises(ComputeTargetException, match="unknown compute target 'gpu-cluster'.*'local'"):
        Experiment(ws, "pipes").submit(Pipeline(ws, steps=[step]))
    assert list(Experiment(ws, "pipes").get_runs()) == []
