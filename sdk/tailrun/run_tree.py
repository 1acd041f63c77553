"""The order and the labels of a run's children, as the shell and the UI show them: a sweep's
trials best first by its primary metric, with their hyperparameters; a pipeline's steps in
dependency order; any other run's children by number.

Reads only what the service already returns (`pb.RunInfo` of the parent and its children): the
sweep parent's `primary_metric_config` property and each trial's `hyperparameters` property, the
pipeline parent's run definition and each step's `azureml.nodeid` tag.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass
class Child:
    info: Any                                   # pb.RunInfo
    label: str = ""                             # "lr=0.01 batch=32" or the step's name
    metric: float | None = None                 # a trial's primary metric (last value)
    columns: dict[str, str] = field(default_factory=dict)   # a trial's hyperparameters


@dataclass
class Children:
    kind: str                                   # "sweep", "pipeline" or "runs"
    children: list[Child]
    metric_name: str = ""                       # a sweep's primary metric
    goal: str = ""                              # "maximize" / "minimize"


def sweep_metric(parent: Any) -> str:
    """The primary metric of a sweep parent ("" for any other run)."""
    return str(_json(parent.properties.get("primary_metric_config", "")).get("name") or "")


def ordered_children(parent: Any, children: Iterable[Any]) -> Children:
    """`children` of `parent` in the order they are best read (see the module docstring)."""
    children = list(children)
    config = _json(parent.properties.get("primary_metric_config", ""))
    if config.get("name"):
        return _sweep(config, children)
    definition = _json(parent.run_definition_json)
    if isinstance(definition.get("pipeline"), dict):
        return _pipeline(definition["pipeline"], children)
    return Children("runs", [Child(c, c.display_name) for c in sorted(children, key=lambda c: c.number)])


def _sweep(config: dict[str, Any], children: list[Any]) -> Children:
    name, goal = str(config["name"]), str(config.get("goal", "maximize")).lower()
    rows = []
    for child in children:
        params = _json(child.properties.get("hyperparameters", ""))
        value = child.last_metrics.get(name)
        metric = value if value is not None and math.isfinite(value) else None
        columns = {str(k): _short(v) for k, v in params.items()}
        rows.append(Child(child, " ".join(f"{k.lstrip('-')}={v}" for k, v in columns.items()), metric, columns))
    sign = -1.0 if goal == "maximize" else 1.0
    rows.sort(key=lambda r: (r.metric is None, sign * r.metric if r.metric is not None else 0.0, r.info.number))
    return Children("sweep", rows, name, goal)


def _pipeline(pipeline: dict[str, Any], children: list[Any]) -> Children:
    from .pipeline import _dag
    try:
        nodes = _dag.order(_dag.dependencies(pipeline))
    except (KeyError, TypeError, ValueError):
        nodes = []
    rank = {node: i for i, node in enumerate(nodes)}
    rows = [Child(c, c.display_name) for c in children]
    rows.sort(key=lambda r: (rank.get(r.info.tags.get("azureml.nodeid", ""), len(rank)), r.info.number))
    return Children("pipeline", rows)


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
