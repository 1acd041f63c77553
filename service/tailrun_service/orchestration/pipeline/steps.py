"""What one pipeline step needs before it is submitted: its own snapshot (its source folder, cut
out of the pipeline's zip), the run definition with data placeholders replaced by folder paths,
and the reuse key that decides whether an earlier run of it can stand in for it."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

# A fixed timestamp for every entry: equal files give equal zips, so equal ContentSnapshotIds.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def step_snapshot(pipeline_zip: bytes, source: str) -> tuple[bytes, str]:
    """(the zip of the files under `source/`, renamed relative to it; a hash of their names and
    contents). The hash, not the zip's bytes, is what reuse compares."""
    prefix = source.rstrip("/") + "/"
    out = io.BytesIO()
    digest = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(pipeline_zip)) as archive, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as step_zip:
        for entry in sorted(archive.infolist(), key=lambda e: e.filename):
            if entry.is_dir() or not entry.filename.startswith(prefix):
                continue
            name = entry.filename[len(prefix):]
            data = archive.read(entry)
            step_zip.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return out.getvalue(), digest.hexdigest()


def resolve_arguments(arguments: list[Any], folders: dict[str, str], parameters: dict[str, str]) -> list[str]:
    """The step's arguments with each {"data": name} replaced by that data's folder and each
    {"param": name} by the parameter's value (Azure ML substitutes the mounted path the same way)."""
    resolved = []
    for arg in arguments:
        if isinstance(arg, dict) and "data" in arg:
            resolved.append(folders[arg["data"]])
        elif isinstance(arg, dict) and "param" in arg:
            resolved.append(str(parameters[arg["param"]]))
        else:
            resolved.append(str(arg))
    return resolved


def reuse_key(step: dict[str, Any], content_hash: str, inputs: dict[str, str], parameters: dict[str, str]) -> str:
    """What makes two runs of a step interchangeable: the script and its folder's content, the
    arguments (data named by where it came from, not by path), parameters, the run configuration,
    the target, and the runs that produced each input."""
    arguments = [{"data": arg["data"], "from": inputs.get(arg["data"], "")} if isinstance(arg, dict) and "data" in arg
                 else str(parameters[arg["param"]]) if isinstance(arg, dict) and "param" in arg else str(arg)
                 for arg in step.get("arguments", [])]
    identity = {"script": step["script"], "content": content_hash, "arguments": arguments,
                "inputs": {name: inputs[name] for name in sorted(step.get("inputs", []))},
                "outputs": sorted(step.get("outputs", [])), "run_config": step.get("run_config", {}),
                "target": step.get("target", "local")}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def child_definition(step: dict[str, Any], arguments: list[str], folders: dict[str, str]) -> dict[str, Any]:
    """The RunConfiguration dict the runner executes for a step; each data folder is also in
    `AZUREML_DATAREFERENCE_<name>`, as Azure ML sets it."""
    definition = dict(step.get("run_config") or {})
    env = dict(definition.get("environment_variables") or {})
    for name in step.get("inputs", []) + step.get("outputs", []):
        env[f"AZUREML_DATAREFERENCE_{name}"] = folders[name]
    definition.update(script=step["script"], arguments=arguments, command="", target=step.get("target", "local"),
                      environment_variables=env)
    return definition


def produced(folder: str | Path) -> bool:
    """A step produced an output when its folder holds at least one entry."""
    path = Path(folder)
    return path.is_dir() and any(path.iterdir())
