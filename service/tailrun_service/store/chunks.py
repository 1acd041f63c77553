"""Metric points <-> columnar chunk rows (packed little-endian arrays), with the limits.

Limits (a batch event over one is rejected with a one-line reason):
- MAX_METRICS_PER_RUN = 10,000 metric names per run
- MAX_NAME_CHARS = 255 characters per metric or column name
- MAX_COLUMNS = 100 columns per row / table metric
- MAX_POINTS_PER_METRIC = 1,000,000,000 points per metric
- MAX_STR_BYTES = 64 KiB per string value (UTF-8)
- a BIGINT value is the decimal text of an integer ("-?[0-9]+", at most MAX_BIGINT_DIGITS
  digits), so that every reader can turn it back into an int

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

from ..errors import InvalidArgument

MAX_METRICS_PER_RUN = 10_000
MAX_NAME_CHARS = 255
MAX_COLUMNS = 100
MAX_POINTS_PER_METRIC = 1_000_000_000
MAX_STR_BYTES = 64 * 1024
# Python refuses int(text) past this many digits (sys.get_int_max_str_digits), and so would a reader.
MAX_BIGINT_DIGITS = 4300
_BIGINT_TEXT = re.compile(r"-?[0-9]+")

K_FLOAT, K_INT, K_BOOL, K_NONE, K_STR, K_BIGINT = range(6)
KNOWN_METRIC_KINDS = frozenset(pb.MetricKind.values())
SINGLE_COLUMN_KINDS = (pb.METRIC_KIND_SCALAR, pb.METRIC_KIND_LIST, pb.METRIC_KIND_IMAGE,
                       pb.METRIC_KIND_JSON, pb.METRIC_KIND_SYSTEM)
# Kinds whose last float value is shown in RunInfo.last_metrics.
_NUMERIC_KINDS = np.array([True, True, True, False, False, False])


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

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


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
    """A length-delimited field (packed array, bytes, string, sub-message) on the wire."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload if payload else b""


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
    wire = [_field(1, run_id.encode()), _field(2, name.encode())]
    if kind:
        wire.append(_varint(3 << 3) + _varint(kind))
    wire.append(_field(4, bytes(row.times)))
    if row.steps is not None:
        wire.append(_field(5, varints(np.frombuffer(row.steps, dtype="<i8"))))
    for col in metric_columns:
        i = position.get(col)
        if i is None:  # the column appeared after this chunk: None in every row
            body = (_field(1, col.encode()) + _field(2, np.full(n, np.nan, dtype="<f8").tobytes())
                    + _field(3, bytes([K_NONE]) * n))
        else:
            col_kinds = kinds[i].tobytes() if kinds is not None and kinds[i].any() else b""
            body = _field(1, col.encode()) + _field(2, values[i].tobytes()) + _field(3, col_kinds)
            if ints is not None and int_start[i + 1] > int_start[i]:
                body += _field(4, varints(zigzag(ints[int_start[i]:int_start[i + 1]])))
            if strs is not None:
                body += b"".join(_field(5, text.encode()) or _varint(5 << 3 | 2) + b"\0"
                                 for text in strs[i])
        wire.append(_varint(6 << 3 | 2) + _varint(len(body)) + body)
    wire.append(_field(7, description.encode()))
    if row.first_index:
        wire.append(_varint(8 << 3) + _varint(row.first_index))
    return b"".join(wire)


def chunk_to_points(row, metric_columns: list[str], **names) -> pb.MetricPoints:
    return pb.MetricPoints.FromString(chunk_wire(row, metric_columns, **names))
