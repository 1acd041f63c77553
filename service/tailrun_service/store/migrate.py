"""Run the Alembic migrations to head, programmatically (no alembic.ini needed).

Several processes may open the same database at once: on PostgreSQL they queue on an advisory
lock, on SQLite on an exclusive lock file next to the database; the second finds the schema at head
and does nothing.
"""
from __future__ import annotations

import fcntl
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .engine import PG_MIGRATE_LOCK, Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.read() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(db: Database) -> None:
    if db.is_sqlite:
        path = db.engine.url.database
        if path and path != ":memory:":
            with open(f"{path}.migrate-lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    _upgrade(db)
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
            return
        _upgrade(db)
        return
    with db.engine.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({PG_MIGRATE_LOCK})")
        conn.commit()
        try:
            _upgrade(db, conn)
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({PG_MIGRATE_LOCK})")
            conn.commit()


def _upgrade(db: Database, conn=None) -> None:
    if current_revision(db) == head_revision():
        return  # the common case: nothing to do, and no write lock taken
    cfg = alembic_config()
    if conn is None:
        with db.engine.connect() as own:
            cfg.attributes["connection"] = own.execution_options(tailrun_write=True)
            command.upgrade(cfg, "head")
            own.commit()
    else:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()
