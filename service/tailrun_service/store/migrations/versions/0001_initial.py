"""The initial schema: writers, experiments, runs, metrics, metric chunks, files, watch events.

Revision ID: 0001
Revises:
Create Date: 2025-11-27
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Written out here (not imported from schema.py) so this migration stays what it was when the
# schema moves on; a test compares the migrated database with schema.py.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(default: str) -> sa.TextClause:
    return sa.text(default)


def upgrade() -> None:
    op.create_table(
        "writers",
        sa.Column("writer", sa.String(255), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("updated_time", sa.Float, nullable=False),
    )
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_time", sa.Float, nullable=False),
        sa.Column("archived_time", sa.Float, nullable=False, server_default=_text("0")),
        sa.Column("next_run_number", sa.BigInteger, nullable=False, server_default=_text("0")),
        sa.Column("tags_json", sa.Text, nullable=False, server_default=_text("'{}'")),
    )
    op.create_index("ix_experiments_active_name", "experiments", ["name"], unique=True,
                    sqlite_where=sa.text("archived_time = 0"),
                    postgresql_where=sa.text("archived_time = 0"))
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(255), primary_key=True),
        sa.Column("experiment_id", sa.String(36), sa.ForeignKey("experiments.id"), nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("parent_run_id", sa.String(255), nullable=True),
        sa.Column("display_name", sa.Text, nullable=False, server_default=_text("''")),
        sa.Column("description", sa.Text, nullable=False, server_default=_text("''")),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("run_type", sa.String(32), nullable=False, server_default=_text("''")),
        sa.Column("created_time", sa.Float, nullable=False),
        sa.Column("start_time", sa.Float, nullable=False, server_default=_text("0")),
        sa.Column("end_time", sa.Float, nullable=False, server_default=_text("0")),
        sa.Column("last_heartbeat", sa.Float, nullable=False, server_default=_text("0")),
        sa.Column("last_activity", sa.Float, nullable=False, server_default=_text("0")),
        sa.Column("tags_json", sa.Text, nullable=False, server_default=_text("'{}'")),
        sa.Column("properties_json", sa.Text, nullable=False, server_default=_text("'{}'")),
        sa.Column("error_json", sa.Text, nullable=False, server_default=_text("''")),
        sa.Column("warnings_json", sa.Text, nullable=False, server_default=_text("'[]'")),
        sa.Column("run_definition_json", sa.Text, nullable=False, server_default=_text("''")),
        sa.Column("target", sa.Text, nullable=False, server_default=_text("''")),
        sa.Column("script", sa.Text, nullable=False, server_default=_text("''")),
        sa.Column("arguments_json", sa.Text, nullable=False, server_default=_text("'[]'")),
        sa.Column("submitted_by", sa.Text, nullable=False, server_default=_text("''")),
    )
    op.create_index("ix_runs_experiment", "runs", ["experiment_id", "created_time"])
    op.create_index("ix_runs_parent", "runs", ["parent_run_id"])
    op.create_index("ix_runs_created", "runs", ["created_time"])
    op.create_table(
        "metrics",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(255), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=_text("''")),
        sa.Column("has_steps", sa.Boolean, nullable=True),
        sa.Column("count", sa.BigInteger, nullable=False, server_default=_text("0")),
        sa.Column("columns_json", sa.Text, nullable=False, server_default=_text("'[]'")),
        sa.Column("last_value", sa.Float, nullable=True),
    )
    op.create_index("ux_metrics_run_name", "metrics", ["run_id", "name"], unique=True)
    op.create_table(
        "metric_chunks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("metric_id", sa.BigInteger, sa.ForeignKey("metrics.id"), nullable=False),
        sa.Column("first_index", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("columns_json", sa.Text, nullable=False),
        sa.Column("times", sa.LargeBinary, nullable=False),
        sa.Column("steps", sa.LargeBinary, nullable=True),
        sa.Column("values", sa.LargeBinary, nullable=False),
        sa.Column("kinds", sa.LargeBinary, nullable=True),
        sa.Column("ints", sa.LargeBinary, nullable=True),
        sa.Column("strs_json", sa.Text, nullable=True),
        sa.Column("min_value", sa.Float, nullable=True),
        sa.Column("max_value", sa.Float, nullable=True),
    )
    op.create_index("ux_metric_chunks_metric_index", "metric_chunks",
                    ["metric_id", "first_index"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        # The arrays are mostly incompressible floats: without this PostgreSQL tries pglz on every
        # chunk, which made ingest about 20x slower. EXTERNAL = out of line, uncompressed.
        for column in ("times", "steps", "values", "kinds", "ints"):
            op.execute(f'ALTER TABLE metric_chunks ALTER COLUMN "{column}" SET STORAGE EXTERNAL')
    op.create_table(
        "files",
        sa.Column("run_id", sa.String(255), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("path", sa.String(1024), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime", sa.Float, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("live", sa.Boolean, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(255), nullable=False),
        sa.Column("experiment_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("metric_id", sa.BigInteger, nullable=True),
        sa.Column("first_index", sa.BigInteger, nullable=True),
        sa.Column("path", sa.String(1024), nullable=True),
        sa.Column("offset", sa.BigInteger, nullable=True),
        sa.Column("length", sa.BigInteger, nullable=True),
        sa.Column("time", sa.Float, nullable=False),
    )
    op.create_index("ix_events_run", "events", ["run_id", "id"])
    op.create_index("ix_events_experiment", "events", ["experiment_id", "id"])


def downgrade() -> None:
    for table in ("events", "files", "metric_chunks", "metrics", "runs", "experiments", "writers"):
        op.drop_table(table)
