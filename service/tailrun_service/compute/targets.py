"""Named compute targets: the interface every kind implements, the `--compute-config` file, and
the registry the runner dispatches submitted runs through.

    [targets.cpu-cluster]          # tailrun server --compute-config compute.toml
    kind = "slurm"
    partition = "debug"

`local` (the runner's own child processes on this machine) always exists and cannot be redefined.
A target kind implements `Target`: the runner creates the run (NotStarted) and checks its snapshot,
then hands it to `launch`; from there the target owns the run's status until it is final.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailrun.v1 import tailrun_pb2 as pb

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from ..runner.runner import Runner
    from ..runner.writer import RunWriter

LOCAL = "local"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ComputeConfigError(ValueError):
    """The compute config file cannot be used (the message names the file, target and key)."""


@dataclass
class Launch:
    """A run the runner accepted, for a target to execute: created NotStarted, its snapshot
    checked. `writer` is the run's `runner:<run_id>` writer (statuses, console, files)."""
    run_id: str
    experiment: str
    definition: dict[str, Any]
    snapshot: bytes
    writer: "RunWriter"
    local_state: Any = None        # the local target's RunState (runner/state.py)


class Target:
    """What the runner needs from a place where runs execute."""

    name: str
    kind: str

    def describe(self) -> pb.ComputeTargetInfo:
        """Name, kind, live state ("Succeeded" when usable) and a one-line detail."""
        raise NotImplementedError

    def launch(self, launch: Launch) -> None:
        """Start executing (or queue) an accepted run. Raising InvalidArgument refuses it: the
        runner then marks the run Failed with that message and the client gets the error."""
        raise NotImplementedError

    def cancel(self, run_id: str) -> bool:
        """Cancel one of this target's runs; False if the run is not (or no longer) this target's."""
        raise NotImplementedError

    def active_runs(self) -> list[str]:
        """The runs this target watches now (the liveness monitor leaves them alone)."""
        raise NotImplementedError

    def start(self) -> None:
        """Pick up the runs a previous service process left on this target (once, at start)."""

    def stop(self, kill_runs: bool) -> None:
        """Stop watching; with `kill_runs`, end the runs too (else the next service adopts them)."""


class LocalTarget(Target):
    """`local`: the runner's child processes on this machine (runner.py, supervisor.py)."""

    kind = LOCAL

    def __init__(self, runner: "Runner") -> None:
        self.name = LOCAL
        self.runner = runner

    def describe(self) -> pb.ComputeTargetInfo:
        runner = self.runner
        running, queued = len(runner.active_local_runs()), len(runner.queued_runs())
        return pb.ComputeTargetInfo(
            name=self.name, kind=self.kind, state="Succeeded",
            detail=f"this service's machine: {running} running, {queued} queued, at most "
                   f"{runner.max_concurrent} at once",
            properties={"max_concurrent_runs": str(runner.max_concurrent)})

    def launch(self, launch: Launch) -> None:
        self.runner.launch_local(launch)

    def cancel(self, run_id: str) -> bool:
        return self.runner.cancel_local(run_id)

    def active_runs(self) -> list[str]:
        return self.runner.active_local_runs()


class ComputeTargets:
    """The service's targets by name; `local` first."""

    def __init__(self, targets: list[Target]) -> None:
        self._targets = {t.name: t for t in targets}

    def names(self) -> list[str]:
        return list(self._targets)

    def get(self, name: str) -> Target:
        target = self._targets.get(name or LOCAL)
        if target is None:
            raise InvalidArgument(f"ComputeTargetNotFound: unknown compute target {name!r}; the known compute "
                                  f"targets are {self.known()} (configured with tailrun server --compute-config)")
        return target

    def known(self) -> str:
        return ", ".join(repr(n) for n in self._targets)

    def __iter__(self):
        return iter(self._targets.values())

    def describe_all(self) -> list[pb.ComputeTargetInfo]:
        infos = []
        for target in self._targets.values():
            try:
                infos.append(target.describe())
            except Exception as exc:  # one broken target must not hide the others
                infos.append(pb.ComputeTargetInfo(name=target.name, kind=target.kind, state="Unavailable",
                                                  detail=f"its state could not be read: {exc}"))
        return infos

    def active_runs(self) -> list[str]:
        return sorted({run_id for target in self._targets.values() for run_id in target.active_runs()})

    def start(self) -> None:
        for target in self._targets.values():
            target.start()

    def stop(self, kill_runs: bool) -> None:
        for target in self._targets.values():
            target.stop(kill_runs)


def build_targets(runner: "Runner", config: dict[str, dict[str, Any]] | None) -> ComputeTargets:
    """`local` plus one target per table of the (already loaded) compute config."""
    targets: list[Target] = [LocalTarget(runner)]
    slurm = {name: table for name, table in (config or {}).items() if table["kind"] == "slurm"}
    if slurm:
        from .slurm import SlurmCluster

        cluster = SlurmCluster(runner)
        targets += [cluster.target(name, table) for name, table in slurm.items()]
    return ComputeTargets(targets)


# ---------------------------------------------------------------------- the config file

KINDS = ("slurm",)
SLURM_KEYS: dict[str, type | tuple[type, ...]] = {
    "kind": str, "partition": str, "account": str, "qos": str, "time_limit": (str, int),
    "cpus_per_task": int, "gpus": (str, int), "mem": str, "sbatch_args": list, "python": str,
    "env_dir": str, "work_dir": str, "service_address": str, "poll_seconds": (int, float),
}


def load_compute_config(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read and check `--compute-config FILE`: {target name: its table}. Raises ComputeConfigError."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ComputeConfigError(f"cannot read the compute config {str(path)!r}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ComputeConfigError(f"the compute config {str(path)!r} is not valid TOML: {exc}") from None
    return check_compute_config(data, str(path))


def check_compute_config(data: dict[str, Any], where: str = "the compute config") -> dict[str, dict[str, Any]]:
    extra = sorted(set(data) - {"targets"})
    if extra:
        raise ComputeConfigError(f"{where}: unknown top-level key(s) {', '.join(map(repr, extra))}; "
                                 "targets go in [targets.NAME] tables")
    targets = data.get("targets") or {}
    if not isinstance(targets, dict):
        raise ComputeConfigError(f"{where}: 'targets' must be a table of [targets.NAME] tables")
    checked: dict[str, dict[str, Any]] = {}
    for name, table in targets.items():
        if name == LOCAL:
            raise ComputeConfigError(f"{where}: target 'local' is built in (this machine) and cannot be redefined")
        if not _NAME.match(name):
            raise ComputeConfigError(f"{where}: target name {name!r} must be 1-64 letters, digits, '_', '.' "
                                     "or '-', starting with a letter or digit")
        if not isinstance(table, dict):
            raise ComputeConfigError(f"{where}: targets.{name} must be a table")
        kind = table.get("kind")
        if kind not in KINDS:
            raise ComputeConfigError(f"{where}: targets.{name}: kind {kind!r} is not one of "
                                     f"{', '.join(map(repr, KINDS))}")
        for key, value in table.items():
            expected = SLURM_KEYS.get(key)
            if expected is None:
                raise ComputeConfigError(f"{where}: targets.{name}: unknown key {key!r} (known: "
                                         f"{', '.join(SLURM_KEYS)})")
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ComputeConfigError(f"{where}: targets.{name}.{key} has the wrong type "
                                         f"({type(value).__name__}: {value!r})")
        if not table.get("partition"):
            raise ComputeConfigError(f"{where}: targets.{name}: a slurm target needs a partition")
        if not all(isinstance(a, str) for a in table.get("sbatch_args", [])):
            raise ComputeConfigError(f"{where}: targets.{name}.sbatch_args must be a list of strings")
        checked[name] = dict(table)
    return checked
