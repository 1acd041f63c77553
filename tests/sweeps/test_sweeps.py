"""HyperDrive sweeps end to end: real scripts on the local target, a real service, the SDK's API.

The scripts are deterministic, so each test knows which children the policy must stop, which
grid points must run, and what the best value is."""
from __future__ import annotations

import io
import itertools
import json
from contextlib import redirect_stdout

import pytest

from tailrun import Experiment, ScriptRunConfig
from tailrun.train.hyperdrive import (
    BanditPolicy, BayesianParameterSampling, GridParameterSampling, HyperDriveConfig, HyperDriveRun,
    PrimaryMetricGoal, RandomParameterSampling, choice, uniform,
)

from sweepkit import children_of, wait_status, wait_until

# Logs `accuracy` = quality + 0.01 i for i < 4. A bad run (quality < 0.5) then waits until it is
# canceled, so only the policy ends it (or, if the policy fails, the 60 s cap, and the test fails).
QUALITY = """\
import argparse, os, time
from tailrun import Run
parser = argparse.ArgumentParser()
parser.add_argument("--quality", type=float)
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
run = Run.get_context()
for i in range(args.epochs):
    run.log("accuracy", args.quality + 0.01 * i)
run.flush()
if args.quality < 0.5:
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.05)
    print("not stopped")
"""
GOOD, BAD = [0.95, 0.9, 0.85, 0.8], [0.25, 0.2, 0.15, 0.1]

# A known function with its maximum 0 at (0.3, -0.2), logged once.
PEAK = """\
import argparse
from tailrun import Run
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--y", type=float)
args = parser.parse_args()
Run.get_context().log("score", -((args.x - 0.3) ** 2) - (args.y + 0.2) ** 2)
"""

ECHO = """\
import sys
from tailrun import Run
print("argv", sys.argv[1:])
Run.get_context().log("value", float(sys.argv[sys.argv.index("--a") + 1]) * 10 + len(sys.argv[-1]))
"""


def _sweep(folder, sampling, metric, goal, total, at_once, policy=None, script="train.py", arguments=None):
    return HyperDriveConfig(run_config=ScriptRunConfig(str(folder), script, arguments=arguments),
                            hyperparameter_sampling=sampling, policy=policy, primary_metric_name=metric,
                            primary_metric_goal=goal, max_total_runs=total, max_concurrent_runs=at_once)


def _params(info):
    return json.loads(info.properties["hyperparameters"])


def test_random_sweep_of_8_runs_2_at_a_time_bandit_stops_the_bad_ones(service, ws, source_dir):
    # Seed 5 draws a good run first: two bad runs alone would hold both slots, each within the
    # other's slack, waiting for a comparison that never comes.
    sampling = RandomParameterSampling({"--quality": choice(GOOD[:1] + BAD[:1] + GOOD[1:] + BAD[1:])},
                                       properties={"seed": 5})
    config = _sweep(source_dir({"train.py": QUALITY}), sampling, "accuracy", PrimaryMetricGoal.MAXIMIZE, 8, 2,
                    policy=BanditPolicy(slack_factor=0.5, evaluation_interval=1, delay_evaluation=2),
                    arguments=["--epochs", 4])
    run = Experiment(ws, "sweeps").submit(config)
    assert isinstance(run, HyperDriveRun) and run.id.startswith("HD_")
    out = io.StringIO()
    with redirect_stdout(out):
        details = run.wait_for_completion(show_output=True)
    assert details["status"] == "Completed"

    kids = children_of(service.store, run.id)
    assert sorted(k.run_id for k in kids) == sorted(f"{run.id}_{n}" for n in range(8))
    by_quality = {_params(k)["--quality"]: k for k in kids}
    assert sorted(by_quality) == sorted(GOOD + BAD)   # all-choice random space: no combination twice
    for quality in GOOD:
        assert by_quality[quality].status == "Completed"
    for quality in BAD:
        kid = by_quality[quality]
        assert kid.status == "Canceled", (quality, kid.status)
        error = json.loads(kid.error_json)["error"]
        assert error["code"] == "EarlyTermination" and "BanditPolicy" in error["message"], error
        assert "not stopped" not in service.store.read_output(_req(kid.run_id)).text
    # Never more than 2 children executing at once.
    for k in kids:
        overlapping = [o for o in kids if o.start_time <= k.start_time < o.end_time]
        assert len(overlapping) <= 2
    # The arguments: the script's own, then the sampled values.
    assert list(by_quality[0.9].arguments) == ["--epochs", "4", "--quality", "0.9"]

    # The SDK's view.
    best = run.get_best_run_by_primary_metric()
    assert best.id == by_quality[0.95].run_id
    top = run.get_children_sorted_by_primary_metric(top=3)
    assert [row["run_id"] for row in top] == [by_quality[q].run_id for q in (0.95, 0.9, 0.85)]
    assert top[0]["best_primary_metric"] == pytest.approx(0.98)
    assert json.loads(top[0]["hyperparameters"]) == {"--quality": 0.95}
    assert json.loads(run.get_hyperparameters()[by_quality[0.1].run_id]) == {"--quality": 0.1}
    assert run.get_metrics()[by_quality[0.8].run_id]["accuracy"] == pytest.approx([0.8, 0.81, 0.82, 0.83])
    assert run.get_tags()["best_child_run_id"] == by_quality[0.95].run_id

    # wait_for_completion(show_output=True): one line per child start and one per end.
    text = out.getvalue()
    for k in kids:
        lines = [line for line in text.splitlines() if f"] {k.run_id} " in line]
        assert len(lines) == 2, lines
        assert "started" in lines[0] and f"--quality {_params(k)['--quality']}" in lines[0]
        assert k.status in lines[1] and "accuracy=" in lines[1]
    assert "stopped by BanditPolicy" in text and f"best {by_quality[0.95].run_id} accuracy=0.98" in text


def test_grid_sampling_covers_the_grid_exactly(service, ws, source_dir):
    sampling = GridParameterSampling({"--a": choice(1, 2, 3), "b": choice("x", "yy")})
    run = Experiment(ws, "sweeps").submit(
        _sweep(source_dir({"train.py": ECHO}), sampling, "value", "maximize", 10, 3))
    run.wait_for_completion()
    kids = sorted(children_of(service.store, run.id), key=lambda k: int(k.run_id.rsplit("_", 1)[1]))
    # every combination once, in order (the first parameter varies slowest), then the sweep ends
    assert [_params(k) for k in kids] == [{"--a": a, "b": b} for a, b in itertools.product([1, 2, 3], ["x", "yy"])]
    assert [list(k.arguments) for k in kids][:2] == [["--a", "1", "--b", "x"], ["--a", "1", "--b", "yy"]]
    assert {k.status for k in kids} == {"Completed"}
    assert run.get_best_run_by_primary_metric().id == kids[-1].run_id   # a=3, b="yy": 32
    assert "the search space is used up: 6 combinations" in service.store.read_output(_req(run.id)).text
    # `tailrun runs --tree`: the trials under the sweep, best first, with metric and hyperparameters
    import subprocess
    import sys
    tree = subprocess.run([sys.executable, "-m", "tailrun.cli", "runs", "sweeps", "--tree", "--address",
                           service.address], capture_output=True, text=True, timeout=60)
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()
    parent = next(i for i, line in enumerate(lines) if f" {run.id} " in line)
    trials = lines[parent + 1:parent + 7]
    assert [line.split()[1] for line in trials] == [k.run_id for k in reversed(kids)]   # 32, 31, 22, …
    assert trials[0].endswith("value=32  a=3 b=yy") and trials[-1].endswith("value=11  a=1 b=x")

    smaller = Experiment(ws, "sweeps").submit(
        _sweep(source_dir({"train.py": ECHO}), sampling, "value", "maximize", 4, 4))
    smaller.wait_for_completion()
    assert sorted(json.loads(v)["--a"] for v in smaller.get_hyperparameters().values()) == [1, 1, 2, 2]


def test_bayesian_sampling_improves_on_random_on_a_known_function(service, ws, source_dir):
    space = {"--x": uniform(-2, 2), "--y": uniform(-2, 2)}
    folder = source_dir({"train.py": PEAK})
    best = {}
    for name, sampling, at_once in (("random", RandomParameterSampling(space, properties={"seed": 7}), 4),
                                    ("bayesian", BayesianParameterSampling(space, properties={"seed": 7}), 1)):
        run = Experiment(ws, "sweeps").submit(_sweep(folder, sampling, "score", "maximize", 16, at_once))
        run.wait_for_completion()
        assert len(run.get_hyperparameters()) == 16
        best[name] = run.get_children_sorted_by_primary_metric(top=1)[0]["best_primary_metric"]
    assert best["bayesian"] > best["random"], best


def test_a_service_restart_mid_sweep_finishes_it_and_runs_nothing_twice(service_factory, workspace_of,
                                                                        source_dir, tmp_path):
    script = QUALITY.replace("if args.quality < 0.5:", "import sys\nprint('started once')\nwhile not "
                             f"os.path.exists({str(tmp_path / 'go')!r}):\n    time.sleep(0.02)\nif False:")
    data_dir = tmp_path / "data"
    first = service_factory(data_dir=data_dir)
    sampling = RandomParameterSampling({"--quality": uniform(0.5, 1)}, properties={"seed": 3})
    run = Experiment(workspace_of(first), "sweeps").submit(
        _sweep(source_dir({"train.py": script}), sampling, "accuracy", "maximize", 5, 2, arguments=["--epochs", 2]))
    wait_until(lambda: [k.status for k in children_of(first.store, run.id)] == ["Running", "Running"],
               "two children running")
    first.runner.stop(kill_runs=False)   # what a restart looks like to the runs
    first.stop(grace=1)

    second = service_factory(data_dir=data_dir, port=first.port)   # a restart keeps its address
    (tmp_path / "go").touch()
    parent = wait_status(second.store, run.id, {"Completed", "Failed", "Canceled"})
    assert parent.status == "Completed", parent.error_json
    kids = children_of(second.store, run.id)
    assert sorted(k.run_id for k in kids) == sorted(f"{run.id}_{n}" for n in range(5))
    assert {k.status for k in kids} == {"Completed"}
    for kid in kids:
        assert second.store.read_output(_req(kid.run_id)).text.count("started once") == 1
    console = second.store.read_output(_req(run.id)).text
    for kid in kids:
        assert console.count(f"] {kid.run_id} started") == 1
    assert len({json.dumps(_params(k)) for k in kids}) == 5


def test_canceling_a_sweep_cancels_its_children(service, ws, source_dir):
    sampling = RandomParameterSampling({"--quality": choice(0.1, 0.2, 0.3)})
    run = Experiment(ws, "sweeps").submit(_sweep(source_dir({"train.py": QUALITY}), sampling, "accuracy",
                                                 "maximize", 3, 2, arguments=["--epochs", 1]))
    wait_until(lambda: [k.status for k in children_of(service.store, run.id)] == ["Running", "Running"],
               "two children running")
    run.cancel()
    details = run.wait_for_completion()
    assert details["status"] == "Canceled"
    kids = children_of(service.store, run.id)
    assert len(kids) == 2 and {k.status for k in kids} == {"Canceled"}


def _req(run_id):
    from tailrun.v1 import tailrun_pb2 as pb
    return pb.ReadOutputRequest(run_id=run_id)


@pytest.mark.postgres
def test_a_grid_sweep_on_postgresql(pg_service, workspace_of, source_dir):
    """The orchestration table and the change feed on PostgreSQL."""
    sampling = GridParameterSampling({"--a": choice(1, 2), "b": choice("x")})
    run = Experiment(workspace_of(pg_service), "sweeps").submit(
        _sweep(source_dir({"train.py": ECHO}), sampling, "value", "maximize", 5, 2))
    assert run.wait_for_completion()["status"] == "Completed"
    kids = children_of(pg_service.store, run.id)
    assert sorted(json.dumps(_params(k)) for k in kids) == ['{"--a": 1, "b": "x"}', '{"--a": 2, "b": "x"}']
    assert run.get_best_run_by_primary_metric().id == next(k.run_id for k in kids if _params(k)["--a"] == 2)
    # the controller's row is closed right after the parent's final status
    wait_until(lambda: pg_service.store.get_orchestration(run.id)[2] == "Completed", "the orchestration closed")


@pytest.mark.slow
def test_max_duration_minutes_cancels_the_running_children_and_ends_the_sweep(service, ws, source_dir):
    """One minute (the smallest limit) with a child that would run for two."""
    script = "import time\nprint('waiting', flush=True)\ntime.sleep(120)\n"
    run = Experiment(ws, "sweeps").submit(HyperDriveConfig(
        run_config=ScriptRunConfig(str(source_dir({"train.py": script})), "train.py"),
        hyperparameter_sampling=RandomParameterSampling({"--x": uniform(0, 1)}), primary_metric_name="m",
        primary_metric_goal="maximize", max_total_runs=3, max_concurrent_runs=1, max_duration_minutes=1))
    details = run.wait_for_completion()
    assert details["status"] == "Completed"
    assert any("max_duration_minutes (1) reached" in w for w in details["warnings"])
    kids = children_of(service.store, run.id)
    assert len(kids) == 1 and kids[0].status == "Canceled"
    assert json.loads(kids[0].error_json)["error"]["code"] == "MaxDurationReached"
