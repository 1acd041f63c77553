"""`Run.wait_for_completion`: follow a run (submitted or interactive) through `Watch` (no polling loop),
streaming its console with Azure ML's layout when asked."""
from __future__ import annotations

import json
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, TextIO

from . import _status
from .cli.terminal import safe, safe_output

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run
    from .v1 import tailrun_pb2 as pb

CONSOLE = "user_logs/std_log.txt"
# The service's one line of settings it could not honour (tailrun_service.ignored_settings); it is
# also the first line of CONSOLE.
IGNORED_PREFIX = "tailrun ignored: "
log = logging.getLogger("tailrun")
# How long a wait rides out an unreachable service (a restart) before it raises ServiceUnavailable.
GIVE_UP_SECONDS = 30.0


class _ConsolePrinter:
    """Prints each byte of the console once, in order, whatever order Watch replays it in."""

    def __init__(self, run: "Run", out: TextIO) -> None:
        self.run, self.out = run, out
        self.printed = 0          # bytes of the console already printed
        self.started = False
        self.at_line_start = True

    def feed(self, output: "pb.OutputText") -> None:
        if output.path != CONSOLE:
            return
        data = output.text.encode("utf-8", "surrogatepass")
        end = output.size or output.offset + len(data)  # size: where the text ends in the file
        if end <= self.printed:
            return
        if output.offset > self.printed:   # a gap: read the missing bytes
            self.catch_up()
            if end <= self.printed:
                return
        self.write(data[self.printed - output.offset:].decode("utf-8", "replace"))
        self.printed = end

    def catch_up(self) -> None:
        """Print what the service has beyond what was printed (at the end, or after a gap)."""
        text = self.run._client().read_output(self.run.id, offset=self.printed)
        if text.path and text.path != CONSOLE:
            return
        data = text.text.encode("utf-8", "surrogatepass")
        if text.offset + len(data) > self.printed and text.offset <= self.printed:
            self.write(data[self.printed - text.offset:].decode("utf-8", "replace"))
            self.printed = text.size or text.offset + len(data)

    def write(self, text: str) -> None:
        if not text:
            return
        if not self.started:
            self.started = True
            self.out.write(f"\nStreaming {CONSOLE}\n{'=' * (len(CONSOLE) + 10)}\n\n")
        # The run's console, colours kept (terminals and notebooks show them), other escape
        # sequences removed: a script must not drive the terminal of whoever waits for it.
        self.out.write(safe_output(text, colour=True))
        self.out.flush()
        self.at_line_start = text.endswith("\n")


def wait(run: "Run", show_output: bool, raise_on_error: bool, out: TextIO | None = None) -> dict[str, Any]:
    out = out or sys.stdout
    if show_output:
        out.write(f"RunId: {run.id}\nWeb View: {run.get_portal_url()}\n")
        out.flush()
    printer = _ConsolePrinter(run, out) if show_output else None
    # Without the console, the line of ignored settings is logged (once) as soon as it is seen.
    on_info = None if show_output else _IgnoredOnce().check
    try:
        _follow(run, printer, on_info)
        if printer is not None:
            printer.catch_up()
    except KeyboardInterrupt:
        status = run.status
        print(f"\ntailrun: stopped waiting; run {run.id} is still executing on the service "
              f"(status {status}). Cancel it with `tailrun cancel {run.id}` or run.cancel().",
              file=sys.stderr)
        raise
    details = run.get_details()
    if on_info is not None:
        on_info(details.get("warnings", []))
    error = details.get("error")
    if show_output:
        if printer is not None and printer.started and not printer.at_line_start:
            out.write("\n")
        out.write(f"\nExecution Summary\n=================\nRunId: {run.id}\nWeb View: {run.get_portal_url()}\n")
        # The ignored-settings line opened the streamed console: not printed a second time.
        shown = printer is not None and printer.started
        warnings = [w for w in details.get("warnings", []) if not (shown and w.startswith(IGNORED_PREFIX))]
        if warnings:
            out.write("\nWarnings:\n" + "\n".join(safe(w) for w in warnings) + "\n")
        if error and not raise_on_error:
            out.write("\nError:\n" + json.dumps(error, indent=4) + "\n")
        out.write("\n")
        out.flush()
    if error and raise_on_error and details.get("status") == _status.FAILED:
        from .script_run import ActivityFailedException
        raise ActivityFailedException(error, run.id)
    return details


class _IgnoredOnce:
    """Logs the run's ignored-settings warning the first time it is seen."""

    def __init__(self) -> None:
        self.done = False

    def check(self, warnings: Any) -> None:
        line = next((w for w in warnings if w.startswith(IGNORED_PREFIX)), None)
        if line is not None and not self.done:
            self.done = True
            log.warning("%s", safe(line))


def follow_to_final(run: Any, on_event: Callable[["pb.WatchEvent"], None], kinds: list[str],
                    include_children: bool = False, timeout: float | None = None) -> bool:
    """Feed `on_event` every Watch event of the run (across reconnects: a restarted service does not
    end the wait) until the run has a final status and the backlog is delivered (True), or until
    `timeout` seconds have passed (False). Raises ServiceUnavailable after GIVE_UP_SECONDS without a
    service."""
    follow = run._client().follow(run_id=run.id, include_children=include_children, from_start=True,
                                  kinds=kinds, markers=True, give_up_after=GIVE_UP_SECONDS)
    timer = None
    if timeout is not None:
        timer = threading.Timer(min(timeout, 10 ** 9), follow.stop)   # the time is up: the loop ends
        timer.daemon = True
        timer.start()
    terminal = False
    try:
        for event in follow:
            on_event(event)
            if event.WhichOneof("kind") == "run" and event.run.run_id == run.id:
                terminal = terminal or _status.is_terminal(event.run.status)
            # A replayed run event carries today's status: finish the backlog first.
            if terminal and follow.caught_up:
                return True
    finally:
        if timer is not None:
            timer.cancel()
        follow.stop()
    return False


def _follow(run: "Run", printer: _ConsolePrinter | None, on_info: Any = None) -> None:
    """Return once the run has a final status; everything Watch delivered before it is printed.
    `on_info(warnings)` is called with the warnings of each run event."""
    def on_event(event: "pb.WatchEvent") -> None:
        kind = event.WhichOneof("kind")
        if kind == "run" and event.run.run_id == run.id:
            run._apply_info(event.run)
            if on_info is not None:
                on_info(event.run.warnings)
        elif kind == "output" and printer is not None:
            printer.feed(event.output)

    follow_to_final(run, on_event, ["status", "output"] if printer is not None else ["status"])


