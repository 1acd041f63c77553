"""The store tests' kit: Store fixtures on both backends, event builders and a sequencing Writer
(imported explicitly by tests/service/test_store*.py; it is not a conftest).

Every store test runs twice: on SQLite in a tmp data dir, and on a fresh PostgreSQL database at
127.0.0.1:5432 (created per test, dropped after). If PostgreSQL is unreachable the PostgreSQL
variants fail saying so (tests/pg_server.py): they never skip.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import URL, admin_connection

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_service.store import Store

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class PgDatabase:
    """A fresh, uniquely named PostgreSQL database, dropped by drop()."""

    def __init__(self) -> None:
        self.name = f"tailrun_store_{uuid.uuid4().hex[:8]}"
        with admin_connection() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        self.url = URL.format(dbname=self.name)

    def drop(self) -> None:
        with admin_connection() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')


class StoreFactory:
    """Opens Stores on one database (several at once = several service replicas)."""

    def __init__(self, backend: str, data_dir: Path) -> None:
        self.backend = backend
        self.data_dir = data_dir
        self.pg = PgDatabase() if backend == "postgres" else None
        self.url = self.pg.url if self.pg else None
        self.opened: list[Store] = []

    def open(self) -> Store:
        store = Store.open(self.url, self.data_dir)
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()
        if self.pg:
            self.pg.drop()


@pytest.fixture(params=BACKENDS)
def make_store(request, tmp_path) -> Iterator[StoreFactory]:
    factory = StoreFactory(request.param, tmp_path / "data")
    try:
        yield factory
    finally:
        factory.close_all()


@pytest.fixture
def store(make_store) -> Store:
    return make_store.open()


# ---------------------------------------------------------------- event builders

def start(run_id: str, experiment: str = "exp", **kw) -> pb.Event:
    return pb.Event(start=pb.RunStart(run_id=run_id, experiment=experiment, **kw))


def patch(run_id: str, **kw) -> pb.Event:
    return pb.Event(patch=pb.RunPatch(run_id=run_id, **kw))


def scalar(run_id: str, name: str, values, steps=None, times=None, kinds=None, ints=(), strs=(),
           kind=pb.METRIC_KIND_SCALAR) -> pb.Event:
    values = list(values)
    mp = pb.MetricPoints(run_id=run_id, name=name, kind=kind,
                         times=times if times is not None else [1000.0 + i for i in range(len(values))],
                         steps=steps or [])
    mp.columns.add(values=values, kinds=bytes(kinds) if kinds else b"", ints=list(ints), strs=list(strs))
    return pb.Event(metrics=mp)


def row(run_id: str, name: str, columns: dict[str, list[float]], kinds: dict[str, list[int]] | None = None,
        kind=pb.METRIC_KIND_ROW) -> pb.Event:
    n = len(next(iter(columns.values())))
    mp = pb.MetricPoints(run_id=run_id, name=name, kind=kind, times=[2000.0 + i for i in range(n)])
    for col, values in columns.items():
        mp.columns.add(name=col, values=values, kinds=bytes((kinds or {}).get(col, b"")))
    return pb.Event(metrics=mp)


def file_chunk(run_id: str, path: str, data: bytes, offset: int = 0, last: bool = False,
               append: bool = False) -> pb.Event:
    return pb.Event(file=pb.FileChunk(run_id=run_id, path=path, data=data, offset=offset, last=last,
                                      append=append))


class Writer:
    """Sends batches with consecutive sequence numbers, like one SDK process."""

    def __init__(self, store: Store, name: str | None = None) -> None:
        self.store = store
        self.name = name or f"writer-{uuid.uuid4().hex[:8]}"
        self.seq = 0

    def send(self, *events: pb.Event, allowed=None):
        self.seq += 1
        return self.store.apply_batch(self.name, self.seq, list(events), allowed)
