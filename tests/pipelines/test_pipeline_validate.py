"""Pipelines before anything runs: the DAG derived from inputs/outputs and StepSequence,
`validate()` reporting cycles, missing scripts and unconnected inputs, construction errors as
Azure ML raises them, and the definition the service receives. No service needed: a pipeline
with errors is refused before anything is sent."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

import tailrun
from tailrun.data import OutputFileDatasetConfig
from tailrun.pipeline import _dag
from tailrun.pipeline.core import Pipeline, PipelineData, PipelineParameter, StepSequence
from tailrun.pipeline.errors import PipelineConfigError, PipelineFeatureUnsupported, PipelineValidationError
from tailrun.pipeline.steps import PythonScriptStep


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for name in ("prep.py", "train.py", "evaluate.py", "other.py"):
        (folder / name).write_text("print('hi')\n")
    return folder


@pytest.fixture
def offline_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tailrun.Workspace:
    """A workspace naming an address where nothing listens: these tests must never reach it."""
    monkeypatch.setenv("TAILRUN_HOME", str(tmp_path / "home"))
    return tailrun.Workspace(address="127.0.0.1:9")


def three_steps(src: Path):
    prepped, model = PipelineData("prepped"), PipelineData("model")
    prep = PythonScriptStep("prep.py", name="prep", arguments=["--out", prepped], outputs=[prepped],
                            source_directory=str(src))
    train = PythonScriptStep("train.py", name="train", arguments=["--data", prepped, "--out", model],
                             inputs=[prepped], outputs=[model], source_directory=str(src))
    evaluate = PythonScriptStep("evaluate.py", name="evaluate", arguments=["--model", model.as_input("m")],
                                inputs=[model.as_input("m")], source_directory=str(src))
    return prep, train, evaluate


def node(definition: dict, name: str) -> str:
    return next(s["node_id"] for s in definition["steps"] if s["name"] == name)


def test_the_dag_follows_the_data_whatever_the_order_of_the_steps(offline_ws, src):
    prep, train, evaluate = three_steps(src)
    pipeline = Pipeline(offline_ws, steps=[evaluate, train, prep])
    assert pipeline.validate() == []
    definition, errors, sources = pipeline._definition()
    assert errors == [] and set(sources) == {"src0"} and sources["src0"] == src.resolve()
    deps = _dag.dependencies(definition)
    assert deps[node(definition, "train")] == [node(definition, "prep")]
    assert deps[node(definition, "evaluate")] == [node(definition, "train")]
    assert deps[node(definition, "prep")] == []
    names = {s["node_id"]: s["name"] for s in definition["steps"]}
    assert [names[n] for n in _dag.order(deps)] == ["prep", "train", "evaluate"]
    train_def = next(s for s in definition["steps"] if s["name"] == "train")
    assert train_def["arguments"] == ["--data", {"data": "prepped"}, "--out", {"data": "model"}]
    assert train_def["inputs"] == ["prepped"] and train_def["outputs"] == ["model"]
    assert train_def["script"] == "train.py" and train_def["source"] == "src0" and train_def["target"] == "local"
    assert definition["data"] == {"prepped": {"type": "PipelineData"}, "model": {"type": "PipelineData"}}
    assert set(_dag.dependants(deps, node(definition, "prep"))) == {node(definition, "train"),
                                                                   node(definition, "evaluate")}
    assert _dag.dependants(deps, node(definition, "evaluate")) == []
    json.dumps(definition)   # what is sent is plain JSON


def test_resolve_closure_brings_in_the_producers_of_the_last_step(offline_ws, src):
    prep, train, evaluate = three_steps(src)
    assert [s.name for s in Pipeline(offline_ws, steps=[evaluate]).steps] == ["evaluate", "train", "prep"]
    alone = Pipeline(offline_ws, steps=[evaluate], resolve_closure=False)
    assert alone.validate() == ["step 'evaluate': input 'model' is not connected: no step of the pipeline "
                                "has it as an output"]


def test_an_input_nobody_produces_is_unconnected(offline_ws, src):
    raw = PipelineData("raw")
    step = PythonScriptStep("train.py", name="train", arguments=["--data", raw], inputs=[raw],
                            source_directory=str(src))
    errors = Pipeline(offline_ws, steps=[step]).validate()
    assert errors == ["step 'train': input 'raw' is not connected: no step of the pipeline has it as an output"]


def test_missing_script_and_missing_folder_are_reported_per_step(offline_ws, src, tmp_path):
    missing = PythonScriptStep("nope.py", name="first", source_directory=str(src))
    nowhere = PythonScriptStep("train.py", name="second", source_directory=str(tmp_path / "absent"))
    outside = PythonScriptStep("../escape.py", name="third", source_directory=str(src))
    errors = Pipeline(offline_ws, steps=[missing, nowhere, outside]).validate()
    assert errors == [
        f"step 'first': script 'nope.py' was not found in source_directory {str(src)!r}",
        f"step 'second': source_directory {str(tmp_path / 'absent')!r} is not a folder",
        f"step 'third': script '../escape.py' is outside source_directory {str(src)!r}",
    ]


def test_a_cycle_through_data_is_reported_with_its_steps_in_order(offline_ws, src):
    x, y = PipelineData("x"), PipelineData("y")
    a = PythonScriptStep("prep.py", name="a", inputs=[x], outputs=[y], source_directory=str(src))
    b = PythonScriptStep("train.py", name="b", inputs=[y], outputs=[x], source_directory=str(src))
    c = PythonScriptStep("evaluate.py", name="c", inputs=[y], source_directory=str(src))
    errors = Pipeline(offline_ws, steps=[a, b, c]).validate()
    assert len(errors) == 1 and errors[0].startswith("the steps form a cycle: ")
    cycle = errors[0].removeprefix("the steps form a cycle: ").split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["'a'", "'b'"]


def test_a_cycle_through_run_after_and_a_step_reading_its_own_output(offline_ws, src):
    a = PythonScriptStep("prep.py", name="a", source_directory=str(src))
    b = PythonScriptStep("train.py", name="b", source_directory=str(src))
    b.run_after(a)
    a.run_after(b)
    assert Pipeline(offline_ws, steps=[a, b]).validate() == ["the steps form a cycle: 'a' -> 'b' -> 'a'"]
    loop = PipelineData("loop")
    c = PythonScriptStep("other.py", name="c", inputs=[loop], outputs=[loop], source_directory=str(src))
    errors = Pipeline(offline_ws, steps=[c]).validate()
    assert errors == ["step 'c' reads its own output 'loop'"]


def test_an_output_with_two_producers_and_two_data_objects_with_one_name(offline_ws, src):
    out = PipelineData("out")
    a = PythonScriptStep("prep.py", name="a", outputs=[out], source_directory=str(src))
    b = PythonScriptStep("train.py", name="b", outputs=[out], source_directory=str(src))
    assert Pipeline(offline_ws, steps=[a, b]).validate() == [
        "data 'out' is an output of several steps: 'a', 'b'; each output has one producer"]
    c = PythonScriptStep("other.py", name="c", outputs=[PipelineData("dup")], source_directory=str(src))
    d = PythonScriptStep("evaluate.py", name="d", outputs=[PipelineData("dup")], source_directory=str(src))
    errors = Pipeline(offline_ws, steps=[c, d]).validate()
    assert "step 'd': two different data objects are named 'dup'; data names must be unique in a pipeline" in errors


def test_step_sequence_orders_steps_without_data_and_runs_a_group_concurrently(offline_ws, src):
    a, b, c, d = (PythonScriptStep(f"{n}.py", name=n, source_directory=str(src))
                  for n in ("prep", "train", "evaluate", "other"))
    pipeline = Pipeline(offline_ws, steps=StepSequence(steps=[a, [b, c], d]))
    definition, errors, _ = pipeline._definition()
    assert errors == []
    deps = _dag.dependencies(definition)
    ids = {s["name"]: s["node_id"] for s in definition["steps"]}
    assert deps[ids["prep"]] == [] and deps[ids["train"]] == [ids["prep"]] and deps[ids["evaluate"]] == [ids["prep"]]
    assert sorted(deps[ids["other"]]) == sorted([ids["train"], ids["evaluate"]])


def test_data_in_arguments_must_be_declared_as_azure_ml_requires(src):
    data = PipelineData("data")
    with pytest.raises(PipelineConfigError, match="PipelineData 'data' appears in arguments but is not in the "
                                                  "inputs or outputs lists"):
        PythonScriptStep("train.py", name="train", arguments=["--data", data], source_directory=str(src))
    with pytest.raises(PipelineConfigError, match="input 'd' appears in arguments but is not in the inputs list"):
        PythonScriptStep("train.py", arguments=[data.as_input("d")], source_directory=str(src))
    with pytest.raises(PipelineConfigError, match="only letters, digits and underscores"):
        PipelineData("has space")
    with pytest.raises(PipelineConfigError, match="an input must be a PipelineData"):
        PythonScriptStep("train.py", inputs=["/data/raw"], source_directory=str(src))


def test_output_file_dataset_config_in_arguments_is_an_output_and_its_as_input_an_input(offline_ws, src):
    features = OutputFileDatasetConfig(name="features")
    prep = PythonScriptStep("prep.py", name="prep", arguments=["--out", features], source_directory=str(src))
    train = PythonScriptStep("train.py", name="train", arguments=["--in", features.as_input()],
                             source_directory=str(src))
    pipeline = Pipeline(offline_ws, steps=[train])   # the closure finds prep through the data
    definition, errors, _ = pipeline._definition()
    assert errors == []
    by_name = {s["name"]: s for s in definition["steps"]}
    assert by_name["prep"]["outputs"] == ["features"] and by_name["train"]["inputs"] == ["features"]
    assert by_name["train"]["arguments"] == ["--in", {"data": "features"}]
    assert definition["data"]["features"] == {"type": "OutputFileDatasetConfig"}
    assert OutputFileDatasetConfig().name.startswith("output_")
    with pytest.raises(PipelineFeatureUnsupported, match="destination"):
        OutputFileDatasetConfig(name="x", destination=("datastore", "path"))


def test_pipeline_parameters_default_and_override(offline_ws, src):
    lr = PipelineParameter("lr", default_value=0.1)
    step = PythonScriptStep("train.py", name="train", arguments=["--lr", lr], source_directory=str(src),
                            params={"seed": 3})
    pipeline = Pipeline(offline_ws, steps=[step])
    definition, errors, _ = pipeline._definition()
    assert errors == [] and definition["parameters"] == {"lr": "0.1"}
    assert definition["steps"][0]["arguments"] == ["--lr", {"param": "lr"}]
    assert definition["steps"][0]["run_config"]["environment_variables"]["AML_PARAMETER_seed"] == "3"
    assert pipeline._definition({"lr": 0.5})[0]["parameters"] == {"lr": "0.5"}
    assert pipeline._definition({"momentum": 1})[1] == [
        "pipeline_parameters names 'momentum', which the pipeline does not use (its parameters: 'lr')"]


def test_each_source_directory_is_one_folder_of_the_snapshot(offline_ws, src, tmp_path):
    second = tmp_path / "second"
    second.mkdir()
    (second / "job.py").write_text("print(2)\n")
    a = PythonScriptStep("prep.py", name="a", source_directory=str(src))
    b = PythonScriptStep("train.py", name="b", source_directory=str(src) + "/")
    c = PythonScriptStep("job.py", name="c", source_directory=str(second))
    definition, errors, sources = Pipeline(offline_ws, steps=[a, b, c])._definition()
    assert errors == [] and [s["source"] for s in definition["steps"]] == ["src0", "src0", "src1"]
    assert sources == {"src0": src.resolve(), "src1": second.resolve()}


def test_submitting_an_invalid_pipeline_sends_nothing(offline_ws, src):
    raw = PipelineData("raw")
    step = PythonScriptStep("missing.py", name="train", inputs=[raw], source_directory=str(src))
    experiment = tailrun.Experiment._attach(offline_ws, "pipelines")   # queues nothing
    with pytest.raises(PipelineValidationError) as caught:
        experiment.submit(Pipeline(offline_ws, steps=[step]))
    assert caught.value.errors == [
        f"step 'train': script 'missing.py' was not found in source_directory {str(src)!r}",
        "step 'train': input 'raw' is not connected: no step of the pipeline has it as an output"]
    assert "nothing was submitted" in str(caught.value)
    with pytest.raises(TypeError, match="unexpected keyword arguments bogus"):
        experiment.submit(Pipeline(offline_ws, steps=[step]), bogus=1)


@pytest.mark.parametrize("definition,expected", [
    ({"steps": [], "data": {}}, ["the pipeline has no steps"]),
    ({"data": {"../x": {"type": "PipelineData"}},
      "steps": [{"node_id": "a", "name": "a", "script": "a.py", "source": "src0", "target": "local"}]},
     ["data name '../x' is not valid: it may contain only letters, digits and underscores"]),
    ({"data": {},
      "steps": [{"node_id": "a", "name": "a", "script": "a.py", "source": "src0", "target": "local",
                 "inputs": ["ghost"], "after": ["zz"]}]},
     ["step 'a': input 'ghost' is not declared in the pipeline's data"]),
    ({"data": {},
      "steps": [{"node_id": "a", "name": "a", "script": "a.py", "source": "src0", "target": "local",
                 "after": ["zz"]}]},
     ["step 'a': runs after node 'zz', which is not a step of this pipeline"]),
    ({"data": {"d": {"type": "PipelineData"}}, "parameters": {},
      "steps": [{"node_id": "a", "name": "a", "script": "a.py", "source": "src0", "target": "local",
                 "outputs": ["d"], "arguments": [{"data": "e"}, {"param": "p"}, 3]}]},
     ["step 'a': argument refers to data 'e', which is neither in its inputs nor in its outputs",
      "step 'a': argument refers to pipeline parameter 'p', which is not declared",
      "step 'a': argument 3 is not a string"]),
])
def test_the_service_side_checks_refuse_a_tampered_definition(definition, expected):
    assert _dag.problems(definition) == expected


def test_unsupported_azureml_features_raise_one_clear_error(offline_ws, src):
    from tailrun.pipeline.core import PipelineEndpoint, PublishedPipeline, Schedule, ScheduleRecurrence
    from tailrun.pipeline.steps import CommandStep, ParallelRunStep

    for cls in (PublishedPipeline, PipelineEndpoint, Schedule, ScheduleRecurrence, ParallelRunStep, CommandStep):
        with pytest.raises(PipelineFeatureUnsupported, match=f"{cls.__name__} is not supported by tailrun: "):
            cls()
    with pytest.raises(PipelineFeatureUnsupported, match="publish"):
        Pipeline(offline_ws, steps=[PythonScriptStep("prep.py", source_directory=str(src))]).publish("name")
    with pytest.raises(PipelineFeatureUnsupported, match="parent_run_id"):
        tailrun.Experiment._attach(offline_ws, "x").submit(
            Pipeline(offline_ws, steps=[PythonScriptStep("prep.py", source_directory=str(src))]), parent_run_id="r")


def test_the_snapshot_holds_each_source_folder_under_its_key_minus_ignored_files(offline_ws, src, tmp_path):
    from tailrun.pipeline.core.pipeline import snapshot_zip

    (src / ".amlignore").write_text("other.py\n")
    second = tmp_path / "second"
    second.mkdir()
    (second / "job.py").write_text("print(2)\n")
    steps = [PythonScriptStep("prep.py", name="prep", source_directory=str(src)),
             PythonScriptStep("job.py", name="job", source_directory=str(second))]
    _, errors, sources = Pipeline(offline_ws, steps=steps)._definition()
    with snapshot_zip(sources) as snapshot, zipfile.ZipFile(snapshot) as archive:
        assert sorted(archive.namelist()) == ["src0/.amlignore", "src0/evaluate.py", "src0/prep.py",
                                              "src0/train.py", "src1/job.py"]
