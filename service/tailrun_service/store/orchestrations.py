"""The `orchestrations` table: each orchestrated run's controller state (JSON), saved after each
decision of its controller, read back by a restarted service (see ../orchestration/)."""
from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select, update

from .engine import Database
from .schema import orchestrations


def create(db: Database, run_id: str, kind: str, state: dict[str, Any]) -> None:
    now = time.time()
    with db.write() as conn:
        conn.execute(orchestrations.insert().values(run_id=run_id, kind=kind, state_json=json.dumps(state),
                                                    final="", created_time=now, updated_time=now))


def save(db: Database, run_id: str, state: dict[str, Any], final: str = "") -> None:
    with db.write() as conn:
        conn.execute(update(orchestrations).where(orchestrations.c.run_id == run_id).values(
            state_json=json.dumps(state), final=final, updated_time=time.time()))


def active(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    """(run_id, kind, state) of every orchestrated run without a final status, oldest first."""
    query = (select(orchestrations.c.run_id, orchestrations.c.kind, orchestrations.c.state_json)
             .where(orchestrations.c.final == "").order_by(orchestrations.c.created_time))
    with db.read() as conn:
        return [(row.run_id, row.kind, json.loads(row.state_json)) for row in conn.execute(query)]


def get(db: Database, run_id: str) -> tuple[str, dict[str, Any], str] | None:
    """(kind, state, final) of one orchestrated run, None if the run is not one."""
    query = select(orchestrations).where(orchestrations.c.run_id == run_id)
    with db.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else (row.kind, json.loads(row.state_json), row.final)
