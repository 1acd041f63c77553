"""Store: the Watch feed (events_after, cursors, wait_for_change) and migrations (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading
import time

import pytest
from storekit import Writer, file_chunk, make_store, patch, row, scalar, start, store  # noqa: F401
from sqlalchemy import inspect

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_service.errors import InvalidArgument
from tailrun_service.store.migrate import current_revision, head_revision, upgrade_to_head
from tailrun_service.store.schema import metadata


def kinds(events):
    return [e.WhichOneof("kind") for e in events]


def test_events_resolve_each_kind(store):
    w = Writer(store)
    w.send(start("r", "E"), scalar("r", "loss", [1.0, 2.0], steps=[0, 1]),
           file_chunk("r", "logs/user_log.txt", "hé".encode()[:2], append=True),
           file_chunk("r", "logs/user_log.txt", "hé\n".encode()[2:], offset=2, append=True),
           file_chunk("r", "outputs/a.txt", b"abc", last=True),
           file_chunk("r", "outputs/b.txt", b"not output, not complete"),
           pb.Event(heartbeat=pb.Heartbeat(run_id="r", time=1.0)),
           patch("r", status="Completed"))
    events = store.events_after(0)
    assert kinds(events) == ["run", "metrics", "output", "output", "file", "run"]
    assert all(e.run_id == "r" for e in events)
    assert [e.cursor for e in events] == sorted(e.cursor for e in events)
    run, metrics, out1, out2, file, done = events
    assert run.run.run_id == "r" and run.run.experiment == "E"
    assert list(metrics.metrics.columns[0].values) == [1.0, 2.0] and metrics.metrics.name == "loss"
    # The "é" is split across two appends: each character comes in exactly one event.
    assert (out1.output.text, out1.output.offset) == ("h", 0)
    assert (out2.output.text, out2.output.offset) == ("é\n", 1) and out2.output.path == "logs/user_log.txt"
    assert (file.file.path, file.file.size, file.file.complete) == ("outputs/a.txt", 3, True)
    assert done.run.status == "Completed"


def test_resume_from_a_cursor_without_gaps_or_repeats(store):
    w = Writer(store)
    w.send(start("a", "E"), start("b", "F"))
    for i in range(20):
        w.send(scalar("a", "m", [float(i)]), scalar("b", "m", [float(i)]))
    seen, cursor = [], 0
    while True:
        page = store.events_after(cursor, limit=7)
        if not page:
            break
        seen += page
        cursor = page[-1].cursor
    assert len(seen) == 42 and len({e.cursor for e in seen}) == 42
    assert seen == store.events_after(0, limit=1000)
    assert cursor == store.last_event_id()
    only_a = store.events_after(0, run_ids=["a"], limit=1000)
    assert {e.run_id for e in only_a} == {"a"} and len(only_a) == 21
    assert [e.run_id for e in store.events_after(0, experiment="F", limit=1000)].count("b") == 21
    assert kinds(store.events_after(0, kinds=["status"])) == ["run", "run"]
    assert store.events_after(0, run_ids=[]) == []
    with pytest.raises(InvalidArgument, match="unknown watch kind"):
        store.events_after(0, kinds=["bogus"])
    # Values stay attached to their cursor: resuming mid-way gives the next points, in order.
    mid = [e for e in seen if e.run_id == "a" and e.WhichOneof("kind") == "metrics"][9].cursor
    nxt = store.events_after(mid, run_ids=["a"], limit=1)[0]
    assert nxt.metrics.columns[0].values[0] == 10.0 and nxt.metrics.first_index == 10


def test_live_metrics_events_are_served_from_the_commit_as_the_store_would_read_them(make_store):
    live = make_store.open()
    w = Writer(live)
    w.send(start("r", "E"), scalar("r", "loss", [1.0, float("nan"), -0.0], steps=[0, 5, 9]),
           row("r", "table", {"a": [1.0, 2.0], "b": [3.0, 4.0]}),
           scalar("r", "mixed", [0.0, 2.0, 0.0], kinds=[4, 0, 1], ints=[7], strs=["x"]))
    w.send(scalar("r", "loss", [4.0], steps=[10]), row("r", "table", {"b": [5.0], "a": [6.0]}))
    assert len(live.recent_chunks) == 5   # every committed chunk, none read back yet
    served = live.events_after(0, limit=1000)
    # Another replica on the same database keeps nothing in memory: it reads every chunk.
    read_back = make_store.open().events_after(0, limit=1000)
    assert [e.SerializeToString() for e in served] == [e.SerializeToString() for e in read_back]
    assert kinds(served).count("metrics") == 5
    loss = [e.metrics for e in served if e.WhichOneof("kind") == "metrics" and e.metrics.name == "loss"]
    assert [list(m.steps) for m in loss] == [[0, 5, 9], [10]] and loss[1].first_index == 3


def test_recent_chunks_are_bounded_and_older_ones_read_from_the_store(store):
    w = Writer(store)
    w.send(start("r", "E"))
    store.recent_chunks.max_bytes = 3 * 100 * 16   # three chunks of 100 points (times + values)
    for i in range(6):
        w.send(scalar("r", "m", [float(i)] * 100))
    assert len(store.recent_chunks) == 3
    assert store.recent_chunks.wire(1, 0) is None   # the first chunk was dropped (metric id 1)
    events = [e for e in store.events_after(0, limit=1000) if e.WhichOneof("kind") == "metrics"]
    assert [(e.metrics.first_index, e.metrics.columns[0].values[0]) for e in events] == \
        [(100 * i, float(i)) for i in range(6)]


def test_wait_for_change_wakes_on_commit_and_across_replicas(make_store):
    first, second = make_store.open(), make_store.open()
    cursor = first.last_event_id()
    started = time.monotonic()
    assert first.wait_for_change(cursor, 0.3) is False
    assert time.monotonic() - started >= 0.29

    def later(store, run_id):
        time.sleep(0.2)
        Writer(store).send(start(run_id))

    for waiter, writer, run_id in ((first, first, "same-process"), (first, second, "other-replica")):
        cursor = waiter.last_event_id()
        t = threading.Thread(target=later, args=(writer, run_id))
        t.start()
        assert waiter.wait_for_change(cursor, 10.0) is True
        t.join()
        assert [e.run_id for e in waiter.events_after(cursor)] == [run_id]


def test_migrations_run_twice_are_a_no_op(make_store):
    store = make_store.open()
    Writer(store).send(start("r"), scalar("r", "m", [1.0]))
    assert current_revision(store.db) == head_revision() == "0004_orchestration"
    upgrade_to_head(store.db)  # again, on the open database
    again = make_store.open()  # and by a second opener
    assert again.get_run("r").metric_names == ["m"]
    insp = inspect(store.db.engine)
    tables = set(insp.get_table_names()) - {"alembic_version"}
    assert tables == set(metadata.tables)
    for name, table in metadata.tables.items():  # the migration creates what schema.py describes
        assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in table.columns}
        assert {i["name"] for i in insp.get_indexes(name)} >= {i.name for i in table.indexes}


def test_concurrent_first_opens_migrate_once(make_store):
    errors, stores = [], []

    def opener():
        try:
            stores.append(make_store.open())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(stores) == 3
    assert current_revision(stores[0].db) == head_revision()
