"""Shared fixtures: a real service on a loopback port 0 (SQLite or PostgreSQL), an isolated
TAILRUN_HOME, a Workspace pointing at the service, and a helper that runs code in a real child
process. See docs/ARCHITECTURE.md, "Test fixtures".
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from file_tree import write_tree
from pg_server import URL as PG_URL
from pg_server import admin_connection
from recorder_reset import reset_recorder

# Settings that must never leak from the developer's shell into a test.
_CLEARED_ENV = ("TAILRUN_ADDRESS", "TAILRUN_TOKEN", "TAILRUN_RUN_ID", "TAILRUN_EXPERIMENT", "TAILRUN_CA")


@pytest.fixture(autouse=True)
def tailrun_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own TAILRUN_HOME, so spools and the local service never touch the real home."""
    home = tmp_path / "tailrun-home"
    home.mkdir()
    monkeypatch.setenv("TAILRUN_HOME", str(home))
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start extra in-process services with custom options (token, store_url, ...); all are
    stopped at teardown. Returns `tailrun_service.server.Service` objects."""
    from tailrun_service.server import serve

    started: list[Any] = []

    def start(**kwargs: Any) -> Any:
        kwargs.setdefault("host", "127.0.0.1")
        kwargs.setdefault("port", 0)
        kwargs.setdefault("data_dir", tmp_path / f"data-{len(started)}")
        kwargs.setdefault("with_runner", True)
        svc = serve(**kwargs)
        started.append(svc)
        return svc

    yield start
    for svc in reversed(started):
        svc.stop(grace=1)


@pytest.fixture
def service(service_factory: Callable[..., Any]) -> Any:
    """A real service, in-process, on 127.0.0.1 port 0, SQLite in a tmp data dir, with the runner.
    Attributes: address, port, token (None), data_dir, store, runner, stop()."""
    return service_factory()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on a PostgreSQL database are `postgres` tests, whether or not they say so."""
    for item in items:
        if "pg_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy URL), dropped afterwards. Fails, never skips,
    when PostgreSQL is down (tests/pg_server.py says why): CI must notice."""
    dbname = f"tailrun_test_{uuid.uuid4().hex[:12]}"
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield PG_URL.format(dbname=dbname)
    finally:
        with admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture
def pg_service(pg_database: str, service_factory: Callable[..., Any]) -> Any:
    """The `service` fixture on a fresh PostgreSQL database."""
    return service_factory(store_url=pg_database)


@pytest.fixture
def ws(service: Any) -> Iterator[Any]:
    """`tailrun.Workspace` connected to the `service` fixture, with a fresh SDK recorder.

    The recorder is process-wide and sends to one service per process, while every test has its
    own service: each test starts with a new recorder, closed again before the service stops."""
    from tailrun import Workspace

    reset_recorder()
    yield Workspace(address=service.address, token=service.token)
    reset_recorder()




@pytest.fixture
def run_script(service: Any, tailrun_home: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run `python -c code` in a real child process with TAILRUN_ADDRESS set to the service.
    `env` entries override (a None value removes the variable); the cwd is a tmp folder."""
    cwd = tmp_path / "script-cwd"
    cwd.mkdir(exist_ok=True)

    def run(code: str, env: dict[str, str | None] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        child_env = dict(os.environ)
        child_env["TAILRUN_ADDRESS"] = service.address
        child_env["TAILRUN_HOME"] = str(tailrun_home)
        if service.token:
            child_env["TAILRUN_TOKEN"] = service.token
        for key, value in (env or {}).items():
            if value is None:
                child_env.pop(key, None)
            else:
                child_env[key] = value
        return subprocess.run([sys.executable, "-c", code], env=child_env, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)

    return run


# ---------------------------------------------------------------- submitted runs (runner, sweeps, pipelines, Slurm)

@pytest.fixture
def workspace_of() -> Iterator[Callable[[Any], Any]]:
    """`workspace_of(service)`: a Workspace on that service, with a fresh recorder."""
    from tailrun import Workspace

    def make(svc: Any) -> Any:
        reset_recorder()
        return Workspace(address=svc.address, token=svc.token)

    yield make
    reset_recorder()


@pytest.fixture
def source_dir(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """`source_dir({"train.py": "print(1)"})` writes the files into a fresh folder and returns it."""
    count = 0

    def make(files: dict[str, str]) -> Path:
        nonlocal count
        count += 1
        root = tmp_path / f"src{count}"
        root.mkdir()
        return write_tree(root, files)

    return make


@pytest.fixture
def wait_status() -> Callable[..., Any]:
    """`wait_status(store, run_id, statuses)`: see tests/waiting.py."""
    from waiting import wait_status as wait
    return wait


@pytest.fixture
def wait_console() -> Callable[..., str]:
    """`wait_console(store, run_id, text)`: see tests/waiting.py."""
    from waiting import wait_console as wait
    return wait
