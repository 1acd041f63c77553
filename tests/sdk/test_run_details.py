"""RunDetails(run).show() off a terminal: a summary line only when something changed, however
often it looks, while a real run logs metrics and changes status; and no Textual for it."""
from __future__ import annotations

import io
import re
import threading

from tailrun import Experiment, RunDetails

POLLS_PER_STEP = 4   # looks at an unchanged run before the test changes it


class CountingStream(io.StringIO):
    """A text stream that counts its flushes: RunDetails flushes once per look at the run."""

    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0
        self.changed = threading.Condition()

    def flush(self) -> None:
        super().flush()
        with self.changed:
            self.flushes += 1
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self), timeout), self.getvalue()


def test_a_line_is_printed_only_when_something_changed(ws) -> None:
    run = Experiment(ws, "details").start_logging(display_name="quiet", outputs=False, snapshot_directory=None)
    run.flush()   # the run exists on the service before RunDetails looks
    out = CountingStream()
    shower = threading.Thread(target=RunDetails(run).show, kwargs={"out": out, "interval": 0.01, "timeout": 60})
    shower.start()
    try:
        for step in range(3):
            seen = out.flushes
            out.wait_for(lambda o: o.flushes >= seen + POLLS_PER_STEP)
            run.log("loss", 1.0 / (step + 1))
            run.flush()
            out.wait_for(lambda o, value=f"loss={1.0 / (step + 1):.4g}": value in o.getvalue())
        seen = out.flushes
        out.wait_for(lambda o: o.flushes >= seen + POLLS_PER_STEP)
    finally:
        run.complete()
        shower.join(60)
    assert not shower.is_alive()
    summaries = [re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", line) for line in out.getvalue().splitlines()
                 if not line.startswith("  | ")]
    number = run.number
    assert summaries == [
        f"run #{number} quiet: Running",
        f"run #{number} quiet: Running · loss=1",
        f"run #{number} quiet: Running · loss=0.5",
        f"run #{number} quiet: Running · loss=0.3333",
        f"run #{number} quiet: Completed · loss=0.3333",
    ]


def test_run_details_prints_a_summary_until_the_run_ends(run_script) -> None:
    """The SDK bridge: off a terminal, RunDetails prints status, values and output lines."""
    code = (
        "import io, sys\n"
        "from tailrun import Workspace, Experiment, RunDetails\n"
        "run = Experiment(Workspace(), 'details').start_logging(display_name='d')\n"
        "run.log('loss', 0.25)\n"
        "run.complete()\n"
        "buf = io.StringIO()\n"
        "RunDetails(run).show(out=buf, interval=0.2, timeout=20)\n"
        "sys.__stderr__.write(buf.getvalue())\n"
        "print('textual' in sys.modules, file=sys.__stderr__)\n"
    )
    result = run_script(code)
    assert result.returncode == 0, result.stderr
    assert "run #1 d: Completed" in result.stderr and "loss=0.25" in result.stderr
    assert result.stderr.strip().endswith("False")     # no Textual for a text summary
