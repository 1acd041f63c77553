"""`python -m tailrun.job`: the bootstrap of a submitted run's Slurm job, on the node.

The service's slurm target (tailrun_service/compute/slurm.py) submits a batch script that sets
TAILRUN_RUN_ID, TAILRUN_EXPERIMENT, TAILRUN_ADDRESS, TAILRUN_TOKEN (the run-scoped token),
TAILRUN_JOB_WORK_DIR and TAILRUN_JOB_ENV_DIR and runs this module. It needs only the SDK (`pip install
tailrun` on the nodes) and network reach to the service:

1. reads the run definition (GetRun) and fetches the snapshot (ReadSnapshot) into
   <work dir>/<run_id>/work (once per node; a shared filesystem is used as it is);
2. builds or reuses the environment on the node (tailrun._exec.envs, as the local runner does);
3. runs the script with the run's environment variables and token: one process, or `srun` for
   several tasks, each rank running `python -m tailrun.job --task` (RANK, WORLD_SIZE, LOCAL_RANK,
   NODE_RANK, MASTER_ADDR, MASTER_PORT set; each rank's `Run.get_context()` logs as its own writer);
4. streams the console into user_logs/std_log.txt and logs/ live, uploads outputs/ at the end, as
   its own SDK writer (the recorder: spooled and re-sent if the service is briefly away);
5. reports the end (status and error, as the local runner would set them) in
   system_logs/tailrun_job.json, from which the service sets the run's final status.

On SIGTERM (scancel, a requeue, Slurm's time limit) the script gets SIGTERM too; the bootstrap
sends what the console holds and reports nothing: the service takes the end from Slurm's state.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from . import _status as st
from ._exec.envs import EnvBuilder, EnvironmentSetupError, plan_environment, run_vars, script_env
from ._exec.files import CONSOLE_PATH, ConsoleTail, DirectoryWatcher, read_tail, upload_outputs
from ._exec.outcome import (JOB_REPORT_PATH, STATUS_FILE, build_argv, failure_error, make_error,
                            script_final_status)
from ._exec.process import POLL_SECONDS, kill_group, spawn
from ._exec.system import GroupSampler
from .wire import EVENT, SYSTEM

log = logging.getLogger("tailrun.job")
GRACE_SECONDS = 5.0                 # SIGTERM to the script, then SIGKILL
FLUSH_SECONDS = 120.0               # how long the end waits for the service to store everything
AZUREML_DEFAULT_DURATION = 2592000  # ScriptRunConfig's default max_run_duration_seconds


class JobError(Exception):
    """The job cannot run the script (the message is reported as the run's error)."""


class RecorderWriter:
    """The runner's writer interface (tailrun._exec.files) over this process's SDK recorder."""

    def __init__(self, recorder: Any, run_id: str) -> None:
        self.recorder = recorder
        self.run_id = run_id

    def chunk(self, path: str, offset: int, data: bytes, *, append: bool = False, last: bool = False) -> tuple:
        return (EVENT, self.run_id, "file", {"run_id": self.run_id, "path": path, "offset": offset, "data": data,
                                             "append": append, "last": last})

    def send(self, events: Any) -> list[str]:
        for event in events:
            self.recorder.queue.append(event)
        return []


# ---------------------------------------------------------------------- shared by driver and tasks

def _settings() -> dict[str, str]:
    missing = [n for n in ("TAILRUN_RUN_ID", "TAILRUN_EXPERIMENT", "TAILRUN_ADDRESS", "TAILRUN_JOB_WORK_DIR")
               if not os.environ.get(n)]
    if missing:
        raise SystemExit(f"tailrun.job: {', '.join(missing)} not set: this module runs inside a Slurm job "
                         "submitted by the tailrun service")
    return {"run_id": os.environ["TAILRUN_RUN_ID"], "experiment": os.environ["TAILRUN_EXPERIMENT"],
            "address": os.environ["TAILRUN_ADDRESS"], "token": os.environ.get("TAILRUN_TOKEN", ""),
            "root": os.path.join(os.environ["TAILRUN_JOB_WORK_DIR"], os.environ["TAILRUN_RUN_ID"]),
            "envs": os.environ.get("TAILRUN_JOB_ENV_DIR") or os.path.join(os.environ["TAILRUN_JOB_WORK_DIR"], "envs")}


def _client() -> Any:
    from .client import Client
    from ._settings import Settings

    return Client(Settings.resolve())


def prepare_work(client: Any, run_id: str, root: Path) -> Path:
    """<root>/work with the run's snapshot, fetched once per node (or shared folder)."""
    root.mkdir(parents=True, exist_ok=True)
    work = root / "work"
    with open(root / "work.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "work.ready").exists():
            shutil.rmtree(work, ignore_errors=True)
            archive = root / "snapshot.zip"
            with open(archive, "wb") as out:
                for data in client.read_snapshot(run_id):
                    out.write(data)
            with zipfile.ZipFile(archive) as zf:   # extractall keeps every name inside `work`
                zf.extractall(work)
                for info in zf.infolist():
                    mode = (info.external_attr >> 16) & 0o777
                    if mode and not info.is_dir():
                        os.chmod(work / info.filename, mode | 0o600)
            archive.unlink()
            (work / "outputs").mkdir(exist_ok=True)
            (root / "work.ready").touch()
    return work


def child_env(cfg: dict[str, str], interpreter: str, definition: dict[str, Any], work: Path) -> dict[str, str]:
    """The script's environment (as the local runner's supervisor builds it)."""
    env = script_env(interpreter, definition)
    env.update({"TAILRUN_RUN_ID": cfg["run_id"], "TAILRUN_EXPERIMENT": cfg["experiment"],
                "TAILRUN_ADDRESS": cfg["address"], "TAILRUN_OUTPUT_DIRECTORY": str(work / "outputs"),
                "TAILRUN_JOB_WORK_DIR": os.environ["TAILRUN_JOB_WORK_DIR"],
                "TAILRUN_JOB_ENV_DIR": cfg["envs"]})
    if cfg["token"]:
        env["TAILRUN_TOKEN"] = cfg["token"]
    if os.environ.get("TAILRUN_CA"):
        env["TAILRUN_CA"] = os.environ["TAILRUN_CA"]
    return env


def rank_env(env: dict[str, str], root: Path, rank: int, local_rank: int, node_rank: int, world: int) -> dict[str, str]:
    """One rank's variables: PyTorch's (RANK, WORLD_SIZE, ...) and its own TAILRUN_HOME."""
    home = root / f"home-{rank}"
    home.mkdir(parents=True, exist_ok=True)
    job_id = int(os.environ.get("SLURM_JOB_ID", "0") or 0)
    return dict(env, RANK=str(rank), LOCAL_RANK=str(local_rank), NODE_RANK=str(node_rank), WORLD_SIZE=str(world),
                MASTER_ADDR=env.get("MASTER_ADDR") or _first_node(), MASTER_PORT=str(29500 + job_id % 10000),
                TAILRUN_HOME=str(home), TAILRUN_STATUS_FILE=str(home / STATUS_FILE))


def _first_node() -> str:
    nodelist = os.environ.get("SLURM_JOB_NODELIST", "")
    if nodelist and shutil.which("scontrol"):
        try:
            out = subprocess.run(["scontrol", "show", "hostnames", nodelist], capture_output=True, text=True,
                                 timeout=30).stdout.split()
            if out:
                return out[0]
        except (OSError, subprocess.SubprocessError):
            pass
    return os.environ.get("SLURMD_NODENAME") or socket.gethostname()


def _interpreter(definition: dict[str, Any], work: Path, envs: str, console: Path, tick: Any) -> str:
    plan = plan_environment(definition, work)
    return EnvBuilder(Path(envs)).ensure(plan, console, tick)


# ---------------------------------------------------------------------- one rank of several (srun)

def run_task() -> int:
    """`python -m tailrun.job --task`: one rank, started by the driver's srun."""
    cfg = _settings()
    root = Path(cfg["root"])
    client = _client()
    definition = json.loads(client.get_run(cfg["run_id"]).run_definition_json or "{}")
    work = prepare_work(client, cfg["run_id"], root)
    client.close()
    node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
    interpreter = _interpreter(definition, work, cfg["envs"], root / f"env-build-{node}.txt", lambda: True)
    env = rank_env(child_env(cfg, interpreter, definition, work), root, int(os.environ.get("SLURM_PROCID", "0")),
                   int(os.environ.get("SLURM_LOCALID", "0")), int(os.environ.get("SLURM_NODEID", "0")),
                   int(os.environ.get("SLURM_NTASKS", "1")))
    argv = build_argv(definition, interpreter)
    os.chdir(work)
    os.execvpe(argv[0], argv, env)


# ---------------------------------------------------------------------- the driver (the batch step)

class Driver:
    def __init__(self) -> None:
        self.cfg = _settings()
        self.run_id = self.cfg["run_id"]
        self.root = Path(self.cfg["root"])
        self.job_id = os.environ.get("SLURM_JOB_ID", "")
        self.restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
        self.stop_reason: str | None = None    # "signal" | "timeout"
        self.proc: subprocess.Popen | None = None

    def _on_sigterm(self, signum: int, _frame: Any) -> None:
        if self.stop_reason is None:
            self.stop_reason = "signal"

    def run(self) -> int:
        from ._recorder import recorder

        signal.signal(signal.SIGTERM, self._on_sigterm)
        self.root.mkdir(parents=True, exist_ok=True)
        os.environ["TAILRUN_HOME"] = str(self.root / "driver-home")   # this process's spool
        rec = recorder()
        rec._ensure_thread()
        writer = RecorderWriter(rec, self.run_id)
        client = _client()
        console = self.root / f"console-{self.job_id}-{self.restarts}.txt"
        console.write_bytes(b"")
        stored = next((int(f.size) for f in client.list_files(self.run_id, "user_logs/") if f.path == CONSOLE_PATH), 0)
        tail = ConsoleTail(console, writer, base=stored)
        node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
        again = f", restart {self.restarts} (requeued by Slurm)" if self.restarts else ""
        _say(console, f"Slurm job {self.job_id} on {os.environ.get('SLURM_JOB_NODELIST') or node}{again}")
        try:
            definition = json.loads(client.get_run(self.run_id).run_definition_json or "{}")
            work = prepare_work(client, self.run_id, self.root)
            interpreter = _interpreter(definition, work, self.cfg["envs"], console, lambda: self._tick(tail))
            if self.stop_reason:
                return self._end(rec, writer, tail, None, 143)
            first_sample = _stored_samples(client, self.run_id) if self.restarts else 0
            code = self._execute(definition, work, interpreter, console, tail, writer, first_sample)
        except EnvironmentSetupError as exc:
            return self._end(rec, writer, tail, (st.FAILED, make_error("EnvironmentError", str(exc))), 1)
        except Exception as exc:   # the run says why, instead of a job that ended silently
            log.exception("tailrun.job failed")
            _say(console, f"the job bootstrap failed: {type(exc).__name__}: {exc}")
            return self._end(rec, writer, tail, (st.FAILED, make_error(
                "JobBootstrapFailed", f"the job bootstrap on {node} failed: {type(exc).__name__}: {exc}")), 1)
        finally:
            client.close()
        if self.stop_reason == "signal":
            return self._end(rec, writer, tail, None, code)
        DirectoryWatcher(work, writer, self._watched(definition)).close()
        if (definition.get("history") or {}).get("output_collection", True):
            upload_outputs(work, writer)
        return self._end(rec, writer, tail, self._outcome(definition, code, console), code)

    def _tick(self, tail: ConsoleTail) -> bool:
        tail.pump()
        return self.stop_reason is None

    @staticmethod
    def _watched(definition: dict[str, Any]) -> list[str]:
        return list((definition.get("history") or {}).get("directories_to_watch") or ["logs"])

    def _execute(self, definition: dict[str, Any], work: Path, interpreter: str, console: Path,
                 tail: ConsoleTail, writer: RecorderWriter, first_sample: int = 0) -> int:
        env = child_env(self.cfg, interpreter, definition, work)
        world = int(os.environ.get("SLURM_NTASKS", "1") or 1)
        if world > 1:   # every rank prepares its node and runs the script (run_task)
            argv = ["srun", "--kill-on-bad-exit=1", "--label", sys.executable, "-m", "tailrun.job", "--task"]
            env["MASTER_ADDR"] = _first_node()
        else:
            argv = build_argv(definition, interpreter)
            env = rank_env(env, self.root, 0, 0, 0, 1)
        limit = definition.get("max_run_duration_seconds")
        deadline = time.time() + float(limit) if limit and limit != AZUREML_DEFAULT_DURATION else None
        self.proc = spawn(argv, cwd=work, env=env, console=console)
        logs = DirectoryWatcher(work, writer, self._watched(definition))
        # The system metrics of this node's processes (with several nodes, the first node's).
        system = GroupSampler(self.run_id, self.proc.pid, run_vars(definition),
                              lambda values, index, when: writer.recorder.queue.append(
                                  (SYSTEM, self.run_id, "", values, index, when)), first_index=first_sample)
        next_logs, kill_at = time.monotonic() + 1.0, None
        while True:
            try:
                code = self.proc.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            tail.pump()
            now = time.monotonic()
            if now >= next_logs:
                logs.pump()
                next_logs = now + 1.0
            system.tick(now)
            if deadline is not None and self.stop_reason is None and time.time() >= deadline:
                self.stop_reason = "timeout"
            if self.stop_reason is not None:
                if kill_at is None:
                    kill_group(self.proc.pid, signal.SIGTERM)
                    kill_at = now + GRACE_SECONDS
                elif now >= kill_at:
                    kill_group(self.proc.pid, signal.SIGKILL)
                    kill_at = float("inf")
        kill_group(self.proc.pid, signal.SIGKILL)   # leftovers of the script's group
        logs.pump()
        return code

    def _outcome(self, definition: dict[str, Any], code: int, console: Path) -> tuple[str, str | None]:
        for status_file in sorted(self.root.glob(f"home-*/{STATUS_FILE}")):
            final = script_final_status(status_file, self.run_id, log)
            if final is not None:   # run.fail() in the script (any rank) is final
                return final
        if self.stop_reason == "timeout":
            limit = definition.get("max_run_duration_seconds")
            return st.FAILED, make_error("TimeLimitExceeded", f"exceeded max_run_duration_seconds ({limit:g} s)")
        if code == 0:
            return st.COMPLETED, None
        return st.FAILED, failure_error(read_tail(console), code)

    def _end(self, rec: Any, writer: RecorderWriter, tail: ConsoleTail, outcome: tuple[str, str | None] | None,
             code: int) -> int:
        """Send the rest of the console, the report (unless Slurm's state is the end), and wait
        until the service stored everything."""
        tail.close()
        if outcome is not None:
            report = {"job_id": self.job_id, "restarts": self.restarts, "exit_code": code, "status": outcome[0],
                      "error_json": outcome[1], "node": os.environ.get("SLURMD_NODENAME") or socket.gethostname()}
            writer.send([writer.chunk(JOB_REPORT_PATH, 0, json.dumps(report).encode(), last=True)])
        if not rec.flush(FLUSH_SECONDS):
            print(f"tailrun.job: the service at {self.cfg['address']} did not store everything within "
                  f"{FLUSH_SECONDS:g} s; the rest is spooled in {os.environ['TAILRUN_HOME']} "
                  "(upload it with TAILRUN_HOME=... tailrun sync)", file=sys.stderr)
        return code if 0 <= code < 256 else 1


def _stored_samples(client: Any, run_id: str) -> int:
    """System-metric samples stored before a requeue (the steps go on from there)."""
    from ._system_metrics import stored_name
    from .v1 import tailrun_pb2 as pb
    try:
        req = pb.SeriesRequest(run_id=run_id, name=stored_name("memory_rss_mb"), max_points=1, tail=1)
        return int(client.get_series(req).total_points)
    except Exception:   # none yet (NotFound), or unreadable: start at 0
        return 0


def _say(console: Path, line: str) -> None:
    with open(console, "ab") as out:
        out.write(f"[tailrun] {line}\n".encode())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="tailrun.job: %(levelname)s %(message)s")
    if argv == ["--task"]:
        return run_task()
    if argv:
        print("usage: python -m tailrun.job [--task]  (inside a Slurm job submitted by the tailrun service)",
              file=sys.stderr)
        return 2
    return Driver().run()


if __name__ == "__main__":
    sys.exit(main())
