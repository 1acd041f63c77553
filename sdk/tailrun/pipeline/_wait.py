"""`PipelineRun.wait_for_completion`: follow a pipeline run and its step runs through `Watch`
(no polling loop), printing a line per status change of each step, in Azure ML's layout."""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .. import _status
from .._script_wait import follow_to_final
from ..cli.terminal import safe, safe_output

if TYPE_CHECKING:  # pragma: no cover
    from ..v1 import tailrun_pb2 as pb
    from .core.run import PipelineRun


class _Printer:
    """One line per status change of the pipeline and of each step (each printed once)."""

    def __init__(self, pipeline: "PipelineRun", out: TextIO | None) -> None:
        self.pipeline, self.out = pipeline, out
        self.seen: dict[str, str] = {}

    def write(self, text: str) -> None:
        if self.out is not None:
            self.out.write(text)
            self.out.flush()

    def update(self, info: "pb.RunInfo") -> None:
        if self.seen.get(info.run_id) == info.status:
            return
        first = info.run_id not in self.seen
        self.seen[info.run_id] = info.status
        if info.run_id == self.pipeline.id:
            if not _status.is_terminal(info.status):   # the final one opens the summary
                self.write(f"PipelineRun Status: {info.status}\n")
            return
        name = safe(info.display_name or info.run_id)
        if first:
            self.write(f"\nStepRunId: {info.run_id}\n")
        self.write(f"StepRun( {name} ) Status: {info.status}{_note(info)}\n")


def _note(info: "pb.RunInfo") -> str:
    """Why a step ended as it did, when the status alone does not say: reused, skipped, failed."""
    if info.properties.get("azureml.runsource") == "azureml.ReusedStepRun":
        return f" (reused run {info.tags.get('azureml.reusedrunid', '?')})"
    if info.error_json and _status.is_terminal(info.status):
        error = json.loads(info.error_json).get("error", {})
        return f" ({safe(error.get('code') or 'Error')}: {safe(error.get('message') or '')})"
    return ""


def wait_pipeline(pipeline: "PipelineRun", show_output: bool, timeout_seconds: float,
                  raise_on_error: bool, out: TextIO | None = None) -> str:
    printer = _Printer(pipeline, (out or sys.stdout) if show_output else None)
    printer.write(f"PipelineRunId: {pipeline.id}\nLink to tailrun: {pipeline.get_portal_url()}\n")
    finished = _follow(pipeline, printer, timeout_seconds)
    info = pipeline._fetch()
    if not finished:
        printer.write(f"Timed out of waiting, status:{info.status}.\n")
        return info.status
    details = pipeline.get_details()
    bar = "=" * 30
    printer.write(f"\nPipelineRun Execution Summary\n{bar}\nPipelineRun Status: {info.status}\n")
    error = details.get("error")
    if error and not raise_on_error:
        printer.write("\nError:\n" + safe_output(json.dumps(error, indent=4), colour=False) + "\n")
    # Azure ML prints the whole details; the definition in them is get_graph()'s, left out here.
    summary = {k: v for k, v in details.items() if k != "runDefinition"}
    printer.write(safe_output(json.dumps(summary, indent=4, default=str), colour=False) + "\n\n")
    if info.status == _status.FAILED and raise_on_error:
        from ..script_run import ActivityFailedException
        raise ActivityFailedException(details.get("error") or {"error": {"message": "the pipeline failed"}},
                                      pipeline.id)
    return info.status


def _follow(pipeline: "PipelineRun", printer: _Printer, timeout_seconds: float) -> bool:
    """Feed the printer until the pipeline run has a final status (True) or the time is up (False)."""
    def on_event(event: "pb.WatchEvent") -> None:
        if event.WhichOneof("kind") == "run":
            printer.update(event.run)

    return follow_to_final(pipeline, on_event, ["status"], include_children=True, timeout=timeout_seconds)


def read_console(run: Any) -> str:
    """A run's whole console (user_logs/std_log.txt), read on until its end."""
    client, parts, offset = run._client(), [], 0
    while True:
        text = client.read_output(run.id, offset=offset)
        if not text.text:
            return "".join(parts)
        parts.append(text.text)
        offset = text.size or offset + len(text.text.encode("utf-8", "surrogatepass"))

