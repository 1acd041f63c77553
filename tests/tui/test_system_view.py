"""The System tab and the Overview's System line (issue 11 item 6, issue 12 item 15) against a real
service: the tab appears with the first sample (seeded, and from a real script's sampler), the
process figures come first and the GPUs sit side by side, one row per quantity."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tailrun_tui.widgets.system_view import SystemView, figure, sort_key, summary_lines

from .conftest import live_script, screen_text, settle, show_tab
from .seed import RUN_DONE, T0, Seeder

pytestmark = pytest.mark.timeout(120)

FRESH_RUN = "00000000-0000-4000-8000-0000000000f1"


def test_figures_and_order() -> None:
    assert figure("system/cpu_percent", 185.25) == "cpu 185.2 %"
    assert figure("system/gpu1_memory_used_mb", 9216.0) == "memory used 9216 MB"
    assert figure("system/disk_read_mb_per_s", 1.5) == "disk read 1.5 MB/s"
    assert figure("system/gpu0_temperature_c", 71.0) == "temperature 71 °C"
    names = ["system/gpu1_power_w", "system/gpu0_utilization_percent", "system/memory_rss_mb",
             "system/gpu1_utilization_percent", "system/cpu_percent", "system/gpu0_power_w"]
    assert sorted(names, key=sort_key) == [
        "system/cpu_percent", "system/memory_rss_mb", "system/gpu0_utilization_percent",
        "system/gpu1_utilization_percent", "system/gpu0_power_w", "system/gpu1_power_w"]
    lines = summary_lines({"system/cpu_percent": 12.0, "system/gpu0_power_w": 250.0,
                           "system/gpu0_utilization_percent": 97.0})
    assert lines == ["cpu 12 %", "GPU 0: utilization 97 % · power 250 W"]


async def test_seeded_run_shows_gpus_side_by_side(make_app: Any) -> None:
    app = make_app(run_id=RUN_DONE)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "7 System" in text
        assert "GPU 0: utilization 88.4 % · memory used 10240 MB · temperature 69.4 °C · power 245.2 W" in text
        assert "GPU 1: utilization 78.4 %" in text and "cpu 173.6 %" in text
        await pilot.press("7")
        await settle(pilot)
        view = app.screen.query_one(SystemView)
        assert list(view.plots) == ["system/cpu_percent", "system/memory_percent", "system/memory_rss_mb"]
        assert "cpu (%)" in screen_text(app) and "11 system charts · page 1/3" in screen_text(app)
        await pilot.press("pagedown")
        await settle(pilot)
        # Two GPUs: two columns, gpu0 left and gpu1 right, a row per quantity.
        assert view.shape[0] == 2
        assert list(view.plots)[:4] == ["system/gpu0_utilization_percent", "system/gpu1_utilization_percent",
                                        "system/gpu0_memory_used_mb", "system/gpu1_memory_used_mb"]
        text = screen_text(app)
        row = next(line for line in text.splitlines() if "GPU 0 utilization (%)" in line)
        assert "GPU 1 utilization (%)" in row
        assert all(s.loaded and s.total == 40 for s in view.series.values())


async def system_tab_once_shown(pilot: Any, *texts: str, tries: int = 100) -> SystemView:
    """Wait for the System tab to appear, with `texts` on the Overview's System line; show it."""
    app = pilot.app
    for _ in range(tries):
        if all(t in screen_text(app) for t in ("7 System", *texts)):
            break
        await pilot.pause(0.1)
    assert all(t in screen_text(app) for t in ("7 System", *texts)), screen_text(app)
    return await show_tab(pilot, "7", "SystemView")


async def test_tab_appears_with_the_first_sample(make_app: Any, seeded: Any) -> None:
    s = Seeder(seeded.address)
    try:
        s.start(FRESH_RUN, "sampled", T0)
        s.scalars(FRESH_RUN, "loss", [1.0, 0.5], T0)
        app = make_app(run_id=FRESH_RUN)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            assert "7 System" not in screen_text(app) and "System" not in screen_text(app)
            s.system(FRESH_RUN, "cpu_percent", [42.0], T0 + 5)
            view = await system_tab_once_shown(pilot, "cpu 42 %")
            assert list(view.series) == ["system/cpu_percent"] and view.series["system/cpu_percent"].total == 1
            s.system(FRESH_RUN, "cpu_percent", [42.0, 55.5], T0 + 5)   # the same first, then one more
            s.system(FRESH_RUN, "gpu0_utilization_percent", [99.0], T0 + 10)
            for _ in range(100):
                if "system/gpu0_utilization_percent" in view.series and view.series["system/cpu_percent"].total == 2:
                    break
                await pilot.pause(0.1)
            assert view.series["system/cpu_percent"].ys[-1] == 55.5
            assert "system/gpu0_utilization_percent" in view.charts
    finally:
        s.close()


async def test_a_real_scripts_samples_show(make_app: Any, seeded: Any, tmp_path: Path) -> None:
    """A script with the SDK's sampler on (every 0.2 s): the System tab and line fill by themselves."""
    source = (
        "import os, time\n"
        "from tailrun import Experiment, Workspace\n"
        "run = Experiment(Workspace(), 'real-samples').start_logging(display_name='busy')\n"
        "open('run_id.tmp', 'w').write(run.id); os.replace('run_id.tmp', 'run_id')\n"
        "x = 0\n"
        "while not os.path.exists('stop'):\n"
        "    for i in range(20000):\n        x += i * i\n"
        "    time.sleep(0.01)\n"
        "run.complete()\n")
    env = {"TAILRUN_SYSTEM_METRICS_INTERVAL": "0.2", "TAILRUN_SYSTEM_METRICS": None}
    with live_script(tmp_path, seeded.address, source, env) as (proc, run_id):
        app = make_app(run_id=run_id, clock=time.time)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            view = await system_tab_once_shown(pilot, "cpu ", "memory rss", tries=150)
            cpu = view.series["system/cpu_percent"]
            assert cpu.loaded and cpu.total >= 1 and all(y >= 0 for y in cpu.ys)
            before = cpu.total
            for _ in range(100):   # live: more samples arrive through Watch
                if cpu.total > before:
                    break
                await pilot.pause(0.1)
            assert cpu.total > before
            (tmp_path / "stop").touch()
            assert proc.wait(30) == 0
