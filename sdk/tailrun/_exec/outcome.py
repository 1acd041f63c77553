"""What a run executes and what its end means: the command line from the run definition, and the
error JSON of a failed script (its last traceback, else the exit code and last line). Shared by
the service's runner and the Slurm job bootstrap."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .. import _status as st
from .._script_wait import IGNORED_PREFIX
from .process import describe_exit

MAX_ERROR_CHARS = 3000
STATUS_FILE = "final_status.json"   # in the script's TAILRUN_HOME, written by run.fail()/cancel() (SDK)
MAX_STATUS_FILE_BYTES = 256 * 1024
# A Slurm job's own report of its end (tailrun/job.py writes it, the service's slurm target reads it).
JOB_REPORT_PATH = "system_logs/tailrun_job.json"


def build_argv(definition: dict[str, Any], interpreter: str) -> list[str]:
    """The command line: `command` (a string runs in /bin/sh), else interpreter + script + arguments."""
    command = definition.get("command")
    if command:
        if isinstance(command, str):
            return ["/bin/sh", "-c", command]
        argv = [str(part) for part in command]
        if argv[0] in ("python", "python3"):
            argv[0] = interpreter
        return argv
    return [interpreter, str(definition["script"]), *[str(a) for a in definition.get("arguments") or []]]


def failure_error(console: str, code: int) -> str:
    """The error JSON of a failed script: its last traceback, else the exit code and last line."""
    traceback = last_traceback(console)
    if traceback:
        message = traceback
    else:
        lines = [line for line in console.splitlines() if line.strip() and not line.startswith(IGNORED_PREFIX)]
        message = describe_exit(code) + (f": {lines[-1].strip()}" if lines else "")
    if len(message) > MAX_ERROR_CHARS:
        message = "…" + message[-(MAX_ERROR_CHARS - 1):]
    return make_error("UserError", message, exit_code=code)


def last_traceback(text: str) -> str | None:
    """The last Python traceback printed in `text` (header, frames and the exception line)."""
    start = text.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    lines = text[start:].splitlines()
    block = [lines[0]]
    for line in lines[1:]:
        block.append(line)
        if line and not line[0].isspace():
            break
    return "\n".join(block)


def make_error(code: str, message: str, **extra: Any) -> str:
    return json.dumps({"error": {"code": code, "message": message, **extra}})


def script_final_status(path: Path, run_id: str, log: logging.Logger) -> tuple[str, str | None] | None:
    """(Failed, error JSON) if the script called `run.fail()`, (Canceled, None) if it called
    `run.cancel()`: the SDK wrote `path` (STATUS_FILE in the script's TAILRUN_HOME); None if it did
    not, or the file is unusable (logged)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.read(MAX_STATUS_FILE_BYTES))
        if data.get("run_id") != run_id or data.get("status") not in (st.FAILED, st.CANCELED):
            raise ValueError(f"not a Failed or Canceled status of run {run_id}")
        if data["status"] == st.CANCELED:
            return st.CANCELED, None
        error = json.loads(data.get("error_json") or "{}").get("error") or {}
        code, message = error.get("code") or "UserError", error.get("message") or "The run failed"
        if not isinstance(code, str) or not isinstance(message, str):
            raise ValueError("the error code and message must be strings")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("run %s: ignoring %s: %s", run_id, path, exc)
        return None
    message = message.replace("\0", "")
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS - 1] + "…"
    return st.FAILED, make_error(code.replace("\0", "")[:100], message)
