"""The PostgreSQL server the tests use (127.0.0.1:5432, user postgres, no password), and the one
clear failure when it is not there.

PostgreSQL tests fail rather than skip, so that CI notices a missing server: every one of them is
marked `postgres` (tests/conftest.py marks those using the pg_* fixtures), so `-m "not postgres"`
deselects them on a machine without the server.
"""
from __future__ import annotations

from typing import Any

import pytest

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"


def admin_connection() -> Any:
    """An autocommit connection to the server's `postgres` database, or the test fails saying why."""
    import psycopg

    try:
        return psycopg.connect(ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        pytest.fail(f"this test needs PostgreSQL at 127.0.0.1:5432 (user postgres, no password), which is "
                    f"not reachable ({reason}). PostgreSQL tests fail rather than skip; start the server, "
                    f"or deselect them with -m \"not postgres\".", pytrace=False)
