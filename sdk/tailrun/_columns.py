"""Queue items grouped into columns per (run, metric), and the size bounds batches are cut by.

The encoder's inner loop (see `_encode`; the value codec is `tailrun.wire`): points of one (run, metric) are gathered with C-level
operations (flattening, strided slices, `itemgetter`) and packed with `struct`, never one Python
object per point. NaN payloads and +-inf keep their exact bits.
"""
from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import reduce
from itertools import chain
from operator import iconcat, itemgetter
from typing import Any

from .wire import INT64_MAX, INT64_MIN, POINT

_FLOAT_ONLY = frozenset({float})
_key = itemgetter(1, 2)

# ---------------------------------------------------------------- sizes (upper bounds, for batching)

POINT_BYTES = 26   # a float point: time (8) + value (8) + step (a varint, at most 10)
_SIMPLE = frozenset({float, int, bool, str, type(None)})
_INT_BYTES = 12    # beyond POINT_BYTES: a kind byte + an int (a varint, at most 10) + slack
_STR_BYTES = 6     # beyond POINT_BYTES and the text: a kind byte + field tag + length prefix + slack


def extra_value_bytes(values: Sequence[Any]) -> int:
    """Wire bytes of `values` in a Column beyond 8 per value (0 for plain floats): a bound that
    counts each string's UTF-8 length, so a batch of long strings is sized by what it holds."""
    types = set(map(type, values))
    if types <= _FLOAT_ONLY:
        return 0
    if not types <= _SIMPLE:
        return sum(map(_one_value_bytes, values))
    if int in types:
        ints = [v for v in values if type(v) is int]
        if min(ints) < INT64_MIN or max(ints) > INT64_MAX:   # BIGINTs: sent as text
            return sum(map(_one_value_bytes, values))
    total = _INT_BYTES * len(values)
    if str in types:
        strs = [v for v in values if type(v) is str]
        total += _STR_BYTES * len(strs) + (sum(map(len, strs)) if all(map(str.isascii, strs))
                                           else sum(map(text_bytes, strs)))
    return total


def _one_value_bytes(v: Any) -> int:
    t = type(v)
    if t is str:
        return _STR_BYTES + text_bytes(v)
    if t is int:  # outside int64 it is sent as decimal text (BIGINT)
        return _INT_BYTES if INT64_MIN <= v <= INT64_MAX else _STR_BYTES + v.bit_length() // 3 + 2
    if t is float or t is bool or v is None:
        return 1
    return _STR_BYTES + 4 * len(repr(v))


def text_bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------- grouping

# [values, steps, times] of one group, one element per point: each either a list/tuple of Python
# values or, when every element packs, `bytes`: the packed little-endian float64 (values, times) or
# int64 (steps) array, which is also the protobuf wire form of a packed double field. struct
# copies a float's IEEE-754 bits, so NaN payloads and infinities stay bit-exact.
Columns = list
_DOUBLE, _INT64 = "d", "q"
_PACK_ERRORS = (struct.error, TypeError, OverflowError)
_WIDTH = 6   # elements of a POINT tuple


def flatten(items: list[tuple]) -> list[Any]:
    """The elements of the tuples in one list (one C-level concatenation per tuple): with POINT
    tuples, column k is then the slice [k::6], much cheaper than one `map(itemgetter)` per column."""
    return reduce(iconcat, items, [])


def all_points(items: list[tuple], flat: list[Any]) -> bool:
    """True when every item is a POINT tuple. Sound without looking at each tuple's length: if
    some item were not 6 long, the first such one would start at a multiple of 6 in `flat`, so its
    tag would be read there, and it would have to be a POINT, which is 6 long."""
    return len(flat) == _WIDTH * len(items) and flat[0::_WIDTH].count(POINT) == len(items)


def group_columns(items: list[tuple], flat: list[Any] | None = None) -> dict[tuple[str, str], Columns]:
    """POINT tuples as columns grouped by (run, name), order kept within each group, groups in
    order of first appearance. `flat` is `flatten(items)` when the caller has it.

    Fast path: a loop that logs the same K metrics every step queues them with period K, and then
    a group's column is the strided slice [6j + k::6K] of the flattened tuples. Otherwise a stable
    sort of the indices by key makes each group a contiguous range (`itemgetter(*order)` reorders
    a column in C). Each column of a group is packed with one `struct.pack` when it can be.
    """
    n = len(items)
    if not n:
        return {}
    if flat is None:
        flat = flatten(items)
    names = flat[2::_WIDTH]
    runs = flat[1::_WIDTH]
    run = runs[0]
    single_run = runs.count(run) == n       # the usual case: keys are plain names, no tuple per point
    keys: list[Any] = names if single_run else list(zip(runs, names))
    period = _period(keys)
    groups: dict[Any, Columns] = {}
    if period:
        stride = _WIDTH * period
        for j in range(period):
            at = _WIDTH * j
            groups[keys[j]] = _packed_group(flat[at + 3::stride], flat[at + 4::stride], flat[at + 5::stride])
    else:
        order = sorted(range(n), key=keys.__getitem__)
        pick = itemgetter(*order) if n > 1 else tuple
        sorted_keys = pick(keys)
        values, steps, times = (pick(flat[k::_WIDTH]) for k in (3, 4, 5))
        for key in dict.fromkeys(keys):
            lo = bisect_left(sorted_keys, key)
            hi = bisect_right(sorted_keys, key, lo)
            groups[key] = _packed_group(values[lo:hi], steps[lo:hi], times[lo:hi])
    return {(run, name): g for name, g in groups.items()} if single_run else groups


def _packed_group(values: Sequence[Any], steps: Sequence[Any], times: Sequence[Any]) -> Columns:
    # Values pack only when all are floats: struct would also take ints and bools, which must
    # keep their kind (`encode_column`).
    return [_pack(values, _DOUBLE) if set(map(type, values)) <= _FLOAT_ONLY else values,
            _pack(steps, _INT64), _pack(times, _DOUBLE)]


def _pack(seq: Sequence[Any], code: str) -> bytes | Sequence[Any]:
    """`seq` packed, or itself when an element does not pack (None, an int outside int64, ...)."""
    try:
        return struct.pack(f"<{len(seq)}{code}", *seq)
    except _PACK_ERRORS:
        return seq


def _unpacked(col: bytes | Sequence[Any], code: str) -> Sequence[Any]:
    return struct.unpack(f"<{len(col) // 8}{code}", col) if type(col) is bytes else col


def _concat(parts: list[Any], code: str) -> bytes | list[Any]:
    """One column from the pieces of a metric (several when other items split its points)."""
    if all(type(p) is bytes for p in parts):
        return b"".join(parts)
    return list(chain.from_iterable(_unpacked(p, code) for p in parts))


def _period(keys: list[Any]) -> int:
    """K when keys[i] == keys[i + K] throughout and the first K keys are distinct, else 0."""
    n = len(keys)
    try:
        period = keys.index(keys[0], 1)
    except ValueError:
        period = n
    if keys[period:] == keys[:n - period] and len(set(keys[:period])) == period:
        return period
    return 0


def group_points(items: list[tuple]) -> dict[tuple[str, str], list[tuple]]:
    """POINT tuples grouped by (run, name), order kept within each group (used by tests/tools)."""
    groups: dict[tuple[str, str], list[tuple]] = {}
    for item in items:
        groups.setdefault(_key(item), []).append(item)
    return groups
