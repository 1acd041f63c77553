"""A pipeline's serialised definition and its dependency graph: the checks and orderings that the
SDK (`Pipeline.validate()`, before anything is sent) and the service (before it runs anything)
both apply, so that they agree. Pure Python on plain dicts; no I/O.

The definition (`Pipeline._definition()`; a SubmitSpec's run_definition_json is
`{"pipeline": definition}`, the key that makes the service's orchestrator drive it):

    {"version": 1, "description": str, "continue_on_step_failure": bool,
     "parameters": {name: default value as str},
     "data": {name: {"type": "PipelineData" | "OutputFileDatasetConfig"}},
     "steps": [{"node_id": str, "name": str, "script": str (relative to its source),
                "source": str (the folder of the pipeline's snapshot that holds its source_directory),
                "arguments": [str | {"data": name} | {"param": name}],
                "inputs": [data names], "outputs": [data names],
                "after": [node ids] (StepSequence / run_after order, on top of the data edges),
                "allow_reuse": bool, "target": str, "run_config": RunConfiguration._to_dict()}]}

Data edges go from the one step that lists a name in `outputs` to each step listing it in
`inputs`; a step depends on its producers and on the steps in its `after`.
"""
from __future__ import annotations

import re
from typing import Any

KEY = "pipeline"   # the run definition's top-level key
DATA_TYPES = ("PipelineData", "OutputFileDatasetConfig")
# Data names become folder names and argument placeholders: Azure ML's rule for PipelineData.
DATA_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,255}$")


def structure_problems(definition: Any) -> list[str]:
    """What makes a definition unusable as data (wrong types, unknown references); empty when the
    graph functions below may be used on it."""
    if not isinstance(definition, dict):
        return ["the pipeline definition must be a JSON object"]
    steps, data = definition.get("steps"), definition.get("data")
    if not isinstance(steps, list) or not steps:
        return ["the pipeline has no steps"]
    if not isinstance(data, dict):
        return ["the pipeline's data must be a mapping of names"]
    problems: list[str] = []
    for name, spec in data.items():
        if not isinstance(name, str) or not DATA_NAME_RE.match(name):
            problems.append(f"data name {name!r} is not valid: it may contain only letters, digits "
                            "and underscores")
        elif not isinstance(spec, dict) or spec.get("type") not in DATA_TYPES:
            problems.append(f"data {name!r}: type must be one of {', '.join(DATA_TYPES)}")
    if not isinstance(definition.get("parameters", {}), dict):
        problems.append("the pipeline's parameters must be a mapping of names")
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            problems.append(f"step #{index + 1} is not a mapping")
            continue
        label = f"step {step.get('name')!r}" if isinstance(step.get("name"), str) else f"step #{index + 1}"
        node = step.get("node_id")
        if not isinstance(node, str) or not node:
            problems.append(f"{label}: node_id missing")
        elif node in seen:
            problems.append(f"{label}: node_id {node!r} is used twice")
        else:
            seen.add(node)
        for key in ("name", "script", "source", "target"):
            if not isinstance(step.get(key), str) or not step.get(key):
                problems.append(f"{label}: {key} must be a non-empty string")
        for key in ("inputs", "outputs", "after", "arguments"):
            if not isinstance(step.get(key, []), list):
                problems.append(f"{label}: {key} must be a list")
        for key in ("inputs", "outputs"):
            for name in step.get(key, []) if isinstance(step.get(key, []), list) else []:
                if name not in data:
                    problems.append(f"{label}: {key[:-1]} {name!r} is not declared in the pipeline's data")
    if problems:
        return problems
    for step in steps:
        for node in step.get("after", []):
            if node not in seen:
                problems.append(f"step {step['name']!r}: runs after node {node!r}, which is not a step "
                                "of this pipeline")
    return problems


def argument_problems(definition: dict[str, Any]) -> list[str]:
    """Arguments naming data the step neither reads nor writes, or undeclared parameters. Call
    only when `structure_problems` is empty."""
    problems: list[str] = []
    params = definition.get("parameters", {})
    for step in definition["steps"]:
        label = f"step {step['name']!r}"
        for arg in step.get("arguments", []):
            if isinstance(arg, dict):
                if "data" in arg:
                    if arg["data"] not in step.get("inputs", []) + step.get("outputs", []):
                        problems.append(f"{label}: argument refers to data {arg['data']!r}, which is "
                                        "neither in its inputs nor in its outputs")
                elif "param" in arg:
                    if arg["param"] not in params:
                        problems.append(f"{label}: argument refers to pipeline parameter "
                                        f"{arg['param']!r}, which is not declared")
                else:
                    problems.append(f"{label}: argument {arg!r} is neither a string, data nor a parameter")
            elif not isinstance(arg, str):
                problems.append(f"{label}: argument {arg!r} is not a string")
    return problems


def graph_problems(definition: dict[str, Any]) -> list[str]:
    """Outputs produced twice, inputs produced by no step (unconnected), a step reading its own
    output, cycles. Call only when `structure_problems` is empty."""
    problems: list[str] = []
    producers = _producers(definition)
    names = _names(definition)
    for name, nodes in producers.items():
        if len(nodes) > 1:
            problems.append(f"data {name!r} is an output of several steps: "
                            f"{', '.join(repr(names[n]) for n in nodes)}; each output has one producer")
    for step in definition["steps"]:
        for name in step.get("inputs", []):
            if name not in producers:
                problems.append(f"step {step['name']!r}: input {name!r} is not connected: no step of the "
                                "pipeline has it as an output")
            elif step["node_id"] in producers[name]:
                problems.append(f"step {step['name']!r} reads its own output {name!r}")
    cycle = find_cycle(dependencies(definition))
    if cycle:
        problems.append("the steps form a cycle: " + " -> ".join(repr(names[n]) for n in cycle))
    return problems


def problems(definition: Any) -> list[str]:
    """Every problem of a definition, structure first (graph checks need a sound structure)."""
    found = structure_problems(definition)
    return found or graph_problems(definition) + argument_problems(definition)


def _producers(definition: dict[str, Any]) -> dict[str, list[str]]:
    producers: dict[str, list[str]] = {}
    for step in definition["steps"]:
        for name in step.get("outputs", []):
            producers.setdefault(name, []).append(step["node_id"])
    return producers


def _names(definition: dict[str, Any]) -> dict[str, str]:
    return {step["node_id"]: step["name"] for step in definition["steps"]}


def producer_of(definition: dict[str, Any]) -> dict[str, str]:
    """data name -> node id of the step producing it (the first one, in a definition with problems)."""
    return {name: nodes[0] for name, nodes in _producers(definition).items()}


def dependencies(definition: dict[str, Any]) -> dict[str, list[str]]:
    """node id -> the node ids it waits for (data producers, then `after`), in definition order."""
    producers = _producers(definition)
    deps: dict[str, list[str]] = {}
    for step in definition["steps"]:
        wanted: list[str] = []
        for name in step.get("inputs", []):
            wanted += [n for n in producers.get(name, []) if n != step["node_id"]]
        wanted += list(step.get("after", []))
        deps[step["node_id"]] = list(dict.fromkeys(wanted))
    return deps


def find_cycle(deps: dict[str, list[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a] (a depends on ... which depends on a), or None."""
    state: dict[str, int] = {}   # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, []):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                return list(reversed(cycle))   # in the order things run
            if state.get(dep) is None:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in deps:
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def dependants(deps: dict[str, list[str]], node: str) -> list[str]:
    """Every node that waits for `node`, directly or not (in `deps` order)."""
    found: set[str] = set()
    frontier = [node]
    while frontier:
        current = frontier.pop()
        for other, wanted in deps.items():
            if current in wanted and other not in found:
                found.add(other)
                frontier.append(other)
    return [n for n in deps if n in found]


def order(deps: dict[str, list[str]]) -> list[str]:
    """The nodes in dependency order (each after what it waits for; ties in `deps` order).
    For an acyclic graph only."""
    done: list[str] = []
    placed: set[str] = set()
    remaining = list(deps)
    while remaining:
        ready = [n for n in remaining if all(d in placed for d in deps[n])]
        if not ready:
            raise ValueError("the steps form a cycle")
        for node in ready:
            done.append(node)
            placed.add(node)
        remaining = [n for n in remaining if n not in placed]
    return done
