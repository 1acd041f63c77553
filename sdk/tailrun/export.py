"""Exporting a run (with its child runs) or a whole experiment as plain files that analysis tools
read (what `tailrun export RUN|EXPERIMENT DIR` writes).

Layout (DIR must not exist yet; it appears whole or not at all):

    DIR/export.json               what was exported: {"format": 1, "service", "exported_at",
                                  "experiment" (or null), "runs": [run ids]}
    DIR/<run id>/run.json         the run's details: id, experiment, status, times, tags,
                                  properties, parent, error, ... (RunInfo's fields)
    DIR/<run id>/metrics.csv      every metric value: metric,kind,index,step,time,column,value
                                  (tailrun.metrics_table; metrics.jsonl / metrics.parquet with
                                  --format json / parquet)
    DIR/<run id>/system_metrics.csv    the run's system metrics (cpu_percent, memory_rss_mb,
                                  gpu0_utilization_percent, ...: `run.get_system_metrics()`'s names)
                                  in the same columns, kind "system", step = sample index
                                  (system_metrics.jsonl / .parquet with --format json / parquet;
                                  header only when none were recorded: a child run's samples are
                                  its top-level run's)
    DIR/<run id>/tables/<metric>.csv   each row/table metric as a table: index,step,time,<columns>
                                  (the metric name %-quoted to one file name)
    DIR/<run id>/files/<path>     every file of the run (outputs/, logs/, images, ...)

Everything is written into a hidden sibling folder `.DIR.partial-*` that is renamed to DIR at the
end, so a failed or interrupted export leaves no DIR behind (and removes the partial folder).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

from . import metrics_shape as shape
from ._system_metrics import shown_chunks
from .wire import KIND_ROW, KIND_TABLE
from .exceptions import NotFound, RunNotFound
from .metrics_table import exact_text, metric_table, write_csv, write_json, write_parquet
from .run_files import download

SUFFIXES = {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}


def resolve_runs(client: Any, name: str) -> tuple[str | None, list[Any]]:
    """(experiment name or None, RunInfos): the run `name` and its descendants, else every run of
    the experiment `name`. Neither: NotFound naming the experiments that exist."""
    try:
        info = client.get_run(name)
    except RunNotFound:
        experiments = client.list_experiments(view_type="All")
        if any(e.name == name for e in experiments):
            return name, client.list_runs(experiment=name, include_children=True)
        known = ", ".join(sorted(e.name for e in experiments)[:20]) or "none"
        raise NotFound(f"no run or experiment named {name!r} on {client.address} "
                       f"(experiments: {known})") from None
    children = client.list_runs(parent_run_id=info.run_id, recursive=True, include_children=True)
    return None, [info, *children]


def export(client: Any, name: str, dest: str | os.PathLike, metrics_format: str = "csv",
           progress: Callable[[str, int], Any] | None = None) -> list[str]:
    """Export the run or experiment `name` into the new folder `dest`; returns the run ids.
    `progress(path, size)` is called before each file is downloaded, and returns a callable
    taking byte counts (or None)."""
    if metrics_format not in SUFFIXES:
        raise ValueError(f"unknown metrics format {metrics_format!r}: use one of {', '.join(SUFFIXES)}")
    target = Path(dest)
    if target.exists():
        raise FileExistsError(f"{str(target)!r} already exists: export writes a new folder")
    experiment, runs = resolve_runs(client, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        for info in runs:
            _export_run(client, info, partial / _folder_name(info.run_id), metrics_format, progress)
        manifest = {"format": 1, "service": client.address, "exported_at": time.time(),
                    "experiment": experiment, "runs": [info.run_id for info in runs]}
        (partial / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.rename(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return [info.run_id for info in runs]


def _folder_name(run_id: str) -> str:
    return run_id if run_id not in (".", "..") else f"run{run_id}"


def _export_run(client: Any, info: Any, folder: Path, metrics_format: str,
                progress: Callable[[str, int], Any] | None) -> None:
    from google.protobuf import json_format

    folder.mkdir()
    details = json_format.MessageToDict(info, preserving_proto_field_name=True,
                                        always_print_fields_with_no_presence=True)
    (folder / "run.json").write_text(json.dumps(details, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    chunks = client.get_metrics(info.run_id)
    _write_metrics(chunks, folder / f"metrics{SUFFIXES[metrics_format]}", metrics_format)
    system = shown_chunks(client.get_metrics(info.run_id, system=True))
    _write_metrics(system, folder / f"system_metrics{SUFFIXES[metrics_format]}", metrics_format)
    _write_tables(chunks, folder / "tables")
    try:
        files = client.list_files(info.run_id)
    except NotFound:
        files = []
    for f in files:
        on_bytes = progress(f.path, f.size) if progress else None
        download(client, info.run_id, f.path, folder / "files" / f.path, on_bytes)


def _write_metrics(chunks: list, path: Path, metrics_format: str) -> None:
    table = metric_table(chunks)
    if metrics_format == "parquet":
        write_parquet(table, str(path))
    else:
        with open(path, "w", encoding="utf-8", newline="") as out:
            (write_csv if metrics_format == "csv" else write_json)(table, out)


def _write_tables(chunks: list, folder: Path) -> None:
    for name, data in shape.collect(chunks, with_index=True).items():
        if data.kind not in (KIND_ROW, KIND_TABLE):
            continue
        folder.mkdir(exist_ok=True)
        steps = data.steps if len(data.steps) == data.rows else [None] * data.rows
        with open(folder / f"{quote(name, safe='')}.csv", "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["index", "step", "time", *data.columns])
            for i, row in enumerate(zip(*data.columns.values())):
                writer.writerow([i, "" if steps[i] is None else steps[i], repr(data.times[i]),
                                 *(exact_text(v) for v in row)])
