"""The committed generated code must match what `make proto` produces from the .proto today."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROTO = "tailrun/v1/tailrun.proto"
GENERATED = ("tailrun_pb2.py", "tailrun_pb2_grpc.py", "tailrun_pb2.pyi")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from grpc_tools import protoc

    out = tmp_path_factory.mktemp("proto")
    # The same arguments as the Makefile's `proto` target, into a tmp dir.
    args = ["grpc_tools.protoc", f"-I{ROOT / 'protos'}", f"--python_out={out}",
            f"--grpc_python_out={out}", f"--pyi_out={out}", str(ROOT / "protos" / PROTO)]
    assert protoc.main(args) == 0, f"protoc failed on protos/{PROTO}"
    return out / "tailrun" / "v1"


@pytest.mark.parametrize("name", GENERATED)
def test_committed_code_is_current(regenerated: Path, name: str) -> None:
    committed = ROOT / "sdk" / "tailrun" / "v1" / name
    assert committed.exists(), f"sdk/tailrun/v1/{name} is missing: run `make proto`"
    fresh = (regenerated / name).read_text()
    assert committed.read_text() == fresh, (
        f"sdk/tailrun/v1/{name} is stale (protos/{PROTO} changed): run `make proto` and commit the result")


def test_generated_code_declares_the_tracker_service() -> None:
    from tailrun.v1 import tailrun_pb2, tailrun_pb2_grpc

    service = tailrun_pb2.DESCRIPTOR.services_by_name["Tracker"]
    assert service.full_name == "tailrun.v1.Tracker"
    assert {"Ingest", "Watch", "SubmitRun"} <= {m.name for m in service.methods}
    assert hasattr(tailrun_pb2_grpc, "TrackerStub")
