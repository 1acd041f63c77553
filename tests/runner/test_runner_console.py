"""A submitted run's console is stored whole, however fast the script printed it (issue 8, item 5)."""
from __future__ import annotations

import json

from tailrun import Experiment, ScriptRunConfig

# 200,000 lines of 100 bytes at once, then a traceback: the script ends right after printing.
FAST_OUTPUT = """\
import sys
sys.stdout.write(("x" * 99 + "\\n") * 200_000)
sys.stdout.flush()
raise RuntimeError("the very last line")
"""


def test_fast_output_is_stored_to_its_last_line(service, workspace_of, source_dir, wait_status):
    ws = workspace_of(service)
    run = Experiment(ws, "console").submit(ScriptRunConfig(str(source_dir({"t.py": FAST_OUTPUT})), script="t.py"))
    info = wait_status(service.store, run.id, {"Completed", "Failed"}, timeout=120)
    assert info.status == "Failed"
    assert "RuntimeError: the very last line" in json.loads(info.error_json)["error"]["message"]
    stored = {f.path: f for f in service.store.list_files(run.id)}["user_logs/std_log.txt"]
    with service.store.open_file(run.id, "user_logs/std_log.txt") as fh:
        data = fh.read()
    assert len(data) == stored.size > 20_000_000
    assert data.startswith(b"x" * 99 + b"\n")
    assert data.count(b"x" * 99 + b"\n") == 200_000
    assert data.endswith(b"RuntimeError: the very last line\n")
    assert stored.complete
