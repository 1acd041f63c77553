"""Store: exactly-once ingest, rejections, runs, experiments (on SQLite and PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
from storekit import Writer, file_chunk, make_store, patch, row, scalar, start, store  # noqa: F401

from tailrun.v1 import tailrun_pb2 as pb
from tailrun_service.errors import InvalidArgument, NotFound


def points(store, run_id, name=""):
    return sum(len(mp.times) for mp in store.iter_metrics(run_id, name))


def test_handshake_dedup_and_replay(store):
    assert store.apply_batch("w1", 0, []).committed_seq == 0  # handshake of a new writer
    batch1 = [start("r1"), scalar("r1", "loss", [1.0, 2.0])]
    assert store.apply_batch("w1", 1, batch1).committed_seq == 1
    cursor = store.last_event_id()
    # The same batch again (a reconnecting writer re-sends its spool): stored once.
    again = store.apply_batch("w1", 1, batch1)
    assert again.committed_seq == 1 and again.rejected == []
    assert points(store, "r1") == 2
    assert store.last_event_id() == cursor
    assert store.apply_batch("w1", 0, []).committed_seq == 1
    assert store.committed_seq("w1") == 1
    assert store.apply_batch("w1", 2, [scalar("r1", "loss", [3.0])]).committed_seq == 2
    # An older batch replayed after a newer one: still nothing stored, ack is cumulative.
    assert store.apply_batch("w1", 1, batch1).committed_seq == 2
    assert points(store, "r1") == 3
    # Writers are independent.
    assert store.apply_batch("w2", 1, [scalar("r1", "loss", [4.0])]).committed_seq == 1
    assert points(store, "r1") == 4
    assert store.committed_seq("nobody") == 0


def test_committed_seq_survives_reopen(make_store):
    first = make_store.open()
    first.apply_batch("w", 1, [start("r1")])
    first.apply_batch("w", 2, [scalar("r1", "m", [1.0])])
    first.close()
    second = make_store.open()
    assert second.apply_batch("w", 0, []).committed_seq == 2
    assert second.apply_batch("w", 2, [scalar("r1", "m", [9.0])]).committed_seq == 2
    assert points(second, "r1") == 1


def test_each_bad_event_is_rejected_with_a_reason_and_the_rest_stored(store):
    w = Writer(store)
    w.send(start("r1"), scalar("r1", "loss", [1.0], steps=[0]), patch("r1", add_properties={"k": "v"}))
    bad_steps_len = scalar("r1", "x", [1.0, 2.0], steps=[1])
    long_name = scalar("r1", "n" * 256, [1.0])
    cases = [
        (scalar("ghost", "loss", [1.0]), "unknown run 'ghost'"),
        (scalar("r1", "loss", [1.0], kind=pb.METRIC_KIND_LIST), "metric kind mismatch"),
        (scalar("r1", "loss", [1.0]), "steps present in some points but not others"),
        (bad_steps_len, "column length mismatch"),
        (pb.Event(metrics=pb.MetricPoints(run_id="r1", name="y", times=[1.0, 2.0],
                                          columns=[pb.Column(values=[1.0])])), "column length mismatch"),
        (scalar("r1", "z", [1.0, 2.0], kinds=[1, 1], ints=[5]), "1 ints for 2 INT points"),
        (long_name, "longer than 255 characters"),
        (file_chunk("r1", "../escape.txt", b"x"), "contains '..'"),
        (file_chunk("r1", "/etc/passwd", b"x"), "is absolute"),
        (start("r2", experiment="bad/name"), "invalid experiment name"),
        (start("r2", experiment="trailing "), "invalid experiment name"),
        (pb.Event(experiment=pb.ExperimentEnsure(name="")), "experiment name is empty"),
        (patch("r1", add_properties={"k": "other"}), "property 'k' is already 'v'"),
        (patch("r1", status="Sleeping"), "unknown run status 'Sleeping'"),
        (pb.Event(), "empty event"),
    ]
    good = [scalar("r1", "loss", [2.0], steps=[1]), start("r3"), patch("r1", set_tags={"t": "1"})]
    result = w.send(*[c[0] for c in cases], *good)
    assert result.committed_seq == w.seq
    assert len(result.rejected) == len(cases)
    for reason, (_, expected) in zip(result.rejected, cases):
        assert expected in reason and "\n" not in reason
    assert points(store, "r1", "loss") == 2
    info = store.get_run("r1")
    assert info.tags == {"t": "1"} and info.properties == {"k": "v"}
    assert store.get_run("r3").status == "Running"
    with pytest.raises(NotFound):
        store.get_run("r2")


def test_allowed_callback_limits_a_run_token(store):
    w = Writer(store)
    w.send(start("mine"), start("other"))
    only_mine = lambda run_id, event: run_id == "mine"  # noqa: E731
    result = w.send(scalar("mine", "m", [1.0]), scalar("other", "m", [1.0]),
                    pb.Event(experiment=pb.ExperimentEnsure(name="new-exp")), allowed=only_mine)
    assert result.rejected == ["token may not write run 'other'"]
    assert points(store, "mine") == 1 and points(store, "other") == 0
    assert [e.name for e in store.list_experiments(name="new-exp")] == ["new-exp"]


def test_run_start_is_idempotent_and_numbers_runs_per_experiment(store):
    w = Writer(store)
    w.send(start("a1", "A"), start("a2", "A"), start("b1", "B"), start("a1", "A", display_name="x"))
    w.send(start("a3", "A"))
    assert [store.get_run(r).number for r in ("a1", "a2", "a3", "b1")] == [1, 2, 3, 1]
    assert store.get_run("a1").display_name == ""  # the repeated start changed nothing


def test_run_start_of_a_submitted_run_keeps_its_definition(store):
    Writer(store).send(start("E_1_ab", "E", status="Queued", run_type="script", submitted_by="me",
                             run_definition_json='{"script": "train.py"}', target="local",
                             script="train.py", arguments=["--lr", "0.1"]))
    info = store.get_run("E_1_ab")
    assert (info.run_definition_json, info.target, info.script) == ('{"script": "train.py"}', "local", "train.py")
    assert list(info.arguments) == ["--lr", "0.1"] and info.run_type == "script" and info.submitted_by == "me"
    info = store.set_run_definition("E_1_ab", run_definition_json="{}", script="other.py")
    assert info.script == "other.py" and list(info.arguments) == []
    with pytest.raises(NotFound):
        store.set_run_definition("ghost")


def test_run_patch_status_times_tags_properties_warnings(store):
    w = Writer(store)
    w.send(start("r", status="Queued", time=100.0, tags={"a": "1", "b": "2"}))
    info = store.get_run("r")
    assert info.status == "Queued" and info.start_time == 0 and info.created_time == 100.0
    w.send(patch("r", status="Running", time=110.0), patch("r", remove_tags=["a"], set_tags={"c": "3"}),
           patch("r", add_properties={"p": "1"}, warnings=["careful"], display_name="nice"),
           patch("r", add_properties={"p": "1"}))  # the same value again is fine
    w.send(patch("r", status="Failed", time=150.0, error_json='{"error": {"message": "boom"}}'),
           pb.Event(heartbeat=pb.Heartbeat(run_id="r", time=149.0)))
    info = store.get_run("r")
    assert (info.status, info.start_time, info.end_time) == ("Failed", 110.0, 150.0)
    assert info.tags == {"b": "2", "c": "3"} and info.properties == {"p": "1"}
    assert list(info.warnings) == ["careful"] and info.display_name == "nice"
    assert "boom" in info.error_json and info.last_heartbeat == 149.0


def test_heartbeat_writes_no_watch_event(store):
    w = Writer(store)
    w.send(start("r"))
    cursor = store.last_event_id()
    w.send(pb.Event(heartbeat=pb.Heartbeat(run_id="r", time=5.0, pid=1, host="h")))
    assert store.last_event_id() == cursor
    assert store.get_run("r").last_heartbeat == 5.0


def test_run_info_has_metric_names_and_last_values(store):
    w = Writer(store)
    w.send(start("r"), scalar("r", "loss", [3.0, 2.0]), scalar("r", "acc", [0.5, float("nan")]),
           row("r", "table", {"x": [1.0]}), scalar("r", "note", [float("nan")], kinds=[4], strs=["hi"]))
    info = store.get_run("r")
    assert list(info.metric_names) == ["loss", "acc", "table", "note"]
    assert dict(info.last_metrics) == {"loss": 2.0, "acc": 0.5}


def test_list_runs_filters(store):
    w = Writer(store)
    w.send(start("p1", "E", time=1.0, tags={"team": "a", "x": ""}, properties={"k": "1"}),
           start("p2", "E", time=2.0, tags={"team": "b"}),
           start("q1", "F", time=3.0, status="Queued"),
           start("c1", "E", parent_run_id="p1", time=4.0, run_type="child"),
           start("g1", "E", parent_run_id="c1", time=5.0))
    ids = lambda **kw: [r.run_id for r in store.list_runs(pb.ListRunsRequest(**kw))]  # noqa: E731
    assert ids() == ["q1", "p2", "p1"]  # newest first, top-level only
    assert ids(include_children=True) == ["g1", "c1", "q1", "p2", "p1"]
    assert ids(experiment="E") == ["p2", "p1"]
    assert ids(parent_run_id="p1") == ["c1"]
    assert ids(parent_run_id="p1", recursive=True) == ["g1", "c1"]
    assert ids(tags={"team": "a"}) == ["p1"]
    assert ids(tags={"team": ""}) == ["p2", "p1"]
    assert ids(tags={"team": "a", "x": ""}) == ["p1"]
    assert ids(properties={"k": "1"}) == ["p1"]
    assert ids(status="Queued") == ["q1"]
    assert ids(limit=2) == ["q1", "p2"]
    assert ids(tags={"team": ""}, limit=1) == ["p2"]
    assert ids(experiment="nope") == []


def test_list_runs_pages(store, monkeypatch):
    """Pages by count, by bytes and across a tag filter and a limit: every run once, in order."""
    from tailrun_service.store import queries

    w = Writer(store)
    w.send(*[start(f"r{i:02d}", "E", time=float(i + 1), tags={"even": ""} if i % 2 == 0 else {})
             for i in range(25)])
    w.send(*[scalar(f"r{i:02d}", name, [float(i)]) for i in range(25) for name in ("loss", "acc")])

    def pages(**kw):
        req = pb.ListRunsRequest(experiment="E", **kw)
        out = []
        while True:
            page = store.list_runs_page(req)
            out.append(page)
            if not page.next_page_token:
                return out
            req.page_token = page.next_page_token

    newest_first = [f"r{i:02d}" for i in range(24, -1, -1)]
    got = pages(page_size=4)
    assert [len(p.runs) for p in got] == [4] * 6 + [1]
    assert [r.run_id for p in got for r in p.runs] == newest_first
    assert [r.run_id for p in pages(page_size=4, limit=10) for r in p.runs] == newest_first[:10]
    evens = [r.run_id for p in pages(page_size=3, limit=5, tags={"even": ""}) for r in p.runs]
    assert evens == ["r24", "r22", "r20", "r18", "r16"]
    # A page stops at the byte budget, but always carries one run.
    monkeypatch.setattr(queries, "PAGE_BYTES", 1)
    assert [len(p.runs) for p in pages()] == [1] * 25
    monkeypatch.undo()
    # What a list shows: the asked columns only, no names; and the names it can offer.
    page = store.list_runs_page(pb.ListRunsRequest(experiment="E", select_metrics=True,
                                                   metric_columns=["acc"], list_metric_names=True))
    assert all(dict(r.last_metrics) == {"acc": float(r.number - 1)} and not r.metric_names for r in page.runs)
    assert list(page.metric_names) == ["acc", "loss"]
    full = store.list_runs_page(pb.ListRunsRequest(experiment="E", limit=1)).runs[0]
    assert list(full.metric_names) == ["loss", "acc"] and dict(full.last_metrics) == {"loss": 24.0, "acc": 24.0}
    with pytest.raises(InvalidArgument, match="page_token"):
        store.list_runs_page(pb.ListRunsRequest(page_token="not-a-token"))
    with pytest.raises(InvalidArgument, match="page_size"):
        store.list_runs_page(pb.ListRunsRequest(page_size=-1))


def test_experiments_counts_archive_and_name_reuse(store):
    w = Writer(store)
    w.send(start("r1", "E", status="Completed"), start("r2", "E"), start("r3", "F"))
    exps = {e.name: e for e in store.list_experiments()}
    assert (exps["E"].run_count, exps["E"].running_count) == (2, 1)
    assert exps["E"].last_activity >= exps["E"].created_time > 0
    old_id = exps["E"].id
    archived = store.set_experiment_archived("E", "", True)
    assert archived.archived_time > 0 and archived.id == old_id
    assert [e.name for e in store.list_experiments()] == ["F"]
    assert [e.id for e in store.list_experiments("ArchivedOnly")] == [old_id]
    # A new write to the archived name creates a fresh active experiment, numbering from 1.
    w.send(start("r4", "E"))
    fresh = store.list_experiments(name="E")
    assert len(fresh) == 1 and fresh[0].id != old_id and fresh[0].run_count == 1
    assert store.get_run("r4").number == 1
    assert len(store.list_experiments("All", name="E")) == 2
    with pytest.raises(InvalidArgument, match="active experiment with that name"):
        store.set_experiment_archived("", old_id, False)
    store.set_experiment_archived("E", fresh[0].id, True)
    assert store.set_experiment_archived("", old_id, False).archived_time == 0
    with pytest.raises(InvalidArgument, match="view_type"):
        store.list_experiments("Everything")
    with pytest.raises(NotFound):
        store.set_experiment_archived("missing", "", True)


def test_concurrent_writers_on_one_run(make_store):
    """Several replicas and threads writing the same metric: every point once, no lost update."""
    stores = [make_store.open(), make_store.open()]
    Writer(stores[0]).send(start("r"))
    errors = []

    def work(i):
        try:
            w = Writer(stores[i % 2])
            for k in range(10):
                w.send(scalar("r", "m", [float(i * 100 + k)] * 5), patch("r", set_tags={f"t{i}": str(k)}))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    chunks = list(stores[1].iter_metrics("r", "m"))
    assert sum(len(c.times) for c in chunks) == 200
    assert [c.first_index for c in chunks] == [5 * i for i in range(40)]
    assert stores[0].get_run("r").tags == {f"t{i}": "9" for i in range(4)}
    ids = [e.cursor for e in stores[0].events_after(0, limit=1000)]
    assert ids == sorted(ids) and len(ids) == 1 + 4 * 10 * 2
