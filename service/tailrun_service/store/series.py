"""Reading metric points: whole chunks (iter_metrics) and plot series with min/max downsampling."""
from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
from sqlalchemy import bindparam, select

from tailrun.v1 import tailrun_pb2 as pb

from ..errors import InvalidArgument, NotFound
from .chunks import chunk_to_points, chunk_wire
from .engine import Database
from .schema import metric_chunks, metrics, runs

CHUNKS_PER_QUERY = 32  # iter_metrics reads this many chunks per short read, not holding a connection

_CHUNK_COLUMNS = (metric_chunks.c.id, metric_chunks.c.metric_id, metric_chunks.c.first_index,
                  metric_chunks.c.count, metric_chunks.c.columns_json, metric_chunks.c.times,
                  metric_chunks.c.steps, metric_chunks.c["values"], metric_chunks.c.kinds,
                  metric_chunks.c.ints, metric_chunks.c.strs_json)
_ONE_CHUNK = select(*_CHUNK_COLUMNS).where(metric_chunks.c.metric_id == bindparam("metric_id"),
                                           metric_chunks.c.first_index == bindparam("first_index"))
_CHUNK_PAGE = (select(*_CHUNK_COLUMNS)
               .where(metric_chunks.c.metric_id == bindparam("metric_id"),
                      metric_chunks.c.first_index >= bindparam("from_index"))
               .order_by(metric_chunks.c.first_index).limit(bindparam("page")))
_SERIES_COLUMNS = (metric_chunks.c.first_index, metric_chunks.c.count, metric_chunks.c.steps,
                   metric_chunks.c["values"])
_SERIES_WHERE = (metric_chunks.c.metric_id == bindparam("metric_id"),
                 metric_chunks.c.first_index + metric_chunks.c.count > bindparam("start"))
_SERIES_CHUNKS = select(*_SERIES_COLUMNS).where(*_SERIES_WHERE).order_by(metric_chunks.c.first_index)
# with_times: the times too (a third more to read, so only when a chart's cursor asks)
_SERIES_CHUNKS_TIMES = (select(*_SERIES_COLUMNS, metric_chunks.c.times).where(*_SERIES_WHERE)
                        .order_by(metric_chunks.c.first_index))
_ONE_METRIC = select(metrics).where(metrics.c.id == bindparam("metric_id"))


def _metric_rows(conn, run_id: str, name: str = "", system: bool | None = None):
    """The run's metric rows (or one); `system` True/False: only/no system metrics, None: any."""
    query = select(metrics).where(metrics.c.run_id == run_id)
    if name:
        query = query.where(metrics.c.name == name)
    if system is not None:
        is_system = metrics.c.kind == pb.METRIC_KIND_SYSTEM
        query = query.where(is_system if system else ~is_system)
    return conn.execute(query.order_by(metrics.c.id)).all()


# Metrics of at most this many points (together) are read in one query: a run of 10,000
# one-point metrics is 20 reads, not 10,000. A bigger metric is read a page of chunks at a time.
SMALL_POINTS = 4096
MAX_WINDOW = 500


def iter_metrics(db: Database, run_id: str, name: str = "", system: bool = False) -> Iterator[pb.MetricPoints]:
    """Yield one MetricPoints per stored chunk, metric by metric, in order (first_index set):
    the run's own metrics, or with `system` only its system metrics (GetMetricsRequest.system).

    Chunks are read in short reads (a window of small metrics, or a page of one big metric's
    chunks), so a slow consumer (a gRPC stream) never holds a database connection."""
    with db.read() as conn:
        if conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is None:
            raise NotFound(f"run {run_id!r} not found")
        metric_rows = _metric_rows(conn, run_id, name, system)
    for window in _windows(metric_rows):
        if len(window) == 1 and window[0].count > SMALL_POINTS:
            yield from _metric_chunks(db, run_id, window[0])
        else:
            yield from _window_chunks(db, run_id, window)


def _windows(metric_rows: list) -> Iterator[list]:
    """Consecutive metrics grouped while their points stay under SMALL_POINTS; a big one alone."""
    window: list = []
    points = 0
    for m in metric_rows:
        if window and (points + m.count > SMALL_POINTS or len(window) >= MAX_WINDOW):
            yield window
            window, points = [], 0
        window.append(m)
        points += m.count
    if window:
        yield window


def _window_chunks(db: Database, run_id: str, window: list) -> Iterator[pb.MetricPoints]:
    """Every chunk of a few small metrics, in one read, in (metric, index) order."""
    by_id = {m.id: (m, json.loads(m.columns_json)) for m in window}
    query = (select(*_CHUNK_COLUMNS).where(metric_chunks.c.metric_id.in_(list(by_id)))
             .order_by(metric_chunks.c.metric_id, metric_chunks.c.first_index))
    with db.read() as conn:
        rows = conn.execute(query).all()
    for row in rows:
        m, columns = by_id[row.metric_id]
        yield chunk_to_points(row, columns, run_id=run_id, name=m.name, kind=m.kind, description=m.description)


def _metric_chunks(db: Database, run_id: str, m) -> Iterator[pb.MetricPoints]:
    """The chunks of one metric, a page of CHUNKS_PER_QUERY per short read."""
    columns = json.loads(m.columns_json)
    next_index = 0
    while True:
        with db.read() as conn:
            page = db.fetch_all(conn, _CHUNK_PAGE, {"metric_id": m.id, "from_index": next_index,
                                                    "page": CHUNKS_PER_QUERY})
        for row in page:
            yield chunk_to_points(row, columns, run_id=run_id, name=m.name, kind=m.kind,
                                  description=m.description)
        if len(page) < CHUNKS_PER_QUERY:
            return
        next_index = page[-1].first_index + page[-1].count


BATCH_BYTES = 1024 * 1024  # MetricData.batch stops growing here (a bigger chunk goes alone)


def metric_data(db: Database, run_id: str, name: str = "", batched: bool = False,
                system: bool = False) -> Iterator[pb.MetricData]:
    """GetMetrics' answer: a MetricData per chunk, or per ~BATCH_BYTES of chunks when `batched`."""
    if not batched:
        for points in iter_metrics(db, run_id, name, system):
            yield pb.MetricData(points=points)
        return
    batch: list[pb.MetricPoints] = []
    size = 0
    for points in iter_metrics(db, run_id, name, system):
        grows = points.ByteSize()
        if batch and size + grows > BATCH_BYTES:
            yield pb.MetricData(batch=batch)
            batch, size = [], 0
        batch.append(points)
        size += grows
    if batch:
        yield pb.MetricData(batch=batch)


def load_chunk_wire(db: Database, conn, metric_id: int, first_index: int) -> bytes | None:
    """One chunk as serialised MetricPoints (for Watch events), or None if it is gone."""
    rows = db.fetch_all(conn, _ONE_CHUNK, {"metric_id": metric_id, "first_index": first_index})
    if not rows:
        return None
    row = rows[0]
    m = conn.execute(_ONE_METRIC, {"metric_id": metric_id}).one()
    return chunk_wire(row, json.loads(m.columns_json), run_id=m.run_id, name=m.name,
                      kind=m.kind, description=m.description)


def downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """At most `max_points` points: split into buckets, keep each bucket's min and max point (in x
    order), so a spike is never averaged away. NaN is ignored in min/max. max_points 0 = all."""
    idx = downsample_index(y, max_points)
    return (x, y, False) if idx is None else (x[idx], y[idx], True)


def downsample_index(y: np.ndarray, max_points: int) -> np.ndarray | None:
    """The indices `downsample` keeps, or None when it keeps every point."""
    n = len(y)
    if max_points <= 0 or n <= max_points:
        return None
    buckets = max(1, max_points // 2)
    size = -(-n // buckets)
    count = -(-n // size)
    padded = np.full(count * size, np.nan)
    padded[:n] = y
    grid = padded.reshape(count, size)
    nan = np.isnan(grid)
    base = np.arange(count) * size
    hi = base + np.where(nan, -np.inf, grid).argmax(axis=1)
    if max_points == 1:
        idx = hi
    else:
        lo = base + np.where(nan, np.inf, grid).argmin(axis=1)
        pairs = np.stack([np.minimum(lo, hi), np.maximum(lo, hi)], axis=1).ravel()
        keep = np.ones(len(pairs), dtype=bool)
        keep[1::2] = pairs[1::2] != pairs[0::2]  # min and max are the same point: keep it once
        idx = pairs[keep]
    return idx


def get_series(db: Database, req: pb.SeriesRequest) -> pb.SeriesResponse:
    with db.read() as conn:
        rows = _metric_rows(conn, req.run_id, req.name) if req.name else []
        if not rows:
            raise NotFound(f"run {req.run_id!r} has no metric {req.name!r}")
        m = rows[0]
        columns = json.loads(m.columns_json)
        if len(columns) > 1 or m.kind in (pb.METRIC_KIND_IMAGE, pb.METRIC_KIND_JSON):
            raise InvalidArgument(f"metric {req.name!r} of run {req.run_id!r} has "
                                  f"{len(columns)} columns; a series needs a single-column numeric metric")
        total = m.count
        start = min(req.first_index, total)
        if req.tail:
            start = max(start, total - req.tail)
        resp = pb.SeriesResponse(run_id=req.run_id, name=req.name, total_points=total,
                                 has_steps=bool(m.has_steps))
        if start >= total:
            return resp
        chunk_rows = db.fetch_all(conn, _SERIES_CHUNKS_TIMES if req.with_times else _SERIES_CHUNKS,
                                  {"metric_id": m.id, "start": start})
    first = chunk_rows[0].first_index
    # A single-column chunk's `values` is exactly its column: count float64.
    y = np.concatenate([np.frombuffer(r.values, dtype="<f8", count=r.count) for r in chunk_rows])
    if m.has_steps:
        x = np.concatenate([np.frombuffer(r.steps, dtype="<i8") for r in chunk_rows]).astype(np.float64)
    else:
        x = np.arange(first, first + len(y), dtype=np.float64)
    skip = start - first
    x, y = x[skip:], y[skip:]
    idx = downsample_index(y, req.max_points)
    if idx is not None:
        x, y, resp.downsampled = x[idx], y[idx], True
    resp.x.extend(x.tolist())
    resp.y.extend(y.tolist())
    if req.with_times:   # a chart's cursor reads them; only the kept points' times are sent
        t = np.concatenate([np.frombuffer(r.times, dtype="<f8", count=r.count) for r in chunk_rows])[skip:]
        resp.t.extend((t if idx is None else t[idx]).tolist())
    return resp
