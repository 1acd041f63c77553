"""Experiments and runs as protobuf messages: reading and listing them, and archiving an experiment
(which answers with the experiment as it now is)."""
from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterable

from sqlalchemy import Connection, and_, case, func, or_, select, update

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


def _to_run_info(row, metric_rows: list, names: bool = True) -> pb.RunInfo:
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
        if m.kind == pb.METRIC_KIND_SYSTEM:   # not the run's own metrics: kept apart for the UI
            if m.last_value is not None:
                info.last_system_metrics[m.name] = m.last_value
            continue
        if names:
            info.metric_names.append(m.name)
        if m.kind == pb.METRIC_KIND_SCALAR and m.last_value is not None:
            info.last_metrics[m.name] = m.last_value
    return info


def _metric_rows(conn: Connection, run_ids: list[str], names: list[str] | None = None) -> dict[str, list]:
    """Each run's metrics (name, kind, last_value) in logged order; `names` = only these."""
    by_run: dict[str, list] = {run_id: [] for run_id in run_ids}
    base = select(metrics.c.run_id, metrics.c.name, metrics.c.kind, metrics.c.last_value)
    for i in range(0, len(run_ids), _IN_BATCH):
        query = base.where(metrics.c.run_id.in_(run_ids[i:i + _IN_BATCH]))
        for j in range(0, len(names), _IN_BATCH) if names is not None else [None]:
            q = query if j is None else query.where(metrics.c.name.in_(names[j:j + _IN_BATCH]))
            for m in conn.execute(q.order_by(metrics.c.id)):
                by_run[m.run_id].append(m)
    return by_run


def _scalar_names(conn: Connection, run_ids: list[str]) -> dict[str, list[str]]:
    """Each run's scalar metrics that have a last value: the columns a runs list can offer."""
    by_run: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
    for i in range(0, len(run_ids), _IN_BATCH):
        query = select(metrics.c.run_id, metrics.c.name).where(
            metrics.c.run_id.in_(run_ids[i:i + _IN_BATCH]), metrics.c.kind == pb.METRIC_KIND_SCALAR,
            metrics.c.last_value.is_not(None))
        for m in conn.execute(query):
            by_run[m.run_id].append(m.name)
    return by_run


def _run_infos(conn: Connection, rows: list) -> list[pb.RunInfo]:
    by_run = _metric_rows(conn, [row.run_id for row in rows])
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


# ---------------------------------------------------------------------- runs list, paged

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# A page stops growing at this many serialised bytes: far under the 64 MiB a client accepts, so
# no number of runs or metric names makes the list unreadable. One run always fits (GetRun's size).
PAGE_BYTES = 8 * 1024 * 1024
_INFO_GROUP = 20  # runs whose metrics are read per query while a page fills


def _sort_key(row) -> list:
    return [row.created_time, row.number, row.run_id]


def _after(key: list):
    """Rows after `key` in the list's order (newest first): created_time, number, run_id descending."""
    created, number, run_id = key
    return or_(runs.c.created_time < created,
               and_(runs.c.created_time == created, runs.c.number < number),
               and_(runs.c.created_time == created, runs.c.number == number, runs.c.run_id < run_id))


def _encode_token(key: list, left: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": key, "left": left}).encode()).decode()


def _decode_token(token: str) -> tuple[list | None, int]:
    """(sort key of the last run sent, runs still allowed by `limit`; 0 = no limit)."""
    if not token:
        return None, 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        key, left = data["after"], int(data["left"])
        if not (isinstance(key, list) and len(key) == 3 and isinstance(key[2], str)):
            raise ValueError(key)
        return [float(key[0]), int(key[1]), key[2]], left
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(f"page_token {token[:40]!r} is not a token this service gave out ({exc}); "
                              "list again from the first page") from None


def _filtered_query(conn: Connection, req: pb.ListRunsRequest):
    """The list's rows in order, tags and properties not yet filtered; None = no run can match."""
    query = _run_query()
    if req.experiment:
        query = query.where(experiments.c.name == req.experiment)
    if req.parent_run_id:
        if req.recursive:
            ids = _descendants(conn, req.parent_run_id)
            if not ids:
                return None
            query = query.where(runs.c.run_id.in_(ids))
        else:
            query = query.where(runs.c.parent_run_id == req.parent_run_id)
    elif not req.include_children:
        query = query.where(runs.c.parent_run_id.is_(None))
    if req.status:
        query = query.where(runs.c.status == req.status)
    return query.order_by(runs.c.created_time.desc(), runs.c.number.desc(), runs.c.run_id.desc())


def _matching_rows(conn: Connection, query, req: pb.ListRunsRequest, after: list | None, batch: int):
    """The rows after `after` that pass the tag and property filters, read `batch` at a time."""
    filter_maps = bool(req.tags or req.properties)
    while True:
        rows = conn.execute((query if after is None else query.where(_after(after))).limit(batch)).all()
        for row in rows:
            # Tags and properties are JSON text: filter them here.
            if not filter_maps or (_matches(req.tags.items(), json.loads(row.tags_json))
                                   and _matches(req.properties.items(), json.loads(row.properties_json))):
                yield row
        if len(rows) < batch:
            return
        after = _sort_key(rows[-1])


def _page_infos(conn: Connection, req: pb.ListRunsRequest, rows: list) -> tuple[list[pb.RunInfo], list[list[str]]]:
    """RunInfos as the request selects them, and each run's offered metric names (if asked)."""
    if not req.select_metrics:
        return _run_infos(conn, rows), [[] for _ in rows]
    ids = [row.run_id for row in rows]
    by_run = _metric_rows(conn, ids, list(dict.fromkeys(req.metric_columns)))
    names = _scalar_names(conn, ids) if req.list_metric_names else {}
    return ([_to_run_info(row, by_run[row.run_id], names=False) for row in rows],
            [names.get(row.run_id, []) for row in rows])


def list_runs_page(conn: Connection, req: pb.ListRunsRequest) -> pb.ListRunsResponse:
    """One page of the list: at most page_size runs and about PAGE_BYTES, and the token for the next."""
    if req.limit < 0:
        raise InvalidArgument(f"limit must be >= 0, got {req.limit}")
    if req.page_size < 0:
        raise InvalidArgument(f"page_size must be >= 0, got {req.page_size}")
    after, left = _decode_token(req.page_token)
    if after is None:
        left = req.limit
    want = min(req.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if left:
        want = min(want, left)
    query = _filtered_query(conn, req)
    resp = pb.ListRunsResponse()
    if query is None:
        return resp
    rows = _matching_rows(conn, query, req, after, want)
    names_sent: set[str] = set()
    size = 0
    last = None
    full = False
    while not full and len(resp.runs) < want:
        group = list(itertools.islice(rows, min(_INFO_GROUP, want - len(resp.runs))))
        if not group:
            break
        infos, offered = _page_infos(conn, req, group)
        for row, info, names in zip(group, infos, offered):
            new_names = [n for n in names if n not in names_sent]
            grows = info.ByteSize() + sum(len(n.encode()) + 4 for n in new_names) + 8
            if resp.runs and size + grows > PAGE_BYTES:
                full = True
                break
            resp.runs.append(info)
            names_sent.update(new_names)
            size += grows
            last = row
    rows.close()
    resp.metric_names.extend(sorted(names_sent))
    sent = len(resp.runs)
    if last is not None and (full or sent == want) and not (left and sent >= left):
        resp.next_page_token = _encode_token(_sort_key(last), left - sent if left else 0)
    return resp


def list_runs(conn: Connection, req: pb.ListRunsRequest) -> list[pb.RunInfo]:
    """Every run of the list (all pages): for the service's own use, never sent whole."""
    page_req = pb.ListRunsRequest()
    page_req.CopyFrom(req)
    found: list[pb.RunInfo] = []
    while True:
        page = list_runs_page(conn, page_req)
        found += page.runs
        if not page.next_page_token:
            return found
        page_req.page_token = page.next_page_token


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
