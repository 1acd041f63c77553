"""Read queries over experiments and runs, and archiving, returning protobuf messages."""
from __future__ import annotations

import json
import time
from collections.abc import Iterable

from sqlalchemy import Connection, case, func, select, update

from tailrun import _status
from tailrun.v1 import tailrun_pb2 as pb

from ..errors import InvalidArgument, NotFound
from .schema import experiments, metrics, runs

# Statuses counted in Experiment.running_count: the run has not reached an end state.
ACTIVE_STATUSES = (_status.NOT_STARTED, _status.QUEUED, _status.PREPARING, _status.STARTING,
                   _status.RUNNING, _status.FINALIZING, _status.CANCEL_REQUESTED)
VIEW_TYPES = ("ActiveOnly", "All", "ArchivedOnly")
_IN_BATCH = 500  # ids per IN (...) list


def _run_query():
    return select(runs, experiments.c.name.label("experiment_name")).join(
        experiments, experiments.c.id == runs.c.experiment_id)


def _to_run_info(row, metric_rows: list) -> pb.RunInfo:
    info = pb.RunInfo(
        run_id=row.run_id, experiment=row.experiment_name, display_name=row.display_name,
        description=row.description, status=row.status, number=row.number,
        created_time=row.created_time, start_time=row.start_time, end_time=row.end_time,
        parent_run_id=row.parent_run_id or "", run_type=row.run_type, error_json=row.error_json,
        run_definition_json=row.run_definition_json, target=row.target, script=row.script,
        arguments=json.loads(row.arguments_json), last_heartbeat=row.last_heartbeat,
        submitted_by=row.submitted_by, warnings=json.loads(row.warnings_json),
        last_activity=row.last_activity,
    )
    info.tags.update(json.loads(row.tags_json))
    info.properties.update(json.loads(row.properties_json))
    for m in metric_rows:
        info.metric_names.append(m.name)
        if m.kind == pb.METRIC_KIND_SCALAR and m.last_value is not None:
            info.last_metrics[m.name] = m.last_value
    return info


def _run_infos(conn: Connection, rows: list) -> list[pb.RunInfo]:
    by_run: dict[str, list] = {row.run_id: [] for row in rows}
    ids = list(by_run)
    for i in range(0, len(ids), _IN_BATCH):
        query = (select(metrics.c.run_id, metrics.c.name, metrics.c.kind, metrics.c.last_value)
                 .where(metrics.c.run_id.in_(ids[i:i + _IN_BATCH])).order_by(metrics.c.id))
        for m in conn.execute(query):
            by_run[m.run_id].append(m)
    return [_to_run_info(row, by_run[row.run_id]) for row in rows]


def get_run(conn: Connection, run_id: str) -> pb.RunInfo:
    row = conn.execute(_run_query().where(runs.c.run_id == run_id)).first()
    if row is None:
        raise NotFound(f"run {run_id!r} not found")
    return _run_infos(conn, [row])[0]


def _descendants(conn: Connection, parent: str) -> list[str]:
    found: list[str] = []
    seen = {parent}
    frontier = [parent]
    while frontier:
        children = []
        for i in range(0, len(frontier), _IN_BATCH):
            query = select(runs.c.run_id).where(runs.c.parent_run_id.in_(frontier[i:i + _IN_BATCH]))
            children += [r for r in conn.execute(query).scalars() if r not in seen]
        seen.update(children)
        found += children
        frontier = children
    return found


def _matches(wanted: Iterable[tuple[str, str]], have: dict[str, str]) -> bool:
    return all(key in have and (value == "" or have[key] == value) for key, value in wanted)


def list_runs(conn: Connection, req: pb.ListRunsRequest) -> list[pb.RunInfo]:
    if req.limit < 0:
        raise InvalidArgument(f"limit must be >= 0, got {req.limit}")
    query = _run_query()
    if req.experiment:
        query = query.where(experiments.c.name == req.experiment)
    if req.parent_run_id:
        if req.recursive:
            ids = _descendants(conn, req.parent_run_id)
            if not ids:
                return []
            query = query.where(runs.c.run_id.in_(ids))
        else:
            query = query.where(runs.c.parent_run_id == req.parent_run_id)
    elif not req.include_children:
        query = query.where(runs.c.parent_run_id.is_(None))
    if req.status:
        query = query.where(runs.c.status == req.status)
    query = query.order_by(runs.c.created_time.desc(), runs.c.number.desc(), runs.c.run_id.desc())
    filter_maps = bool(req.tags or req.properties)
    if req.limit and not filter_maps:
        query = query.limit(req.limit)
    rows = []
    for row in conn.execute(query):
        # Tags and properties are JSON text: filter them here, then apply the limit.
        if filter_maps and not (_matches(req.tags.items(), json.loads(row.tags_json))
                                and _matches(req.properties.items(), json.loads(row.properties_json))):
            continue
        rows.append(row)
        if req.limit and len(rows) >= req.limit:
            break
    return _run_infos(conn, rows)


def _experiment_query():
    stats = (select(runs.c.experiment_id,
                    func.count().label("run_count"),
                    func.sum(case((runs.c.status.in_(ACTIVE_STATUSES), 1), else_=0)).label("running"),
                    func.max(runs.c.last_activity).label("last_activity"))
             .group_by(runs.c.experiment_id).subquery())
    return select(experiments, stats.c.run_count, stats.c.running,
                  stats.c.last_activity.label("runs_activity")).outerjoin(
        stats, stats.c.experiment_id == experiments.c.id)


def _to_experiment(row) -> pb.Experiment:
    exp = pb.Experiment(
        name=row.name, id=row.id, created_time=row.created_time, archived_time=row.archived_time,
        run_count=row.run_count or 0, running_count=int(row.running or 0),
        last_activity=max(row.created_time, row.runs_activity or 0.0))
    exp.tags.update(json.loads(row.tags_json))
    return exp


def list_experiments(conn: Connection, view_type: str = "ActiveOnly", name: str = "") -> list[pb.Experiment]:
    view_type = view_type or "ActiveOnly"
    if view_type not in VIEW_TYPES:
        raise InvalidArgument(f"unknown view_type {view_type!r}; expected one of {', '.join(VIEW_TYPES)}")
    query = _experiment_query()
    if view_type == "ActiveOnly":
        query = query.where(experiments.c.archived_time == 0)
    elif view_type == "ArchivedOnly":
        query = query.where(experiments.c.archived_time != 0)
    if name:
        query = query.where(experiments.c.name == name)
    query = query.order_by(experiments.c.name, experiments.c.archived_time, experiments.c.created_time.desc())
    return [_to_experiment(row) for row in conn.execute(query)]


def set_experiment_archived(conn: Connection, name: str, exp_id: str, archived: bool) -> pb.Experiment:
    query = select(experiments)
    if exp_id:
        query = query.where(experiments.c.id == exp_id)
        if name:
            query = query.where(experiments.c.name == name)
    elif name:
        query = query.where(experiments.c.name == name)
        # Archive the active one; restore the most recently archived one.
        query = (query.where(experiments.c.archived_time == 0) if archived else
                 query.where(experiments.c.archived_time != 0).order_by(experiments.c.archived_time.desc()))
    else:
        raise InvalidArgument("give an experiment name or id")
    row = conn.execute(query.limit(1).with_for_update()).first()
    if row is None:
        state = "" if exp_id else ("active " if archived else "archived ")
        raise NotFound(f"no {state}experiment {exp_id or name!r}")
    if archived and not row.archived_time:
        conn.execute(update(experiments).where(experiments.c.id == row.id).values(archived_time=time.time()))
    elif not archived and row.archived_time:
        clash = conn.execute(select(experiments.c.id).where(
            experiments.c.name == row.name, experiments.c.archived_time == 0)).first()
        if clash is not None:
            raise InvalidArgument(f"cannot restore experiment {row.name!r}: an active experiment "
                                  "with that name exists (archive or rename it first)")
        conn.execute(update(experiments).where(experiments.c.id == row.id).values(archived_time=0))
    return _to_experiment(conn.execute(_experiment_query().where(experiments.c.id == row.id)).one())
