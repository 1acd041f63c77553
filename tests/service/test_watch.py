"""Watch on a real server: backlog, caught_up, live events, resuming from a cursor without gaps
or repeats, child runs, kind filters, terminal runs and shutdown."""
from __future__ import annotations

import threading
import time

import grpc
import pytest

from grpc_util import (TIMEOUT, IngestSession, WatchCollector, new_id, patch, payload_events, points,
                       start, stub)
from tailrun.v1 import tailrun_pb2 as pb


def _caught_up(events: list[pb.WatchEvent]) -> bool:
    return any(e.caught_up for e in events)


def _cursors(events: list[pb.WatchEvent]) -> list[int]:
    return [e.cursor for e in payload_events(events)]


def test_from_start_replays_the_backlog_then_caught_up_then_live(service) -> None:
    tracker, run_id = stub(service.address), new_id()
    session = IngestSession(tracker)
    session.send(1, [start(run_id), points(run_id, "loss", [1.0, 0.5])])
    session.send(2, [points(run_id, "loss", [0.25], first_step=2)])
    watch = WatchCollector(tracker, pb.WatchRequest(run_id=run_id, from_start=True))
    try:
        backlog = watch.wait_for(_caught_up)
        assert backlog[-1].caught_up and backlog[-1].cursor == backlog[-2].cursor
        kinds = [e.WhichOneof("kind") for e in backlog[:-1]]
        assert kinds[0] == "run" and kinds.count("metrics") == 2
        assert all(e.run_id == run_id for e in backlog[:-1])
        session.send(3, [points(run_id, "loss", [0.125], first_step=3)])
        events = watch.wait_for(lambda ev: len(ev) > len(backlog))
        live = events[len(backlog)]
        assert live.WhichOneof("kind") == "metrics" and list(live.metrics.columns[0].values) == [0.125]
        cursors = _cursors(events)
        assert cursors == sorted(set(cursors))
        assert [e for e in events if e.caught_up] == [backlog[-1]]   # exactly one marker
    finally:
        watch.stop()
        session.close()


def test_cursor_zero_starts_from_now(service) -> None:
    tracker, run_id = stub(service.address), new_id()
    with IngestSession(tracker) as session:
        session.send(1, [start(run_id), points(run_id, "m", [1.0])])
        watch = WatchCollector(tracker, pb.WatchRequest(run_id=run_id))
        try:
            first = watch.wait_for(_caught_up)
            assert len(first) == 1 and first[0].cursor == service.store.last_event_id()
            session.send(2, [points(run_id, "m", [2.0], first_step=1)])
            events = watch.wait_for(lambda ev: len(ev) == 2)
            assert list(events[1].metrics.columns[0].values) == [2.0]
        finally:
            watch.stop()


def test_a_reconnecting_watcher_misses_nothing_and_sees_nothing_twice(service) -> None:
    tracker, experiment = stub(service.address), f"exp-{new_id()[:8]}"
    runs = [new_id(), new_id()]
    with IngestSession(tracker) as session:
        session.send(1, [start(run, experiment) for run in runs])
    steady = WatchCollector(tracker, pb.WatchRequest(experiment=experiment, from_start=True))
    batches = 40
    writing_done = threading.Event()

    def write() -> None:
        with IngestSession(tracker) as writer:
            for seq in range(1, batches + 1):
                run = runs[seq % 2]
                writer.send(seq, [points(run, "m", [float(seq)], first_step=seq)]
                            + ([patch(run, "Running")] if seq % 10 == 0 else []))
                time.sleep(0.01)
        writing_done.set()

    writer_thread = threading.Thread(target=write)
    writer_thread.start()
    seen: list[pb.WatchEvent] = []
    cursor, reconnects = 0, 0
    try:
        # Read a few events, hang up, reconnect from the last cursor, until the writer is done.
        while True:
            done_before = writing_done.is_set()
            watch = WatchCollector(tracker, pb.WatchRequest(experiment=experiment, cursor=cursor,
                                                            from_start=cursor == 0))
            got = watch.wait_for(lambda ev: len(payload_events(ev)) >= 5
                                 or (_caught_up(ev) and (done_before or writing_done.is_set())))
            watch.stop()
            fresh = payload_events(got)[:5]
            seen += fresh
            if fresh:
                cursor = fresh[-1].cursor
            reconnects += 1
            if done_before and len(payload_events(got)) <= 5 and _caught_up(got):
                break
        writer_thread.join(TIMEOUT)
        last = service.store.last_event_id()
        expected = steady.wait_for(lambda ev: last in _cursors(ev))
    finally:
        steady.stop()
    assert reconnects > 3
    assert _cursors(seen) == _cursors(expected)   # same events, same order: no gap, no repeat
    assert len(set(_cursors(seen))) == len(seen)
    assert sum(1 for e in seen if e.WhichOneof("kind") == "metrics") == batches


def test_include_children_follows_runs_started_later(service) -> None:
    tracker, parent, child, grandchild, stranger = stub(service.address), new_id(), new_id(), new_id(), new_id()
    with IngestSession(tracker) as session:
        session.send(1, [start(parent), start(stranger)])
        watch = WatchCollector(tracker, pb.WatchRequest(run_id=parent, include_children=True))
        try:
            watch.wait_for(_caught_up)
            session.send(2, [start(child, parent=parent), points(child, "m", [1.0])])
            session.send(3, [start(grandchild, parent=child), points(grandchild, "m", [2.0]),
                             points(stranger, "m", [3.0]), points(parent, "m", [4.0])])
            events = watch.wait_for(lambda ev: any(e.run_id == parent and e.HasField("metrics") for e in ev))
        finally:
            watch.stop()
    by_run = [(e.run_id, e.WhichOneof("kind")) for e in payload_events(events)]
    assert (child, "run") in by_run and (child, "metrics") in by_run
    assert (grandchild, "run") in by_run and (grandchild, "metrics") in by_run
    assert all(run != stranger for run, _ in by_run)


def test_kinds_filter_and_terminal_runs_keep_streaming(service) -> None:
    tracker, run_id = stub(service.address), new_id()
    with IngestSession(tracker) as session:
        session.send(1, [start(run_id)])
        statuses = WatchCollector(tracker, pb.WatchRequest(run_id=run_id, kinds=["status"]))
        metrics = WatchCollector(tracker, pb.WatchRequest(run_id=run_id, kinds=["metrics"]))
        try:
            statuses.wait_for(_caught_up)
            metrics.wait_for(_caught_up)
            session.send(2, [points(run_id, "m", [1.0]), patch(run_id, "Completed")])
            done = statuses.wait_for(lambda ev: any(e.HasField("run") for e in ev))
            assert [e.run.status for e in payload_events(done)] == ["Completed"]
            got = metrics.wait_for(lambda ev: len(payload_events(ev)) == 1)
            assert payload_events(got)[0].HasField("metrics")
            # A terminal run does not end the stream (the client decides when to stop): a change
            # after it still arrives on the same stream.
            session.send(3, [pb.Event(patch=pb.RunPatch(run_id=run_id, set_tags={"note": "late"}))])
            later = statuses.wait_for(lambda ev: len(payload_events(ev)) == 2)
            assert payload_events(later)[-1].run.tags["note"] == "late"
            assert statuses.error is None and statuses.is_open
            assert all(e.HasField("metrics") for e in payload_events(metrics.events))
        finally:
            statuses.stop()
            metrics.stop()


def test_watching_an_unknown_run_is_not_found(service) -> None:
    with pytest.raises(grpc.RpcError) as info:
        list(stub(service.address).Watch(pb.WatchRequest(run_id="nope"), timeout=TIMEOUT))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_stopping_the_server_ends_watch_streams_with_unavailable(service_factory) -> None:
    service = service_factory(with_runner=False)
    watch = WatchCollector(stub(service.address), pb.WatchRequest())
    watch.wait_for(_caught_up)
    started = time.monotonic()
    service.stop(grace=5)
    assert time.monotonic() - started < 4   # the stream ended at its next wake-up, not at the deadline
    watch._thread.join(TIMEOUT)
    assert watch.error is not None and watch.error.code() == grpc.StatusCode.UNAVAILABLE
