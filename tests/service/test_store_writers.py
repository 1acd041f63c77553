"""Writers in the store: seq only at committed + 1 (contract C1), owners (contract C2), and the
migration that added the owner column. On SQLite and PostgreSQL."""
from __future__ import annotations

import time

import pytest
from alembic import command
from storekit import BACKENDS, StoreFactory, scalar, start
from sqlalchemy import insert, select

from tailrun_service.errors import PermissionDenied, SeqGap
from tailrun_service.store import Store
from tailrun_service.store.engine import Database, sqlite_url
from tailrun_service.store.migrate import alembic_config
from tailrun_service.store.schema import writers


@pytest.fixture(params=BACKENDS)
def factory(request, tmp_path):
    made = StoreFactory(request.param, tmp_path / "data")
    yield made
    made.close_all()


def _owner(store: Store, writer: str) -> str | None:
    with store.db.read() as conn:
        return conn.execute(select(writers.c.owner).where(writers.c.writer == writer)).scalar()


def test_a_gap_is_refused_and_stores_nothing(factory):
    store = factory.open()
    assert store.apply_batch("w", 1, [start("r")]).committed_seq == 1
    with pytest.raises(SeqGap, match=r"^writer w: expected seq 2, got 3$"):
        store.apply_batch("w", 3, [scalar("r", "m", [3.0])])
    assert store.committed_seq("w") == 1 and store.get_run("r").metric_names == []
    with pytest.raises(SeqGap, match="expected seq 1, got 7"):
        store.apply_batch("new", 7, [])
    assert store.committed_seq("new") == 0 and _owner(store, "new") is None   # no row was made
    assert store.apply_batch("w", 2, []).committed_seq == 2                 # an empty batch advances


def test_owners_are_recorded_and_enforced(factory):
    store = factory.open()
    store.apply_batch("sdk", 1, [start("r")], principal="run:r")
    store.apply_batch("admin-writer", 1, [], principal="admin")
    store.apply_batch("runner:r", 1, [])                                     # the service itself
    assert [_owner(store, w) for w in ("sdk", "admin-writer", "runner:r")] == ["run:r", "admin", "service"]
    for writer, seq in (("sdk", 2), ("sdk", 0), ("admin-writer", 2)):
        with pytest.raises(PermissionDenied, match="belongs to another caller"):
            store.apply_batch(writer, seq, [], principal="run:other")
    with pytest.raises(PermissionDenied, match="belongs to another caller"):
        store.committed_seq("sdk", principal="run:other")
    for principal in ("run:r", "admin"):
        with pytest.raises(PermissionDenied, match="reserved for the service's own writers"):
            store.apply_batch("runner:r", 2, [], principal=principal)
        with pytest.raises(PermissionDenied, match="reserved"):
            store.committed_seq("liveness:x", principal=principal)
    assert store.apply_batch("sdk", 2, [], principal="admin").committed_seq == 2   # admin uploads spools
    assert store.apply_batch("sdk", 3, [], principal="run:r").committed_seq == 3
    assert _owner(store, "sdk") == "run:r"


def test_writers_from_before_the_owner_column_are_claimed_by_their_next_caller(tmp_path, factory):
    """A database at revision 0001 with a writer: after the upgrade it has no owner, the first
    caller since owns it, and a different run-scoped caller is refused."""
    db = Database(factory.url or sqlite_url(tmp_path / "data"))
    (tmp_path / "data").mkdir(exist_ok=True)
    cfg = alembic_config()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn.execution_options(tailrun_write=True)
        command.upgrade(cfg, "0001")
        conn.execute(insert(writers).values(writer="old", last_seq=4, updated_time=time.time()))
        conn.commit()
    db.dispose()
    store = factory.open()
    assert _owner(store, "old") is None and store.committed_seq("old", principal="run:a") == 4
    store.apply_batch("old", 5, [], principal="run:a")
    assert _owner(store, "old") == "run:a"
    with pytest.raises(PermissionDenied):
        store.apply_batch("old", 6, [], principal="run:b")
