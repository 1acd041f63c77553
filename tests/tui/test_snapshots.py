"""SVG snapshots of every screen at 80×24 and 120×40, against a real service with fixed seeded
runs, a frozen clock and UTC. Update with `pytest tests/tui/test_snapshots.py --snapshot-update`
after looking at the report."""
from __future__ import annotations

from typing import Any

import pytest

from .conftest import settle
from .seed import EXPERIMENT, RUN_DONE, RUN_FAILED

pytestmark = pytest.mark.timeout(120)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

# name -> (app arguments, keys pressed after the first settle[, environment])
CASES: dict[str, tuple[Any, ...]] = {
    "experiments": ({}, []),
    "runs": ({"experiment": EXPERIMENT}, []),
    "run_overview": ({"run_id": RUN_DONE}, []),
    "run_failed": ({"run_id": RUN_FAILED}, []),
    "run_metrics": ({"run_id": RUN_DONE}, ["2"]),
    "run_metrics_smoothed": ({"run_id": RUN_DONE}, ["2", "m"]),
    "run_output": ({"run_id": RUN_DONE}, ["3"]),
    "run_output_search": ({"run_id": RUN_DONE}, ["3", "slash", "e", "p", "o", "c", "h", "enter", "n"]),
    "run_tables": ({"run_id": RUN_DONE}, ["4"]),
    "run_images": ({"run_id": RUN_DONE}, ["5"]),
    "run_files": ({"run_id": RUN_DONE}, ["6", "down", "down", "down", "down"]),
    "compare": ({"experiment": EXPERIMENT}, ["home", "space", "end", "space", "c"]),
    "metric_chooser": ({"experiment": EXPERIMENT}, ["m"]),
    "help": ({"experiment": EXPERIMENT}, ["question_mark"]),
    "help_run_metrics": ({"run_id": RUN_DONE}, ["2", "question_mark"]),
    "empty_experiment": ({"experiment": "scratch"}, []),
    # issue 12, items 12-18; issue 11 item 6
    "run_metrics_filtered": ({"run_id": RUN_DONE}, ["2", "slash", "l", "o", "enter"]),
    "run_metrics_cursor": ({"run_id": RUN_DONE}, ["2", "left", "left"]),
    "run_system": ({"run_id": RUN_DONE}, ["7"]),
    "run_system_gpus": ({"run_id": RUN_DONE}, ["7", "pagedown"]),
    "runs_sorted_by_letter": ({"experiment": EXPERIMENT}, ["L"]),
    "runs_filter_expression": ({"experiment": EXPERIMENT}, ["slash", *"loss < 1", "enter"]),
    "compare_grid": ({"experiment": EXPERIMENT}, ["home", "space", "end", "space", "c", "space", "down", "space"]),
    "command_line": ({"run_id": RUN_DONE}, ["colon", *"exp nope", "enter"]),
    # NO_COLOR: every colour becomes a grey; statuses and compare series must still read apart.
    "runs_no_color": ({"experiment": EXPERIMENT}, [], {"NO_COLOR": "1"}),
    "run_failed_no_color": ({"run_id": RUN_FAILED}, [], {"NO_COLOR": "1"}),
    "compare_no_color": ({"experiment": EXPERIMENT}, ["home", "space", "end", "space", "c"], {"NO_COLOR": "1"}),
    "run_system_no_color": ({"run_id": RUN_DONE}, ["7", "pagedown"], {"NO_COLOR": "1"}),
    "runs_sorted_no_color": ({"experiment": EXPERIMENT}, ["L"], {"NO_COLOR": "1"}),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", list(CASES))
def test_screen(case: str, size: tuple[int, int], snap_compare: Any, make_app: Any,
                monkeypatch: pytest.MonkeyPatch) -> None:
    kwargs, keys, *rest = CASES[case]
    for name, value in (rest[0] if rest else {}).items():
        monkeypatch.setenv(name, value)
    # The status line names the service: a fixed label, as the test service's port varies.
    app = make_app(service_label="127.0.0.1:50051", **kwargs)

    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot, timeout=5)
        await pilot.pause(0.5)   # a loaded machine repaints late (focus moves, modal dimming)
        from textual.widgets import Input
        for line in pilot.app.screen.query(Input):   # a blinking cursor would be on or off by chance
            line.cursor_blink = False
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
