"""The hot-path SQL of ingest, built once per dialect with bind parameters.

Building a SQLAlchemy expression costs far more than running it on SQLite, so the statements run
for every batch are constructed here once and executed with parameter dicts (many rows at once
where possible).
"""
from __future__ import annotations

from functools import cache

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .schema import events, experiments, files, metric_chunks, metrics, runs, writers


class Statements:
    def __init__(self, dialect: str) -> None:
        dialect_insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self.ensure_writer = dialect_insert(writers).values(
            writer=bindparam("writer"), last_seq=0, updated_time=bindparam("now"), owner=bindparam("owner"),
        ).on_conflict_do_nothing(index_elements=["writer"])
        self.writer_seq = select(writers.c.last_seq).where(writers.c.writer == bindparam("writer"))
        self.writer_row = select(writers.c.last_seq, writers.c.owner).where(writers.c.writer == bindparam("writer"))
        self.lock_writer = self.writer_row.with_for_update()
        self.claim_writer = update(writers).where(
            writers.c.writer == bindparam("b_writer"), writers.c.owner.is_(None)).values(owner=bindparam("b_owner"))
        self.set_writer = update(writers).where(writers.c.writer == bindparam("b_writer")).values(
            last_seq=bindparam("b_seq"), updated_time=bindparam("b_now"))

        self.active_experiment = select(experiments.c.id).where(
            experiments.c.name == bindparam("name"), experiments.c.archived_time == 0)
        self.create_experiment = dialect_insert(experiments).values(
            id=bindparam("id"), name=bindparam("name"), created_time=bindparam("now"),
            archived_time=0, next_run_number=0, tags_json="{}",
        ).on_conflict_do_nothing(index_elements=["name"], index_where=experiments.c.archived_time == 0)
        # The row lock taken by this UPDATE serialises the run numbers of one experiment.
        self.next_run_number = update(experiments).where(experiments.c.id == bindparam("b_id")).values(
            next_run_number=experiments.c.next_run_number + 1).returning(experiments.c.next_run_number)

        self.create_run = dialect_insert(runs).on_conflict_do_nothing(index_elements=["run_id"])
        self.run_experiment = select(runs.c.experiment_id).where(runs.c.run_id == bindparam("run_id"))
        self.touch_runs = update(runs).where(runs.c.run_id.in_(bindparam("b_ids", expanding=True))).values(
            last_activity=bindparam("b_now"))
        self.heartbeat = update(runs).where(runs.c.run_id == bindparam("b_run")).values(
            last_heartbeat=bindparam("b_time"))

        metric_columns = select(
            metrics.c.id, metrics.c.run_id, metrics.c.name, metrics.c.kind, metrics.c.has_steps,
            metrics.c.count, metrics.c.columns_json, metrics.c.description, metrics.c.last_value)
        self.metric_row = metric_columns.where(
            metrics.c.run_id == bindparam("run_id"), metrics.c.name == bindparam("name")).with_for_update()
        self.metric_rows = metric_columns.where(
            metrics.c.run_id.in_(bindparam("runs", expanding=True)),
            metrics.c.name.in_(bindparam("names", expanding=True))).order_by(metrics.c.id).with_for_update()
        # The new row, or none when another writer's batch created the metric first.
        self.create_metric = dialect_insert(metrics).values(
            run_id=bindparam("run_id"), name=bindparam("name"), kind=bindparam("kind"),
            description=bindparam("description"), has_steps=None, count=0, columns_json="[]",
        ).on_conflict_do_nothing(index_elements=["run_id", "name"]).returning(*metric_columns.selected_columns)
        self.run_metric_count = select(func.count()).select_from(metrics).where(metrics.c.run_id == bindparam("run_id"))
        self.update_metric = update(metrics).where(metrics.c.id == bindparam("b_id")).values(
            count=bindparam("b_count"), has_steps=bindparam("b_has_steps"),
            columns_json=bindparam("b_columns"), last_value=bindparam("b_last"),
            description=bindparam("b_description"))
        self.insert_chunks = insert(metric_chunks)

        upsert = dialect_insert(files).values(
            run_id=bindparam("run_id"), path=bindparam("path"), size=bindparam("size"),
            mtime=bindparam("mtime"), complete=bindparam("complete"), live=bindparam("live"))
        self.upsert_file = upsert.on_conflict_do_update(
            index_elements=["run_id", "path"],
            set_={"size": upsert.excluded.size, "mtime": upsert.excluded.mtime, "live": upsert.excluded.live,
                  "complete": or_(files.c.complete, upsert.excluded.complete)})
        self.insert_events = insert(events)


@cache
def _for_dialect(name: str) -> Statements:
    return Statements(name)


def statements(conn: Connection) -> Statements:
    return _for_dialect(conn.dialect.name)
