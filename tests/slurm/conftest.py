"""A real one-node Slurm cluster for the tests (slurmkit.SlurmCluster: munged, slurmctld and
slurmd from Debian's `munge` and `slurm-wlm` packages, in a temporary folder), started once per
test session.

The packages are installed with apt-get when missing (as root); the tests are skipped, with the
reason printed, only when that is impossible. SLURM_CONF points the tools (sbatch, squeue, ...)
of this process, and of the in-process services, at the test cluster.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from recorder_reset import reset_recorder
from slurmkit import PARTITION, SlurmCluster, install_packages

TOKEN = "slurm-test-token"   # so the jobs get run-scoped tokens, as on a shared service


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    problem = install_packages()
    if problem:
        print(f"\nSKIPPING the Slurm tests: {problem}", file=sys.stderr)
        pytest.skip(problem)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    cluster.write_config()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous


@pytest.fixture(autouse=True)
def fresh_recorder(service_factory: Callable[..., Any]) -> Iterator[None]:
    """Each test's SDK recorders are closed before its services stop (nothing left to drain at exit)."""
    reset_recorder()
    yield
    reset_recorder()


@pytest.fixture
def slurm_config(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """`slurm_config(**options)`: a compute config with target "cpu-cluster" on the test partition."""
    def make(**options: Any) -> dict[str, Any]:
        table = {"kind": "slurm", "partition": PARTITION, "poll_seconds": 0.2,
                 "work_dir": str(tmp_path / "node-work"), "env_dir": str(tmp_path / "node-envs")}
        table.update(options)
        return {"targets": {"cpu-cluster": table}}
    return make


@pytest.fixture
def slurm_service(slurm_cluster: SlurmCluster, service_factory: Callable[..., Any],
                  slurm_config: Callable[..., dict[str, Any]]) -> Any:
    """A real service with the compute target "cpu-cluster" (the test cluster's partition)."""
    return service_factory(compute_config=slurm_config(), token=TOKEN)


@pytest.fixture
def slurm_ws(slurm_service: Any) -> Any:
    from tailrun import Workspace

    return Workspace(address=slurm_service.address, token=slurm_service.token)


