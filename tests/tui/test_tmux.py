"""End to end: `tailrun ui` in a real terminal (tmux), driven with send-keys, read with capture-pane."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tailrun_tui.fmt import number

from .seed import RUN_DONE

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]
TAILRUN = str(Path(sys.executable).parent / "tailrun")


class Tmux:
    def __init__(self, command: str, env: dict[str, str], size: tuple[int, int] = (120, 40)) -> None:
        self.name = f"tailrun-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y", str(size[1]),
                        f"env {exports} {command}; sleep 30"], check=True)

    def screen(self, colours: bool = False) -> str:
        args = ["tmux", "capture-pane", "-p", "-t", self.name] + (["-e"] if colours else [])
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def wait_for(self, text: str, timeout: float = 40) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            assert time.monotonic() < deadline, f"{text!r} never appeared:\n{screen}"
            time.sleep(0.2)

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def tmux_env(seeded: Any, tmp_path: Path) -> dict[str, str]:
    return {"TERM": "xterm-256color", "TZ": "UTC", "TAILRUN_HOME": str(tmp_path / "home"),
            "TEXTUAL_ANIMATIONS": "none", "PATH": os.environ["PATH"]}


def test_tailrun_ui_in_a_real_terminal(seeded: Any, tmux_env: dict[str, str]) -> None:
    term = Tmux(f"{TAILRUN} ui --address {seeded.address} --run {RUN_DONE}", tmux_env)
    try:
        screen = term.wait_for("1 Overview")
        term.wait_for("Completed")
        assert "baseline" in term.screen() and "fold-1" in term.screen()
        term.keys("2")
        screen = term.wait_for("accuracy  last 0.99")
        assert "3 metrics" in screen and "step" in screen
        # The title's last value is the last logged one (as `tailrun metrics` prints it), not a
        # downsampled bucket's min or max.
        csv = subprocess.run([TAILRUN, "metrics", "--address", seeded.address, "--csv", RUN_DONE, "loss"],
                             capture_output=True, text=True, check=True, env={**os.environ, **tmux_env}).stdout
        name, _kind, _index, step, _time, _column, value = csv.strip().splitlines()[-1].split(",")
        assert name == "loss"
        term.wait_for(f"loss  last {number(float(value))} @ step {int(step):,}")
        term.keys("3")
        term.wait_for("epoch 3/3 loss=0.30")
        term.keys("Escape")
        screen = term.wait_for("experiments › mnist")
        assert "big-lr" in screen and "Failed" in screen
        term.keys("q")
        deadline = time.monotonic() + 10
        while "experiments › mnist" in term.screen():      # the UI is gone, the shell's sleep remains
            assert time.monotonic() < deadline, term.screen()
            time.sleep(0.2)
        assert "Traceback" not in term.screen()
    finally:
        term.close()


def test_no_color_is_honoured(seeded: Any, tmux_env: dict[str, str]) -> None:
    term = Tmux(f"{TAILRUN} ui --address {seeded.address} --experiment mnist", {**tmux_env, "NO_COLOR": "1"})
    try:
        term.wait_for("still-going")
        time.sleep(0.5)
        raw = term.screen(colours=True)
        # Words carry the meaning; what is drawn is shades of grey only (Textual's NO_COLOR filter).
        assert "Running" in raw and "Failed" in raw
        codes = [int(n) for n in re.findall(r"[34]8;5;(\d+)", raw)]
        assert codes and all(n in (0, 7, 8, 15, 16, 231) or n >= 232 for n in codes), sorted(set(codes))
        for r, g, b in re.findall(r"[34]8;2;(\d+);(\d+);(\d+)", raw):
            assert r == g == b
    finally:
        term.close()


def test_round_two_keys_in_a_real_terminal(seeded: Any, tmux_env: dict[str, str]) -> None:
    """Shift+letter sort, `:` to a run, `]` to the next tab, ←/→ cursor readout with the point's
    time, the System tab with GPUs side by side, the metrics filter; at 80×24."""
    from tailrun_tui.fmt import full_time

    from .seed import T0

    term = Tmux(f"{TAILRUN} ui --address {seeded.address} --experiment mnist", tmux_env, size=(80, 24))
    try:
        screen = term.wait_for("still-going")
        assert "Started" not in screen and "Tags" not in screen      # narrow: the useful columns
        term.keys("L")
        screen = term.wait_for("sorted by loss ↓")
        rows = [line for line in screen.splitlines() if "big-lr" in line or "baseline" in line]
        assert "big-lr" in rows[0] and "baseline" in rows[1]
        term.keys(":", "run baseline", "Enter")
        term.wait_for("1 Overview")
        term.wait_for("GPU 1: utilization")
        term.keys("]")
        term.wait_for("3 metrics")
        term.keys("Left")
        # accuracy's last point: step 199 at T0 + 200 (the seed's times), read off the chart
        term.wait_for(f"step 199 · 0.99 · {full_time(T0 + 200)}")
        term.keys("Escape", "/", "lr", "Enter")
        screen = term.wait_for("1 of 3 metrics match /lr")
        assert "accuracy" not in screen
        term.keys("7")
        term.wait_for("cpu (%)")
        term.wait_for("page 1/6")                      # 80×24: two charts a page
        term.keys("NPage", "NPage")
        screen = term.wait_for("GPU 1 utilization (%)")
        assert "GPU 0 utilization (%)" in screen      # 80 columns: one under the other
        term.keys("q")
        deadline = time.monotonic() + 10
        while "1 Overview" in term.screen():
            assert time.monotonic() < deadline, term.screen()
            time.sleep(0.2)
        assert "Traceback" not in term.screen()
    finally:
        term.close()
