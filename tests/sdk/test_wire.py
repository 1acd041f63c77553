"""The wire vocabulary (`tailrun.wire`): its kinds are the generated enums' values, its hand-written
encoding is what protobuf parses, and it is the one definition the SDK, service and UI use."""
from __future__ import annotations

import math
import struct

import pytest

from tailrun import wire
from tailrun.v1 import tailrun_pb2 as pb


def test_metric_kinds_are_the_generated_enum() -> None:
    ours = {name: getattr(wire, f"KIND_{name}") for name in
            ("SCALAR", "LIST", "ROW", "TABLE", "IMAGE", "JSON", "SYSTEM")}
    assert ours == {name: pb.MetricKind.Value(f"METRIC_KIND_{name}") for name in ours}
    assert set(pb.MetricKind.values()) == {0, *ours.values()}, "a MetricKind is missing from tailrun.wire"


def test_value_kinds_are_the_generated_enum() -> None:
    names = ("FLOAT", "INT", "BOOL", "NONE", "STR", "BIGINT")
    assert [getattr(wire, f"K_{n}") for n in names] == [pb.ValueKind.Value(f"VALUE_KIND_{n}") for n in names]
    assert len(pb.ValueKind.values()) == len(names)


def test_queue_tags_are_distinct_and_named() -> None:
    assert sorted(wire.TAG_NAMES) == list(range(len(wire.TAG_NAMES)))
    assert all(getattr(wire, name) == tag for tag, name in wire.TAG_NAMES.items())


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2 ** 32, 2 ** 63 - 1, -1, -(2 ** 63)])
def test_varint_fields_parse_as_protobuf_writes_them(value: int) -> None:
    built = wire.wire_varint_field(pb.MetricPoints.FIRST_INDEX_FIELD_NUMBER, value % 2 ** 64)
    assert pb.MetricPoints.FromString(built).first_index == value % 2 ** 64
    steps = wire.wire_field(pb.MetricPoints.STEPS_FIELD_NUMBER, wire.varint(value))
    assert list(pb.MetricPoints.FromString(steps).steps) == [value]


def test_a_packed_column_written_by_hand_is_the_message_protobuf_writes() -> None:
    values = [0.5, math.inf, -0.0, 5e-324]
    packed = struct.pack(f"<{len(values)}d", *values)
    column = wire.wire_field(pb.Column.VALUES_FIELD_NUMBER, packed)
    assert column == pb.Column(values=values).SerializeToString()
    assert wire.decode_column(pb.Column.FromString(column)) == values


def test_the_service_and_the_ui_use_the_sdk_vocabulary() -> None:
    from tailrun_service.store import chunks, validation

    assert chunks.MAX_COLUMNS is wire.MAX_COLUMNS and chunks.K_BIGINT is wire.K_BIGINT
    assert validation.EXPERIMENT_NAME_RE.pattern == wire.EXPERIMENT_NAME_RE
    assert [k for k in range(6) if chunks._NUMERIC_KINDS[k]] == [wire.K_FLOAT, wire.K_INT, wire.K_BOOL]


def test_artifact_uris_round_trip() -> None:
    uri = wire.artifact_uri("run-1", "outputs/a b.png")
    assert uri == "aml://artifactId/ExperimentRun/dcid.run-1/outputs/a b.png"
    assert wire.artifact_path(uri) == ("run-1", "outputs/a b.png")
    assert wire.artifact_path("aml://asset/x") is None
