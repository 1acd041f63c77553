"""The `slurm` compute target kind: a submitted run becomes an sbatch job; Slurm schedules, tailrun
tracks.

- launch: the run's node count, processes per node, GPUs and time limit become sbatch options
  (`sbatch_options`); the batch script (`batch_script`) runs the job bootstrap
  `python -m tailrun.job` with the run's id, the service's address and a run-scoped token. The
  bootstrap fetches the snapshot over gRPC, builds the environment on the node, runs the script
  (through `srun` for several tasks), streams its console, logs/ and outputs/ as its own SDK
  writer, and reports the exit in `system_logs/tailrun_job.json` (tailrun/job.py).
- status: one thread (`SlurmCluster`) asks `squeue` about every job of the service in ONE call per
  interval and maps Slurm's states to run statuses (`_update`, `_final`); the job id is the run's
  property `slurm_job_id`. The service is the only writer of these statuses, each written only if
  the run is not final yet (so nothing overwrites a final status).
- cancel: `scancel`; a restarted service picks the runs up again from their `slurm_job_id`.
"""
from __future__ import annotations

import json
import logging
import math
import os
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailrun import _status as st
from tailrun._exec.files import CONSOLE_PATH
from tailrun._exec.outcome import JOB_REPORT_PATH, make_error
from tailrun.v1 import tailrun_pb2 as pb

from ..errors import InvalidArgument, NotFound
from ..repeated_log import RepeatedErrorLog
from ..runner.writer import RunWriter
from .slurm_tools import JobState, PartitionState, SlurmError, SlurmTools
from .targets import Launch, Target

if TYPE_CHECKING:
    from ..runner.runner import Runner

log = logging.getLogger("tailrun_service.compute")

JOB_ID_PROPERTY = "slurm_job_id"
STATE_TAG = "slurm_state"             # Slurm's state and reason now, e.g. "PENDING (Resources)"
DEFAULT_POLL_SECONDS = 1.0
MISSING_POLLS = 3                     # polls a job may be absent from squeue before it counts as vanished
AZUREML_DEFAULT_DURATION = 2592000    # ScriptRunConfig's default max_run_duration_seconds: "not set"
PARTITIONS_CACHE_SECONDS = 2.0

PENDING = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "RESV_DEL_HOLD",
                     "SUSPENDED", "STOPPED", "RESIZING"})
RUNNING = frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"})
_BEFORE_RUNNING = frozenset({st.NOT_STARTED, st.QUEUED, st.PREPARING, st.STARTING, st.NOT_RESPONDING})
_DOWN = ("down", "drained", "draining", "fail", "failing", "future", "unknown", "no_respond", "power_down",
         "powered_down", "reboot_issued", "maint", "inval")


def _not_final(status: str) -> bool:
    return not st.is_terminal(status)


def _queued_ok(status: str) -> bool:
    return status in _BEFORE_RUNNING or status == st.RUNNING   # a requeued run goes back to Queued


@dataclass
class Job:
    """One run's Slurm job, as the poller last saw it."""
    run_id: str
    job_id: str
    target: "SlurmTarget"
    writer: RunWriter
    restarts: int = -1            # -1: not seen yet
    shown: str = ""               # the STATE_TAG value last written
    running: bool = False
    missing: int = 0
    cancel_requested: bool = False


class SlurmTarget(Target):
    """One `[targets.NAME] kind = "slurm"` table: a partition and the options of its jobs."""

    kind = "slurm"

    def __init__(self, cluster: "SlurmCluster", name: str, table: dict[str, Any]) -> None:
        self.cluster = cluster
        self.name = name
        self.table = table
        self.partition = str(table["partition"])
        user = _user()
        self.work_dir = str(table.get("work_dir") or f"/tmp/tailrun-slurm-{user}")
        self.env_dir = str(table.get("env_dir") or f"{self.work_dir}/envs")
        self.python = str(table.get("python") or sys.executable)
        self.poll_seconds = float(table.get("poll_seconds") or DEFAULT_POLL_SECONDS)

    # ------------------------------------------------------------------ Target

    def describe(self) -> pb.ComputeTargetInfo:
        properties = {"partition": self.partition, "jobs": str(len(self.active_runs()))}
        for key in ("account", "qos", "gpus", "mem", "cpus_per_task", "time_limit"):
            if key in self.table:
                properties[key] = str(self.table[key])
        info = pb.ComputeTargetInfo(name=self.name, kind=self.kind, properties=properties)
        try:
            partitions = self.cluster.partitions()
        except SlurmError as exc:
            info.state, info.detail = "Unavailable", f"sinfo failed: {exc}"
            return info
        part = partitions.get(self.partition)
        if part is None:
            info.state = "Unavailable"
            info.detail = (f"partition {self.partition!r} does not exist (partitions: "
                           f"{', '.join(sorted(partitions)) or 'none'})")
            return info
        info.state, info.detail = _partition_state(part)
        return info

    def launch(self, launch: Launch) -> None:
        options = sbatch_options(self, launch.definition, launch.run_id)
        script = batch_script(self, launch.run_id, launch.experiment)
        launch.writer.status(st.QUEUED)
        try:
            job_id = self.cluster.tools.sbatch(script, options)
        except SlurmError as exc:
            raise InvalidArgument(f"Slurm refused the job of run {launch.run_id!r} on compute target "
                                  f"{self.name!r} (partition {self.partition!r}): {exc}") from None
        log.info("run %s: Slurm job %s on partition %s (target %s)", launch.run_id, job_id, self.partition,
                 self.name)
        launch.writer.send([pb.Event(patch=pb.RunPatch(
            run_id=launch.run_id, time=time.time(), set_tags={STATE_TAG: "PENDING"},
            add_properties={JOB_ID_PROPERTY: job_id, "slurm_partition": self.partition}))])
        self.cluster.add(Job(launch.run_id, job_id, self, launch.writer, shown="PENDING"))

    def cancel(self, run_id: str) -> bool:
        job = self.cluster.job(run_id, self)
        if job is None:
            return False
        job.writer.status(st.CANCEL_REQUESTED, only_from=_not_final)
        job.cancel_requested = True
        try:
            self.cluster.tools.scancel(job.job_id)
        except SlurmError as exc:
            raise InvalidArgument(f"scancel of Slurm job {job.job_id} (run {run_id!r}) failed: {exc}") from None
        self.cluster.wake()
        return True

    def active_runs(self) -> list[str]:
        return self.cluster.runs_of(self)

    def start(self) -> None:
        self.cluster.start()

    def stop(self, kill_runs: bool) -> None:
        self.cluster.stop(kill_runs)

    # ------------------------------------------------------------------ helpers

    def service_address(self) -> str:
        return str(self.table.get("service_address") or self.cluster.runner.child_address())


class SlurmCluster:
    """The Slurm controller the service's slurm targets submit to: the tools, the jobs of those
    targets, and the one thread that polls them all."""

    def __init__(self, runner: "Runner", tools: SlurmTools | None = None) -> None:
        self.runner = runner
        self.store = runner.store
        self.tools = tools or SlurmTools()
        self.targets: dict[str, SlurmTarget] = {}
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = self._stopped = False
        self._errors = RepeatedErrorLog(log)
        self._partitions: tuple[float, dict[str, PartitionState]] | None = None

    def target(self, name: str, table: dict[str, Any]) -> SlurmTarget:
        target = self.targets[name] = SlurmTarget(self, name, table)
        return target

    # ------------------------------------------------------------------ jobs

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.run_id] = job
        self.wake()

    def job(self, run_id: str, target: SlurmTarget | None = None) -> Job | None:
        with self._lock:
            job = self._jobs.get(run_id)
        return job if job is not None and (target is None or job.target is target) else None

    def runs_of(self, target: SlurmTarget) -> list[str]:
        with self._lock:
            return sorted(run_id for run_id, job in self._jobs.items() if job.target is target)

    def partitions(self) -> dict[str, PartitionState]:
        cached = self._partitions
        if cached is not None and time.monotonic() - cached[0] < PARTITIONS_CACHE_SECONDS:
            return cached[1]
        found = self.tools.partitions()
        self._partitions = (time.monotonic(), found)
        return found

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="tailrun-slurm-poll", daemon=True)
        self._thread.start()

    def stop(self, kill_runs: bool) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            jobs = list(self._jobs.values())
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
        if not kill_runs:   # the jobs go on; the next service picks them up by their job ids
            return
        for job in jobs:
            try:
                self.tools.scancel(job.job_id)
            except SlurmError as exc:
                log.warning("run %s: scancel %s failed: %s", job.run_id, job.job_id, exc)
            job.writer.status(st.FAILED, error_json=make_error(
                "ServiceStopped", f"the service stopped and canceled Slurm job {job.job_id}"), only_from=_not_final)
        self._errors.flush()

    def _recover(self) -> None:
        """The runs a previous service process left on Slurm: watched again by their job id."""
        try:
            infos = self.store.list_runs(pb.ListRunsRequest(properties={JOB_ID_PROPERTY: ""}, include_children=True))
        except Exception:
            log.exception("listing the runs left on Slurm failed")
            return
        for info in infos:
            if st.is_terminal(info.status) or info.run_id in self._jobs:
                continue
            writer = RunWriter(self.store, info.run_id)
            job_id = info.properties[JOB_ID_PROPERTY]
            target = self.targets.get(info.target)
            if target is None:
                writer.status(st.FAILED, only_from=_not_final, error_json=make_error(
                    "ComputeTargetNotFound", f"compute target {info.target!r} is no longer configured on the "
                    f"service; Slurm job {job_id} is no longer watched (scancel {job_id} if it still runs)"))
                continue
            log.info("run %s: watching Slurm job %s again after a restart", info.run_id, job_id)
            self._jobs[info.run_id] = Job(info.run_id, job_id, target, writer, shown=info.tags.get(STATE_TAG, ""),
                                          running=info.status == st.RUNNING,
                                          cancel_requested=info.status == st.CANCEL_REQUESTED)

    def _loop(self) -> None:
        interval = min((t.poll_seconds for t in self.targets.values()), default=DEFAULT_POLL_SECONDS)
        while not self._stopping.is_set():
            try:
                self.poll()
            except Exception as exc:   # never let the poller die; say so once, then count
                self._errors.report("polling the Slurm jobs", exc)
            self._wake.wait(interval)
            self._wake.clear()

    def poll(self) -> None:
        """One squeue call for every job; each job's run follows its state."""
        with self._lock:
            jobs = list(self._jobs.values())
        if not jobs:
            return
        try:
            states = self.tools.jobs([job.job_id for job in jobs])
        except SlurmError as exc:   # slurmctld down: the jobs may well go on; try again next time
            self._errors.report("squeue", exc, traceback=False)
            return
        for job in jobs:
            if self._stopping.is_set():
                return
            try:
                self._update(job, states.get(job.job_id))
            except Exception as exc:
                self._errors.report(f"updating run {job.run_id} from Slurm job {job.job_id}", exc)

    # ------------------------------------------------------------------ state mapping

    def _update(self, job: Job, state: JobState | None) -> None:
        if state is None:
            job.missing += 1
            if job.missing >= MISSING_POLLS:
                self._finish(job, None)
            return
        job.missing = 0
        warnings = []
        if job.restarts >= 0 and state.restarts > job.restarts:
            warnings.append(f"Slurm requeued job {job.job_id} (restart {state.restarts}); the run continues "
                            "from the start of the script, in the same run")
            job.running = False
        job.restarts = state.restarts
        if state.state in PENDING or state.state in RUNNING:
            running = state.state in RUNNING
            shown = f"{state.state} on {state.nodes}" if running else f"{state.state} ({state.reason})"
            if shown == job.shown and running == job.running and not warnings:
                return
            patch = pb.RunPatch(run_id=job.run_id, time=time.time(), set_tags={STATE_TAG: shown})
            patch.warnings.extend(warnings)
            events = [pb.Event(patch=patch)]
            status = st.RUNNING if running else st.QUEUED
            if running != job.running or warnings:
                events.append(pb.Event(patch=pb.RunPatch(run_id=job.run_id, time=time.time(), status=status)))
            only = _BEFORE_RUNNING if running else _queued_ok
            job.writer.send(events, lambda _run, event: not event.patch.HasField("status") or
                            _allowed(self.store, job.run_id, only))
            job.shown, job.running = shown, running
            return
        self._finish(job, state)

    def _finish(self, job: Job, state: JobState | None) -> None:
        status, error_json, reported = self._final(job, state)
        if not reported:   # the job did not close its console: nothing more will come
            self._close_console(job)
        shown = state.state if state is not None else "VANISHED"
        job.writer.send([pb.Event(patch=pb.RunPatch(run_id=job.run_id, time=time.time(),
                                                    set_tags={STATE_TAG: shown}))])
        job.writer.status(status, error_json=error_json, only_from=_not_final)
        log.info("run %s: Slurm job %s %s -> %s", job.run_id, job.job_id, shown, status)
        with self._lock:
            self._jobs.pop(job.run_id, None)

    def _final(self, job: Job, state: JobState | None) -> tuple[str, str | None, bool]:
        """(status, error JSON, whether the job reported its end) for a job that has ended."""
        jid = job.job_id
        slurm_state = state.state if state is not None else None
        if slurm_state == "CANCELLED":
            if job.cancel_requested or self._status(job) == st.CANCEL_REQUESTED:
                return st.CANCELED, None, False
            return st.CANCELED, make_error("SlurmJobCanceled", f"Slurm job {jid} was canceled outside tailrun "
                                           "(scancel, or an administrator)"), False
        if slurm_state in (None, "COMPLETED", "FAILED"):
            report = self._report(job, state)
            if report is not None:
                return report[0], report[1], True
            if state is None:
                return st.FAILED, make_error(
                    "JobVanished", f"Slurm no longer knows job {jid} and the job did not report its end: it ended "
                    "while the service was not watching (a service restart), or slurmctld lost it"), False
            reason = f", reason {state.reason}" if state.reason not in ("", "None") else ""
            return st.FAILED, make_error(
                "JobDidNotReport", f"Slurm job {jid} ended {slurm_state} (exit code {state.exit_code}{reason}) on "
                f"{state.nodes or 'its node'} without reporting the script's end: Slurm could not start it, or "
                f"the job bootstrap (python -m tailrun.job) failed there (its output, if it ran: "
                f"{job.target.work_dir}/slurm-{jid}.out on that node)"), False
        if slurm_state in ("TIMEOUT", "DEADLINE"):
            return st.FAILED, make_error("TimeLimitExceeded", f"Slurm ended job {jid} at its time limit "
                                         f"({slurm_state})"), False
        if slurm_state == "OUT_OF_MEMORY":
            return st.FAILED, make_error("OutOfMemory", f"Slurm job {jid} ran out of memory on {state.nodes}"), False
        if slurm_state == "NODE_FAIL":
            return st.FAILED, make_error("NodeFailure", f"node {state.nodes or '?'} failed while running Slurm "
                                         f"job {jid}"), False
        if slurm_state == "PREEMPTED":
            return st.FAILED, make_error("Preempted", f"Slurm preempted job {jid} (and did not requeue it)"), False
        return st.FAILED, make_error("SlurmJobFailed", f"Slurm job {jid} ended {slurm_state} "
                                     f"({state.reason})"), False

    def _report(self, job: Job, state: JobState | None) -> tuple[str, str | None] | None:
        """The job's own report of its end (tailrun/job.py), if it wrote one for this attempt."""
        try:
            with self.store.open_file(job.run_id, JOB_REPORT_PATH) as fh:
                data = json.loads(fh.read(256 * 1024))
        except (NotFound, OSError, ValueError):
            return None
        if not isinstance(data, dict) or str(data.get("job_id")) != job.job_id:
            return None
        if state is not None and data.get("restarts") != state.restarts:
            return None
        status = data.get("status")
        error = data.get("error_json")
        if status not in st.TERMINAL or not (error is None or isinstance(error, str)):
            return None
        return status, error

    def _status(self, job: Job) -> str:
        try:
            return self.store.get_run(job.run_id).status
        except NotFound:
            return ""

    def _close_console(self, job: Job) -> None:
        try:
            size = next((int(f.size) for f in self.store.list_files(job.run_id, "user_logs/")
                         if f.path == CONSOLE_PATH), None)
        except NotFound:
            return
        if size is not None:
            job.writer.send([job.writer.chunk(CONSOLE_PATH, size, b"", last=True)])


def _allowed(store: Any, run_id: str, only: Any) -> bool:
    try:
        status = store.get_run(run_id).status
    except NotFound:
        return False
    return only(status) if callable(only) else status in only


def _partition_state(part: PartitionState) -> tuple[str, str]:
    counts = part.nodes
    idle = counts.get("idle", 0)
    allocated = sum(counts.get(s, 0) for s in ("allocated", "mixed", "completing"))
    down = sum(n for s, n in counts.items() if s.startswith(_DOWN))
    total = sum(counts.values())
    usable = part.available == "up" and total - down > 0
    detail = f"partition {part.name} {part.available}: {idle} idle, {allocated} allocated, {down} down"
    return ("Succeeded" if usable else "Unavailable"), detail


# ---------------------------------------------------------------------- the job

def tasks_layout(definition: dict[str, Any]) -> tuple[int, int]:
    """(nodes, tasks per node) of a run definition: RunConfiguration.node_count, and the processes
    of its distributed config (PyTorch process_count over all nodes, MPI process_count_per_node)."""
    nodes = _positive(definition.get("node_count") or 1, "node_count")
    framework = str(definition.get("framework") or "Python")
    if framework == "PyTorch" and (definition.get("pytorch") or {}).get("process_count"):
        total = _positive((definition["pytorch"])["process_count"], "PyTorchConfiguration.process_count")
        if total % nodes:
            raise InvalidArgument(f"PyTorchConfiguration.process_count={total} is not a multiple of "
                                  f"node_count={nodes}: Slurm starts the same number of tasks on every node")
        return nodes, total // nodes
    if framework == "TensorFlow":
        return nodes, 1
    per_node = (definition.get("mpi") or {}).get("process_count_per_node") or 1
    return nodes, _positive(per_node, "process_count_per_node")


def sbatch_options(target: SlurmTarget, definition: dict[str, Any], run_id: str) -> list[str]:
    """The sbatch command-line options of a run on `target`."""
    table = target.table
    nodes, per_node = tasks_layout(definition)
    options = [f"--job-name=tailrun-{run_id}", f"--partition={target.partition}", f"--nodes={nodes}",
               f"--ntasks-per-node={per_node}", "--output=/dev/null",
               "--chdir=/tmp"]   # exists on every node; the bootstrap makes and uses its own folder
    for key, flag in (("account", "--account"), ("qos", "--qos"), ("cpus_per_task", "--cpus-per-task"),
                      ("mem", "--mem"), ("gpus", "--gpus-per-node")):
        if key in table:
            options.append(f"{flag}={table[key]}")
    limit = definition.get("max_run_duration_seconds")
    if limit and limit != AZUREML_DEFAULT_DURATION:
        # The job enforces the exact limit itself; Slurm's (whole minutes) is the backstop.
        options.append(f"--time={math.ceil(float(limit) / 60) + 1}")
    elif "time_limit" in table:
        options.append(f"--time={table['time_limit']}")
    options += [str(a) for a in table.get("sbatch_args", [])]
    return options


def batch_script(target: SlurmTarget, run_id: str, experiment: str) -> str:
    """The batch script: where the bootstrap's own output goes, the run's settings, the bootstrap.
    The run-scoped token is in the script (which only its owner, root and Slurm can read), never on
    a command line."""
    q = shlex.quote
    work = target.work_dir
    settings = {"TAILRUN_RUN_ID": run_id, "TAILRUN_EXPERIMENT": experiment,
                "TAILRUN_ADDRESS": target.service_address(), "TAILRUN_JOB_WORK_DIR": work,
                "TAILRUN_JOB_ENV_DIR": target.env_dir}
    token = target.cluster.runner.ctx.run_token(run_id)
    if token:
        settings["TAILRUN_TOKEN"] = token
    lines = ["#!/bin/sh",
             f"# tailrun run {run_id}: the bootstrap fetches the snapshot and reports to the tailrun service",
             f"mkdir -p {q(work)} && exec >>{q(work)}/slurm-\"$SLURM_JOB_ID\".out 2>&1",
             "unset TAILRUN_HOME TAILRUN_CA TAILRUN_STATUS_FILE TAILRUN_OUTPUT_DIRECTORY"]
    lines += [f"export {name}={q(value)}" for name, value in settings.items()]
    ca_file = target.cluster.runner.ctx.ca_file
    if ca_file:   # a TLS service: the nodes verify it with the same CA as local scripts
        ca = f"{work}/{run_id}-service-ca.pem"
        lines += [f"cat > {q(ca)} <<'TAILRUN_CA_PEM'", Path(ca_file).read_text().strip(), "TAILRUN_CA_PEM",
                  f"export TAILRUN_CA={q(ca)}"]
    lines.append(f"exec {q(target.python)} -m tailrun.job")
    return "\n".join(lines) + "\n"


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"{what} must be a positive whole number, got {value!r}")
    return value


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())
