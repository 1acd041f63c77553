"""Child processes of the runner (and of the Slurm job bootstrap): spawning in a new process
group, waiting while doing other work, killing the whole group, and recognising a process again
after a service restart."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Callable

# The script runs under a tiny shell that records its exit code in a file, so a service that
# restarts while the run executes still learns how it ended. The trap keeps the shell alive when
# the group gets SIGTERM (traps reset on exec, so the script itself sees SIGTERM normally).
_WRAPPER = ('f=$1; shift; trap : TERM INT HUP; "$@"; c=$?; '
            'echo $c > "$f.tmp" && mv "$f.tmp" "$f"; exit $c')
POLL_SECONDS = 0.05


def spawn(argv: list[str], *, cwd: Path, env: dict[str, str], console: Path,
          exit_file: Path | None = None, wrap: Callable[[list[str]], list[str]] | None = None) -> subprocess.Popen:
    """Start `argv` in its own session (its own process group), stdout and stderr appended to the
    console file, stdin closed. `wrap` (RunUser.wrap) starts the script itself as another user:
    the exit-code shell stays the service's."""
    if wrap is not None:
        argv = wrap(argv)
    if exit_file is not None:
        argv = ["/bin/sh", "-c", _WRAPPER, "tailrun-run", str(exit_file), *argv]
    with open(console, "ab") as out:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)


def kill_group(pgid: int, sig: int) -> bool:
    """Signal every process of the group; False if none is left."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), to tell it from a reused pid."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_alive(pid: int, ticks: int | None) -> bool:
    """True while the process that had `ticks` as its start time still runs (zombies are dead)."""
    try:
        os.waitpid(pid, os.WNOHANG)   # reap it if it is our own child
    except ChildProcessError:
        pass
    except OSError:
        pass
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: fall back to a signal 0 probe
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    state = raw[raw.rfind(")") + 2:].split()[0]
    if state in ("Z", "X"):
        return False
    return ticks is None or start_ticks(pid) == ticks


def describe_exit(code: int) -> str:
    """'exit code 1', 'killed by SIGKILL', 'exit code 143 (SIGTERM)'."""
    if code < 0:
        return f"killed by {_signal_name(-code)}"
    if code > 128 and _signal_name(code - 128, default=""):
        return f"exit code {code} ({_signal_name(code - 128)})"
    return f"exit code {code}"


def _signal_name(number: int, default: str | None = None) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return default if default is not None else f"signal {number}"


def wait_with(proc: subprocess.Popen, tick: Callable[[], bool]) -> int | None:
    """Wait for `proc`, calling `tick()` every POLL_SECONDS; `tick` returning False stops the wait
    early (returns None, the process is left running)."""
    while True:
        try:
            return proc.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        if not tick():
            return None
