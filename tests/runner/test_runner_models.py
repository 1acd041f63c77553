"""A submitted script registers models with its run-scoped token: `run.register_model` from a
file it just wrote to ./outputs, `Model.register` of a local file (linked to its run), and
`Model.get_model_path`; registering from another run is refused."""
from __future__ import annotations

from pathlib import Path

from tailrun import Experiment, Model, ScriptRunConfig

TRAIN = """
import pathlib, sys
from tailrun.core.run import Run
from tailrun.core.model import Model
from tailrun.exceptions import AuthenticationError

run = Run.get_context()
pathlib.Path("outputs/model.pkl").write_bytes(b"weights from the script")
model = run.register_model("submitted-net", "outputs/model.pkl", tags={"from": "script"})
print("REGISTERED", model.id, model.run_id)
pathlib.Path("extra.bin").write_bytes(b"extra")
local = Model.register(run.experiment.workspace, "extra.bin", "submitted-extra")
print("LOCAL", local.id, local.run_id)
print("PATH", Model.get_model_path("submitted-net"))
try:
    Run.get(run.experiment.workspace, sys.argv[1]).register_model("stolen", "outputs/other.pkl")
except AuthenticationError as exc:
    print("DENIED", "only from its own run" in str(exc))
"""


def test_a_submitted_script_registers_models_from_its_run(service_factory, workspace_of, source_dir, tmp_path):
    service = service_factory(token="s3cret")
    ws = workspace_of(service)
    other = Experiment(ws, "elsewhere").start_logging(outputs=False)
    other.upload_file("outputs/other.pkl", _write(tmp_path / "other.pkl", b"other"))
    other.complete()

    run = Experiment(ws, "models").submit(ScriptRunConfig(str(source_dir({"train.py": TRAIN})), script="train.py",
                                                          arguments=[other.id]))
    details = run.wait_for_completion(raise_on_error=False)
    text = run.get_details_with_logs()["logFiles"]["user_logs/std_log.txt"]
    assert details["status"] == "Completed", text
    assert f"REGISTERED submitted-net:1 {run.id}" in text
    assert f"LOCAL submitted-extra:1 {run.id}" in text
    assert "PATH azureml-models/submitted-net/1/model.pkl" in text
    assert "DENIED True" in text

    assert sorted(m.id for m in Model.list(ws, run_id=run.id)) == ["submitted-extra:1", "submitted-net:1"]
    assert Model.list(ws, name="stolen") == []
    net = Model(ws, "submitted-net")
    assert net.tags == {"from": "script"} and net.experiment_name == "models"
    assert Path(net.download(str(tmp_path / "d"))).read_bytes() == b"weights from the script"
    assert "outputs/model.pkl" in run.get_file_names()


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)

