"""Running submitted scripts as an unprivileged user, when the service runs as root.

`tailrun server` started as root runs every submitted script as the user `tailrun-run` (created
with `useradd --system` when missing) or the user of `--run-as USER`. Then:

- the data dir is 0700 root: the store (tailrun.db), the artifacts, every run's state, console
  and exit code, the token file if it is there: the script can neither read nor write them;
- the script's own folders live outside it, under /var/lib/tailrun-run/<hash of the data dir>/
  (0711 root: reachable, not listable): `work/<run_id>` (its cwd, snapshot and outputs) and
  `homes/<run_id>` (its TAILRUN_HOME and HOME), both owned by the run user, mode 0700; `envs/`
  (built environments) is root's and readable;
- the service's /proc/PID/environ and memory are root's (mode 0400, no ptrace across users); its
  command line is readable by anyone but holds no token (see cli.py);
- the wrapper shell that records the exit code stays root; only the script drops to the run user
  (uid, gid, no supplementary groups), so the exit code cannot be forged into another run;
- files the service reads back from the script's folders (outputs/, logs/, the SDK's spools) are
  opened without following links out of those folders, and spools are copied before uploading.

Not isolated: runs of one service share the run user, so a script can signal, read the files
and the /proc/PID/environ (with its run-scoped token) of another run executing at the same time.
A script can also start processes that leave its process group (setsid); they are not killed
when the run ends.

When the service runs as a normal user, scripts run as that same user (there is no user to
switch to): they can read everything that user can, the data dir, the store and a --token-file
included. The token is still kept out of the service's command line and environment.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("tailrun_service.runner")

DEFAULT_RUN_USER = "tailrun-run"
RUN_ROOT_BASE = Path("/var/lib/tailrun-run")

# Run as root right before the script: drop to the run user, then exec the script. A failure is
# said in the console in one line (the usual cause: the interpreter is not readable by that user).
_DROP = """\
import os, sys
uid, gid, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
try:
    os.setgroups([]); os.setgid(gid); os.setuid(uid)
    os.execvp(sys.argv[4], sys.argv[4:])
except OSError as exc:
    print(f"tailrun: cannot start {sys.argv[4]!r} as user {name}: {exc.strerror or exc}; it and its "
          "Python packages must be readable by that user (or start the service with --run-as USER)",
          file=sys.stderr, flush=True)
    sys.exit(127)
"""


class RunUserError(Exception):
    """The run user cannot be used (the message says why)."""


@dataclass(frozen=True)
class RunUser:
    name: str
    uid: int
    gid: int

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv`, started as this user."""
        return [sys.executable, "-I", "-S", "-c", _DROP, str(self.uid), str(self.gid), self.name, *argv]

    def can_run_service_python(self) -> str | None:
        """None if this user can run the service's interpreter and import tailrun (what a
        script with the default environment does), else why not."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAILRUN_")}
        try:
            done = subprocess.run(self.wrap([sys.executable, "-c", "import tailrun"]), env=env, cwd="/",
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if done.returncode == 0:
            return None
        lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {done.returncode}"

    def own(self, path: Path, mode: int = 0o700) -> None:
        """Give `path` (a folder tree the service just wrote) to this user."""
        os.lchown(path, self.uid, self.gid)
        os.chmod(path, mode)
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                os.lchown(os.path.join(dirpath, name), self.uid, self.gid)


def resolve_run_user(name: str) -> RunUser | None:
    """The user scripts run as; None when it is root (scripts then run as the service).
    The default user is created when missing; another missing user is an error."""
    if os.geteuid() != 0:
        raise RunUserError(f"--run-as {name}: only a service running as root can run scripts as another user")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        if name != DEFAULT_RUN_USER:
            raise RunUserError(f"--run-as {name}: no such user") from None
        _create_user(name)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0:
        log.warning("--run-as %s: submitted scripts run as root, not isolated from the service", name)
        return None
    return RunUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _create_user(name: str) -> None:
    try:
        done = subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                               "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
                              capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise RunUserError(f"cannot create the user {name} to run scripts as (useradd: {exc.strerror or exc}); "
                           "create it, or name another with --run-as USER") from None
    if done.returncode != 0 and not _exists(name):
        raise RunUserError(f"cannot create the user {name} to run scripts as: {done.stderr.strip()}; "
                           "create it, or name another with --run-as USER")


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def run_root_for(data_dir: Path) -> Path:
    """Where the folders of the scripts of the service on `data_dir` live (one per data dir)."""
    key = hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:16]
    return RUN_ROOT_BASE / key


def root_folder(path: Path, mode: int = 0o711) -> Path:
    """A folder owned by root with `mode` (0711: others may pass through, not list)."""
    path.mkdir(parents=True, exist_ok=True)
    os.lchown(path, 0, 0)
    os.chmod(path, mode)
    return path
