"""Checks of the values the store is given (ingested events, registry entries); each raises
InvalidArgument naming the problem."""
from __future__ import annotations

import math
import re

from tailrun import _status, wire

from ..errors import InvalidArgument

EXPERIMENT_NAME_RE = re.compile(wire.EXPERIMENT_NAME_RE)   # the SDK checks the same rule
MAX_KEY_CHARS = 255                   # tag / property keys, writer ids
MAX_TEXT_CHARS = wire.MAX_TEXT_CHARS  # tag / property values, descriptions, error JSON, warnings


def validate_name(name: str, what: str, missing: str) -> str:
    """`name` if it follows the rule of experiment (and environment) names; else InvalidArgument
    naming `what`, or saying `missing` for an empty name."""
    if not name:
        raise InvalidArgument(missing)
    if not EXPERIMENT_NAME_RE.match(name) or name.endswith(" "):
        raise InvalidArgument(
            f"invalid {what} {name[:80]!r}: use 1-255 letters, digits, '_', '-', '.' or "
            "spaces, starting with a letter or digit and not ending with a space")
    return name


def validate_experiment_name(name: str) -> str:
    return validate_name(name, "experiment name", "experiment name is empty")


def check_status(status: str) -> str:
    if status not in _status.ALL:
        raise InvalidArgument(f"unknown run status {status!r}; expected one of {', '.join(_status.ALL)}")
    return status


def check_text(what: str, value: str, limit: int = MAX_TEXT_CHARS) -> None:
    if len(value) > limit:
        raise InvalidArgument(f"{what} is longer than {limit} characters")
    if "\0" in value:  # PostgreSQL text cannot hold NUL; refuse it on every store alike
        raise InvalidArgument(f"{what} contains a NUL character")


def check_map(what: str, values) -> dict[str, str]:
    for key, value in values.items():
        if not key:
            raise InvalidArgument(f"{what}: empty key")
        check_text(f"{what} key {key[:40]!r}", key, MAX_KEY_CHARS)
        check_text(f"{what} {key!r}", value)
    return dict(values)


def check_time(what: str, value: float) -> float:
    """A unix time of a run event (0 = unset): NaN and +-inf would become NULL in the database."""
    if not math.isfinite(value):
        raise InvalidArgument(f"{what} is {value!r}; expected a finite unix time in seconds")
    return value
