"""Azure ML v1 code, written the way its users write it, run with only `azureml` -> `tailrun` in
the imports: a notebook-style flow (workspace, environment registry, compute lookup, submit, watch,
metrics, model registry) and the training script it submits (`from azureml.core.run import Run`,
child runs, a model registered from inside the run). The code below is azureml code; the test
swaps the imports exactly as a user would and runs it in a real child process."""
from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import numpy as np

TRAIN_PY = '''
import argparse
import os
import pickle

import numpy as np
from azureml.core.run import Run
from azureml.core.model import Model

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=0.5)
args = parser.parse_args()

run = Run.get_context()
rng = np.random.RandomState(0)
X = rng.rand(200, 3)
y = X @ np.array([1.0, 2.0, 3.0]) + 0.01 * rng.randn(200)

def ridge(alpha):
    return np.linalg.solve(X.T @ X + alpha * np.eye(3), X.T @ y)

# a small sweep as child runs, one per alpha
children = run.create_children(tag_key="alpha", tag_values=["0.01", "0.1", "1.0"])
for child in children:
    alpha = float(child.get_tags()["alpha"])
    w = ridge(alpha)
    child.log("alpha", alpha)
    child.log("mse", float(np.mean((X @ w - y) ** 2)))
    child.complete()

w = ridge(args.alpha)
run.log("alpha", args.alpha)
run.log("mse", float(np.mean((X @ w - y) ** 2)))
run.log_list("coef", w)
for epoch in range(5):
    run.log("loss", 1.0 / (epoch + 1))
os.makedirs("outputs", exist_ok=True)
with open("outputs/ridge.pkl", "wb") as fh:
    pickle.dump(w, fh)
run.upload_file(name="outputs/ridge.pkl", path_or_stream="outputs/ridge.pkl")
model = run.register_model(model_name="ridge-from-script", model_path="outputs/ridge.pkl",
                           tags={"alpha": str(args.alpha)})
print("registered", model.name, model.version)
'''

NOTEBOOK = '''
import json
import azureml.core
from azureml.core import Workspace, Experiment, Environment, ScriptRunConfig
from azureml.core.compute import ComputeTarget
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.model import Model
from azureml.core.run import Run
from azureml.exceptions import ComputeTargetException
from azureml.widgets import RunDetails

print("SDK version:", azureml.core.VERSION)
ws = Workspace.from_config()
print("Workspace name: " + ws.name, "Azure region: " + ws.location,
      "Subscription id: " + ws.subscription_id, "Resource group: " + ws.resource_group, sep="\\n")

try:
    ComputeTarget(workspace=ws, name="cpu-cluster")
    print("Found existing cluster, use it.")
except ComputeTargetException as exc:
    print("no cluster:", str(exc).splitlines()[0])   # the notebook would create one here (cloud only)
print("targets:", sorted(ws.compute_targets))

env = Environment("user-managed-env")
env.python.user_managed_dependencies = True
env.register(workspace=ws)
env = Environment.get(workspace=ws, name="user-managed-env")
print("environment", env.name, env.version)

exp = Experiment(workspace=ws, name="train-on-local")
src = ScriptRunConfig(source_directory="./scripts", script="train.py", arguments=["--alpha", 0.5],
                      compute_target="local", environment=env)
run = exp.submit(src)
RunDetails(run).show()
run.wait_for_completion(show_output=False)
print("status", run.get_status())

print("metrics", json.dumps(run.get_metrics()))
print("children", json.dumps(sorted(c.get_metrics()["mse"] for c in run.get_children())))
print("files", json.dumps(run.get_file_names()))

model = run.register_model(model_name="ridge", model_path="outputs/ridge.pkl", tags={"area": "demo"})
print("model", model.name, model.id, model.version, sep="\\t")
print("listed", json.dumps([[m.name, m.version] for m in Model.list(ws)]))
path = Model(ws, "ridge").download(target_dir="downloaded", exist_ok=True)
print("downloaded", path)

fetched = Run.get(ws, run.id)
details = fetched.wait_for_completion()
print("submittedBy", details["submittedBy"])
'''


def _as_tailrun(code: str) -> str:
    """What the user does: replace azureml by tailrun in the imports, nothing else."""
    return textwrap.dedent(code).replace("azureml", "tailrun")


def _lines(stdout: str, key: str) -> list[str]:
    """The rest of each printed line whose first word is `key`."""
    found = []
    for line in stdout.splitlines():
        first, _, rest = line.partition(" ") if " " in line.split("\t", 1)[0] else line.partition("\t")
        if first == key:
            found.append(rest)
    return found


def test_a_v1_notebook_and_its_training_script_run_with_only_the_imports_changed(run_script, tmp_path):
    cwd = tmp_path / "script-cwd"
    (cwd / "scripts").mkdir(parents=True)
    (cwd / "scripts" / "train.py").write_text(_as_tailrun(TRAIN_PY))
    notebook = _as_tailrun(NOTEBOOK)

    first = run_script(notebook, timeout=240)
    assert first.returncode == 0, first.stderr[-3000:]
    out = first.stdout
    assert "SDK version:" in out and "Workspace name: " in out
    assert "no cluster: " in out and "cpu-cluster" in out and "'local'" in out
    assert _lines(out, "status") == ["Completed"]
    assert _lines(out, "environment") == ["user-managed-env 1"]

    # the numbers the script logged, recomputed here
    rng = np.random.RandomState(0)
    X = rng.rand(200, 3)
    y = X @ np.array([1.0, 2.0, 3.0]) + 0.01 * rng.randn(200)

    def mse(alpha: float) -> float:
        w = np.linalg.solve(X.T @ X + alpha * np.eye(3), X.T @ y)
        return float(np.mean((X @ w - y) ** 2))

    metrics = json.loads(_lines(out, "metrics")[0])
    assert metrics["alpha"] == 0.5 and abs(metrics["mse"] - mse(0.5)) < 1e-12
    assert metrics["loss"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert len(metrics["coef"]) == 3
    assert json.loads(_lines(out, "children")[0]) == sorted(mse(a) for a in (0.01, 0.1, 1.0))
    assert "outputs/ridge.pkl" in json.loads(_lines(out, "files")[0])

    name, model_id, version = _lines(out, "model")[0].split("\t")
    assert (name, model_id, version) == ("ridge", "ridge:1", "1")
    assert sorted(map(tuple, json.loads(_lines(out, "listed")[0]))) == [("ridge", 1), ("ridge-from-script", 1)]
    downloaded = Path(_lines(out, "downloaded")[0])
    downloaded = downloaded if downloaded.is_absolute() else cwd / downloaded
    w = pickle.loads(downloaded.read_bytes())
    assert np.allclose(w, np.linalg.solve(X.T @ X + 0.5 * np.eye(3), X.T @ y))
    assert _lines(out, "submittedBy")[0].strip()

    # the notebook run again, as users do: new versions, same environment version
    second = run_script(notebook, timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _lines(second.stdout, "environment") == ["user-managed-env 1"]
    assert _lines(second.stdout, "model")[0].split("\t")[1:] == ["ridge:2", "2"]
