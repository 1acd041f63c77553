"""Fuzzing the Ingest stream of a real service (issue 5, item 6).

Random and malformed IngestRequests: random bytes and mutated valid messages sent raw, wrong
oneof combinations, huge strings, invalid UTF-8 inside string fields, NaN and +-inf, int64-extreme
steps, unknown run ids, column length mismatches, unsafe artifact paths, offsets past any file.
After every example the service still answers, a refusal is INVALID_ARGUMENT/NOT_FOUND with a
message (a refused event is a one-line `rejected` entry of an OK ack), and a good run seeded
before the fuzzing reads back byte for byte. NaN (with payload) and +-inf round-trip bit-exactly.
A seq past the writer's committed + 1 is refused with FAILED_PRECONDITION "writer W: expected seq
N, got M" (contract C1), and every metric event the service accepts decodes on read (issue 8,
item 14): a value no reader could decode is refused on ingest.
"""
from __future__ import annotations

import re
import struct
import uuid
import warnings

import grpc
import pytest
from fuzzkit import (
    CLEAN_REFUSALS,
    INT64_MAX,
    INT64_MIN,
    SPECIAL_FLOAT_BITS,
    bits_to_float,
    float_bits,
    fuzzing,
    start_target_run,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tailrun.metrics_shape import collect, decode_column, series, shape
from tailrun.v1 import tailrun_pb2 as pb

FUZZ = settings(deadline=None, max_examples=120, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


@pytest.fixture
def fuzz(service):
    with fuzzing(service) as (raw, checker, _good):
        yield raw, checker, start_target_run(raw), service


@pytest.fixture
def pg_fuzz(pg_service):
    with fuzzing(pg_service) as (raw, checker, _good):
        yield raw, checker, start_target_run(raw), pg_service


@pytest.fixture
def lenient(fuzz):
    """`fuzz`, for tests of unparsable bytes: the server registers the Tracker with
    tailrun_service.registration.add_to_server, which answers them INVALID_ARGUMENT (grpc's generated
    registration would answer INTERNAL 'Exception deserializing request!')."""
    outcome = fuzz[0].call("GetRun", b"\xff")
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, outcome.details
    return fuzz


# ---------------------------------------------------------------- strategies

NASTY_TEXT = st.sampled_from(["", " ", "..", ".", "/", "\\", "\0", "a\0b", "é", "\u2603" * 3, "x" * 300,
                              "\ud7ff", "\U0001F600", "\n", "a/../b", "-", "A" * 256])
TEXT = st.one_of(st.text(max_size=40), NASTY_TEXT)
HUGE_TEXT = st.integers(60_000, 300_000).map(lambda n: "\u00e9" * n)
ANY_FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                      st.sampled_from(SPECIAL_FLOAT_BITS).map(bits_to_float))
INT64 = st.one_of(st.integers(INT64_MIN, INT64_MAX), st.sampled_from([INT64_MIN, INT64_MAX, -1, 0]))
UINT64 = st.one_of(st.integers(0, 2 ** 64 - 1), st.sampled_from([0, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1]))
UNSAFE_PATHS = st.sampled_from(["../x", "outputs/../../etc/passwd", "/etc/passwd", "outputs\\a.txt",
                                "outputs/a\0b", "", "outputs//a", "./a", "outputs/.", "a/" * 600,
                                "C:\\x", "\\\\server\\share", "outputs/" + "n" * 300])
PATHS = st.one_of(UNSAFE_PATHS, st.text(max_size=30), st.just("outputs/ok.txt"), st.just("logs/live.txt"))


@st.composite
def columns(draw, n: int) -> pb.Column:
    length = draw(st.sampled_from([n, n, n, max(0, n - 1), n + 1]))
    col = pb.Column(name=draw(st.one_of(st.just(""), TEXT)), values=draw(st.lists(ANY_FLOAT, min_size=length,
                                                                                    max_size=length)))
    if draw(st.booleans()):
        col.kinds = draw(st.binary(min_size=length, max_size=length + 1))
        col.ints.extend(draw(st.lists(INT64, max_size=4)))
        col.strs.extend(draw(st.lists(st.one_of(TEXT, HUGE_TEXT), max_size=3)))
    return col


@st.composite
def metric_events(draw, run_ids) -> pb.Event:
    n = draw(st.integers(0, 12))
    mp = pb.MetricPoints(run_id=draw(run_ids), name=draw(st.one_of(st.just("m"), TEXT)),
                         kind=draw(st.integers(0, 9)), description=draw(st.one_of(st.just(""), TEXT)))
    mp.times.extend(draw(st.lists(ANY_FLOAT, min_size=n, max_size=n)))
    mp.steps.extend(draw(st.one_of(st.just([]), st.lists(INT64, min_size=max(0, n - 1), max_size=n + 1))))
    mp.columns.extend(draw(st.lists(columns(n), max_size=3)))
    return pb.Event(metrics=mp)


@st.composite
def file_events(draw, run_ids) -> pb.Event:
    return pb.Event(file=pb.FileChunk(run_id=draw(run_ids), path=draw(PATHS), offset=draw(UINT64),
                                      data=draw(st.binary(max_size=64)), last=draw(st.booleans()),
                                      append=draw(st.booleans())))


@st.composite
def run_events(draw, run_ids) -> pb.Event:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return pb.Event(start=pb.RunStart(
            run_id=draw(st.one_of(run_ids, TEXT)), experiment=draw(st.one_of(st.just("e"), TEXT)),
            status=draw(st.one_of(st.just(""), st.just("Running"), TEXT)),
            description=draw(st.one_of(st.just(""), HUGE_TEXT)), time=draw(ANY_FLOAT),
            tags=draw(st.dictionaries(TEXT, TEXT, max_size=3)), parent_run_id=draw(st.one_of(st.just(""), TEXT)),
            arguments=draw(st.lists(TEXT, max_size=3)), run_type=draw(TEXT)))
    if choice == 1:
        patch = pb.RunPatch(run_id=draw(run_ids), time=draw(ANY_FLOAT),
                            set_tags=draw(st.dictionaries(TEXT, st.one_of(TEXT, HUGE_TEXT), max_size=3)),
                            remove_tags=draw(st.lists(TEXT, max_size=3)),
                            add_properties=draw(st.dictionaries(TEXT, TEXT, max_size=2)),
                            warnings=draw(st.lists(TEXT, max_size=2)))
        for name in ("status", "display_name", "description", "error_json"):
            if draw(st.booleans()):
                setattr(patch, name, draw(TEXT))
        return pb.Event(patch=patch)
    if choice == 2:
        return pb.Event(heartbeat=pb.Heartbeat(run_id=draw(run_ids), time=draw(ANY_FLOAT),
                                               pid=draw(st.integers(-2 ** 31, 2 ** 31 - 1)), host=draw(TEXT)))
    return pb.Event(experiment=pb.ExperimentEnsure(name=draw(TEXT)))


def events(run_ids):
    return st.one_of(metric_events(run_ids), file_events(run_ids), run_events(run_ids), st.just(pb.Event()))


def request_for(target: str, draw_events, writer=None, seq=None):
    return st.builds(
        lambda evs, w, s: pb.IngestRequest(writer=w, seq=s, events=evs),
        st.lists(draw_events, max_size=6),
        writer if writer is not None else st.one_of(st.builds(lambda: f"w-{uuid.uuid4().hex}"),
                                                    st.just("fuzz-writer"), TEXT, st.just("w" * 300)),
        seq if seq is not None else st.one_of(st.just(1), st.integers(1, 2 ** 40), UINT64))


def run_ids_for(target: str):
    return st.one_of(st.just(target), st.just(target), TEXT, st.builds(lambda: str(uuid.uuid4())))


SEQ_GAP = re.compile(r"writer .*: expected seq \d+, got \d+", re.DOTALL)


def assert_acked_cleanly(outcome, raw) -> None:
    outcome.assert_clean(CLEAN_REFUSALS | {grpc.StatusCode.FAILED_PRECONDITION}, what="Ingest")
    if outcome.code == grpc.StatusCode.FAILED_PRECONDITION:   # only a seq gap (contract C1)
        assert SEQ_GAP.fullmatch(outcome.details), outcome.details
    for ack in raw.acks(outcome):
        for line in ack.rejected:
            assert line.strip() and "\n" not in line.strip(), f"a rejection is not one line: {line!r}"
            assert "Error" not in line.split(":")[0], f"a rejection leaks an exception name: {line!r}"


# ---------------------------------------------------------------- structured fuzzing

@FUZZ
@given(data=st.data())
def test_random_requests_are_stored_or_refused_cleanly(fuzz, data):
    check_random_request(fuzz, data)


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_random_requests_on_postgresql(pg_fuzz, data):
    """The same on PostgreSQL, whose text columns refuse what SQLite takes (NUL, for one)."""
    check_random_request(pg_fuzz, data)


def check_random_request(fuzz, data) -> None:
    raw, checker, target, _ = fuzz
    request = data.draw(request_for(target, events(run_ids_for(target))))
    outcome = raw.ingest(request)
    assert_acked_cleanly(outcome, raw)
    if outcome.code == grpc.StatusCode.OK:
        ack = raw.acks(outcome)[-1]
        assert ack.writer == request.writer
        assert ack.committed_seq >= request.seq or request.seq == 0
    if outcome.code == grpc.StatusCode.FAILED_PRECONDITION:
        assert request.seq > 1 and f", got {request.seq}" in outcome.details
    checker.service_intact()


@FUZZ
@given(data=st.data())
def test_every_bad_event_is_rejected_alone(fuzz, data):
    """A batch mixing random events with one good point: the good point is stored whatever else is
    refused (a bad event never takes its batch down)."""
    raw, checker, target, _ = fuzz
    bad = data.draw(st.lists(events(run_ids_for(target)), min_size=1, max_size=5))
    name = f"sentinel-{uuid.uuid4().hex[:8]}"
    good = pb.Event(metrics=pb.MetricPoints(run_id=target, name=name, times=[1.0], steps=[3],
                                            columns=[pb.Column(values=[2.5])]))
    position = data.draw(st.integers(0, len(bad)))
    batch = bad[:position] + [good] + bad[position:]
    outcome = raw.ingest(pb.IngestRequest(writer=f"w-{uuid.uuid4().hex}", seq=1, events=batch))
    assert_acked_cleanly(outcome, raw)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    series = raw.call("GetSeries", pb.SeriesRequest(run_id=target, name=name).SerializeToString())
    assert series.code == grpc.StatusCode.OK, series.details
    answer = pb.SeriesResponse.FromString(series.answers[0])
    assert (list(answer.x), list(answer.y)) == ([3.0], [2.5])
    checker.service_intact()


# ---------------------------------------------------------------- raw bytes

@st.composite
def mutated(draw) -> bytes:
    """A valid serialized IngestRequest with bytes flipped, cut or inserted."""
    request = draw(request_for("x", events(st.just("x")), writer=st.just("mut"), seq=st.just(1)))
    data = bytearray(request.SerializeToString() or b"\x0a\x01m")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.integers(0, 2))
        if how == 0 and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif how == 1:
            del data[at:at + draw(st.integers(1, 8))]
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def invalid_utf8_request(field_path: str, junk: bytes) -> bytes:
    """An IngestRequest with `junk` (not UTF-8) as one string field, encoded by hand."""
    def ld(number: int, payload: bytes) -> bytes:  # a length-delimited field
        return bytes([number << 3 | 2]) + _varint(len(payload)) + payload

    if field_path == "writer":
        return ld(1, junk) + bytes([2 << 3]) + _varint(1)
    inner = {"metrics.name": ld(1, ld(1, b"r") + ld(2, junk)),
             "file.path": ld(2, ld(1, b"r") + ld(2, junk)),
             "start.experiment": ld(5, ld(1, b"r") + ld(2, junk)),
             "patch.tags": ld(4, ld(1, b"r") + ld(3, ld(1, junk) + ld(2, b"v"))),
             "column.strs": ld(1, ld(1, b"r") + ld(2, b"m") + ld(6, ld(5, junk)))}[field_path]
    return ld(1, b"utf8-writer") + bytes([2 << 3]) + _varint(1) + ld(3, inner)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


INVALID_UTF8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80", b"ok\x80ok",
                                b"\xf8\x88\x80\x80\x80", b"\xc0\xaf"])


@FUZZ
@given(blob=st.one_of(st.binary(min_size=1, max_size=300), mutated()))
def test_random_bytes_never_crash_the_stream(lenient, blob):
    raw, checker, _, _ = lenient
    outcome = raw.ingest(blob)
    assert_acked_cleanly(outcome, raw)
    checker.service_intact()


@FUZZ
@given(where=st.sampled_from(["writer", "metrics.name", "file.path", "start.experiment", "patch.tags",
                              "column.strs"]), junk=INVALID_UTF8)
def test_invalid_utf8_in_a_string_is_invalid_argument(lenient, where, junk):
    raw, checker, _, _ = lenient
    outcome = raw.ingest(invalid_utf8_request(where, junk))
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, (outcome.code, outcome.details)
    assert "IngestRequest" in outcome.details and "UTF-8" in outcome.details
    checker.service_intact()


def test_random_bytes_to_every_method_are_invalid_argument(lenient):
    raw, checker, _, _ = lenient
    for name, (client_streaming, _) in raw.streaming.items():
        outcome = raw.call(name, [b"\xff\xff\xff"] if client_streaming else b"\xff\xff\xff")
        assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT, (name, outcome.code, outcome.details)
        assert "malformed tailrun.v1." in outcome.details
    checker.service_intact()


# ---------------------------------------------------------------- values

@FUZZ
@given(values=st.lists(ANY_FLOAT, min_size=1, max_size=40), data=st.data())
def test_nan_inf_and_extreme_steps_round_trip_bit_exactly(fuzz, values, data):
    raw, checker, target, _ = fuzz
    steps = data.draw(st.lists(INT64, min_size=len(values), max_size=len(values)))
    name = f"float-{uuid.uuid4().hex[:8]}"
    outcome = raw.ingest(pb.IngestRequest(writer=f"w-{uuid.uuid4().hex}", seq=1, events=[
        pb.Event(metrics=pb.MetricPoints(run_id=target, name=name, times=values, steps=steps,
                                         columns=[pb.Column(values=values)]))]))
    assert outcome.code == grpc.StatusCode.OK and list(raw.acks(outcome)[0].rejected) == []
    read = raw.call("GetMetrics", pb.GetMetricsRequest(run_id=target, name=name).SerializeToString())
    assert read.code == grpc.StatusCode.OK, read.details
    points = [pb.MetricData.FromString(a).points for a in read.answers]
    assert float_bits(v for p in points for v in p.columns[0].values) == float_bits(values)
    assert float_bits(t for p in points for t in p.times) == float_bits(values)
    assert [s for p in points for s in p.steps] == steps
    checker.service_intact()


def test_oversized_message_is_refused_with_a_clear_status(fuzz):
    """The server takes messages up to 16 MiB (grpc.max_receive_message_length); a bigger one is
    refused by grpc with RESOURCE_EXHAUSTED naming both sizes, and the service goes on."""
    from tailrun_service.server import MAX_RECEIVE_BYTES

    raw, checker, target, _ = fuzz
    assert MAX_RECEIVE_BYTES == 16 * 1024 * 1024
    chunk = pb.Event(file=pb.FileChunk(run_id=target, path="outputs/big.bin", data=b"\0" * (MAX_RECEIVE_BYTES + 1)))
    outcome = raw.ingest(pb.IngestRequest(writer="big", seq=1, events=[chunk]))
    assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED, (outcome.code, outcome.details)
    assert "larger than max" in outcome.details
    just_under = pb.Event(file=pb.FileChunk(run_id=target, path="outputs/under.bin", data=b"\1" * (8 << 20),
                                            last=True))
    outcome = raw.ingest(pb.IngestRequest(writer="under", seq=1, events=[just_under]))
    assert outcome.code == grpc.StatusCode.OK and list(raw.acks(outcome)[0].rejected) == []
    checker.service_intact()


# Texts for BIGINT points: integers (in and past int64) and texts that are not canonical integers.
BIGINT_TEXT = st.one_of(st.integers().map(str), st.integers(min_value=2 ** 63).map(str), TEXT,
                        st.sampled_from(["not a number", " 1", "1 ", "1_0", "\u0661\u0662", "-", "+5", "0x10",
                                         "1e5", "007", "-0", "9" * 4300, "9" * 4301]))


@st.composite
def typed_column(draw, n: int, name: str) -> pb.Column:
    """A column whose side values agree with its kinds (so the event gets past the length checks):
    kind 6 is unknown, BIGINT texts may not be integers."""
    kinds = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    return pb.Column(name=name, values=[draw(ANY_FLOAT) for _ in kinds], kinds=bytes(kinds),
                     ints=[draw(INT64) for k in kinds if k == 1],
                     strs=[draw(TEXT if k == 4 else BIGINT_TEXT) for k in kinds if k in (4, 5)])


@st.composite
def typed_metric(draw, run_id: str, name: str) -> pb.Event:
    kind = draw(st.sampled_from([pb.METRIC_KIND_SCALAR, pb.METRIC_KIND_LIST, pb.METRIC_KIND_ROW,
                                 pb.METRIC_KIND_TABLE]))
    n = draw(st.integers(1, 6))
    ncols = draw(st.integers(1, 3)) if kind in (pb.METRIC_KIND_ROW, pb.METRIC_KIND_TABLE) else 1
    mp = pb.MetricPoints(run_id=run_id, name=name, kind=kind, times=[float(i) for i in range(n)],
                         columns=[draw(typed_column(n, f"c{i}" if ncols > 1 else "")) for i in range(ncols)])
    return pb.Event(metrics=mp)


def _comparable(values: list) -> list:
    """Decoded values with floats as their bits (NaN == NaN)."""
    return [("f", struct.pack("<d", v)) if isinstance(v, float) else (type(v).__name__, v) for v in values]


def _decodes(col: pb.Column) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            decode_column(col)
        except Warning:
            return False
    return True


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_every_accepted_metric_event_decodes_on_read(fuzz, data):
    """Whatever typed values a metric event holds, either the service refuses the event or every
    reader decodes it back exactly, without a warning (issue 8, item 14)."""
    raw, checker, target, _ = fuzz
    prefix = f"typed-{uuid.uuid4().hex[:8]}-"
    events = [data.draw(typed_metric(target, f"{prefix}{i}")) for i in range(data.draw(st.integers(1, 4)))]
    outcome = raw.ingest(pb.IngestRequest(writer=f"w-{uuid.uuid4().hex}", seq=1, events=events))
    assert_acked_cleanly(outcome, raw)
    assert outcome.code == grpc.StatusCode.OK, outcome.details
    read = raw.call("GetMetrics", pb.GetMetricsRequest(run_id=target).SerializeToString(), max_answers=10_000)
    assert read.code == grpc.StatusCode.OK, read.details
    stored = {p.name: p for p in (pb.MetricData.FromString(a).points for a in read.answers)
              if p.name.startswith(prefix)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a stored value no reader can decode fails here
        for event in events:
            sent = event.metrics
            if sent.name not in stored:
                continue
            got = stored[sent.name]
            assert [c.name for c in got.columns] == [c.name for c in sent.columns]
            for got_col, sent_col in zip(got.columns, sent.columns):
                assert _comparable(decode_column(got_col)) == _comparable(decode_column(sent_col))
            series(collect([got], with_index=True)[sent.name])
            shape([got])
    for event in events:   # and what no reader could decode was refused
        if not all(_decodes(c) for c in event.metrics.columns):
            assert event.metrics.name not in stored, event.metrics
    checker.service_intact()


# ---------------------------------------------------------------- artifact paths and sizes

@FUZZ
@given(path=UNSAFE_PATHS, offset=st.sampled_from([0, 5, 2 ** 40, 2 ** 63, 2 ** 64 - 1]))
def test_unsafe_paths_and_offsets_write_nothing_outside(fuzz, path, offset):
    raw, checker, target, service = fuzz
    before = {p for p in service.data_dir.rglob("*")}
    outcome = raw.ingest(pb.IngestRequest(writer=f"w-{uuid.uuid4().hex}", seq=1, events=[
        pb.Event(file=pb.FileChunk(run_id=target, path=path, offset=offset, data=b"evil", last=True))]))
    assert_acked_cleanly(outcome, raw)
    rejected = list(raw.acks(outcome)[0].rejected)
    assert len(rejected) == 1, f"{path!r} at {offset} was stored"
    artifacts = service.data_dir / "artifacts"
    new = {p for p in service.data_dir.rglob("*")} - before
    assert all(p.is_relative_to(artifacts / target) for p in new), new
    checker.service_intact()


def test_a_file_over_the_size_limit_is_rejected_naming_it(fuzz):
    raw, checker, target, service = fuzz
    service.store.artifacts.max_file_bytes = 1000
    events = [pb.Event(file=pb.FileChunk(run_id=target, path="outputs/big.bin", offset=0, data=b"a" * 600)),
              pb.Event(file=pb.FileChunk(run_id=target, path="outputs/big.bin", offset=600, data=b"b" * 600,
                                         last=True)),
              pb.Event(file=pb.FileChunk(run_id=target, path="outputs/sparse.bin", offset=10 ** 15, data=b""))]
    outcome = raw.ingest(pb.IngestRequest(writer="limit", seq=1, events=events))
    assert outcome.code == grpc.StatusCode.OK
    assert list(raw.acks(outcome)[0].rejected) == [
        "file 'outputs/big.bin' exceeds the limit of 1000 bytes",
        "file 'outputs/sparse.bin' exceeds the limit of 1000 bytes"]
    assert (service.data_dir / "artifacts" / target / "outputs" / "big.bin").stat().st_size == 600
    assert not (service.data_dir / "artifacts" / target / "outputs" / "sparse.bin").exists()
    checker.service_intact()


def test_upload_folder_skips_symlinks_leading_outside_it(ws, tmp_path, capsys):
    from tailrun import Experiment

    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "key").write_text("nor this")
    folder = tmp_path / "results"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "out").symlink_to(secret)                 # a file link out of the folder
    (folder / "abs_dir").symlink_to(tmp_path / "elsewhere")     # a folder link out of it
    (folder / "rel").symlink_to("../secret.txt")                 # a relative link out of it
    (folder / "inside").symlink_to("a.txt")                      # a link that stays inside: uploaded
    run = Experiment(ws, "fuzz-folder").start_logging(outputs=False, snapshot_directory=None)
    stored = run.upload_folder("results", str(folder))
    assert sorted(stored) == ["results/a.txt", "results/inside"]
    assert sorted(run.get_file_names()) == ["results/a.txt", "results/inside"]
    err = capsys.readouterr().err
    for link, target in (("sub/out", secret), ("abs_dir", tmp_path / "elsewhere"), ("rel", secret)):
        assert (f"tailrun: upload_folder: skipped '{link}': it is a symlink to '{target}', outside the "
                f"folder '{folder}'") in err
    run.complete()


def test_wrong_oneof_combinations_are_handled_cleanly(fuzz):
    """Two kinds in one Event (protobuf keeps the last one parsed), and SubmitRun parts in the
    wrong order: stored as parsed, or refused with INVALID_ARGUMENT naming the problem."""
    raw, checker, target, service = fuzz
    start = pb.Event(start=pb.RunStart(run_id="never-started", experiment="e")).SerializeToString()
    chunk = pb.Event(file=pb.FileChunk(run_id=target, path="outputs/oneof.txt", data=b"last wins",
                                       last=True)).SerializeToString()
    request = (pb.IngestRequest(writer="oneof", seq=1).SerializeToString()
               + b"\x1a" + bytes([len(start + chunk)]) + start + chunk)   # events = one Event, both kinds
    outcome = raw.ingest(request)
    assert outcome.code == grpc.StatusCode.OK and list(raw.acks(outcome)[0].rejected) == []
    assert (service.data_dir / "artifacts" / target / "outputs" / "oneof.txt").read_bytes() == b"last wins"
    missing = raw.call("GetRun", pb.GetRunRequest(run_id="never-started").SerializeToString())
    assert missing.code == grpc.StatusCode.NOT_FOUND and "never-started" in missing.details

    chunk_first = [pb.SubmitRequest(snapshot_chunk=b"zip").SerializeToString()]
    spec_twice = [pb.SubmitRequest(spec=pb.SubmitSpec(experiment="e")).SerializeToString()] * 2
    for parts, message in ((chunk_first, "the first message must be a SubmitSpec"),
                           (spec_twice, "only snapshot chunks may follow the SubmitSpec")):
        outcome = raw.call("SubmitRun", parts)
        assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT and message in outcome.details, outcome
    checker.service_intact()
