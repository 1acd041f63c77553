"""`run_tree.ordered_children`: the order the shell and the UI show a run's children in."""
from __future__ import annotations

import json
import math

from tailrun.run_tree import ordered_children, sweep_metric
from tailrun.v1 import tailrun_pb2 as pb


def _trial(n: int, value: float | None, **params) -> pb.RunInfo:
    info = pb.RunInfo(run_id=f"HD_x_{n}", number=n, properties={"hyperparameters": json.dumps(params)})
    if value is not None:
        info.last_metrics["loss"] = value
    return info


def test_a_minimizing_sweep_lists_its_trials_best_first_and_those_without_the_metric_last():
    parent = pb.RunInfo(run_id="HD_x", properties={"primary_metric_config": json.dumps({"name": "loss", "goal": "minimize"})})
    trials = [_trial(1, 0.5, lr=0.1), _trial(2, None, lr=0.2), _trial(3, 0.25, lr=0.3), _trial(4, math.nan, lr=0.4)]
    ordered = ordered_children(parent, trials)
    assert sweep_metric(parent) == "loss" and ordered.kind == "sweep" and ordered.goal == "minimize"
    assert [c.info.number for c in ordered.children] == [3, 1, 2, 4]
    assert ordered.children[0].label == "lr=0.3" and ordered.children[0].columns == {"lr": "0.3"}


def test_a_pipelines_steps_follow_their_dependencies_not_their_numbers():
    definition = {"pipeline": {"steps": [
        {"node_id": "c", "name": "evaluate", "inputs": ["model"], "outputs": []},
        {"node_id": "b", "name": "train", "inputs": ["data"], "outputs": ["model"]},
        {"node_id": "a", "name": "prep", "inputs": [], "outputs": ["data"]}]}}
    parent = pb.RunInfo(run_id="p", run_definition_json=json.dumps(definition))
    steps = [pb.RunInfo(run_id=f"p_{n}", number=i, display_name=name, tags={"azureml.nodeid": n})
             for i, (n, name) in enumerate([("c", "evaluate"), ("b", "train"), ("a", "prep")])]
    ordered = ordered_children(parent, steps)
    assert ordered.kind == "pipeline" and [c.label for c in ordered.children] == ["prep", "train", "evaluate"]


def test_other_runs_children_come_by_number_and_bad_properties_are_harmless():
    parent = pb.RunInfo(run_id="r", properties={"primary_metric_config": "{not json"}, run_definition_json="[]")
    kids = [pb.RunInfo(run_id="k2", number=2), pb.RunInfo(run_id="k1", number=1)]
    ordered = ordered_children(parent, kids)
    assert ordered.kind == "runs" and [c.info.run_id for c in ordered.children] == ["k1", "k2"]
