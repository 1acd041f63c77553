"""A run's metrics as one flat table, and that table written as CSV, JSON lines or Parquet.

The table has a row per value (a row per cell for row and table metrics), in logged order:

    metric  kind  index  step  time  column  value

`kind` is scalar, list, row, table, image or json; `index` counts the metric's points from 0;
`step` is empty for metrics logged without steps; `time` is the unix time the value was logged
(as stored, exactly); `column` names the cell of a row/table metric ("" otherwise); `value` is the
value exactly (floats round-trip: CSV writes `repr`, JSON writes Python's float text with NaN and
Infinity, Parquet stores float64). `run.get_metrics_dataframe()` is the pandas view of the scalar
and list metrics (name, step, value, timestamp).

pandas and pyarrow come with the `export` extra and are imported only here, on first use.
"""
from __future__ import annotations

import csv
import json
from typing import Any, Iterable, TextIO

from . import metrics_shape as shape
from ._extras import require
from .wire import KIND_IMAGE, KIND_JSON, KIND_LIST, KIND_ROW, KIND_SCALAR, KIND_SYSTEM, KIND_TABLE

COLUMNS = ("metric", "kind", "index", "step", "time", "column", "value")
FORMATS = ("csv", "json", "parquet")
KIND_NAMES = {0: "scalar", KIND_SCALAR: "scalar", KIND_LIST: "list", KIND_ROW: "row",
              KIND_TABLE: "table", KIND_IMAGE: "image", KIND_JSON: "json", KIND_SYSTEM: "system"}


def metric_table(chunks: Iterable[Any]) -> dict[str, list]:
    """The flat table of these stored chunks, columnar: {column name: list of values}."""
    table: dict[str, list] = {name: [] for name in COLUMNS}
    for name, data in shape.collect(chunks, with_index=True).items():
        n = data.rows
        kind = KIND_NAMES.get(data.kind, str(data.kind))
        steps: list = data.steps if len(data.steps) == n else [None] * n
        times = data.times if len(data.times) == n else [0.0] * n
        if data.kind in (KIND_ROW, KIND_TABLE):
            cols = list(data.columns.items())
            for i in range(n):
                for column, values in cols:
                    _add(table, name, kind, i, steps[i], times[i], column, values[i])
            continue
        values = next(iter(data.columns.values()), [None] * n)
        table["metric"] += [name] * n
        table["kind"] += [kind] * n
        table["index"] += range(n)
        table["step"] += steps
        table["time"] += times
        table["column"] += [""] * n
        table["value"] += values
    return table


def _add(table: dict[str, list], *row: Any) -> None:
    for column, value in zip(COLUMNS, row):
        table[column].append(value)


def exact_text(value: Any) -> str:
    """A value as text that reads back exactly: floats by repr (nan, inf, -inf), None as ""."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ---------------------------------------------------------------------- writers

def write_csv(table: dict[str, list], out: TextIO, cell: Any = str) -> None:
    """CSV with a header; `cell` escapes text cells (terminal.safe on a terminal)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for metric, kind, index, step, t, column, value in zip(*(table[c] for c in COLUMNS)):
        writer.writerow([cell(metric), kind, index, "" if step is None else step, repr(t), cell(column),
                         cell(exact_text(value))])


def write_json(table: dict[str, list], out: TextIO) -> None:
    """JSON lines, one object per row, values typed (non-finite floats as NaN/Infinity, as
    Python's json and pandas read them)."""
    dumps = json.dumps
    for row in zip(*(table[c] for c in COLUMNS)):
        out.write(dumps(dict(zip(COLUMNS, row)), ensure_ascii=False))
        out.write("\n")


def write_parquet(table: dict[str, list], path: str) -> None:
    """Parquet: value is float64, int64, bool or string when every value has that type (None is
    null); a mix is stored as exact text with a `value_type` column (float, int, bool, str,
    none) so that it still reads back exactly."""
    pa = require("pyarrow", "export", "writing Parquet")
    pq = require("pyarrow.parquet", "export", "writing Parquet")
    arrays = {
        "metric": pa.array(table["metric"], pa.string()),
        "kind": pa.array(table["kind"], pa.string()).dictionary_encode(),
        "index": pa.array(table["index"], pa.int64()),
        "step": pa.array(table["step"], pa.int64()),
        "time": pa.array(table["time"], pa.float64()),
        "column": pa.array(table["column"], pa.string()),
    }
    arrays.update(_value_arrays(pa, table["value"]))
    pq.write_table(pa.table(arrays), path)


_ARROW_TYPES = (({float}, "float64"), ({int}, "int64"), ({bool}, "bool_"), ({str}, "string"))


def _value_arrays(pa: Any, values: list) -> dict[str, Any]:
    types = {type(v) for v in values} - {type(None)}
    for allowed, arrow_type in _ARROW_TYPES:
        if types <= allowed:
            try:
                return {"value": pa.array(values, getattr(pa, arrow_type)())}
            except OverflowError:  # an int past int64: stored as text below
                break
    names = {float: "float", int: "int", bool: "bool", str: "str", type(None): "none"}
    return {"value": pa.array([exact_text(v) for v in values], pa.string()),
            "value_type": pa.array([names.get(type(v), "str") for v in values], pa.string())}


# ---------------------------------------------------------------------- pandas

def metrics_dataframe(chunks: Iterable[Any]) -> Any:
    """pandas DataFrame (name, step, value, timestamp) of the scalar and list metrics, in logged
    order. `step` is a nullable Int64 (<NA> without steps); `value` is float64 when every value
    is a float, else object (ints, bools, strings and None exactly as logged); `timestamp` is
    the unix time in seconds (float64, exactly as stored: `pd.to_datetime(df.timestamp,
    unit="s", utc=True)` makes datetimes of it)."""
    pd = require("pandas", "export", "get_metrics_dataframe")
    names: list = []
    steps: list = []
    values: list = []
    times: list = []
    for name, data in shape.collect(chunks, with_index=True).items():
        if data.kind not in (0, KIND_SCALAR, KIND_LIST):
            continue
        n = data.rows
        names += [name] * n
        steps += data.steps if len(data.steps) == n else [None] * n
        values += next(iter(data.columns.values()), [None] * n)
        times += data.times
    all_float = all(type(v) is float for v in values)
    return pd.DataFrame({
        "name": pd.Series(names, dtype=object),
        "step": pd.Series(steps, dtype="Int64"),
        "value": pd.Series(values, dtype="float64" if all_float else object),
        "timestamp": pd.Series(times, dtype="float64"),
    })
