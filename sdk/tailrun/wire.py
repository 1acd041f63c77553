"""The wire vocabulary shared by the SDK, the service and the UI: one home for each idea.

Queue tags (what `Run.log*` queues for the sender), metric and value kinds, the limits both sides
check, the artifact URI scheme, the column codec (`encode_column` / `decode_column`, the one pair
that turns Python values into a `tailrun.v1.Column` and back) and the hand-written protobuf wire
encoding (`varint`, `wire_field`) the SDK's encoder and the service's chunk reader build messages
with. The service and the UI import these names from here; nothing else defines them.

Standard library only, no protobuf: `run_logging` needs the tags on the hot path of `import
tailrun.run`. The kinds are the values of the generated enums (tailrun.v1.MetricKind, ValueKind);
`tests/sdk/test_wire.py` checks they match, and callers building messages pass the generated
`*_FIELD_NUMBER` constants to `wire_field`.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

# ---------------------------------------------------------------- queue tags
# The first element of every tuple on a recorder's queue (docs/ARCHITECTURE.md, "The SDK queue").
POINT = 0       # (0, run_id, name, value, step | None, time): one scalar point
LIST = 1        # (1, run_id, name, [values], None, time)
ROW = 2         # (2, run_id, name, {column: value}, None, time)
TABLE = 3       # (3, run_id, name, {column: [values]}, rows, time)
ARTIFACT = 4    # (4, run_id, name, metric kind, artifact URI, time)
DESCRIBE = 5    # (5, run_id, name, description): attached to the metric's next chunk
EVENT = 6       # (6, run_id, "start" | "patch" | "file" | "experiment" | "heartbeat", {fields})
FLUSH = 7       # (7, marker): set once everything queued before it is stored or spooled
SYSTEM = 8      # (8, run_id, "", {stored name: float}, sample index, time): one system-metrics sample
TAG_NAMES = {POINT: "POINT", LIST: "LIST", ROW: "ROW", TABLE: "TABLE", ARTIFACT: "ARTIFACT",
             DESCRIBE: "DESCRIBE", EVENT: "EVENT", FLUSH: "FLUSH", SYSTEM: "SYSTEM"}

# ---------------------------------------------------------------- metric kinds (tailrun.v1.MetricKind)
KIND_SCALAR, KIND_LIST, KIND_ROW, KIND_TABLE, KIND_IMAGE, KIND_JSON = 1, 2, 3, 4, 5, 6
KIND_SYSTEM = 7   # sampled CPU/memory/GPU figures (tailrun._system_metrics); no logging method
KIND_METHOD = {KIND_SCALAR: "log", KIND_LIST: "log_list", KIND_ROW: "log_row",
               KIND_TABLE: "log_table", KIND_IMAGE: "log_image", KIND_JSON: "a JSON metric method"}
# Kinds stored as one unnamed column (rows and tables have named ones).
SINGLE_COLUMN_KINDS = (KIND_SCALAR, KIND_LIST, KIND_IMAGE, KIND_JSON, KIND_SYSTEM)

# ---------------------------------------------------------------- value kinds (tailrun.v1.ValueKind)
# One byte per point in Column.kinds; empty kinds = every point is a float.
K_FLOAT, K_INT, K_BOOL, K_NONE, K_STR, K_BIGINT = range(6)
NOT_NUMBERS = frozenset({K_NONE, K_STR, K_BIGINT})   # no number to plot (Column.values holds NaN)

# ---------------------------------------------------------------- limits (checked by the SDK and the service)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024   # the largest request the service takes (its max_receive_message_length)
CHUNK_BYTES = 1024 * 1024              # file bytes per FileChunk or SnapshotChunk the SDK sends
MAX_NAME_CHARS = 255           # metric names and column names
MAX_COLUMNS = 100              # columns per row / table metric
MAX_STR_BYTES = 64 * 1024      # one string value, UTF-8 encoded
MAX_TEXT_CHARS = 64 * 1024     # descriptions, tag and property values
MAX_METRICS_PER_RUN = 10_000
MAX_POINTS_PER_METRIC = 1_000_000_000
# Python refuses int(text) past this many digits (sys.get_int_max_str_digits), and so would a reader.
MAX_BIGINT_DIGITS = 4300
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
# Experiment names. Azure ML allows `[A-Za-z0-9][A-Za-z0-9_-]{0,254}`; tailrun also allows inner
# spaces and dots, because the user's notes use `Experiment(ws, 'my exp')`. No trailing space.
EXPERIMENT_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_\-. ]{0,254}$"

# ---------------------------------------------------------------- artifact URIs
URI_PREFIX = "aml://artifactId/ExperimentRun/dcid."


def artifact_uri(run_id: str, path: str) -> str:
    return f"{URI_PREFIX}{run_id}/{path}"


def artifact_path(uri: str) -> tuple[str, str] | None:
    """(run_id, path) of an artifact URI, or None when it is not one."""
    if not uri.startswith(URI_PREFIX):
        return None
    run_id, _, path = uri[len(URI_PREFIX):].partition("/")
    return (run_id, path) if path else None


# ---------------------------------------------------------------- the column codec

_NAN = float("nan")
_FLOAT_ONLY = frozenset({float})


def encode_column(col: Any, values: Sequence[Any]) -> None:
    """Fill `col` (a `tailrun.v1.Column`) with one value per point; `kinds` stays empty when all
    are floats. NaN payloads and +-inf keep their exact bits."""
    types = set(map(type, values))   # one C-level pass; plain floats are the common case
    if types <= _FLOAT_ONLY:
        col.values.extend(values)
        return
    if types == {int} and INT64_MIN <= min(values) and max(values) <= INT64_MAX:
        col.values.extend(values)
        col.ints.extend(values)
        col.kinds = bytes((K_INT,)) * len(values)
        return
    kinds = bytearray(len(values))
    floats: list[float] = []
    ints: list[int] = []
    strs: list[str] = []
    for i, v in enumerate(values):
        t = type(v)
        if t is float:
            floats.append(v)
        elif t is bool:
            kinds[i] = K_BOOL
            floats.append(1.0 if v else 0.0)
        elif t is int:
            if INT64_MIN <= v <= INT64_MAX:
                kinds[i] = K_INT
                ints.append(v)
            else:
                kinds[i] = K_BIGINT
                strs.append(str(v))
            floats.append(_int_to_float(v))
        elif v is None:
            kinds[i] = K_NONE
            floats.append(_NAN)
        else:  # str; anything else was turned into its repr by _values.py, be safe anyway
            kinds[i] = K_STR
            strs.append(v if t is str else repr(v))
            floats.append(_NAN)
    col.values.extend(floats)
    col.kinds = bytes(kinds)
    col.ints.extend(ints)
    col.strs.extend(strs)


def _int_to_float(v: int) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def decode_column(col: Any, metric: str = "") -> list:
    """One stored column as Python values (float, int, bool, None, str).

    Never raises on what a service stored: a value that cannot be decoded (a BIGINT that is not
    an integer, an unknown kind, a missing side value) comes back as None, with one warning per
    metric and column naming the problem."""
    values = list(col.values)
    kinds = col.kinds
    if not kinds:
        return values
    ints = iter(col.ints)
    strs = iter(col.strs)
    out: list = []
    append = out.append
    problem = ""
    for i, kind in enumerate(kinds):
        try:
            if kind == K_FLOAT:
                append(values[i])
            elif kind == K_INT:
                append(next(ints))
            elif kind == K_BOOL:
                append(values[i] != 0.0)
            elif kind == K_NONE:
                append(None)
            elif kind == K_STR:
                append(next(strs))
            elif kind == K_BIGINT:
                text = next(strs)
                try:
                    append(int(text))
                except ValueError:
                    problem = problem or f"a BIGINT value {text[:40]!r} that is not an integer"
                    append(None)
            else:
                problem = problem or f"a value of unknown kind {kind}"
                append(None)
        except (StopIteration, IndexError):
            problem = problem or "fewer stored values than points"
            append(None)
    if problem:
        where = f"metric {metric!r}" if metric else "a metric"
        column = f", column {col.name!r}" if col.name else ""
        warnings.warn(f"tailrun: {where}{column}: stored values that cannot be decoded are shown as None "
                      f"(the first: {problem})", stacklevel=2)
    return out


# ---------------------------------------------------------------- protobuf wire encoding, by hand
# Used where building a message field by field would cost one Python object per point: a packed
# repeated double is the little-endian float64 array as is.

def varint(n: int) -> bytes:
    """A protobuf varint of a non-negative int (uint64; negative int64 as two's complement)."""
    if n < 0:
        n += 1 << 64
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def wire_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (packed array, bytes, string, sub-message): tag, length, payload."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def wire_varint_field(number: int, value: int) -> bytes:
    """A varint field (int, enum, bool)."""
    return varint(number << 3) + varint(value)
