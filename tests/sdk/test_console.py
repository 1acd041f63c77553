"""The console tee, in real child processes: Python prints, raw fd writes and child processes are all
seen both on the real stdout/stderr and by on_bytes; a slow or failing on_bytes never blocks them."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

_PRELUDE = """
import os, subprocess, sys, time
from tailrun._console import ConsoleTee
captured = []
"""


def _run(tmp_path: Path, code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    script = tmp_path / "tee_script.py"
    script.write_text(_PRELUDE + textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": ""})


def test_every_kind_of_output_is_seen_and_captured(tmp_path: Path) -> None:
    done = _run(tmp_path, """
        tee = ConsoleTee(captured.append)
        tee.start()
        print("from python print", flush=True)
        print("to python stderr", file=sys.stderr)
        os.write(1, b"from os.write 1\\n")
        os.write(2, b"from os.write 2\\n")
        subprocess.run(["echo", "from a child echo"], check=True)
        subprocess.run(["sh", "-c", "echo child stderr >&2"], check=True)
        tee.stop()
        print("after stop")
        open("captured.bin", "wb").write(b"".join(captured))
        print("errors", tee.errors, "dropped", tee.dropped_bytes)
    """)
    assert done.returncode == 0, done.stderr
    out, err = done.stdout.decode(), done.stderr.decode()
    for line in ("from python print", "from os.write 1", "from a child echo", "after stop"):
        assert line in out
    for line in ("to python stderr", "from os.write 2", "child stderr"):
        assert line in err
    captured = (tmp_path / "captured.bin").read_bytes().decode()
    for line in ("from python print", "to python stderr", "from os.write 1", "from os.write 2",
                 "from a child echo", "child stderr"):
        assert line in captured
    assert "after stop" not in captured
    assert "errors 0 dropped 0" in out
    assert out.index("from python print") < out.index("from os.write 1") < out.index("from a child echo")


def test_a_slow_callback_drops_for_capture_but_never_blocks_the_user(tmp_path: Path) -> None:
    done = _run(tmp_path, """
        def slow(data):
            time.sleep(0.5)
            captured.append(data)
        tee = ConsoleTee(slow, max_buffer=64 * 1024)
        tee.start()
        started = time.monotonic()
        line = b"x" * 1023 + b"\\n"
        for _ in range(8 * 1024):          # 8 MiB through the tee
            os.write(1, line)
        took = time.monotonic() - started
        tee.stop()
        print("\\nwritten in", round(took, 1), "dropped", tee.dropped_bytes > 0, file=sys.stderr)
    """)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) == 8 * 1024 * 1024        # the user's output is complete
    assert b"dropped True" in done.stderr


def test_errors_in_the_callback_never_reach_the_user(tmp_path: Path) -> None:
    done = _run(tmp_path, """
        def broken(data):
            raise RuntimeError("capture is broken")
        tee = ConsoleTee(broken)
        tee.start()
        for i in range(5):
            print("line", i, flush=True)
            time.sleep(0.02)
        tee.stop()
        print("errors counted", tee.errors > 0)
    """)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    assert all(f"line {i}" in out for i in range(5))
    assert "errors counted True" in out
    assert b"capture is broken" not in done.stderr


def test_run_form_queues_file_events_with_increasing_offsets(tmp_path: Path) -> None:
    done = _run(tmp_path, """
        from tailrun._recorder import Recorder
        rec = Recorder()                 # not configured: items just stay queued
        tee = ConsoleTee(rec, "run-1", "logs/user_log.txt")
        tee.start()
        for i in range(3):
            print("hello", i, flush=True)
            time.sleep(0.05)
        tee.stop()
        items = list(rec.queue)
        offsets = [p["offset"] for _, _, kind, p in items]
        data = b"".join(p["data"] for _, _, _, p in items)
        ok = all(kind == "file" and p["append"] and p["path"] == "logs/user_log.txt" for _, _, kind, p in items)
        expected = 0
        for _, _, _, p in items:
            ok = ok and p["offset"] == expected
            expected += len(p["data"])
        print("ok", ok, data == b"hello 0\\nhello 1\\nhello 2\\n", file=sys.stderr)
        rec.queue.clear()                # nothing to send: the exit hook must not start a service
    """)
    assert done.returncode == 0, done.stderr
    assert b"ok True True" in done.stderr
