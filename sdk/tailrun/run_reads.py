"""Reading a run back: `get_metrics` (Azure ML's exact shapes), `get_metric_series` (with steps
and times, a tailrun extra), `get_details` (Azure ML's camelCase dict) and `get_environment`.

Each read flushes this process's queue first, so what was just logged is included; then it needs
a reachable service (`tailrun.exceptions.ServiceUnavailable` otherwise).
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _status
from . import metrics_shape as shape
from .exceptions import NotFound
from .metrics_shape import MetricSeries

if TYPE_CHECKING:  # pragma: no cover
    from ._run_parts import ReadsHost as _Run   # what this part uses of Run
else:
    _Run = object

LOG_PREFIXES = ("logs/", "user_logs/", "azureml-logs/", "system_logs/")


class ReadsMixin(_Run):
    """The reads of a Run (mixed into run.Run; uses of it what _run_parts.ReadsHost lists)."""

    def get_metrics(self, name: str | None = None, recursive: bool = False, run_type: str | None = None,
                    populate: bool = False) -> dict[str, Any]:
        """`{metric_name: value}`, shaped exactly as Azure ML returns it: a value logged once is
        bare, several values are a list (a one-element `log_list` is bare too), a row/table is
        `{column: value}` for one row and `{column: [values]}` for several, an image/JSON metric
        is its first URI (with `populate=True`, an object with `.data`, `.data_location` and
        `.filename`). With `name`, `{name: value}` or `{}`. With `recursive=True`,
        `{run_id: {...}}` for this run and its descendants that have metrics (optionally only
        runs of `run_type`). Steps and timestamps: see `get_metric_series`."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"get_metrics: name must be a str, not {type(name).__name__}")
        self._recorder().flush(300)
        client = self._client()
        if not recursive:
            return self._shaped_metrics(client, self._id, name, populate)
        runs = [self._fetch()] + client.list_runs(parent_run_id=self._id, recursive=True,
                                                  include_children=True)
        result: dict[str, Any] = {}
        for info in runs:
            if run_type is not None and info.run_type != run_type:
                continue
            metrics = self._shaped_metrics(client, info.run_id, name, populate)
            if metrics:
                result[info.run_id] = metrics
        return result

    @staticmethod
    def _shaped_metrics(client: Any, run_id: str, name: str | None, populate: bool) -> dict[str, Any]:
        chunks = client.get_metrics(run_id, name or "")
        if name:
            chunks = [c for c in chunks if c.name == name]
        return shape.shape(chunks, populate, load=client.read_file_bytes if populate else None)

    def get_metric_series(self, name: str) -> MetricSeries:
        """Every point of one metric with its step and unix time (tailrun extra; Azure ML returns
        neither). Iterate it for `(step_or_None, value, time)`, or use `.steps`, `.values`,
        `.times`. Raises KeyError when the run has no such metric."""
        if not isinstance(name, str):
            raise TypeError(f"get_metric_series: name must be a str, not {type(name).__name__}")
        self._recorder().flush(300)
        chunks = [c for c in self._client().get_metrics(self._id, name) if c.name == name]
        data = shape.collect(chunks, with_index=True).get(name)
        if data is None:
            raise KeyError(f"run {self._id} has no metric {name!r}")
        return shape.series(data)

    def get_system_metrics(self, name: str | None = None) -> dict[str, list[float]]:
        """`{name: [values]}` of the CPU, memory, disk, network and GPU samples recorded for this
        run (tailrun extra; see README "System metrics"), e.g. `{"cpu_percent": [...],
        "memory_rss_mb": [...], "gpu0_utilization_percent": [...]}`, one value per sample in
        order, always a list. With `name`, `{name: [values]}` or `{}`. Never part of `get_metrics()`."""
        if name is not None and not isinstance(name, str):
            raise TypeError(f"get_system_metrics: name must be a str, not {type(name).__name__}")
        from ._system_metrics import shown_name, stored_name
        self._recorder().flush(300)
        chunks = self._client().get_metrics(self._id, stored_name(name) if name else "", system=True)
        return {shown_name(n): list(next(iter(data.columns.values()), []))
                for n, data in shape.collect(chunks).items()}

    def get_metrics_dataframe(self, name: str | None = None) -> Any:
        """The run's scalar and list metrics as a pandas DataFrame with the columns name, step,
        value and timestamp, one row per value in logged order, values exact (tailrun extra;
        needs the `export` extra). See `tailrun.metrics_table.metrics_dataframe` for the dtypes;
        row/table metrics: `get_metrics()` or `tailrun metrics RUN --format`."""
        from ._extras import require
        from .metrics_table import metrics_dataframe
        if name is not None and not isinstance(name, str):
            raise TypeError(f"get_metrics_dataframe: name must be a str, not {type(name).__name__}")
        require("pandas", "export", "get_metrics_dataframe")  # before any work
        self._recorder().flush(300)
        chunks = self._client().get_metrics(self._id, name or "")
        return metrics_dataframe([c for c in chunks if not name or c.name == name])

    def get_details(self) -> dict[str, Any]:
        """Azure ML's run details: runId, target, status, startTimeUtc, endTimeUtc (once
        finished), properties, inputDatasets, outputDatasets, runDefinition, logFiles,
        submittedBy, and error / warnings when present."""
        info = self._fetch()
        details: dict[str, Any] = {
            "runId": info.run_id,
            "target": info.target or "local",
            "status": info.status,
            "startTimeUtc": _iso(info.start_time or info.created_time),
        }
        if _status.is_terminal(info.status) and info.end_time:
            details["endTimeUtc"] = _iso(info.end_time)
        details["properties"] = dict(info.properties)
        details["inputDatasets"] = []
        details["outputDatasets"] = []
        details["runDefinition"] = _json_or(info.run_definition_json, {})
        details["logFiles"] = self._log_files()
        details["submittedBy"] = info.submitted_by
        if info.error_json:
            details["error"] = _json_or(info.error_json, {"error": {"message": info.error_json}})
        if info.warnings:
            details["warnings"] = list(info.warnings)
        return details

    def get_environment(self) -> Any:
        """The `Environment` this run was submitted with (its run definition's environment, with
        the registered version when it came from `Environment.get`). A run that was not submitted
        (`start_logging`, child runs) has no run definition: AzureMLException."""
        from .environment import Environment
        from .exceptions import AzureMLException

        info = self._fetch()
        definition = _json_or(info.run_definition_json, {})
        environment = definition.get("environment") if isinstance(definition, dict) else None
        if not isinstance(environment, dict):
            raise AzureMLException(
                f"run {info.run_id} has no environment definition: only submitted runs "
                "(Experiment.submit) have one, not runs started with start_logging or child_run")
        return Environment._from_dict(environment)

    def get_details_with_logs(self) -> dict[str, Any]:
        """`get_details()` with "logFiles" mapping each log path to the file's text."""
        details = self.get_details()
        details["logFiles"] = {path: self._read_text(path) for path in details["logFiles"]}
        return details

    def get_all_logs(self, destination: "str | os.PathLike | None" = None) -> list[str]:
        """Download the run's log files (logs/, user_logs/, ...) into `destination` (default: a
        new temporary folder), keeping their run paths; returns the local paths."""
        if destination is None:
            destination = tempfile.mkdtemp(prefix=f"tailrun-logs-{self._id[:40]}-")
        self._recorder().flush(300)
        written: list[str] = []
        for path in self._log_files():
            dest = Path(destination) / path
            self._download_to(path, dest)
            written.append(str(dest))
        return written

    def _read_text(self, path: str) -> str:
        with tempfile.TemporaryDirectory(prefix="tailrun-log-") as tmp:
            dest = Path(tmp) / "log"
            self._download_to(path, dest)
            return dest.read_bytes().decode("utf-8", "replace")

    def _log_files(self) -> dict[str, str]:
        try:
            files = self._client().list_files(self._id)
        except NotFound:
            return {}
        return {f.path: shape.artifact_uri(self._id, f.path) for f in files
                if f.path.startswith(LOG_PREFIXES)}


def _iso(seconds: float) -> str | None:
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_or(text: str, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
