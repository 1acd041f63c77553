"""Lists and reads at the documented limits: 14 runs of 10,000 metric names of 250 characters each
made one ListRuns answer larger than the 64 MiB a client accepts, so `tailrun runs`, the SDK and
the UI failed forever. The list is paged (by count and bytes) and sends only what it shows."""
from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from tailrun.v1 import tailrun_pb2 as pb

RUNS = 14
NAMES = 10_000
NAME_CHARS = 250
EXPERIMENT = "big-names"


def _name(i: int) -> str:
    return f"m{i:05d}-".ljust(NAME_CHARS, "x")


def _ingest_run(store, names: int, experiment: str = EXPERIMENT) -> str:
    """A run with `names` scalar metrics, one point each, through the real ingest."""
    run_id = f"big-00-{uuid.uuid4().hex[:8]}"
    writer = f"test-{uuid.uuid4().hex}"
    store.apply_batch(writer, 1, [pb.Event(start=pb.RunStart(
        run_id=run_id, experiment=experiment, run_type="interactive", status="Running", time=time.time()))])
    events = [pb.Event(metrics=pb.MetricPoints(
        run_id=run_id, name=_name(i), kind=pb.METRIC_KIND_SCALAR, times=[time.time()],
        columns=[pb.Column(values=[float(i)])])) for i in range(names)]
    for seq, i in enumerate(range(0, len(events), 2000), start=2):
        result = store.apply_batch(writer, seq, events[i:i + 2000])
        assert not result.rejected, result.rejected[:3]
    return run_id


def _clone_run(store, source: str, k: int) -> str:
    """A copy of `source`'s run row and metric rows (names and last values) under a new id, made
    in SQL: ingesting 130,000 new metric names takes minutes (see ingest_metrics._metric_state)."""
    from sqlalchemy import insert, literal, select

    from tailrun_service.store.schema import metrics, runs

    run_id = f"big-{k:02d}-{uuid.uuid4().hex[:8]}"
    changed = {"run_id": literal(run_id), "number": runs.c.number + k,
               "created_time": runs.c.created_time + k}
    run_columns = [c.name for c in runs.c]
    metric_columns = [c.name for c in metrics.c if c.name != "id"]
    with store.db.write() as conn:
        conn.execute(insert(runs).from_select(run_columns, select(
            *[changed.get(name, runs.c[name]) for name in run_columns]).where(runs.c.run_id == source)))
        conn.execute(insert(metrics).from_select(metric_columns, select(
            *[literal(run_id) if name == "run_id" else metrics.c[name] for name in metric_columns])
            .where(metrics.c.run_id == source)))
    return run_id


def _fill(store, runs: int, names: int) -> list[str]:
    first = _ingest_run(store, names)
    return [first] + [_clone_run(store, first, k) for k in range(1, runs)]


@pytest.fixture(scope="module")
def big_service(tmp_path_factory):
    """One service holding the 14 big runs, shared by this module's tests (filling takes a while)."""
    from tailrun_service.server import serve

    svc = serve(host="127.0.0.1", port=0, data_dir=tmp_path_factory.mktemp("big"), with_runner=False)
    try:
        svc.ids = _fill(svc.store, RUNS, NAMES)
        yield svc
    finally:
        svc.stop(grace=1)


@pytest.mark.slow
def test_the_whole_list_is_over_the_message_limit(big_service):
    """The premise: every run with all its metric names would not fit one message."""
    whole = sum(big_service.store.get_run(run_id).ByteSize() for run_id in big_service.ids)
    assert whole > 64 * 1024 * 1024


@pytest.mark.slow
def test_cli_runs_lists_every_run(big_service):
    out = subprocess.run([sys.executable, "-m", "tailrun.cli", "runs", EXPERIMENT, "--address",
                          big_service.address], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[1] for line in out.stdout.splitlines()[1:]}
    assert listed == set(big_service.ids)


@pytest.fixture
def big_ws(big_service):
    """A Workspace on the big service, with a fresh SDK recorder (it is process-wide)."""
    from recorder_reset import reset_recorder

    from tailrun import Workspace

    reset_recorder()
    yield Workspace(address=big_service.address)
    reset_recorder()


@pytest.mark.slow
def test_sdk_get_runs_and_get_run(big_service, big_ws):
    from tailrun import Experiment

    ws = big_ws
    runs = list(Experiment(ws, EXPERIMENT).get_runs())
    assert sorted(r.id for r in runs) == sorted(big_service.ids)
    # One run with every name and last value still fits one GetRun answer.
    info = ws._client().get_run(big_service.ids[0])
    assert len(info.metric_names) == NAMES and len(info.last_metrics) == NAMES
    assert info.ByteSize() < 16 * 1024 * 1024


@pytest.mark.slow
def test_pages_stay_under_the_byte_budget_and_cover_the_list_once(big_service):
    """Full RunInfos (as an old reader asks): several pages, each well under the limit, no run twice."""
    from tailrun.client import Client
    from tailrun._settings import Settings
    from tailrun_service.store.queries import PAGE_BYTES

    with Client(Settings(big_service.address, None)) as client:
        req = pb.ListRunsRequest(experiment=EXPERIMENT)
        seen: list[str] = []
        pages = 0
        while True:
            page = client._unary("ListRuns", req, "listing runs")
            pages += 1
            assert page.ByteSize() <= PAGE_BYTES + 4 * 1024 * 1024
            seen += [r.run_id for r in page.runs]
            assert all(len(r.metric_names) == NAMES for r in page.runs)
            if not page.next_page_token:
                break
            req.page_token = page.next_page_token
    assert pages > 1 and sorted(seen) == sorted(big_service.ids)


@pytest.mark.slow
def test_ui_client_lists_runs_with_only_its_columns(big_service):
    from tailrun._settings import Settings
    from tailrun.client import Client

    with Client(Settings(big_service.address, None)) as client:
        listing = client.list_runs_and_metric_names(experiment=EXPERIMENT, metric_columns=[_name(3), _name(7)])
    assert sorted(r.run_id for r in listing.runs) == sorted(big_service.ids)
    assert all(dict(r.last_metrics) == {_name(3): 3.0, _name(7): 7.0} for r in listing.runs)
    assert all(not r.metric_names for r in listing.runs)
    assert len(listing.metric_names) == NAMES   # the columns the list can offer


@pytest.mark.slow
def test_get_metrics_on_ten_thousand_names(big_service, capsys):
    """GetMetrics of a run with 10,000 metrics answers every metric (it took 9-13 s: one short
    read per metric). The time is reported, not asserted."""
    from tailrun.client import Client
    from tailrun._settings import Settings

    with Client(Settings(big_service.address, None)) as client:
        started = time.perf_counter()
        chunks = client.get_metrics(big_service.ids[0])
        took = time.perf_counter() - started
    assert len({c.name for c in chunks}) == NAMES
    assert sorted(c.columns[0].values[0] for c in chunks) == [float(i) for i in range(NAMES)]
    with capsys.disabled():
        print(f"\nGetMetrics of {NAMES} metrics: {took:.2f} s")


@pytest.mark.slow
def test_ui_runs_screen_lists_the_big_runs(big_service):
    """The UI's runs list: every run, with the first metric columns and their last values."""
    import asyncio

    from tailrun._settings import Settings
    from tailrun_tui.app import TailrunApp
    from tailrun_tui.screens.runs import MAX_METRIC_COLUMNS, RunsScreen

    async def scenario() -> None:
        app = TailrunApp(Settings(big_service.address, None), experiment=EXPERIMENT)
        async with app.run_test(size=(160, 40)) as pilot:
            wanted = [_name(i) for i in range(MAX_METRIC_COLUMNS)]
            for _ in range(600):   # until the rows and the columns' values arrived (a signal, not a sleep)
                await pilot.pause(0.05)
                screen = app.screen
                table = screen.query_one("#runs") if isinstance(screen, RunsScreen) else None
                if table is not None and len(table.runs) == RUNS and table.metric_columns == wanted and all(
                        dict(r.last_metrics) == {n: float(i) for i, n in enumerate(wanted)}
                        for r in table.runs.values()):
                    break
            else:
                raise AssertionError("the runs list did not show the runs with their metric columns")
            assert len(table.metric_names()) == NAMES
            assert table.row_count == RUNS

    asyncio.run(scenario())


def test_sdk_and_cli_follow_pages(service, ws):
    """More runs than one page holds: get_runs, get_children and `tailrun runs --all` list each once."""
    from tailrun import Experiment, Run
    from tailrun_service.store.queries import DEFAULT_PAGE_SIZE

    count = DEFAULT_PAGE_SIZE + 5
    parent = "many-parent"
    events = [pb.Event(start=pb.RunStart(run_id=parent, experiment="many", time=1.0))]
    events += [pb.Event(start=pb.RunStart(run_id=f"top-{i:03d}", experiment="many", time=2.0 + i))
               for i in range(count)]
    events += [pb.Event(start=pb.RunStart(run_id=f"kid-{i:03d}", experiment="many", time=2.0 + i,
                                          parent_run_id=parent)) for i in range(count)]
    service.store.apply_batch("many-writer", 1, events)
    top = [r.id for r in Experiment(ws, "many").get_runs()]
    assert top == [f"top-{i:03d}" for i in reversed(range(count))] + [parent]   # newest first, once each
    assert len(list(Experiment(ws, "many").get_runs(include_children=True))) == 2 * count + 1
    children = [r.id for r in Run.get(ws, parent).get_children()]
    assert children == [f"kid-{i:03d}" for i in reversed(range(count))]
    out = subprocess.run([sys.executable, "-m", "tailrun.cli", "runs", "--all", "--address", service.address],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 2 * count + 2   # header + every run
