"""The environment registry (Azure ML's `Environment.register/get/list`): name -> versions 1, 2, 3...

A definition is `Environment._to_dict()` as JSON. It is stored canonical (sorted keys, the
registered name, no version), so "the same definition" is a plain text comparison: registering a
definition equal to the name's latest version returns that version unchanged, as Azure ML does;
anything else becomes the next version. Versions are allocated in the registering transaction;
replicas sharing one PostgreSQL database never hand out one version twice (the insert does
nothing on a taken (name, version), and the loop reads the newer latest version again).
"""
from __future__ import annotations

import json
import time

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from tailrun.v1 import tailrun_pb2 as pb

from ..errors import InvalidArgument, NotFound
from .engine import Database
from .schema import environments
from .validation import validate_name

MAX_DEFINITION_BYTES = 1024 * 1024   # a definition is settings and package lists; a Dockerfile fits
NAMES_SHOWN = 20                     # how many existing names/versions an error lists


def validate_environment_name(name: str) -> str:
    return validate_name(name, "environment name", "environment name is required")


def canonical_definition(name: str, definition_json: str) -> str:
    """The definition as stored: a JSON object with sorted keys, `name` set, `version` removed."""
    if len(definition_json.encode("utf-8", "surrogatepass")) > MAX_DEFINITION_BYTES:
        raise InvalidArgument(f"environment definition of {name!r} is over the limit of "
                              f"{MAX_DEFINITION_BYTES // 1024} KiB")
    try:
        definition = json.loads(definition_json, parse_constant=_no_constant)
    except ValueError as exc:
        raise InvalidArgument(f"environment definition of {name!r} is not valid JSON: {exc}") from None
    if not isinstance(definition, dict):
        raise InvalidArgument(f"environment definition of {name!r} must be a JSON object, "
                              f"not {type(definition).__name__}")
    named = definition.get("name")
    if named not in (None, "", name):
        raise InvalidArgument(f"environment definition names {str(named)[:80]!r}, but is registered as {name!r}")
    definition["name"] = name
    definition.pop("version", None)
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def _no_constant(token: str) -> float:
    raise ValueError(f"{token} is not allowed (use a string)")


def register(db: Database, name: str, definition_json: str) -> pb.EnvironmentInfo:
    validate_environment_name(name)
    text = canonical_definition(name, definition_json)
    dialect_insert = sqlite.insert if db.is_sqlite else postgresql.insert
    with db.write() as conn:
        while True:
            latest = _latest(conn, name)
            if latest is not None and latest.definition_json == text:
                return _info(latest)
            version = (latest.version if latest is not None else 0) + 1
            now = time.time()
            done = conn.execute(dialect_insert(environments).values(
                name=name, version=version, definition_json=text, created_time=now,
            ).on_conflict_do_nothing(index_elements=["name", "version"]))
            if done.rowcount == 1:
                return pb.EnvironmentInfo(name=name, version=version, definition_json=text, created_time=now)
            # Another replica registered this version meanwhile (committed: READ COMMITTED sees it
            # in the next statement); compare with it and take the next number.


def get(conn: Connection, name: str, version: int = 0) -> pb.EnvironmentInfo:
    """Version 0 = the latest. NotFound names the versions (or the environments) that exist."""
    if not name:
        raise InvalidArgument("environment name is required")
    if version < 0:
        raise InvalidArgument(f"environment version must be 1 or more (0 = the latest), got {version}")
    query = select(environments).where(environments.c.name == name)
    row = conn.execute(query.order_by(environments.c.version.desc()).limit(1) if version == 0
                       else query.where(environments.c.version == version)).first()
    if row is not None:
        return _info(row)
    versions = [v for (v,) in conn.execute(select(environments.c.version).where(
        environments.c.name == name).order_by(environments.c.version))]
    if versions:
        raise NotFound(f"environment {name!r} has no version {version}; its versions are "
                       f"{_listed([str(v) for v in versions])}")
    names = [n for (n,) in conn.execute(select(environments.c.name).distinct().order_by(environments.c.name))]
    if not names:
        raise NotFound(f"no environment named {name!r}: no environments are registered")
    raise NotFound(f"no environment named {name!r}; registered environments: {_listed([repr(n) for n in names])}")


def list_all(conn: Connection, name: str = "", latest: bool = False) -> list[pb.EnvironmentInfo]:
    """By name, then newest version first; `name` = only that name, `latest` = newest version of each."""
    query = select(environments)
    if name:
        query = query.where(environments.c.name == name)
    if latest:
        newest = (select(environments.c.name, func.max(environments.c.version).label("version"))
                  .group_by(environments.c.name).subquery())
        query = query.join(newest, (environments.c.name == newest.c.name)
                           & (environments.c.version == newest.c.version))
    query = query.order_by(environments.c.name, environments.c.version.desc())
    return [_info(row) for row in conn.execute(query)]


def _latest(conn: Connection, name: str):
    return conn.execute(select(environments).where(environments.c.name == name)
                        .order_by(environments.c.version.desc()).limit(1)).first()


def _info(row) -> pb.EnvironmentInfo:
    return pb.EnvironmentInfo(name=row.name, version=row.version, definition_json=row.definition_json,
                              created_time=row.created_time)


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:NAMES_SHOWN])
    more = len(items) - NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")

