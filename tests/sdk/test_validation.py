"""Wrong arguments to the log methods raise at once with a message naming the problem (as Azure ML
raises for them); valid-but-odd input (numpy scalars, objects) is normalised as documented. The
values logged around the errors still arrive, so an error never corrupts the run."""
from __future__ import annotations

import pytest

from api_helpers import start


@pytest.fixture
def run(ws):
    return start(ws, "validation")


@pytest.mark.parametrize("value, kind", [([1, 2], "list"), (range(3), "range"), ((x for x in [1]), "generator"),
                                         ((1, 2), "tuple")])
def test_log_refuses_sequences(run, value, kind):
    with pytest.raises(TypeError, match=rf"metric 'm': log\(\) takes a single value, not a {kind}; use log_list"):
        run.log("m", value)


def test_log_step_rules(run):
    with pytest.raises(TypeError, match=r"metric 'm': step must be an int, not float \(1.5\)"):
        run.log("m", 1.0, step=1.5)
    with pytest.raises(TypeError, match="step must be an int, not bool"):
        run.log("m", 1.0, step=True)
    run.log("stepped", 1.0, step=0)
    with pytest.raises(ValueError, match="metric 'stepped' was logged with a step before"):
        run.log("stepped", 2.0)
    run.log("plain", 1.0)
    with pytest.raises(ValueError, match="metric 'plain' was logged without a step before"):
        run.log("plain", 2.0, step=1)
    run.log("stepped", 3.0, step=1)
    assert run.get_metrics() == {"stepped": [1.0, 3.0], "plain": 1.0}


@pytest.mark.parametrize("name, error, message", [
    ("", ValueError, "metric name must not be empty"),
    ("x" * 256, ValueError, "metric name is 256 characters long; the limit is 255"),
    ("bad\nname", ValueError, "contains a control character"),
    (5, TypeError, "metric name must be a str, not int"),
    (["a"], TypeError, "metric name must be a str, not list"),
])
def test_metric_names(run, name, error, message):
    with pytest.raises(error, match=message):
        run.log(name, 1.0)
    with pytest.raises(error, match=message):
        run.log_list(name, [1])


def test_one_name_one_kind(run):
    run.log("m", 1.0)
    with pytest.raises(ValueError, match=r"metric 'm' was logged with log\(\); it cannot also be logged with log_row\(\)"):
        run.log_row("m", a=1)
    run.log_table("t", {"a": [1]})
    with pytest.raises(ValueError, match=r"logged with log_table\(\); it cannot also be logged with log_list\(\)"):
        run.log_list("t", [1])
    with pytest.raises(ValueError, match=r"logged with log_table\(\); it cannot also be logged with log\(\)"):
        run.log("t", 2.0)


def test_repr_fallback_warns_and_numpy_scalars_convert(run):
    import numpy as np
    with pytest.warns(UserWarning, match=r"metric 'd': dict is not a supported scalar type \(int, float, str, bool, None\); stored as its repr"):
        run.log("d", {"a": 1})
    with pytest.warns(UserWarning, match="metric 'i64': int64 is not a supported scalar type"):   # as in Azure ML: np.int64 is not converted
        run.log("i64", np.int64(5))
    run.log("f32", np.float32(0.5))
    run.log("i32", np.int32(-3))
    run.log("b", np.bool_(True))
    run.log("f64", np.float64(0.1))
    run.log_list("arr", np.array([1.5, 2.5]))
    metrics = run.get_metrics()
    assert metrics["d"] == "{'a': 1}"
    assert metrics["i64"] == repr(np.int64(5))
    assert metrics["f32"] == 0.5 and type(metrics["f32"]) is float
    assert metrics["i32"] == -3 and type(metrics["i32"]) is int
    assert metrics["b"] is True and metrics["f64"] == 0.1 and metrics["arr"] == [1.5, 2.5]


def test_long_strings(run):
    with pytest.raises(ValueError, match="is a string of more than 64 KiB; upload long text as a file"):
        run.log("s", "x" * (64 * 1024 + 1))
    run.log("s", "y" * 1000)
    assert run.get_metrics("s") == {"s": "y" * 1000}


def test_log_list(run):
    with pytest.raises(TypeError, match="log_list needs a list or another finite iterable of values, not int"):
        run.log_list("l", 5)
    with pytest.raises(TypeError, match="log_list element 1 has unsupported type dict"):
        run.log_list("l", [1, {"a": 2}])
    with pytest.raises(TypeError, match="log_list element 0 has unsupported type list"):
        run.log_list("l", [[1]])
    with pytest.raises(ValueError, match="element 1 is an int too large to log"):
        run.log_list("l", [1, 10 ** 100])
    run.log_list("l", [])  # documented no-op (Azure ML 1.61 crashes)
    assert run.get_metrics() == {}


def test_log_row(run):
    with pytest.raises(TypeError, match="metric 'r': column 'a' has a list value; each cell must be a single"):
        run.log_row("r", a=[1, 2])
    with pytest.raises(ValueError, match="log_row needs at least one column"):
        run.log_row("r")
    with pytest.raises(ValueError, match="metric 'r' has 101 columns; the limit is 100"):
        run.log_row("r", **{f"c{i}": i for i in range(101)})
    with pytest.raises(ValueError, match="column name '" + "c" * 256):
        run.log_row("r", **{"c" * 256: 1})


def test_log_table(run):
    with pytest.raises(TypeError, match="log_table needs a dict of column -> list of values, not list"):
        run.log_table("t", [1, 2])
    with pytest.raises(ValueError, match=r"columns have different lengths \('a': 2, 'b': 3\)"):
        run.log_table("t", {"a": [1, 2], "b": [1, 2, 3]})
    with pytest.raises(TypeError, match="column 'a' has a list value"):
        run.log_table("t", {"a": [[1], [2]]})
    with pytest.raises(TypeError, match="column names must be str, not int"):
        run.log_table("t", {1: [1]})
    run.log_table("t", {})  # documented no-op
    assert run.get_metrics() == {}


def test_log_image(run, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="exactly one of path= or plot="):
        run.log_image("img")
    with pytest.raises(ValueError, match="exactly one of path= or plot="):
        run.log_image("img", path=str(text), plot=object())
    with pytest.raises(ValueError, match=r"'.*notes.txt' is not an image \(expected png, jpeg"):
        run.log_image("img", path=str(text))
    with pytest.raises(TypeError, match="plot must be a matplotlib Figure or pyplot"):
        run.log_image("img", plot=object())
    with pytest.raises(FileNotFoundError):
        run.log_image("img", path=str(tmp_path / "missing.png"))


def test_json_metrics(run):
    with pytest.raises(ValueError, match="metric 'cm': value is not valid JSON"):
        run.log_confusion_matrix("cm", "{not json")
    with pytest.raises(TypeError, match="value must be a dict or a JSON string, not list"):
        run.log_predictions("p", [1, 2])
    with pytest.raises(ValueError, match="value cannot be written as JSON"):
        run.log_residuals("r", {"a": object()})


def test_experiment_names(ws):
    from tailrun import Experiment
    for bad in ("", "-starts-with-dash", "trailing ", "has/slash", "x" * 256):
        with pytest.raises(ValueError, match="invalid experiment name"):
            Experiment(ws, bad)
    with pytest.raises(TypeError, match="experiment name must be a str"):
        Experiment(ws, 3)
    with pytest.raises(TypeError, match="Experiment needs a tailrun Workspace"):
        Experiment("not a workspace", "name")
    for good in ("my exp", "my-experiment", "v1.2_run", "A" * 255):
        assert Experiment(ws, good).name == good


def test_tags_properties_and_texts(run):
    with pytest.raises(TypeError, match="set_tags needs a dict, not list"):
        run.set_tags(["a"])
    run.add_properties({"fixed": "1"})
    with pytest.raises(ValueError, match="property 'fixed' is already set to '1'; properties are add-only"):
        run.add_properties({"fixed": "2"})
    with pytest.raises(ValueError, match="property 'k': value is 1001 characters; the limit is 1000"):
        run.add_properties({"k": "v" * 1001})
    with pytest.raises(ValueError, match="display_name is 257 characters long; the limit is 256"):
        run.display_name = "n" * 257
    with pytest.raises(ValueError, match="invalid run_id"):
        run.child_run(run_id="bad id/with slash")
