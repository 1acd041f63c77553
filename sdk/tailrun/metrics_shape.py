"""Turning stored metric chunks (`pb.MetricPoints`) into what `Run.get_metrics` returns.

The shapes are exactly Azure ML's (AZUREML_API.md section 3):

- a scalar logged once -> the bare value; logged several times -> a list in logged order;
- `log_list` -> a list, but a one-element list collapses to the bare value;
- a row/table metric with one row -> `{column: value}`; with several -> `{column: [values]}`,
  a column missing from some rows is back-filled with None;
- an image or JSON metric -> only the first value: the artifact URI, or with `populate=True` a
  `MetricArtifact` (`.data` bytes, `.data_location`, `.filename`);
- steps and timestamps are not returned (see `MetricSeries` / `Run.get_metric_series`).

Decoding is columnar: packed repeated fields are copied with `list(field)` once per chunk, never
accessed point by point, so a million points decode in well under a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .wire import (KIND_IMAGE, KIND_JSON, KIND_LIST, KIND_ROW, KIND_SCALAR, KIND_TABLE,  # noqa: F401
                   artifact_path, artifact_uri, decode_column)


@dataclass
class MetricData:
    """All points of one metric, columnar."""
    name: str
    kind: int
    description: str = ""
    rows: int = 0
    columns: dict[str, list] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def add_chunk(self, chunk: Any, with_index: bool) -> None:
        cols = chunk.columns
        n = len(chunk.times) or (len(cols[0].values) if cols else 0)
        seen = set()
        for col in cols:
            seen.add(col.name)
            values = decode_column(col, self.name)
            existing = self.columns.get(col.name)
            if existing is None:
                # a column first seen now: earlier rows did not have it
                self.columns[col.name] = [None] * self.rows + values if self.rows else values
            else:
                existing.extend(values)
        if len(seen) < len(self.columns):
            for name, values in self.columns.items():
                if name not in seen:
                    values.extend([None] * n)
        if with_index:
            self.times.extend(chunk.times)
            self.steps.extend(chunk.steps)
        if chunk.description and not self.description:
            self.description = chunk.description
        self.rows += n


def collect(chunks: Iterable[Any], with_index: bool = False) -> dict[str, MetricData]:
    """Group chunks by metric name (in order of first appearance) and decode them."""
    metrics: dict[str, MetricData] = {}
    for chunk in chunks:
        data = metrics.get(chunk.name)
        if data is None:
            data = metrics[chunk.name] = MetricData(chunk.name, int(chunk.kind))
        data.add_chunk(chunk, with_index)
    return metrics


@dataclass
class MetricArtifact:
    """An image or JSON metric's artifact, as returned by `get_metrics(populate=True)`."""
    data_location: str
    filename: str
    data: bytes

    def __repr__(self) -> str:
        return f"MetricArtifact(filename={self.filename!r}, {len(self.data)} bytes)"


def shape_one(data: MetricData, populate: bool = False,
              load: Callable[[str, str], bytes] | None = None) -> Any:
    """The value `get_metrics` gives for one metric."""
    if data.kind in (KIND_ROW, KIND_TABLE):
        if data.rows == 1:
            return {name: values[0] for name, values in data.columns.items()}
        return data.columns
    values = next(iter(data.columns.values()), [])
    if data.kind in (KIND_IMAGE, KIND_JSON):
        uri = values[0] if values else None
        if not populate or not isinstance(uri, str):
            return uri
        where = artifact_path(uri)
        if where is None or load is None:
            return uri
        return MetricArtifact(data_location=uri, filename=where[1], data=load(*where))
    return values[0] if len(values) == 1 else values  # KIND_SCALAR, KIND_LIST, unspecified


def shape(chunks: Iterable[Any], populate: bool = False,
          load: Callable[[str, str], bytes] | None = None) -> dict[str, Any]:
    """`{metric_name: value}` for the chunks of one run."""
    return {name: shape_one(data, populate, load) for name, data in collect(chunks).items()}


@dataclass
class MetricSeries:
    """Every point of one metric with its step (None without steps) and unix time.

    Iterating gives `(step, value, time)` tuples; `.steps`, `.values`, `.times` are parallel
    lists. For row and table metrics each value is a `{column: value}` dict.
    """
    name: str
    kind: int
    steps: list[int | None]
    values: list[Any]
    times: list[float]
    description: str = ""

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[tuple[int | None, Any, float]]:
        return iter(zip(self.steps, self.values, self.times))

    def __getitem__(self, index: int) -> tuple[int | None, Any, float]:
        return (self.steps[index], self.values[index], self.times[index])


def series(data: MetricData) -> MetricSeries:
    if data.kind in (KIND_ROW, KIND_TABLE):
        names = list(data.columns)
        values: list[Any] = [dict(zip(names, row)) for row in zip(*data.columns.values())]
    else:
        values = next(iter(data.columns.values()), [])
    steps: list[int | None] = data.steps if len(data.steps) == data.rows else [None] * data.rows
    return MetricSeries(data.name, data.kind, steps, values, data.times, data.description)


__all__ = ["MetricArtifact", "MetricSeries", "artifact_uri", "collect", "shape", "shape_one", "series",
           "KIND_SCALAR", "KIND_LIST"]
