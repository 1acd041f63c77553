"""`RunDetails(run).show()`: azureml.widgets' RunDetails for the terminal.

On a terminal it opens the tailrun UI on the run (`tailrun ui --run ID`, a child process so the
run's console capture never sees the UI's drawing); elsewhere (a notebook, a pipe, a CI log) it
prints a text summary — status, last metric values, new output lines — refreshed until the run
ends. Nothing here imports Textual at module import (`import tailrun` must stay light).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any, TextIO

from ._status import is_terminal
from .cli.terminal import safe, safe_output

SUMMARY_INTERVAL = 2.0


class RunDetails:
    """Show a run's progress: the UI on a terminal, a refreshing text summary otherwise."""

    def __init__(self, run_instance: Any) -> None:
        if not hasattr(run_instance, "id"):
            raise TypeError(f"RunDetails needs a tailrun Run, not {type(run_instance).__name__}")
        self.run = run_instance

    def _settings(self) -> Any:
        ws = self.run.experiment.workspace
        from .client import resolve_read_settings

        return resolve_read_settings(ws.settings)

    def show(self, out: TextIO | None = None, interval: float = SUMMARY_INTERVAL,
             timeout: float | None = None) -> None:
        out = out or sys.stdout
        if out is sys.stdout and _is_terminal(out) and os.environ.get("TERM", "dumb") != "dumb":
            self._open_ui()
        else:
            self.print_summary(out, interval=interval, timeout=timeout)

    def _open_ui(self) -> None:
        settings = self._settings()
        # The UI reads the token from the environment, never from argv (ps shows argv).
        env = dict(os.environ)
        if settings.token:
            env["TAILRUN_TOKEN"] = settings.token
        cmd = [sys.executable, "-m", "tailrun.cli", "ui", "--address", settings.address, "--run", self.run.id]
        try:
            subprocess.run(cmd, env=env, check=False)
        except KeyboardInterrupt:
            pass

    def print_summary(self, out: TextIO, interval: float = SUMMARY_INTERVAL, timeout: float | None = None) -> str:
        """Print status, last values and new output lines until the run ends; returns the last
        status. A summary line is printed only when the status, a value or the name changed
        (its clock prefix does not count), so a quiet run does not fill a log with copies."""
        from ._script_wait import GIVE_UP_SECONDS
        from .client import Client
        from .exceptions import ServiceUnavailable

        client = Client(self._settings())
        deadline = None if timeout is None else time.monotonic() + timeout
        offset = 0
        last_summary = None
        unreachable_since = None   # a restart of the service: keep asking, as wait_for_completion does
        try:
            while True:
                try:
                    info = client.get_run(self.run.id)
                    text = client.read_output(self.run.id, offset=offset, tail_bytes=0 if offset else 64 * 1024)
                except ServiceUnavailable as exc:
                    now = time.monotonic()
                    if unreachable_since is None:
                        unreachable_since = now
                        out.write(safe(f"[{time.strftime('%H:%M:%S')}] {exc}; retrying for "
                                       f"{GIVE_UP_SECONDS:.0f} s") + "\n")
                        out.flush()
                    if now - unreachable_since > GIVE_UP_SECONDS or (deadline is not None and now > deadline):
                        raise
                    time.sleep(min(interval, 1.0))
                    continue
                unreachable_since = None
                if text.text:
                    offset = text.size or text.offset + len(text.text.encode("utf-8"))
                summary = summary_body(info)
                if summary != last_summary:
                    out.write(safe(f"[{time.strftime('%H:%M:%S')}] {summary}") + "\n")   # user data
                    last_summary = summary
                for row in text.text.splitlines():
                    out.write(f"  | {safe_output(row, colour=True)}\n")
                out.flush()
                if is_terminal(info.status):
                    return info.status
                if deadline is not None and time.monotonic() > deadline:
                    return info.status
                time.sleep(interval)
        finally:
            client.close()


def summary_body(info: Any) -> str:
    """What a summary line says, without its clock: the run, its status and last values."""
    values = ", ".join(f"{k}={_num(v)}" for k, v in sorted(info.last_metrics.items())[:8])
    label = info.display_name or info.run_id
    line = f"run #{info.number} {label}: {info.status}"
    return f"{line} · {values}" if values else line


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.4g}"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
