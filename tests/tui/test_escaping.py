"""User data with escape sequences and Rich markup reaches the screen as typed: `[bold]` shows
literally and control characters show escaped (`\\x1b`), on every screen (a real service, Pilot)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tailrun.v1 import tailrun_pb2 as pb

from .conftest import screen_text, settle
from .seed import NOW, T0, Seeder

pytestmark = pytest.mark.timeout(120)

RUN = "00000000-0000-4000-8000-0000000000e1"
EXPERIMENT = "evil"   # experiment names are validated (letters, digits, ...)
NAME = "na[red]me\x1b]0;t\x07"
METRIC = "lo[i]ss\x1b[1A"
ERROR = "[bold]boom\x1b[2J"


@pytest.fixture(scope="module")
def evil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tailrun_service.server import serve

    svc = serve(host="127.0.0.1", port=0, data_dir=tmp_path_factory.mktemp("tui-evil"), with_runner=False,
                heartbeat_timeout=None)
    seed = Seeder(svc.address)
    try:
        seed.start(RUN, EXPERIMENT, T0, display_name=NAME, tags={"t[b]ag": "v\x1b[31m"}, status="Running")
        seed.scalars(RUN, METRIC, [1.0, 2.0], T0)
        seed.table(RUN, "ta[b]le\x07", pb.METRIC_KIND_ROW, {"co[b]l\x07": ["[blink]x\x1b[5m"]}, T0)
        seed.file(RUN, "outputs/fi[b]le.txt", b"[bold]content\x1b[2J\n")
        seed.log_text(RUN, "logs/user_log.txt", 0, "[red]out\x1b[31mline\x1b]0;title\x07 end\n")
        seed.patch(RUN, T0 + 5, status="Failed", error_json=json.dumps({"error": {"code": "C[b]",
                                                                                  "message": ERROR}}))
    finally:
        seed.close()
    yield svc
    svc.stop(grace=1)


def _app(evil: Any, **kwargs: Any) -> Any:
    from tailrun._settings import Settings
    from tailrun_tui.app import TailrunApp

    return TailrunApp(Settings(evil.address, None), clock=lambda: NOW, image_renderer="halfcell", **kwargs)


def _shown_as_typed(text: str, *values: str) -> None:
    assert "\x1b" not in text and "\x07" not in text
    for value in values:
        escaped = value.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
        assert escaped in text, (escaped, text)


async def test_lists_show_names_as_typed(evil: Any) -> None:
    app = _app(evil)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        _shown_as_typed(screen_text(app), EXPERIMENT)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        _shown_as_typed(text, EXPERIMENT, NAME, METRIC, "t[b]ag=v\x1b[31m")


async def test_run_tabs_show_user_data_as_typed(evil: Any, tmp_path: Path) -> None:
    app = _app(evil, run_id=RUN)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        _shown_as_typed(screen_text(app), NAME, ERROR, "C[b]", "t[b]ag=v\x1b[31m")
        await pilot.press("3")
        await settle(pilot)
        # The console: escape sequences removed, markup shown as typed.
        _shown_as_typed(screen_text(app), "[red]outline end")
        await pilot.press("4")
        await settle(pilot)
        _shown_as_typed(screen_text(app), "ta[b]le\x07", "co[b]l\x07", "[blink]x\x1b[5m")
        await pilot.press("6")
        await settle(pilot)
        files = app.screen.query_one("#files-view")
        tree = files.query_one("#file-tree")
        node = next(n for n in _walk(tree.root) if n.data == "outputs/fi[b]le.txt")
        tree.move_cursor(node)
        await settle(pilot)
        _shown_as_typed(screen_text(app), "fi[b]le.txt", "[bold]content")


def _walk(node: Any):
    yield node
    for child in node.children:
        yield from _walk(child)
