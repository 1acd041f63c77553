"""`Run.get_metrics` returns exactly Azure ML's shapes (AZUREML_API.md section 3), read back from a
real service."""
from __future__ import annotations

import json
import math
import struct
import zlib

from api_helpers import start


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_scalar_once_is_bare_and_many_is_a_list(ws):
    run = start(ws)
    run.log("once_float", 0.25)
    run.log("once_int", 7)
    run.log("once_str", "hello")
    run.log("once_bool", True)
    run.log("once_none", None)
    for v in (3, 1.5, "x", False, None):
        run.log("mixed", v)
    metrics = run.get_metrics()
    assert metrics == {"once_float": 0.25, "once_int": 7, "once_str": "hello", "once_bool": True,
                       "once_none": None, "mixed": [3, 1.5, "x", False, None]}
    assert type(metrics["once_int"]) is int and type(metrics["mixed"][0]) is int
    assert type(metrics["once_bool"]) is bool and type(metrics["mixed"][3]) is bool


def test_log_list_one_element_is_bare_and_mixes_become_float(ws):
    run = start(ws)
    run.log_list("one", [42])
    run.log_list("many", [1, 2, 3])
    run.log_list("mix", [1, 2.5, 3])
    run.log_list("twice", ["a", "b"])
    run.log_list("twice", ["c"])
    metrics = run.get_metrics()
    assert metrics["one"] == 42
    assert metrics["many"] == [1, 2, 3] and all(type(v) is int for v in metrics["many"])
    assert metrics["mix"] == [1.0, 2.5, 3.0] and all(type(v) is float for v in metrics["mix"])
    assert metrics["twice"] == ["a", "b", "c"]


def test_rows_and_tables(ws):
    run = start(ws)
    run.log_row("one_row", epoch=1, loss=0.5)
    run.log_row("rows", epoch=1, loss=0.5)
    run.log_row("rows", epoch=2, loss=0.25, acc=0.9)   # acc first appears in row 2: back-filled
    run.log_row("rows", epoch=3, acc=0.95)             # loss missing in row 3
    run.log_table("table1", {"a": 1, "b": "x"})        # scalars count as one row
    run.log_table("table", {"a": [1, 2], "b": [0.5, 0.75]})
    run.log_table("table", {"a": [3], "b": [1.0]})
    metrics = run.get_metrics()
    assert metrics["one_row"] == {"epoch": 1, "loss": 0.5}
    assert metrics["rows"] == {"epoch": [1, 2, 3], "loss": [0.5, 0.25, None], "acc": [None, 0.9, 0.95]}
    assert metrics["table1"] == {"a": 1, "b": "x"}
    assert metrics["table"] == {"a": [1, 2, 3], "b": [0.5, 0.75, 1.0]}


def test_image_and_json_metrics_give_the_first_uri_or_the_artifact(ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "roc.png").write_bytes(tiny_png())
    run = start(ws)
    run.log_image("roc", path="plots/roc.png")
    run.log_image("roc", path="plots/roc.png")  # a second value: only the first is returned
    matrix = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
              "data": {"class_labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]}}
    run.log_confusion_matrix("cm", matrix)
    run.log_accuracy_table("acc", json.dumps({"schema_type": "accuracy_table", "data": {}}))
    prefix = f"aml://artifactId/ExperimentRun/dcid.{run.id}/"
    metrics = run.get_metrics()
    assert metrics == {"roc": prefix + "plots/roc.png", "cm": prefix + "cm", "acc": prefix + "acc"}
    populated = run.get_metrics(populate=True)
    assert populated["roc"].data == tiny_png()
    assert populated["roc"].data_location == prefix + "plots/roc.png"
    assert populated["roc"].filename == "plots/roc.png"
    assert json.loads(populated["cm"].data) == matrix
    assert set(run.get_file_names()) >= {"plots/roc.png", "cm", "acc"}


def test_plot_is_stored_as_name_and_seconds(ws):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure()
    plt.plot([1, 2, 3])
    run = start(ws)
    run.log_image("curve", plot=plt)
    plt.close(fig)
    uri = run.get_metrics("curve")["curve"]
    path = uri.split(f"dcid.{run.id}/", 1)[1]
    assert path.startswith("curve_") and path.endswith(".png")
    assert run.get_metrics("curve", populate=True)["curve"].data.startswith(b"\x89PNG")


def test_name_filter(ws):
    run = start(ws)
    run.log("a", 1.0)
    run.log("ab", 2.0)
    assert run.get_metrics("a") == {"a": 1.0}
    assert run.get_metrics(name="missing") == {}


def test_steps_are_not_returned_but_the_series_has_them(ws):
    run = start(ws)
    for step in (0, 10, 20):
        run.log("loss", 1.0 / (step + 1), step=step)
    run.log("plain", 5)
    run.log("plain", 6)
    assert run.get_metrics("loss") == {"loss": [1.0, 1 / 11, 1 / 21]}
    series = run.get_metric_series("loss")
    assert series.steps == [0, 10, 20] and series.values == [1.0, 1 / 11, 1 / 21]
    assert len(series.times) == 3 and series.times == sorted(series.times)
    assert [s for s, _, _ in series] == [0, 10, 20]
    plain = run.get_metric_series("plain")
    assert plain.steps == [None, None] and plain.values == [5, 6]


def test_recursive_covers_descendants_with_metrics(ws):
    parent = start(ws)
    parent.log("p", 1)
    child = parent.child_run("child")
    child.log("c", 2.0)
    child.log("c", 3.0)
    grandchild = child.child_run()
    grandchild.log_row("g", x=1)
    silent = parent.child_run("silent")  # no metrics: not in the answer
    result = parent.get_metrics(recursive=True)
    assert result == {parent.id: {"p": 1}, child.id: {"c": [2.0, 3.0]}, grandchild.id: {"g": {"x": 1}}}
    assert silent.id not in result
    assert parent.get_metrics(recursive=True, run_type="child") == {
        child.id: {"c": [2.0, 3.0]}, grandchild.id: {"g": {"x": 1}}}
    assert parent.get_metrics("c", recursive=True) == {child.id: {"c": [2.0, 3.0]}}


def test_special_floats_and_large_ints_round_trip(ws):
    run = start(ws)
    values = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 2 ** 63 - 1, -(2 ** 63), 2 ** 80]
    for v in values:
        run.log("v", v)
    got = run.get_metrics("v")["v"]
    assert math.isnan(got[0]) and got[1:3] == [math.inf, -math.inf]
    assert math.copysign(1.0, got[3]) == -1.0
    assert got[4:] == values[4:] and type(got[-1]) is int
