"""`import tailrun` stays light: the SDK never pulls in the service, the UI, SQLAlchemy or
Textual, and the bare import does not load grpc (it is loaded when something is sent)."""
from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("tailrun_service", "tailrun_tui", "textual", "sqlalchemy")


def _modules_after(code: str) -> list[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _offending(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


def test_sdk_imports_no_service_ui_or_database_code() -> None:
    modules = _modules_after("import tailrun\nfrom tailrun import Workspace, Experiment, Run")
    assert "tailrun.run" in modules   # the names really were loaded
    assert _offending(modules, FORBIDDEN) == []


def test_bare_import_does_not_load_grpc() -> None:
    modules = _modules_after("import tailrun")
    assert "tailrun" in modules
    assert _offending(modules, ("grpc", "google.protobuf")) == []


def test_integrations_are_not_loaded_by_tailrun_and_load_no_framework_themselves() -> None:
    frameworks = ("torch", "lightning", "keras", "transformers", "tensorflow")
    plain = _modules_after("import tailrun\nfrom tailrun import Workspace, Experiment, Run")
    assert _offending(plain, ("tailrun.integrations", *frameworks)) == []
    logging_only = _modules_after("from tailrun.integrations.logging import TailrunHandler")
    assert "tailrun.integrations.logging" in logging_only
    assert _offending(logging_only, frameworks) == []


def test_sweeps_api_loads_no_service_sampler_or_grpc() -> None:
    """The SDK only serialises a search space: the sampling (Optuna) runs in the service."""
    modules = _modules_after("from tailrun.train.hyperdrive import *")
    assert "tailrun.train.hyperdrive.runconfig" in modules
    assert _offending(modules, (*FORBIDDEN, "optuna", "grpc")) == []


def test_pipelines_api_loads_no_service_or_grpc() -> None:
    """Building and validating a pipeline needs neither the network nor the service."""
    modules = _modules_after("from tailrun.pipeline.core import *\nfrom tailrun.pipeline.steps import *\n"
                             "from tailrun.data import *\nPipeline, PipelineData, PythonScriptStep, PipelineRun")
    assert "tailrun.pipeline.core.pipeline" in modules and "tailrun.pipeline.core.run" in modules
    assert _offending(modules, (*FORBIDDEN, "grpc")) == []
