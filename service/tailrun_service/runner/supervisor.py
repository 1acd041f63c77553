"""One thread per executing run: prepare its environment, start it in its own process group,
stream its console and logs/, enforce cancel and the time limit, upload outputs/ and set the final
status from the exit code."""
from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tailrun import _status as st

from tailrun._exec.envs import Canceled, EnvBuilder, EnvironmentSetupError, plan_environment, run_vars, script_env
from tailrun._exec.files import ConsoleTail, DirectoryWatcher, read_tail, upload_outputs
from tailrun._exec.outcome import STATUS_FILE, build_argv, failure_error, make_error, script_final_status
from tailrun._exec.process import POLL_SECONDS, is_alive, kill_group, spawn, start_ticks

from .isolation import RunUser
from .spools import upload_spools
from .state import RunState
from .system_metrics import run_system_metrics
from .writer import RunWriter

log = logging.getLogger("tailrun_service.runner")

RESTART_MESSAGE = "the service restarted while the run was executing"
SHUTDOWN_MESSAGE = "the service stopped while the run was executing"


@dataclass
class RunnerContext:
    """What every supervisor shares with the runner."""
    store: Any
    address: Callable[[], str]
    token: str | None
    grace_seconds: float
    envs: EnvBuilder
    ca_file: str | None = None      # PEM the scripts trust the service's TLS certificate with
    run_user: RunUser | None = None  # scripts run as this user (isolation.py); None = as the service

    def run_token(self, run_id: str) -> str | None:
        """The token a run's script (and the upload of its spools) uses: scoped to that run."""
        from ..auth import run_token

        return run_token(self.token, run_id) if self.token else None


class Supervisor(threading.Thread):
    def __init__(self, ctx: RunnerContext, state: RunState, writer: RunWriter,
                 on_exit: Callable[["Supervisor"], None], adopted: bool = False) -> None:
        super().__init__(name=f"tailrun-run-{state.run_id}", daemon=True)
        self.ctx, self.state, self.writer = ctx, state, writer
        self.on_exit = on_exit
        self.adopted = adopted            # started by a previous service process
        self.proc: subprocess.Popen | None = None
        self._stop_reason: str | None = None   # "cancel" | "timeout" | "shutdown"
        self._detach = threading.Event()
        self._lock = threading.Lock()
        self._finished = False
        self.console = ConsoleTail(state.console, writer, offset=self._stored_size("user_logs/std_log.txt"))
        folders = (state.definition.get("history") or {}).get("directories_to_watch") or ["logs"]
        self.logs = DirectoryWatcher(Path(state.work_dir), writer, list(folders),
                                     offsets=self._stored_sizes(folders) if adopted else None)

    # ------------------------------------------------------------------ requests from other threads

    def request_stop(self, reason: str) -> bool:
        """Ask the run to end ("cancel", "timeout", "shutdown"); False if it is already ending.
        A cancel is visible at once as CancelRequested."""
        with self._lock:
            if self._stop_reason is not None or self._finished:
                return False
            self._stop_reason = reason
            if reason == "cancel":
                self.writer.status(st.CANCEL_REQUESTED)
            return True

    def detach(self) -> None:
        """Stop supervising but leave the process running (the next service adopts it)."""
        self._detach.set()

    @property
    def run_id(self) -> str:
        return self.state.run_id

    # ------------------------------------------------------------------ the thread

    def run(self) -> None:
        try:
            self._supervise()
        except Exception:
            log.exception("run %s: supervisor failed", self.run_id)
            try:
                self._finish(st.FAILED, make_error("ServiceError", "the runner failed while supervising "
                                               "the run (see the service log)"))
            except Exception:
                log.exception("run %s: could not mark the run Failed", self.run_id)
        finally:
            self.on_exit(self)

    def _supervise(self) -> None:
        # The group is surely the run's while its leader lives (a pid in use is not reused); an
        # adopted run found dead may have left its group number to an unrelated process since.
        group_is_ours = not self.adopted or is_alive(self.state.pid, self.state.start_ticks)
        if not self.adopted:
            try:
                argv, env = self._prepare()
            except Canceled:
                return self._finish_stopped_early()
            except EnvironmentSetupError as exc:
                self.console.close()
                return self._finish(st.FAILED, make_error("EnvironmentError", str(exc)))
            if self._stop_reason is not None:
                return self._finish_stopped_early()
            self.writer.status(st.STARTING)
            run_user = self.ctx.run_user
            self.proc = spawn(argv, cwd=Path(self.state.work_dir), env=env, console=self.state.console,
                              exit_file=self.state.exit_file, wrap=run_user.wrap if run_user else None)
            self.state.pid = self.proc.pid
            self.state.start_ticks = start_ticks(self.proc.pid)
            self.state.started_at = time.time()
            self.state.save()
            self.writer.status(st.RUNNING)
        code = self._watch()
        if code is _DETACHED:
            return
        # Leftovers of the script's group go first, so nothing writes the console while it is
        # drained. The console is complete before Finalizing, so a watcher that stops at the
        # final status has seen every line.
        if group_is_ours:
            kill_group(self.state.pid, signal.SIGKILL)
        self.console.close()
        self.logs.close()
        self.writer.status(st.FINALIZING)
        if (self.state.definition.get("history") or {}).get("output_collection", True):
            upload_outputs(Path(self.state.work_dir), self.writer)
        warnings = self._upload_spools()
        self._finish(*self._outcome(code), warnings=warnings)

    def _prepare(self) -> tuple[list[str], dict[str, str]]:
        self.writer.status(st.PREPARING)
        work_dir = Path(self.state.work_dir)
        plan = plan_environment(self.state.definition, work_dir)
        interpreter = self.ctx.envs.ensure(plan, self.state.console, self._tick_preparing)
        return build_argv(self.state.definition, interpreter), self._child_env(interpreter)

    def _tick_preparing(self) -> bool:
        self.console.pump()
        return self._stop_reason is None and not self._detach.is_set()

    def _upload_spools(self) -> list[str]:
        """Send what the script left in its spool (see spools.py); the lines for the run's warnings."""
        staging = self.state.folder / "spool-copies" if self.ctx.run_user else None
        report = upload_spools(self.state.home, self.ctx.address(), self.ctx.run_token(self.run_id),
                               self.ctx.ca_file, staging=staging)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if report.batches or report.failed:
            log.info("run %s: uploaded %d spooled batches the script left (%d already stored, %d spools kept)",
                     self.run_id, report.batches, report.already, len(report.failed))
        return report.warnings(self.state.home)

    def _child_env(self, interpreter: str) -> dict[str, str]:
        state = self.state
        env = script_env(interpreter, state.definition)
        state.home.mkdir(parents=True, exist_ok=True)
        env.update({
            "TAILRUN_RUN_ID": state.run_id,
            "TAILRUN_EXPERIMENT": state.experiment,
            "TAILRUN_ADDRESS": self.ctx.address(),
            "TAILRUN_HOME": str(state.home),
            "TAILRUN_OUTPUT_DIRECTORY": str(Path(state.work_dir) / "outputs"),
            "TAILRUN_STATUS_FILE": str(state.home / STATUS_FILE),
        })
        token = self.ctx.run_token(state.run_id)
        if token:
            env["TAILRUN_TOKEN"] = token
        if self.ctx.ca_file:
            env["TAILRUN_CA"] = self._copy_ca(state.home)
        if self.ctx.run_user is not None:   # not the service's HOME (root's): caches go to the run's home
            env.update(HOME=str(state.home), USER=self.ctx.run_user.name, LOGNAME=self.ctx.run_user.name)
            self.ctx.run_user.own(state.home)
        return env

    def _copy_ca(self, home: Path) -> str:
        """A copy of the CA in the run's home, which the script can read whoever it runs as."""
        target = home / "service-ca.pem"
        target.write_bytes(Path(self.ctx.ca_file).read_bytes())
        return str(target)

    def _watch(self) -> Any:
        """Stream until the process ends; returns its exit code (None if unknown) or _DETACHED."""
        limit = self.state.definition.get("max_run_duration_seconds")
        deadline = self.state.started_at + float(limit) if limit else None
        next_logs = time.monotonic() + 1.0
        kill_at: float | None = None
        system = run_system_metrics(self.writer, self.ctx.store, self.state.pid, run_vars(self.state.definition),
                                    self.adopted)
        while True:
            code = self._poll_exit()
            if code is not _RUNNING:
                return code
            if self._detach.is_set():
                return _DETACHED
            self.console.pump()
            now = time.monotonic()
            if now >= next_logs:
                self.logs.pump()
                next_logs = now + 1.0
            system.tick(now)
            if deadline is not None and time.time() >= deadline:
                self.request_stop("timeout")
            if self._stop_reason is not None:
                if kill_at is None:
                    kill_group(self.state.pid, signal.SIGTERM)
                    kill_at = now + self.ctx.grace_seconds
                elif now >= kill_at:
                    kill_group(self.state.pid, signal.SIGKILL)
                    kill_at = float("inf")

    def _poll_exit(self) -> Any:
        if self.proc is not None:
            try:
                code = self.proc.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                return _RUNNING
            recorded = self.state.exit_code()
            return recorded if recorded is not None else code
        if is_alive(self.state.pid, self.state.start_ticks):
            time.sleep(POLL_SECONDS)
            return _RUNNING
        return self.state.exit_code()

    def _outcome(self, code: int | None) -> tuple[str, str | None]:
        script_final = self._script_final_status()
        if script_final is not None:   # run.fail()/cancel() in the script is final, whatever came after
            return script_final
        reason = self._stop_reason
        if reason == "cancel":
            return st.CANCELED, None
        if reason == "timeout":
            limit = self.state.definition.get("max_run_duration_seconds")
            return st.FAILED, make_error("TimeLimitExceeded", f"exceeded max_run_duration_seconds ({limit:g} s)")
        if reason == "shutdown":
            return st.FAILED, make_error("ServiceStopped", SHUTDOWN_MESSAGE)
        if code is None:
            return st.FAILED, make_error("ServiceRestarted", RESTART_MESSAGE)
        if code == 0:
            return st.COMPLETED, None
        return st.FAILED, failure_error(read_tail(self.state.console), code)

    def _script_final_status(self) -> tuple[str, str | None] | None:
        """(Failed, error JSON) if the script called `run.fail()`, (Canceled, None) if it called
        `run.cancel()` (the SDK writes STATUS_FILE)."""
        return script_final_status(self.state.home / STATUS_FILE, self.run_id, log)

    def _finish_stopped_early(self) -> None:
        if self._detach.is_set() and self._stop_reason is None:
            return
        self.console.close()
        if self._stop_reason == "shutdown":
            return self._finish(st.FAILED, make_error("ServiceStopped", SHUTDOWN_MESSAGE))
        self._finish(st.CANCELED, None)

    def _finish(self, status: str, error_json: str | None, warnings: list[str] = ()) -> None:
        with self._lock:  # no CancelRequested may follow the final status
            self._finished = True
            self.writer.status(status, error_json=error_json, warnings=warnings)
        self.state.forget()

    # ------------------------------------------------------------------ helpers

    def _stored_sizes(self, paths: list[str]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for prefix in paths:
            try:
                for info in self.ctx.store.list_files(self.run_id, prefix.strip("/") + "/"):
                    sizes[info.path] = int(info.size)
            except Exception:
                continue
        return sizes

    def _stored_size(self, path: str) -> int:
        return self._stored_sizes(["user_logs"]).get(path, 0)


_RUNNING = object()
_DETACHED = object()
