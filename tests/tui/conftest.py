"""Fixtures of the UI tests: one real service per module on 127.0.0.1 port 0, seeded with fixed
runs through the real Ingest RPC; an app factory with a frozen clock, UTC and half-block images."""
from __future__ import annotations

import io
import time
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
    """Wait until every query worker is done and the screen's Watch feed is live."""
    from textual.worker import WorkerState

    app = pilot.app
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        busy = [w for w in app.workers if w.group != "watch"
                and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        screen = app.screen
        state = getattr(screen, "_state", None)
        live = getattr(screen, "feed", None) is None or (state is not None and state.kind == "live")
        if not busy and live:
            break
    await pilot.pause(0.6)   # one more drain + replot interval
    await pilot.wait_for_scheduled_animations()


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
