"""`tailrun runs`, `tailrun logs`, `tailrun metrics` against a real service, with runs made by real
SDK processes; the commands run as real `python -m tailrun.cli` processes."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
import textwrap
import threading
import time

import pytest

MAKE_RUNS = textwrap.dedent("""
    import math
    from tailrun import Workspace, Experiment
    exp = Experiment(Workspace(), "cli-exp")
    first = exp.start_logging(outputs=False, display_name="baseline")
    first.log("loss", 0.1, step=0)
    first.log("loss", 1 / 3, step=5)
    first.log("loss", math.nan, step=10)
    first.log("acc", math.inf)
    first.log("acc", 7)
    first.log_row("row", a=1, b="x")
    print("console line one", flush=True)
    first.complete()
    second = exp.start_logging(outputs=False, display_name="tuned")
    second.child_run("kid").complete()
    second.fail("nope")
    print(first.id, second.id)
""")


def cli(service, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tailrun.cli", *args, "--address", service.address],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def made(service, run_script):
    proc = run_script(MAKE_RUNS)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()[-2:]


def test_runs_table(service, made):
    first, second = made
    out = cli(service, "runs", "cli-exp")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["#", "RUN", "ID", "STATUS", "STARTED", "DURATION", "NAME"]
    assert len(lines) == 3                       # the child run is left out
    assert lines[1].split()[:3] == ["2", second, "Failed"] and lines[1].endswith("tuned")
    assert lines[2].split()[:3] == ["1", first, "Completed"] and lines[2].endswith("baseline")
    column = lines[0].index("STATUS")
    assert lines[1][column:column + 6] == "Failed" and lines[2][column:column + 9] == "Completed"
    everything = cli(service, "runs", "--all")
    assert everything.stdout.splitlines()[0].startswith("EXPERIMENT")
    assert len(everything.stdout.splitlines()) == 4   # with the child
    assert len(cli(service, "runs", "--limit", "1").stdout.splitlines()) == 2
    assert "no runs in experiment 'nothing'" in cli(service, "runs", "nothing").stdout


def test_metrics_exact(service, made):
    first, _ = made
    out = cli(service, "metrics", first, "--csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    loss = [r for r in rows if r["metric"] == "loss"]
    assert [(r["step"], r["value"]) for r in loss] == [("0", "0.1"), ("5", repr(1 / 3)), ("10", "nan")]
    assert all(float(r["time"]) > 0 for r in loss)
    assert [(r["step"], r["value"]) for r in rows if r["metric"] == "acc"] == [("", "inf"), ("", "7")]
    assert [(r["column"], r["value"]) for r in rows if r["metric"] == "row"] == [("a", "1"), ("b", "x")]

    one = cli(service, "metrics", first, "loss")
    assert one.returncode == 0
    assert one.stdout.splitlines()[0] == "loss (scalar, 3 values)"
    assert repr(1 / 3) in one.stdout and "acc" not in one.stdout
    missing = cli(service, "metrics", first, "nope")
    assert missing.returncode == 1 and "has no metric 'nope'" in missing.stderr
    unknown = cli(service, "metrics", "no-such-run")
    assert unknown.returncode == 1 and "no run 'no-such-run'" in unknown.stderr


def test_logs_print_and_follow(service, made, run_script, tmp_path):
    first, _ = made
    out = cli(service, "logs", first)
    assert out.returncode == 0, out.stderr
    assert "console line one" in out.stdout

    follower_code = textwrap.dedent("""
        import sys, time
        from tailrun import Workspace, Experiment
        run = Experiment(Workspace(), "cli-follow").start_logging(outputs=False)
        print("waiting for the follower", flush=True)   # captured: the run's output
        run.flush()                          # the start and that line are stored
        print("ID", run.id, flush=True)
        sys.stdin.readline()                 # wait until the follower has printed the line above
        for i in range(3):
            print(f"tick {i}", flush=True)
            run.flush()
            time.sleep(0.3)
        run.complete()
    """)
    env = {"TAILRUN_ADDRESS": service.address, "TAILRUN_HOME": str(tmp_path / "home")}
    import os
    writer = subprocess.Popen([sys.executable, "-c", follower_code], env={**os.environ, **env},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    follower = None
    try:
        run_id = next(line for line in writer.stdout if line.startswith("ID")).split()[1]
        follower = subprocess.Popen([sys.executable, "-m", "tailrun.cli", "logs", run_id, "-f",
                                     "--address", service.address], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        lines = LineReader(follower.stdout)
        # Once the follower printed the run's output so far, the ticks can only reach it by following.
        assert lines.wait_for("waiting for the follower", timeout=60), \
            f"the follower printed {lines.lines!r}, not the run's first line"
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.wait(60) == 0
        assert follower.wait(60) == 0, follower.stderr.read()   # ends by itself when the run ends
        lines.join(60)
        assert [line for line in lines.lines if line.startswith("tick")] == ["tick 0\n", "tick 1\n", "tick 2\n"]
    finally:
        for proc in (writer, follower):
            if proc is not None and proc.poll() is None:
                proc.kill()


class LineReader:
    """Collects a child's output lines in a thread, so a test can wait for one with a deadline."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        """True once a line containing `text` was read; False at the timeout (or the stream's end)."""
        def seen() -> bool:
            return any(text in line for line in self.lines)
        with self._changed:
            self._changed.wait_for(lambda: seen() or self.ended, timeout)
            return seen()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the child's output did not end"


def test_unreachable_service_is_a_clear_error():
    out = subprocess.run([sys.executable, "-m", "tailrun.cli", "runs", "--address", "127.0.0.1:1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "tailrun runs: cannot reach the tailrun service at 127.0.0.1:1" in out.stderr


def _into_closed_pipe(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """Run the CLI with stdout a pipe whose reader has already left (`... | head -0`)."""
    import os
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "tailrun.cli", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120, cwd=cwd)
    finally:
        os.close(write_end)


def test_a_reader_that_left_ends_the_command_quietly(service, made, tmp_path):
    """`tailrun runs | head -1`, `tailrun submit ... | head -1`: exit 141 (like SIGPIPE), no traceback."""
    runs = _into_closed_pipe("runs", "--address", service.address)
    assert runs.returncode == 141 and runs.stderr == ""
    (tmp_path / "job.py").write_text("print('hi')\n")
    submit = _into_closed_pipe("submit", "job.py", "--address", service.address, cwd=tmp_path)
    assert submit.returncode == 141 and submit.stderr == ""
    metrics = _into_closed_pipe("metrics", made[0], "--address", service.address)
    assert metrics.returncode == 141 and metrics.stderr == ""
    # And through a real `head -1`, with more output than a pipe holds.
    shell = subprocess.run(f"{sys.executable} -m tailrun.cli metrics {made[0]} --csv --address {service.address}"
                           f" | head -1", shell=True, capture_output=True, text=True, timeout=120)
    assert shell.stdout.startswith("metric,kind") and "Traceback" not in shell.stderr


EVIL_RUN = textwrap.dedent("""
    from tailrun import Workspace, Experiment
    run = Experiment(Workspace(), "evil").start_logging(outputs=False, display_name="name\\x1b]0;pwned\\x07[bold]x")
    run.tag("tag\\x1b[2J", "v\\x9b1A")
    run.log("note", "red\\x1b[31m\\x1b]52;c;ZXZpbA==\\x07")
    print("\\x1b[32mgreen\\x1b[0m \\x1b]0;title\\x07\\x1b[2J\\x1b[1Aup\\x07 plain", flush=True)
    run.complete()
    print(run.id)
""")


def _no_escape_sequences(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, repr(text)


def test_user_data_cannot_drive_the_terminal(service, run_script):
    """Names, tags, values and console output with escape sequences are shown escaped (and a
    console's colours are kept on a terminal only)."""
    proc = run_script(EVIL_RUN)
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.split()[-1]
    # The SDK refuses control characters in metric names; a raw writer is not the SDK.
    from tailrun.v1 import tailrun_pb2 as pb
    service.store.apply_batch("raw-writer", 1, [pb.Event(metrics=pb.MetricPoints(
        run_id=run_id, name="loss\x1b[2J", kind=pb.METRIC_KIND_SCALAR, times=[time.time()],
        columns=[pb.Column(values=[1.5])]))])

    runs = cli(service, "runs", "evil")
    assert runs.returncode == 0, runs.stderr
    _no_escape_sequences(runs.stdout)
    assert "name\\x1b]0;pwned\\x07[bold]x" in runs.stdout

    table = cli(service, "metrics", run_id)
    _no_escape_sequences(table.stdout)
    assert "loss\\x1b[2J (scalar, 1 value)" in table.stdout
    assert "red\\x1b[31m\\x1b]52;c;ZXZpbA==\\x07" in table.stdout
    exact = cli(service, "metrics", run_id, "--csv")   # not a terminal: exact data
    assert "red\x1b[31m" in exact.stdout

    logs = cli(service, "logs", run_id)                # not a terminal: no escape sequence at all
    assert logs.returncode == 0, logs.stderr
    _no_escape_sequences(logs.stdout)
    assert "green \\x1b" not in logs.stdout and "green up\\x07 plain" in logs.stdout
    raw = cli(service, "logs", run_id, "--raw")
    assert "\x1b]0;title\x07" in raw.stdout

    # On a terminal: the colours are kept, everything else removed, and the colours reset at the end.
    import os
    import pty
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "tailrun.cli", "logs", run_id, "--address", service.address],
                              stdout=slave, stderr=subprocess.PIPE, timeout=60)
        os.close(slave)
        slave = -1
        shown = b""
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: the other side closed
                break
            if not data:
                break
            shown += data
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert proc.returncode == 0, proc.stderr
    text = shown.decode()
    assert "\x1b[32mgreen\x1b[0m up\\x07 plain" in text and text.endswith("\x1b[0m")
    assert "\x1b]" not in text and "\x1b[2J" not in text and "\x1b[1A" not in text
