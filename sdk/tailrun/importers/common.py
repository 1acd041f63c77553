"""Writing imported runs: all or nothing, and never twice.

An importer (tensorboard.py, mlflow.py) first reads its whole source into `ImportedRun`s (values
in memory, files checked readable): an unreadable or corrupt source raises `ImportSourceError`
naming the file and record before anything is created. Then `write_runs` creates each run through
the SDK's normal path (the recorder's queue: spooled, re-sent, stored exactly once) with the
original steps and wall times, and:

- every imported run carries the property `tailrun.import.source` = a stable id of what it came
  from (`tensorboard:<hash of the run folder's event file names>`, `mlflow:<MLflow run id>`) and
  `tailrun.import.from` (the path or URI, for people);
- the run is marked done only at the very end: one patch sets its final status, its original end
  time and the property `tailrun.import.complete` = "true" together;
- a re-import finds a run with the same source that is complete and skips it (importing twice
  does not duplicate); a run with that source that is not complete is what an interrupted import
  left (killed half-way): it is marked Failed ("ImportInterrupted", tag
  `tailrun.import.replaced_by` = the new run) and imported again in full;
- the import returns only when the final patch is stored by the service; if it could only be
  spooled (the service went away), `ImportIncomplete` says to run `tailrun sync`, which finishes
  the same runs (a re-import before that would replace them).
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from .. import _status
from ..exceptions import AzureMLException

SOURCE = "tailrun.import.source"
FROM = "tailrun.import.from"
COMPLETE = "tailrun.import.complete"
REPLACED_BY = "tailrun.import.replaced_by"
MAX_PROPERTY = 1000
_BAD_EXPERIMENT_CHARS = re.compile(r"[^A-Za-z0-9_\-. ]+")


class ImportSourceError(AzureMLException):
    """The source cannot be read (missing, unreadable, corrupt); nothing was imported."""


class ImportIncomplete(AzureMLException):
    """The runs were queued but not all stored by the service (spooled): `tailrun sync` finishes them."""


@dataclass
class Series:
    """One scalar metric: values with steps (or None) and unix times, in order."""
    values: list = field(default_factory=list)
    steps: list[int] | None = field(default_factory=list)
    times: list[float] = field(default_factory=list)


@dataclass
class Image:
    name: str           # the metric
    path: str           # where the bytes are stored in the run
    data: bytes
    time: float


@dataclass
class ImportedRun:
    """Everything one tailrun run gets, read before anything is written."""
    source_id: str
    source_label: str
    experiment: str
    display_name: str = ""
    description: str = ""
    start_time: float = 0.0
    end_time: float = 0.0
    status: str = _status.COMPLETED
    error_message: str = ""
    parent_source_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Series] = field(default_factory=dict)
    images: list[Image] = field(default_factory=list)
    files: list[tuple[str, Path]] = field(default_factory=list)   # (run path, local file)


def experiment_name(text: str, fallback: str = "imported") -> str:
    """A valid tailrun experiment name made from any text (MLflow's may hold '/', ':', ...)."""
    name = _BAD_EXPERIMENT_CHARS.sub("-", text).strip(" -_.")[:255].rstrip()
    return name if name and name[0].isalnum() else (fallback + ("-" + name if name else ""))[:255]


def write_runs(ws: Any, runs: list[ImportedRun], log: TextIO | None = None,
               on_created: Callable[[str], None] | None = None) -> list[str]:
    """Create the runs (parents before their children); returns the ids of the runs created.
    Runs already imported completely are skipped with a line on `log` (stderr)."""
    log = log or sys.stderr
    client = ws._client()
    client.list_experiments()  # a clear error now if the service cannot be reached
    made: dict[str, str] = {}  # source id -> tailrun run id (created now or found complete)
    created: list[str] = []
    for imported in _parents_first(runs):
        existing = client.list_runs(properties={SOURCE: imported.source_id}, include_children=True)
        done = [info for info in existing if info.properties.get(COMPLETE) == "true"]
        if done:
            made[imported.source_id] = done[0].run_id
            print(f"already imported: {imported.source_label} as run {done[0].run_id}", file=log)
            continue
        run = _create(ws, imported, made.get(imported.parent_source_id))
        for info in existing:  # what an interrupted import left behind
            _mark_replaced(ws, info, run.id)
        made[imported.source_id] = run.id
        created.append(run.id)
        if on_created is not None:
            on_created(run.id)
    ws._recorder().flush(600)
    missing = [run_id for run_id in created if client.get_run(run_id).properties.get(COMPLETE) != "true"]
    if missing:
        raise ImportIncomplete(
            f"{len(missing)} imported run(s) are queued on disk but not stored by the service at "
            f"{client.address} yet (first: {missing[0]}): run `tailrun sync` to finish them")
    return created


def _parents_first(runs: list[ImportedRun]) -> list[ImportedRun]:
    by_source = {r.source_id: r for r in runs}
    ordered: list[ImportedRun] = []
    placed: set[str] = set()

    def place(run: ImportedRun, depth: int = 0) -> None:
        if run.source_id in placed:
            return
        parent = by_source.get(run.parent_source_id)
        if parent is not None and depth < 100:
            place(parent, depth + 1)
        placed.add(run.source_id)
        ordered.append(run)

    for run in runs:
        place(run)
    return ordered


def _create(ws: Any, imported: ImportedRun, parent_id: str | None) -> Any:
    """Start the run, queue everything, finish it with the complete marker; an error or Ctrl-C
    half-way marks the run Failed ("ImportInterrupted"), never Completed."""
    from ..experiment import Experiment
    from ..run import Run, _error_json

    properties = dict(imported.properties)
    properties[SOURCE] = imported.source_id[:MAX_PROPERTY]
    properties[FROM] = imported.source_label[:MAX_PROPERTY]
    run = Run._start(Experiment(ws, imported.experiment), parent_id=parent_id, default_outputs=False,
                     display_name=imported.display_name or None,
                     description=imported.description or None, tags=imported.tags,
                     run_type="child" if parent_id else "interactive",
                     start_time=imported.start_time or None, properties=properties)
    try:
        _fill(run, imported)
    except BaseException as exc:
        run._finish(_status.FAILED, _error_json(f"the import stopped half-way: {exc!r}", "ImportInterrupted"),
                    wait=False)
        raise
    error_json = None
    if imported.status == _status.FAILED:
        error_json = _error_json(imported.error_message or "the imported run had failed", "ImportedFailure")
    extra: dict[str, Any] = {"add_properties": {COMPLETE: "true"}}
    if imported.end_time:
        extra["time"] = imported.end_time
    run._finish(imported.status, error_json, wait=False, extra=extra)
    return run


def _fill(run: Any, imported: ImportedRun) -> None:
    from ..wire import KIND_IMAGE

    for name, series in imported.metrics.items():
        run._log_series(name, series.values, series.steps, series.times)
    for image in imported.images:
        run._log_artifact(image.name, KIND_IMAGE, image.path, image.data, "", when=image.time)
    for path, local in imported.files:
        run._queue_file(path, local)


def _mark_replaced(ws: Any, info: Any, new_id: str) -> None:
    from ..experiment import Experiment
    from ..run import Run, _error_json

    old = Run._attach(Experiment._attach(ws, info.experiment), info.run_id, info)
    fields: dict[str, Any] = {"set_tags": {REPLACED_BY: new_id}}
    if not _status.is_terminal(info.status) or info.status == _status.COMPLETED:
        fields["status"] = _status.FAILED
        fields["error_json"] = _error_json(f"an interrupted import; imported again as run {new_id}",
                                           "ImportInterrupted")
    old._patch(**fields)
