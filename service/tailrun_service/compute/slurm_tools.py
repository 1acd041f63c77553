"""Slurm's command-line tools on the service's machine: sbatch, squeue, scancel, sinfo.

One subprocess per call, with a timeout; a tool that is missing, times out or refuses raises
`SlurmError` carrying Slurm's own message. `squeue` is asked about every job of the service at
once (`jobs(ids)`), so the cost of polling does not grow with the number of jobs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

TOOL_TIMEOUT = 30.0
# squeue --Format fields, "|"-separated: id, state, reason, restart count, exit status, nodes.
_SQUEUE_FORMAT = "JobID:|,State:|,Reason:|,RestartCnt:|,exit_code:|,NodeList:"


class SlurmError(Exception):
    """A Slurm tool failed; the message is Slurm's (or says that the tool is missing)."""


@dataclass(frozen=True)
class JobState:
    job_id: str
    state: str            # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
    reason: str           # "Resources", "Priority", "None", ...
    restarts: int         # how often Slurm requeued the job
    exit_status: int      # the batch script's wait status (exit code << 8 | signal)
    nodes: str

    @property
    def exit_code(self) -> int:
        return self.exit_status >> 8 if self.exit_status >= 256 else self.exit_status


@dataclass(frozen=True)
class PartitionState:
    name: str
    available: str                  # "up", "down", "drain", "inact"
    nodes: dict[str, int]           # node state ("idle", "allocated", "mixed", "down", ...) -> count


class SlurmTools:
    """Runs the Slurm commands (found on PATH) with this process's environment (SLURM_CONF...)."""

    def __init__(self, timeout: float = TOOL_TIMEOUT) -> None:
        self.timeout = timeout

    def _run(self, argv: list[str], stdin: str | None = None) -> str:
        tool = argv[0]
        if shutil.which(tool) is None:
            raise SlurmError(f"the Slurm tool {tool!r} is not installed on the service's machine (not on PATH); "
                             "install Slurm's client commands (Debian: slurm-client) and its config")
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=self.timeout,
                                  env=dict(os.environ, SLURM_TIME_FORMAT="standard"))
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{tool} did not answer within {self.timeout:g} s (is slurmctld up?)") from None
        except OSError as exc:
            raise SlurmError(f"{tool} could not be started: {exc}") from None
        if done.returncode != 0:
            message = " ".join(line.strip() for line in (done.stderr or done.stdout).strip().splitlines())
            raise SlurmError(message or f"{tool} exited with code {done.returncode}")
        return done.stdout

    def sbatch(self, script: str, args: list[str]) -> str:
        """Submit a batch script (given on stdin); returns the job id."""
        out = self._run(["sbatch", "--parsable", *args], stdin=script).strip()
        job_id = out.split(";")[0].strip()   # "--parsable" prints "id" or "id;cluster"
        if not job_id.isdigit():
            raise SlurmError(f"sbatch printed no job id: {out!r}")
        return job_id

    def jobs(self, job_ids: list[str]) -> dict[str, JobState]:
        """The state of every job in `job_ids` Slurm still knows (one squeue call). A job it
        forgot (ended more than MinJobAge ago, or lost) is absent."""
        if not job_ids:
            return {}
        try:
            out = self._run(["squeue", "--noheader", "--states=all", f"--jobs={','.join(job_ids)}",
                             f"--Format={_SQUEUE_FORMAT}"])
        except SlurmError as exc:
            if "Invalid job id" in str(exc):   # none of them is known any more
                return {}
            raise
        states: dict[str, JobState] = {}
        for line in out.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if len(parts) < 6 or not parts[0]:
                continue
            job_id = parts[0].split("_")[0]
            states[job_id] = JobState(job_id=job_id, state=parts[1].split()[0].rstrip("+"), reason=parts[2],
                                      restarts=_int(parts[3]), exit_status=_int(parts[4]), nodes=parts[5])
        return states

    def scancel(self, job_id: str) -> None:
        self._run(["scancel", job_id])

    def partitions(self) -> dict[str, PartitionState]:
        """Every partition with its availability and node states (one sinfo call)."""
        out = self._run(["sinfo", "--noheader", "--format=%R|%a|%T|%D"])
        found: dict[str, PartitionState] = {}
        for line in out.splitlines():
            parts = line.strip().split("|")
            if len(parts) != 4:
                continue
            name, available, state, count = parts
            part = found.setdefault(name, PartitionState(name, available, {}))
            state = state.rstrip("*~#!%$@^-")
            part.nodes[state] = part.nodes.get(state, 0) + _int(count)
        return found


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
