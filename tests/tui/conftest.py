"""Fixtures of the UI tests: one real service per module on 127.0.0.1 port 0, seeded with fixed
runs through the real Ingest RPC; an app factory with a frozen clock, UTC and half-block images."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from .seed import NOW, seed_all


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tailrun_service.server import serve

    # No crash detection: the seeded "running" run never heartbeats, and snapshots must not
    # depend on how long the tests took (it would turn NotResponding).
    svc = serve(host="127.0.0.1", port=0, data_dir=tmp_path_factory.mktemp("tui-data"), with_runner=False,
                heartbeat_timeout=None)
    svc.ids = seed_all(svc.address)
    yield svc
    svc.stop(grace=1)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def make_app(seeded: Any) -> Callable[..., Any]:
    from tailrun._settings import Settings
    from tailrun_tui.app import TailrunApp

    def make(address: str | None = None, token: str | None = None, **kwargs: Any) -> TailrunApp:
        kwargs.setdefault("clock", lambda: NOW)
        kwargs.setdefault("image_renderer", "halfcell")
        return TailrunApp(Settings(address or seeded.address, token), **kwargs)

    return make


async def settle(pilot: Any, timeout: float = 10.0) -> None:
    """Wait until the screen shows what it has: no query worker running, its Watch feed live (when
    it follows one) and every chart that has its data redrawn. Fails after `timeout` s naming
    what it still waits for. (Live data a test sends after opening a screen: wait for it to show.)"""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()   # let posted messages be handled first
        waiting = _still_waiting(app)
        if not waiting:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the UI did not settle in {timeout} s: still waiting for {'; '.join(waiting)}")
        await pilot.pause(0.02)
    await pilot.wait_for_scheduled_animations()


def _still_waiting(app: Any) -> list[str]:
    """What the screen is still doing, in words; [] when it is settled."""
    from textual.worker import WorkerState

    waiting = [f"worker {w.name!r} ({w.state.name})" for w in app.workers
               if w.group != "watch" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
    screen = app.screen
    state = getattr(screen, "_state", None)
    if getattr(screen, "feed", None) is not None and (state is None or state.kind != "live"):
        waiting.append(f"the Watch feed to be live (it is {state.kind if state else 'not started'})")
    for widget in screen.walk_children():
        # A chart whose data arrived is redrawn at its next replot interval.
        series = getattr(widget, "series", None)
        if getattr(widget, "dirty", False) is True and isinstance(series, list) and series \
                and all(s.loaded for _, s in series):
            waiting.append(f"chart {getattr(widget, 'title', widget)!r} to be redrawn")
    return waiting


async def show_tab(pilot: Any, key: str, selector: str) -> Any:
    """Press a run screen's tab key, let it settle, and return the tab's widget."""
    await pilot.press(key)
    await settle(pilot)
    return pilot.app.screen.query_one(selector)


@contextmanager
def live_script(tmp_path: Path, address: str, source: str,
                env: dict[str, str | None] | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """A real SDK script logging to the service, and its run id once it wrote it to `run_id`. The
    script waits on files the test touches (`go`, `stop`, ...); on the way out `stop` is touched and
    a script still running after 30 s is killed. `env` None values are removed from the environment."""
    script = tmp_path / "script.py"
    script.write_text(source)
    environ = {**os.environ, "TAILRUN_ADDRESS": address, "TAILRUN_HOME": str(tmp_path / "home")}
    environ.pop("TAILRUN_TOKEN", None)
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=environ)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "run_id").exists():   # written with os.replace: whole once there
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        yield proc, (tmp_path / "run_id").read_text()
    finally:
        (tmp_path / "stop").touch()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def screen_text(app: Any) -> str:
    """The visible screen as plain text (what a user reads)."""
    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no asyncio plugin is a dependency)."""
    import asyncio
    import inspect

    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        kwargs = {name: pyfuncitem.funcargs[name] for name in names}
        asyncio.run(pyfuncitem.obj(**kwargs))
        return True
    return None
