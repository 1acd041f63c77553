"""`tailrun import mlflow URI`: the runs of an MLflow tracking store as tailrun runs.

URI: an MLflow file store folder (`./mlruns`, `file:///.../mlruns`) or a SQLite tracking store
(`sqlite:///path/mlflow.db`). The store is read with MLflow's own client (`MlflowClient`), and
only read: the URI must name an existing store (MLflow would otherwise create one).

Each active run of each active experiment becomes a tailrun run in the experiment of the same
name (or `--experiment`): MLflow's run name -> display name, status FINISHED/FAILED/KILLED ->
Completed/Failed/Canceled (RUNNING/SCHEDULED -> Completed, the original in the property
`mlflow.status`), start/end times, params -> properties (a value over 1000 characters, the
property limit, becomes the tag `mlflow.param.<key>`), tags -> tags (`mlflow.note.content` is
also the description), metric histories -> metrics with their steps and timestamps (exact
values), artifacts -> run files at the same paths, nested runs (`mlflow.parentRunId`) -> child
runs. The stable source id of a run is `mlflow:<MLflow run id>`.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .. import _status
from .._extras import require
from .common import MAX_PROPERTY, ImportedRun, ImportSourceError, Series, experiment_name

EXTRA = "mlflow"
STATUSES = {"FINISHED": _status.COMPLETED, "FAILED": _status.FAILED, "KILLED": _status.CANCELED}
PAGE = 1000


def tracking_uri(source: str) -> str:
    """The store's URI, checked to be an existing file store or MLflow SQLite database."""
    parsed = urlparse(source)
    if parsed.scheme == "sqlite":
        path = unquote(source[len("sqlite:///"):]) if source.startswith("sqlite:///") else ""
        if not path or not Path(path).is_file():
            raise ImportSourceError(f"{source!r}: no such SQLite file (use sqlite:///path/to/mlflow.db)")
        _check_sqlite(path, source)
        return source
    if parsed.scheme not in ("", "file"):
        raise ImportSourceError(f"{source!r}: only an MLflow file store (a folder or file:///...) or a "
                                "SQLite store (sqlite:///...) can be imported")
    folder = Path(unquote(parsed.path) if parsed.scheme == "file" else source)
    if not folder.is_dir():
        raise ImportSourceError(f"{source!r}: no such folder")
    if not any(folder.glob("*/meta.yaml")):
        raise ImportSourceError(f"{source!r} is not an MLflow file store (no <experiment>/meta.yaml in it)")
    return folder.resolve().as_uri()


def _check_sqlite(path: str, source: str) -> None:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in con.execute("select name from sqlite_master where type='table'")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise ImportSourceError(f"{source!r}: cannot read it as a SQLite database: {exc}") from None
    if not {"experiments", "runs", "metrics"} <= tables:
        raise ImportSourceError(f"{source!r} is not an MLflow tracking database (no experiments/runs/metrics tables)")


def read_store(source: str, experiment: str | None, workdir: Path) -> list[ImportedRun]:
    """Read every active run (artifacts are downloaded into `workdir`, which must outlive the
    write). Nothing is written to tailrun or to the store."""
    require("mlflow", EXTRA, "importing from MLflow")
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(source)
    if uri.startswith("file:"):
        # MLflow 3 refuses the file store ("maintenance mode") unless allowed; reading one to
        # move its runs out is exactly what the opt-out is for.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        client = MlflowClient(tracking_uri=uri)
        experiments = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    except Exception as exc:
        raise ImportSourceError(f"{source!r}: MLflow cannot read the store: {exc}") from None
    runs: list[ImportedRun] = []
    for exp in experiments:
        target = experiment or experiment_name(exp.name, "mlflow")
        token = None
        while True:
            try:
                page = client.search_runs([exp.experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                                          max_results=PAGE, page_token=token)
            except Exception as exc:
                where = _damaged_file(client, uri, exp.experiment_id) if uri.startswith("file:") else ""
                raise ImportSourceError(f"{source!r}: experiment {exp.name!r}: MLflow cannot list its runs"
                                        f"{where}: {exc}; nothing was imported") from None
            for run in page:
                try:
                    runs.append(_read_run(client, run, target, source, workdir))
                except ImportSourceError:
                    raise
                except Exception as exc:
                    raise ImportSourceError(f"{source!r}: experiment {exp.name!r}, run {run.info.run_id}: "
                                            f"{type(exc).__name__}: {exc}; nothing was imported") from None
            token = page.token
            if not token:
                break
    return runs


def _read_run(client: Any, run: Any, experiment: str, source: str, workdir: Path) -> ImportedRun:
    info, data = run.info, run.data
    tags = dict(data.tags)
    properties: dict[str, str] = {}
    for key, value in data.params.items():
        if len(value) <= MAX_PROPERTY and len(key) <= 100:
            properties[key] = value
        else:
            tags[f"mlflow.param.{key}"] = value
    status = STATUSES.get(info.status)
    if status is None:
        status = _status.COMPLETED
        properties["mlflow.status"] = info.status
    imported = ImportedRun(
        source_id=f"mlflow:{info.run_id}", source_label=f"{source} run {info.run_id}", experiment=experiment,
        display_name=info.run_name or "", description=tags.get("mlflow.note.content", ""),
        start_time=(info.start_time or 0) / 1000.0, end_time=(info.end_time or 0) / 1000.0, status=status,
        parent_source_id=f"mlflow:{tags['mlflow.parentRunId']}" if tags.get("mlflow.parentRunId") else "",
        tags=tags, properties=properties)
    for key in sorted(data.metrics):
        history = sorted(client.get_metric_history(info.run_id, key), key=lambda m: (m.timestamp, m.step))
        imported.metrics[key] = Series(values=[float(m.value) for m in history],
                                       steps=[int(m.step) for m in history],
                                       times=[m.timestamp / 1000.0 for m in history])
    if client.list_artifacts(info.run_id):
        local = Path(client.download_artifacts(info.run_id, "", str(workdir / info.run_id)))
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            imported.files.append((path.relative_to(local).as_posix(), path))
    return imported


def _damaged_file(client: Any, uri: str, experiment_id: str) -> str:
    """In a file store whose run listing fails: " (run R, file F)", found by asking MLflow for
    each run and each metric history of the experiment in turn; "" when none fails alone."""
    folder = Path(unquote(urlparse(uri).path)) / experiment_id
    for meta in sorted(folder.glob("*/meta.yaml")):
        run_dir = meta.parent
        for metric in sorted(p for p in (run_dir / "metrics").rglob("*") if p.is_file()):
            try:
                client.get_metric_history(run_dir.name, metric.relative_to(run_dir / "metrics").as_posix())
            except Exception:
                return f" (run {run_dir.name}, file {metric})"
        try:
            client.get_run(run_dir.name)
        except Exception:
            return f" (run {run_dir.name}, folder {run_dir})"
    return ""
