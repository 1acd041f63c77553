"""Fuzzing the query RPCs of a real service (issue 5, item 6).

Random requests to every read RPC: unknown runs, bad metric and file names, huge max_points,
offsets and cursors past the end, negative limits, unknown watch kinds. Every answer is OK or
INVALID_ARGUMENT/NOT_FOUND with a message (never INTERNAL/UNKNOWN), the service keeps answering,
and the good run seeded before reads back unchanged.
"""
from __future__ import annotations

import grpc
import pytest
from fuzzkit import fuzzing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tailrun.v1 import tailrun_pb2 as pb

FUZZ = settings(deadline=None, max_examples=120, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def fuzz(service):
    with fuzzing(service) as kit:
        yield kit


TEXT = st.one_of(st.text(max_size=30), st.sampled_from(["", "..", "/etc/passwd", "a\0b", "x" * 5000,
                                                        "outputs/../x", "\\", "%s%n", "' OR 1=1 --"]))
UINT32 = st.one_of(st.integers(0, 2 ** 32 - 1), st.sampled_from([0, 1, 2, 2 ** 32 - 1]))
UINT64 = st.one_of(st.integers(0, 2 ** 64 - 1), st.sampled_from([0, 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1]))
INT32 = st.integers(-2 ** 31, 2 ** 31 - 1)


def queries(good_run: str):
    run = st.one_of(st.just(good_run), TEXT)
    metric = st.one_of(st.sampled_from(["special", "mixed", ""]), TEXT)
    path = st.one_of(st.sampled_from(["outputs/good.bin", "outputs", "logs/user_log.txt"]), TEXT)
    return st.one_of(
        st.builds(lambda r: ("GetRun", pb.GetRunRequest(run_id=r)), run),
        st.builds(lambda r, n: ("GetMetrics", pb.GetMetricsRequest(run_id=r, name=n)), run, metric),
        st.builds(lambda r, n, m, f, t: ("GetSeries", pb.SeriesRequest(run_id=r, name=n, max_points=m,
                                                                       first_index=f, tail=t)),
                  run, metric, UINT32, UINT64, UINT64),
        st.builds(lambda r, p: ("ListFiles", pb.ListFilesRequest(run_id=r, prefix=p)), run, TEXT),
        st.builds(lambda r, p, o, n: ("ReadFile", pb.ReadFileRequest(run_id=r, path=p, offset=o, limit=n)),
                  run, path, UINT64, UINT64),
        st.builds(lambda r, o, t: ("ReadOutput", pb.ReadOutputRequest(run_id=r, offset=o, tail_bytes=t)),
                  run, UINT64, UINT64),
        st.builds(lambda e, p, c, s, lim, tags, rec: ("ListRuns", pb.ListRunsRequest(
            experiment=e, parent_run_id=p, include_children=c, status=s, limit=lim, tags=tags, recursive=rec)),
            st.one_of(st.just("fuzz-good"), TEXT), st.one_of(st.just(""), run), st.booleans(), TEXT, INT32,
            st.dictionaries(TEXT, TEXT, max_size=2), st.booleans()),
        st.builds(lambda v, n: ("ListExperiments", pb.ListExperimentsRequest(view_type=v, name=n)),
                  st.one_of(st.sampled_from(["ActiveOnly", "All", "ArchivedOnly"]), TEXT), TEXT),
        # Never the good run's experiment or the good run: archiving or cancelling them is legal.
        st.builds(lambda n, i, a: ("SetExperimentArchived", pb.SetExperimentArchivedRequest(name=n, id=i, archived=a)),
                  TEXT.filter(lambda t: t != "fuzz-good"), TEXT, st.booleans()),
        st.builds(lambda r: ("CancelRun", pb.CancelRunRequest(run_id=r)), TEXT.filter(lambda t: t != good_run)),
        st.builds(lambda r, e, c, ch, fs, k: ("Watch", pb.WatchRequest(run_id=r, experiment=e, cursor=c,
                                                                      include_children=ch, from_start=fs, kinds=k)),
                  st.one_of(st.just(""), run), st.one_of(st.just(""), TEXT), UINT64, st.booleans(), st.booleans(),
                  st.lists(st.one_of(st.sampled_from(["status", "metrics", "output", "files"]), TEXT), max_size=3)),
    )


@pytest.fixture
def pg_fuzz(pg_service):
    with fuzzing(pg_service) as kit:
        yield kit


@FUZZ
@given(data=st.data())
def test_random_queries_answer_cleanly(fuzz, data):
    check_random_query(fuzz, data)


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_random_queries_on_postgresql(pg_fuzz, data):
    """The same on PostgreSQL, which refuses parameters SQLite takes (a NUL, for one)."""
    check_random_query(pg_fuzz, data)


def check_random_query(fuzz, data) -> None:
    raw, checker, good = fuzz
    name, request = data.draw(queries(good.run_id))
    outcome = raw.call(name, request.SerializeToString())
    outcome.assert_clean(what=f"{name}({request})"[:300])
    checker.service_intact()


@FUZZ
@given(max_points=UINT32, first_index=UINT64, tail=UINT64)
def test_series_of_the_good_run_is_consistent_for_any_window(fuzz, max_points, first_index, tail):
    """Whatever the window, GetSeries answers a subset of the stored points, at most max_points."""
    raw, checker, good = fuzz
    req = pb.SeriesRequest(run_id=good.run_id, name="special", max_points=max_points,
                           first_index=first_index, tail=tail)
    outcome = raw.call("GetSeries", req.SerializeToString())
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    answer = pb.SeriesResponse.FromString(outcome.answers[0])
    assert answer.total_points == len(good.values)
    if max_points:
        assert len(answer.x) <= max_points
    assert set(answer.x) <= {float(s) for s in good.steps}
    start = min(first_index, len(good.values))
    if tail:
        start = max(start, len(good.values) - tail)
    assert len(answer.x) <= len(good.values) - start
    checker.service_intact()


@FUZZ
@given(offset=UINT64, limit=UINT64)
def test_read_file_past_the_end_is_empty_not_an_error(fuzz, offset, limit):
    raw, checker, good = fuzz
    req = pb.ReadFileRequest(run_id=good.run_id, path="outputs/good.bin", offset=offset, limit=limit)
    outcome = raw.call("ReadFile", req.SerializeToString(), max_answers=10_000)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    data = b"".join(pb.FileChunk.FromString(a).data for a in outcome.answers)
    end = len(good.file_bytes) if not limit else min(len(good.file_bytes), offset + limit)
    assert data == good.file_bytes[offset:end]
    checker.service_intact()
