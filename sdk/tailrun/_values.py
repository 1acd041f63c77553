"""Validation and normalisation of logged values: the helpers behind the `Run.log*` methods.

Only the standard library is imported here: this module is on the hot path and is loaded by
`import tailrun.run`, which must not pull in numpy, grpc or protobuf. Every error names the
argument and the problem, because it is raised straight into the user's training script.
"""
from __future__ import annotations

import re
import sys
from itertools import islice
import warnings
from typing import Any

# Kinds, limits and the experiment-name rule are the wire vocabulary's (`tailrun.wire`).
from .wire import (EXPERIMENT_NAME_RE, KIND_IMAGE, KIND_JSON, KIND_LIST, KIND_METHOD,  # noqa: F401
                   KIND_ROW, KIND_SCALAR, KIND_SYSTEM, KIND_TABLE, MAX_COLUMNS, MAX_STR_BYTES)
from .wire import MAX_NAME_CHARS as MAX_NAME

MAX_LIST_INT_BYTES = 64   # Azure ML rejects ints above 64 bytes in memory in log_list
MAX_LIST_ITEMS = 1_000_000  # elements in one log_list call (an endless iterable stops here)

_EXPERIMENT_NAME = re.compile(EXPERIMENT_NAME_RE)
# Registered model names, exactly Azure ML's rule (checked by the SDK and by the service).
MODEL_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9\-._]{0,254}$"
MODEL_NAME_RULE = ("it must only consist of letters, numbers, dashes, periods, or underscores, start with "
                   "a letter or number, and be between 1 and 255 characters long")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_NATIVE = (int, float, str, bool, type(None))
# numpy scalar types converted with .item(), recognised by type name (numpy is never imported).
# As in Azure ML, np.int64/np.uint64 are not in the list: they are stored as their repr, with a warning.
_NUMPY_SCALARS = frozenset({
    "bool_", "bool", "str_", "int8", "int16", "int32", "uint8", "uint16", "uint32",
    "float16", "float32", "float64",
})
_NOT_SCALARS = (list, tuple, range, set, frozenset, dict)


def _is_numpy_scalar(value: Any) -> bool:
    cls = type(value)
    return cls.__module__ == "numpy" and cls.__name__ in _NUMPY_SCALARS


def is_sequence_like(value: Any) -> bool:
    """True for the things Azure ML refuses in `log` and `log_row` and wants in `log_list`."""
    if isinstance(value, _NOT_SCALARS[:5]):
        return True
    cls = type(value)
    if cls.__name__ == "generator" or (cls.__module__ == "numpy" and cls.__name__ == "ndarray"):
        return True
    return False


def normalise_scalar(value: Any, what: str = "value") -> Any:
    """int, float, str, bool, None as they are; numpy scalars as Python values; else `repr(value)`.

    The repr fallback mirrors Azure ML (which stores e.g. a dict or np.int64 as its repr) and
    warns once per call, in one line, so the user knows the value was not stored as a number.
    """
    cls = type(value)
    if cls in _NATIVE:
        if cls is str:
            check_str(value, what)
        return value
    if _is_numpy_scalar(value):
        return normalise_scalar(value.item(), what)
    if isinstance(value, _NATIVE):  # subclasses of the native types (e.g. IntEnum): plain value
        for base in (bool, int, float, str):
            if isinstance(value, base):
                return normalise_scalar(base(value), what)
    text = repr(value)
    warnings.warn(f"tailrun: {what}: {cls.__name__} is not a supported scalar type (int, float, str, "
                  f"bool, None); stored as its repr {text[:60]!r}", stacklevel=4)
    check_str(text, what)
    return text


def check_str(text: str, what: str) -> None:
    if len(text) > MAX_STR_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_STR_BYTES:
        raise ValueError(f"{what} is a string of more than {MAX_STR_BYTES // 1024} KiB; "
                         "upload long text as a file with run.upload_file()")


def check_metric_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"metric name must be a str, not {type(name).__name__}")
    if not name:
        raise ValueError("metric name must not be empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"metric name is {len(name)} characters long; the limit is {MAX_NAME}")
    if _CONTROL.search(name):
        raise ValueError(f"metric name {name!r} contains a control character")
    return name


def check_column_name(metric: str, column: Any) -> str:
    if not isinstance(column, str):
        raise TypeError(f"metric {metric!r}: column names must be str, not {type(column).__name__}")
    if not column or len(column) > MAX_NAME or _CONTROL.search(column):
        raise ValueError(f"metric {metric!r}: column name {column!r} must be 1-{MAX_NAME} "
                         "characters without control characters")
    return column


def check_experiment_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"experiment name must be a str, not {type(name).__name__}")
    if not _EXPERIMENT_NAME.match(name) or name.endswith(" "):
        raise ValueError(
            f"invalid experiment name {name!r}: use 1-255 characters, starting with a letter or digit, "
            "then letters, digits, '_', '-', '.' or spaces (no trailing space)")
    return name


def check_step(name: str, step: Any) -> int | None:
    if step is None:
        return None
    if type(step) is int:
        return step
    if type(step).__module__ == "numpy" and type(step).__name__.startswith(("int", "uint")):
        return int(step)
    raise TypeError(f"metric {name!r}: step must be an int, not {type(step).__name__} ({step!r})")


def list_element(name: str, index: int, value: Any) -> Any:
    """One element of `log_list`: a supported scalar, or a TypeError naming its index."""
    cls = type(value)
    if cls is float or cls is str or cls is bool or value is None:
        if cls is str:
            check_str(value, f"metric {name!r} element {index}")
        return value
    if cls is int:
        if sys.getsizeof(value) > MAX_LIST_INT_BYTES:
            raise ValueError(f"metric {name!r}: element {index} is an int too large to log "
                             f"({sys.getsizeof(value)} bytes in memory, the limit is {MAX_LIST_INT_BYTES})")
        return value
    if _is_numpy_scalar(value):
        return list_element(name, index, value.item())
    raise TypeError(f"metric {name!r}: log_list element {index} has unsupported type "
                    f"{cls.__name__}; elements must be int, float, str, bool or None")


def normalise_list(name: str, value: Any) -> list:
    """The elements of a `log_list` value (any finite iterable: a list, tuple, range, generator,
    numpy array, pandas Series, ...); int+float mixes become float, as in Azure ML. At most
    MAX_LIST_ITEMS elements: an iterable that goes on is refused after MAX_LIST_ITEMS + 1 of them."""
    if hasattr(value, "tolist") and type(value).__module__.split(".")[0] in ("numpy", "pandas"):
        value = value.tolist()
    if isinstance(value, (str, bytes, bytearray, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(f"metric {name!r}: log_list needs a list or another finite iterable of "
                        f"values, not {type(value).__name__}")
    if not isinstance(value, (list, tuple, range)):
        value = list(islice(value, MAX_LIST_ITEMS + 1))
    if len(value) > MAX_LIST_ITEMS:
        raise ValueError(f"metric {name!r}: log_list got more than {MAX_LIST_ITEMS:,} values "
                         f"(the limit for one call); nothing was logged")
    items = [list_element(name, i, v) for i, v in enumerate(value)]
    has_float = has_int = False
    for v in items:
        t = type(v)
        has_float = has_float or t is float
        has_int = has_int or t is int
    if has_float and has_int:
        items = [float(v) if type(v) is int else v for v in items]
    return items


def cell(metric: str, column: str, value: Any) -> Any:
    """One value of a row or table cell: a scalar (lists are refused, other objects repr-ed)."""
    if is_sequence_like(value):
        raise TypeError(f"metric {metric!r}: column {column!r} has a {type(value).__name__} value; "
                        "each cell must be a single int, float, str, bool or None")
    return normalise_scalar(value, f"metric {metric!r} column {column!r}")


def check_columns(metric: str, columns: dict) -> None:
    if len(columns) > MAX_COLUMNS:
        raise ValueError(f"metric {metric!r} has {len(columns)} columns; the limit is {MAX_COLUMNS}")
    for column in columns:
        check_column_name(metric, column)
