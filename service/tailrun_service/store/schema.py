"""The tables of the store (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The schema is created by the Alembic migrations in `migrations/versions/`; these Table objects are
what the queries use, and a test checks that the migrated database matches them.
Times are unix seconds (float). JSON values are stored as text.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData,
    String, Table, Text, text,
)

metadata = MetaData()

# An autoincrementing 64-bit id: SQLite only autoincrements an INTEGER PRIMARY KEY (the rowid).
BigId = BigInteger().with_variant(Integer(), "sqlite")

# One row per writer (SDK process or runner): the last batch committed, for exactly-once ingest,
# and the principal that first wrote it ("admin", "run:<run_id>", "service"; NULL for writers
# older than revision 0002), so that a run-scoped token can only use writers it owns.
writers = Table(
    "writers", metadata,
    Column("writer", String(255), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_time", Float, nullable=False),
    Column("owner", String(300), nullable=True),
)

# Names are unique among active experiments only: archiving frees the name.
experiments = Table(
    "experiments", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("created_time", Float, nullable=False),
    Column("archived_time", Float, nullable=False, server_default=text("0")),
    Column("next_run_number", BigInteger, nullable=False, server_default=text("0")),
    Column("tags_json", Text, nullable=False, server_default=text("'{}'")),
    Index("ix_experiments_active_name", "name", unique=True,
          sqlite_where=text("archived_time = 0"), postgresql_where=text("archived_time = 0")),
)

runs = Table(
    "runs", metadata,
    Column("run_id", String(255), primary_key=True),
    Column("experiment_id", String(36), ForeignKey("experiments.id"), nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("parent_run_id", String(255), nullable=True),
    Column("display_name", Text, nullable=False, server_default=text("''")),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column("status", String(32), nullable=False),
    Column("run_type", String(32), nullable=False, server_default=text("''")),
    Column("created_time", Float, nullable=False),
    Column("start_time", Float, nullable=False, server_default=text("0")),
    Column("end_time", Float, nullable=False, server_default=text("0")),
    Column("last_heartbeat", Float, nullable=False, server_default=text("0")),
    Column("last_activity", Float, nullable=False, server_default=text("0")),
    Column("tags_json", Text, nullable=False, server_default=text("'{}'")),
    Column("properties_json", Text, nullable=False, server_default=text("'{}'")),
    Column("error_json", Text, nullable=False, server_default=text("''")),
    Column("warnings_json", Text, nullable=False, server_default=text("'[]'")),
    Column("run_definition_json", Text, nullable=False, server_default=text("''")),
    Column("target", Text, nullable=False, server_default=text("''")),
    Column("script", Text, nullable=False, server_default=text("''")),
    Column("arguments_json", Text, nullable=False, server_default=text("'[]'")),
    Column("submitted_by", Text, nullable=False, server_default=text("''")),
    Index("ix_runs_experiment", "experiment_id", "created_time"),
    Index("ix_runs_parent", "parent_run_id"),
    Index("ix_runs_created", "created_time"),
)

# One row per (run, metric name).
metrics = Table(
    "metrics", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(255), ForeignKey("runs.run_id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("kind", Integer, nullable=False),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column("has_steps", Boolean, nullable=True),  # NULL until the first point arrives
    Column("count", BigInteger, nullable=False, server_default=text("0")),
    Column("columns_json", Text, nullable=False, server_default=text("'[]'")),
    Column("last_value", Float, nullable=True),
    Index("ux_metrics_run_name", "run_id", "name", unique=True),
)

# Points in columnar chunks, one row per (metric, ingested batch). Arrays are little-endian:
# times float64, steps int64 (NULL without steps); per column (names in columns_json, in order)
# `values` holds count float64 each, `kinds` count bytes each (NULL when all floats),
# `ints` the int64 of the INT points, `strs_json` a list per column of the STR/BIGINT texts.
metric_chunks = Table(
    "metric_chunks", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("metric_id", BigInteger, ForeignKey("metrics.id"), nullable=False),
    Column("first_index", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("columns_json", Text, nullable=False),
    Column("times", LargeBinary, nullable=False),
    Column("steps", LargeBinary, nullable=True),
    Column("values", LargeBinary, nullable=False),
    Column("kinds", LargeBinary, nullable=True),
    Column("ints", LargeBinary, nullable=True),
    Column("strs_json", Text, nullable=True),
    Column("min_value", Float, nullable=True),
    Column("max_value", Float, nullable=True),
    Index("ux_metric_chunks_metric_index", "metric_id", "first_index", unique=True),
)

# Run files known to the store (written through FileChunk events).
files = Table(
    "files", metadata,
    Column("run_id", String(255), ForeignKey("runs.run_id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime", Float, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("live", Boolean, nullable=False),
)

# The Watch feed: id is the cursor. kind: run | metrics (the chunk (metric_id, first_index)) |
# output (path, offset, length: bytes appended to a log) | file (path: a file completed).
events = Table(
    "events", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("run_id", String(255), nullable=False),
    Column("experiment_id", String(36), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("metric_id", BigInteger, nullable=True),
    Column("first_index", BigInteger, nullable=True),
    Column("path", String(1024), nullable=True),
    Column("offset", BigInteger, nullable=True),
    Column("length", BigInteger, nullable=True),
    Column("time", Float, nullable=False),
    Index("ix_events_run", "run_id", "id"),
    Index("ix_events_experiment", "experiment_id", "id"),
)

# The model registry: one row per (name, version), versions 1, 2, 3... per name. The files live
# under <data-dir>/models/<name>/<version>/ (see model_files); run_id links it to the run it came from.
models = Table(
    "models", metadata,
    Column("name", String(255), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("run_id", String(255), nullable=False, server_default=text("''")),
    Column("experiment", String(255), nullable=False, server_default=text("''")),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column("tags_json", Text, nullable=False, server_default=text("'{}'")),
    Column("properties_json", Text, nullable=False, server_default=text("'{}'")),
    Column("model_path", String(1024), nullable=False, server_default=text("''")),
    Column("created_time", Float, nullable=False),
    Column("created_by", String(300), nullable=False, server_default=text("''")),
    Index("ix_models_run", "run_id"),
)

model_files = Table(
    "model_files", metadata,
    Column("name", String(255), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
)

# Registered environments: one row per (name, version); the definition is Environment._to_dict().
environments = Table(
    "environments", metadata,
    Column("name", String(255), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("definition_json", Text, nullable=False),
    Column("created_time", Float, nullable=False),
)

# Orchestrated runs (sweeps, pipelines): the controller's state of each parent run the service
# drives, saved after each decision so that a restarted service resumes it (orchestration/).
# `final` is "" while the controller is active, else the parent's final status.
orchestrations = Table(
    "orchestrations", metadata,
    Column("run_id", String(255), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("state_json", Text, nullable=False, server_default=text("'{}'")),
    Column("final", String(32), nullable=False, server_default=text("''")),
    Column("created_time", Float, nullable=False),
    Column("updated_time", Float, nullable=False),
)
