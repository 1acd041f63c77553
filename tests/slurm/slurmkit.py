"""Helpers of the Slurm tests (and bench/bench_slurm.py): a one-node Slurm cluster on this
machine, configured in a folder of its own (own munge socket and key, own ports, no cgroups)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from waiting import console_text, wait_until

PARTITION = "debug"
START_TIMEOUT = 60.0


def install_packages() -> str | None:
    """None once munged, slurmctld and slurmd exist; else why they cannot be installed."""
    needed = ("munged", "slurmctld", "slurmd", "sbatch")
    if all(shutil.which(t) or os.path.exists(f"/usr/sbin/{t}") for t in needed):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "slurm-wlm and munge are not installed, and apt-get cannot install them (not root, or no apt-get)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            return f"installing slurm-wlm and munge failed: {' '.join(argv)}: {done.stderr.strip()[-500:]}"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SlurmCluster:
    """The running test cluster: `conf` (SLURM_CONF), `folder`, `run(*argv)` for its tools."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.conf = folder / "slurm.conf"
        self.node = socket.gethostname().split(".")[0]
        self.procs: list[subprocess.Popen] = []

    def write_config(self) -> None:
        f = self.folder
        for sub in ("state", "spool", "log"):
            (f / sub).mkdir(exist_ok=True)
        key = f / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.conf.write_text(f"""\
ClusterName=tailrun-test
SlurmctldHost={self.node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
AuthInfo=socket={f}/munge.sock
CredType=cred/munge
StateSaveLocation={f}/state
SlurmdSpoolDir={f}/spool
SlurmctldPidFile={f}/slurmctld.pid
SlurmdPidFile={f}/slurmd.pid
SlurmctldLogFile={f}/log/slurmctld.log
SlurmdLogFile={f}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=3
MinJobAge=300
InactiveLimit=0
Waittime=0
JobRequeue=1
NodeName={self.node} NodeAddr=127.0.0.1 CPUs=8 RealMemory=4000 State=UNKNOWN
PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")

    def start(self) -> None:
        f = self.folder
        log = open(f / "log" / "daemons.txt", "ab")
        self.procs.append(subprocess.Popen(
            ["/usr/sbin/munged", "-F", "--force", f"--socket={f}/munge.sock", f"--key-file={f}/munge.key",
             f"--pid-file={f}/munged.pid", f"--seed-file={f}/munge.seed"], stdout=log, stderr=log))
        self._wait(lambda: (f / "munge.sock").exists(), "munged's socket")
        env = dict(os.environ, SLURM_CONF=str(self.conf))
        self.procs.append(subprocess.Popen(["slurmctld", "-D", "-i", "-f", str(self.conf)], env=env,
                                           stdout=log, stderr=log))
        self.procs.append(subprocess.Popen(["slurmd", "-D", "-N", self.node, "-f", str(self.conf)], env=env,
                                           stdout=log, stderr=log))
        self._wait(self._node_idle, "the node to be idle in sinfo")

    def _node_idle(self) -> bool:
        for proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; see {self.folder}/log")
        done = self.run("sinfo", "--noheader", "--format=%T", check=False)
        return done.returncode == 0 and done.stdout.strip() == "idle"

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test Slurm cluster did not start: waited {START_TIMEOUT:g} s for {what}; "
                                   f"see {self.folder}/log")
            time.sleep(0.1)

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), env=dict(os.environ, SLURM_CONF=str(self.conf)), capture_output=True,
                              text=True, check=check, timeout=60)

    def stop(self) -> None:
        self.run("scancel", "--full", "--user=root", check=False)
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll `check()` (the test's view of the store or of Slurm) until it returns something truthy."""
    return wait_until(check, what, timeout)


def console(service: Any, run_id: str) -> str:
    """The run's stored console (user_logs/std_log.txt)."""
    return console_text(service.store, run_id)
