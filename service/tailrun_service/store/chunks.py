"""Metric points <-> columnar chunk rows (packed little-endian arrays), checked against the limits.

The limits, kinds and wire encoding are the SDK's wire vocabulary (`tailrun.wire`); a batch event
over a limit is rejected with a one-line reason: metric names per run (MAX_METRICS_PER_RUN), name
length (MAX_NAME_CHARS), columns (MAX_COLUMNS), points per metric (MAX_POINTS_PER_METRIC), one
string (MAX_STR_BYTES); a BIGINT value is the decimal text of an integer ("-?[0-9]+", at most
MAX_BIGINT_DIGITS digits), so that every reader can turn it back into an int.

Floats are stored as their raw IEEE-754 bytes, so NaN (with its payload), +inf and -inf round-trip
bit-exactly. Reading builds the protobuf message from the packed bytes directly (a packed
`repeated double` on the wire is the same little-endian array), which keeps full reads fast.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from tailrun.v1 import tailrun_pb2 as pb
from tailrun.wire import (K_BIGINT, K_INT, K_NONE, K_STR, MAX_BIGINT_DIGITS, MAX_COLUMNS, MAX_NAME_CHARS,
                          MAX_STR_BYTES, NOT_NUMBERS, SINGLE_COLUMN_KINDS, varint, wire_field,
                          wire_varint_field)

from ..errors import InvalidArgument

_BIGINT_TEXT = re.compile(r"-?[0-9]+")
KNOWN_METRIC_KINDS = frozenset(pb.MetricKind.values())
# Kinds whose last float value is shown in RunInfo.last_metrics.
_NUMERIC_KINDS = np.array([k not in NOT_NUMBERS for k in range(K_BIGINT + 1)])


@dataclass
class PackedChunk:
    count: int
    columns: list[str]
    times: bytes
    steps: bytes | None
    values: bytes
    kinds: bytes | None
    ints: bytes | None
    strs_json: str | None
    min_value: float | None
    max_value: float | None
    last_value: float | None  # last non-NaN numeric point of the first column, if any


def kind_name(kind: int) -> str:
    try:
        return pb.MetricKind.Name(kind).removeprefix("METRIC_KIND_")
    except ValueError:
        return str(kind)


def pack_points(mp: pb.MetricPoints) -> PackedChunk:
    """Validate one MetricPoints event and pack it; raises InvalidArgument naming the problem."""
    label = f"metric {mp.name!r} of run {mp.run_id!r}"
    n = len(mp.times)
    times = np.array(mp.times, dtype="<f8")
    if mp.steps and len(mp.steps) != n:
        raise InvalidArgument(f"{label}: {len(mp.steps)} steps for {n} points (column length mismatch)")
    steps = np.array(mp.steps, dtype="<i8").tobytes() if len(mp.steps) else None
    ncols = len(mp.columns)
    if ncols == 0:
        raise InvalidArgument(f"{label}: no columns")
    if ncols > MAX_COLUMNS:
        raise InvalidArgument(f"{label}: {ncols} columns, the limit is {MAX_COLUMNS}")
    if mp.kind in SINGLE_COLUMN_KINDS and ncols != 1:
        raise InvalidArgument(f"{label}: a {kind_name(mp.kind)} metric has one column, got {ncols}")
    if ncols == 1 and not mp.columns[0].kinds and not mp.columns[0].ints and not mp.columns[0].strs:
        return _pack_plain(mp, label, n, times, steps)
    names = [c.name for c in mp.columns]
    if len(set(names)) != ncols:
        raise InvalidArgument(f"{label}: duplicate column names")
    values = np.empty((ncols, n), dtype="<f8")
    kinds = np.zeros((ncols, n), dtype=np.uint8)
    any_kinds = False
    ints: list[np.ndarray] = []
    strs: list[list[str]] = []
    for i, col in enumerate(mp.columns):
        if len(col.name) > MAX_NAME_CHARS:
            raise InvalidArgument(f"{label}: column name {col.name[:40]!r}... is longer than {MAX_NAME_CHARS} characters")
        if len(col.values) != n:
            raise InvalidArgument(f"{label}: column {col.name!r} has {len(col.values)} values for {n} points (column length mismatch)")
        values[i] = np.array(col.values, dtype="<f8")
        col_ints = np.array(col.ints, dtype="<i8")
        col_strs = list(col.strs)
        if col.kinds:
            if len(col.kinds) != n:
                raise InvalidArgument(f"{label}: column {col.name!r} has {len(col.kinds)} kinds for {n} points (column length mismatch)")
            k = np.frombuffer(col.kinds, dtype=np.uint8)
            if int(k.max()) > K_BIGINT:
                raise InvalidArgument(f"{label}: column {col.name!r} has an unknown value kind {int(k.max())}")
            kinds[i] = k
            any_kinds = any_kinds or bool(k.any())
            n_int = int(np.count_nonzero(k == K_INT))
            n_str = int(np.count_nonzero((k == K_STR) | (k == K_BIGINT)))
        else:
            n_int = n_str = 0
        if len(col_ints) != n_int:
            raise InvalidArgument(f"{label}: column {col.name!r} has {len(col_ints)} ints for {n_int} INT points (column length mismatch)")
        if len(col_strs) != n_str:
            raise InvalidArgument(f"{label}: column {col.name!r} has {len(col_strs)} strings for {n_str} STR points (column length mismatch)")
        for s in col_strs:
            if len(s) * 4 > MAX_STR_BYTES and len(s.encode("utf-8", "surrogatepass")) > MAX_STR_BYTES:
                raise InvalidArgument(f"{label}: a string value is longer than {MAX_STR_BYTES} bytes")
        if n_str:
            _check_bigints(label, col.name, k, col_strs)
        ints.append(col_ints)
        strs.append(col_strs)
    finite = values[~np.isnan(values)]
    last_value = None
    if n:
        # NaN is skipped: SQLite cannot store it (it becomes NULL), and "last value" means a number.
        numeric = _NUMERIC_KINDS[kinds[0]] & ~np.isnan(values[0])
        where = np.flatnonzero(numeric)
        if len(where):
            last_value = float(values[0, where[-1]])
    all_ints = np.concatenate(ints) if ints else np.empty(0, "<i8")
    return PackedChunk(
        count=n, columns=names, times=times.tobytes(), steps=steps, values=values.tobytes(),
        kinds=kinds.tobytes() if any_kinds else None,
        ints=all_ints.astype("<i8").tobytes() if len(all_ints) else None,
        strs_json=json.dumps(strs) if any(strs) else None,
        min_value=float(finite.min()) if finite.size else None,
        max_value=float(finite.max()) if finite.size else None,
        last_value=last_value,
    )


def _check_bigints(label: str, column: str, kinds: np.ndarray, strs: list[str]) -> None:
    """Every BIGINT point's text (in `strs`, shared in point order with the STR points) must parse."""
    text_kinds = kinds[(kinds == K_STR) | (kinds == K_BIGINT)]
    for j in np.flatnonzero(text_kinds == K_BIGINT):
        text = strs[j]
        digits = len(text) - text.startswith("-")
        if not _BIGINT_TEXT.fullmatch(text):
            raise InvalidArgument(f"{label}: column {column!r} has a BIGINT value {text[:40]!r} that is "
                                  f"not an integer (decimal digits with an optional '-')")
        if digits > MAX_BIGINT_DIGITS:
            raise InvalidArgument(f"{label}: column {column!r} has a BIGINT value of {digits} digits; "
                                  f"the limit is {MAX_BIGINT_DIGITS}")


def _pack_plain(mp: pb.MetricPoints, label: str, n: int, times: np.ndarray, steps: bytes | None) -> PackedChunk:
    """The common case, kept cheap: one column of plain floats."""
    col = mp.columns[0]
    if len(col.name) > MAX_NAME_CHARS:
        raise InvalidArgument(f"{label}: column name {col.name[:40]!r}... is longer than {MAX_NAME_CHARS} characters")
    if len(col.values) != n:
        raise InvalidArgument(f"{label}: column {col.name!r} has {len(col.values)} values for {n} points (column length mismatch)")
    values = np.array(col.values, dtype="<f8")
    finite = values[~np.isnan(values)]
    return PackedChunk(
        count=n, columns=[col.name], times=times.tobytes(), steps=steps, values=values.tobytes(),
        kinds=None, ints=None, strs_json=None,
        min_value=float(finite.min()) if finite.size else None,
        max_value=float(finite.max()) if finite.size else None,
        last_value=float(finite[-1]) if finite.size else None,
    )


# ---------------------------------------------------------------- reading
# Answers are built as protobuf wire bytes straight from the stored arrays and parsed once:
# a packed double field is the stored little-endian array as is, and varints are encoded with
# numpy, so no Python object is made per point.

def varints(values: np.ndarray) -> bytes:
    """Protobuf varint encoding of int64 values (two's complement for negatives), vectorised."""
    u = values.astype("<i8", copy=False).view(np.uint64)
    if not len(u):
        return b""
    top = int(u.max())
    width = max(1, -(-top.bit_length() // 7))  # 7-bit groups of the largest value
    groups = np.empty((len(u), width), dtype=np.uint8)
    nbytes = np.ones(len(u), dtype=np.int64)
    for k in range(width):
        shifted = u >> np.uint64(7 * k)
        groups[:, k] = shifted & np.uint64(0x7F)
        if k:
            nbytes += shifted != 0
    if width > 1:
        positions = np.arange(width)
        groups |= (positions < (nbytes - 1)[:, None]).astype(np.uint8) << 7
        return groups[positions < nbytes[:, None]].tobytes()
    return groups.tobytes()


def zigzag(values: np.ndarray) -> np.ndarray:
    """sint64 zigzag mapping: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ..."""
    v = values.astype("<i8", copy=False)
    return ((v << 1) ^ (v >> 63)).view(np.int64)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field, left out when empty (proto3 writes no default value)."""
    return wire_field(number, payload) if payload else b""


_MP, _COL = pb.MetricPoints, pb.Column
_STR_TAG = varint(_COL.STRS_FIELD_NUMBER << 3 | 2)
_COLUMN_TAG = varint(_MP.COLUMNS_FIELD_NUMBER << 3 | 2)


def chunk_wire(row, metric_columns: list[str], *, run_id: str, name: str, kind: int,
               description: str = "") -> bytes:
    """One chunk row -> serialised MetricPoints with every column the metric has (absent ones
    read as None). `row` needs: count, first_index, columns_json, times, steps, values, kinds,
    ints, strs_json."""
    n = row.count
    chunk_cols = json.loads(row.columns_json)
    values = np.frombuffer(row.values, dtype="<f8").reshape(len(chunk_cols), n)
    kinds = (np.frombuffer(row.kinds, dtype=np.uint8).reshape(len(chunk_cols), n)
             if row.kinds is not None else None)
    ints = np.frombuffer(row.ints, dtype="<i8") if row.ints is not None else None
    strs = json.loads(row.strs_json) if row.strs_json is not None else None
    position = {c: i for i, c in enumerate(chunk_cols)}
    int_start = [0]
    for i in range(len(chunk_cols)):  # where each column's INT points sit in `ints`
        int_start.append(int_start[-1] + (int(np.count_nonzero(kinds[i] == K_INT)) if kinds is not None else 0))
    # Normally the metric lists every column; a chunk newer than the caller's metric row may add one.
    metric_columns = metric_columns + [c for c in chunk_cols if c not in metric_columns]
    wire = [_field(_MP.RUN_ID_FIELD_NUMBER, run_id.encode()), _field(_MP.NAME_FIELD_NUMBER, name.encode())]
    if kind:
        wire.append(wire_varint_field(_MP.KIND_FIELD_NUMBER, kind))
    wire.append(_field(_MP.TIMES_FIELD_NUMBER, bytes(row.times)))
    if row.steps is not None:
        wire.append(_field(_MP.STEPS_FIELD_NUMBER, varints(np.frombuffer(row.steps, dtype="<i8"))))
    for col in metric_columns:
        i = position.get(col)
        if i is None:  # the column appeared after this chunk: None in every row
            body = (_field(_COL.NAME_FIELD_NUMBER, col.encode())
                    + _field(_COL.VALUES_FIELD_NUMBER, np.full(n, np.nan, dtype="<f8").tobytes())
                    + _field(_COL.KINDS_FIELD_NUMBER, bytes([K_NONE]) * n))
        else:
            col_kinds = kinds[i].tobytes() if kinds is not None and kinds[i].any() else b""
            body = (_field(_COL.NAME_FIELD_NUMBER, col.encode())
                    + _field(_COL.VALUES_FIELD_NUMBER, values[i].tobytes())
                    + _field(_COL.KINDS_FIELD_NUMBER, col_kinds))
            if ints is not None and int_start[i + 1] > int_start[i]:
                body += _field(_COL.INTS_FIELD_NUMBER, varints(zigzag(ints[int_start[i]:int_start[i + 1]])))
            if strs is not None:   # (an empty string is still one element of the repeated field)
                body += b"".join(_STR_TAG + varint(len(data)) + data
                                 for data in (text.encode() for text in strs[i]))
        wire.append(_COLUMN_TAG + varint(len(body)) + body)
    wire.append(_field(_MP.DESCRIPTION_FIELD_NUMBER, description.encode()))
    if row.first_index:
        wire.append(wire_varint_field(_MP.FIRST_INDEX_FIELD_NUMBER, row.first_index))
    return b"".join(wire)


def chunk_to_points(row, metric_columns: list[str], **names) -> pb.MetricPoints:
    return pb.MetricPoints.FromString(chunk_wire(row, metric_columns, **names))
