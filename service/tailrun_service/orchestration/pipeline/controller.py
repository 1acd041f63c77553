"""The pipeline controller: runs a pipeline's steps as child runs, each once its dependencies have
completed (independent steps together: the runner's concurrency limit queues the rest).

Each `update()` walks the steps in dependency order and decides for each step without a child
run yet (child ids are `<pipeline>_<node id>`, so a decision taken before a restart is never
taken twice):
- a dependency failed (or was skipped): the step is recorded skipped (Canceled, code `Skipped`);
- another step failed and `continue_on_step_failure` is False (Azure ML's default): not started,
  recorded skipped; steps already running finish;
- an input folder is empty after its producer completed: the step is recorded Failed
  (`InputNotProduced`, naming the input and the producer);
- with `allow_reuse` (and no `regenerate_outputs`), a Completed earlier run of the step with the
  same reuse key (see steps.reuse_key) is linked: a child `azureml.ReusedStepRun` with
  `azureml.reusedrunid`; nothing runs and nothing is copied, its outputs are the earlier run's;
- otherwise the step is submitted through the runner with its own snapshot, its data folders
  created under `pipeline_data/<producing run>/<data name>`.
When every step has a final child, the pipeline ends Completed, or Failed naming what failed.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from tailrun import _status as st
from tailrun.pipeline import _dag
from tailrun.v1 import tailrun_pb2 as pb

from ...errors import InvalidArgument
from ..core import Controller, OrchestratedRun
from .steps import child_definition, produced, resolve_arguments, reuse_key, step_snapshot

log = logging.getLogger("tailrun_service.orchestration.pipeline")

RUNSOURCE = "azureml.runsource"
STEP_SOURCE, REUSED_SOURCE = "azureml.StepRun", "azureml.ReusedStepRun"
REUSE_KEY = "tailrun.reusekey"
OUTPUTS = "tailrun.outputs"            # the step's output names, comma-separated
OUTPUT_PATH = "tailrun.output."        # + name: that output's folder
REUSE_CANDIDATES = 20


class PipelineController(Controller):
    kind = "pipeline"
    run_type = "azureml.PipelineRun"

    @classmethod
    def check(cls, definition: dict[str, Any]) -> None:
        pipeline = definition.get(cls.kind)
        problems = _dag.problems(pipeline)
        if problems:
            raise InvalidArgument("the pipeline is not valid: " + "; ".join(problems))

    @classmethod
    def targets(cls, definition: dict[str, Any]) -> set[str]:
        return {str(step["target"] or "local") for step in definition[cls.kind]["steps"]}

    def __init__(self, run: OrchestratedRun) -> None:
        super().__init__(run)
        self.pipeline: dict[str, Any] = run.definition[self.kind]
        self.steps = {step["node_id"]: step for step in self.pipeline["steps"]}
        self.deps = _dag.dependencies(self.pipeline)
        self.order = _dag.order(self.deps)
        self.producer = _dag.producer_of(self.pipeline)
        self.parameters: dict[str, str] = self.pipeline.get("parameters", {})
        self._snapshots: dict[str, tuple[bytes, str]] = {}
        self._pipeline_zip: bytes | None = None

    # ---------------------------------------------------------------- reading the children

    def child(self, node: str) -> pb.RunInfo | None:
        return self.run.children.get(f"{self.run.run_id}_{node}")

    def outcome(self, node: str) -> str:
        """"pending" (no child yet, or not final), "ok" (Completed or reused) or "failed"."""
        info = self.child(node)
        if info is None or not st.is_terminal(info.status):
            return "pending"
        return "ok" if info.status == st.COMPLETED else "failed"

    def producing_run(self, node: str) -> str:
        """The run whose folders hold a completed step's outputs: the reused run, or its own."""
        info = self.child(node)
        assert info is not None
        return info.tags.get("azureml.reusedrunid") or info.run_id

    def folder(self, run_id: str, name: str) -> str:
        return str(self.run.shared_folder(run_id, name))

    # ---------------------------------------------------------------- deciding

    def update(self) -> None:
        if not self.run.state.get("announced"):
            names = ", ".join(repr(self.steps[n]["name"]) for n in self.order)
            self.run.log(f"pipeline {self.run.run_id}: {len(self.order)} steps, in dependency order {names}")
            self.run.state["announced"] = True
            self.run.save()
        for node in self.order:
            if self.child(node) is None:
                self.decide(node)
        self.report_endings()
        if all(self.outcome(node) != "pending" for node in self.order):
            self.finish()

    def decide(self, node: str) -> None:
        step = self.steps[node]
        broken = [d for d in self.deps[node] if self.outcome(d) == "failed"]
        if broken:
            first = self.child(broken[0])
            assert first is not None
            self.record_skipped(node, f"step {self.steps[broken[0]]['name']!r} (run {first.run_id}), which it "
                                      f"depends on, ended {first.status}")
            return
        failed = [n for n in self.order if self.outcome(n) == "failed"]
        if failed and not self.pipeline.get("continue_on_step_failure"):
            self.record_skipped(node, f"step {self.steps[failed[0]]['name']!r} failed and "
                                      "continue_on_step_failure is False")
            return
        if any(self.outcome(d) == "pending" for d in self.deps[node]):
            return
        inputs: dict[str, str] = {}   # input name -> the run that produced it
        for name in step.get("inputs", []):
            source = self.producer[name]
            inputs[name] = self.producing_run(source)
            if not produced(self.folder(inputs[name], name)):
                self.record(node, st.FAILED, "InputNotProduced",
                            f"input {name!r} was never produced: step {self.steps[source]['name']!r} (run "
                            f"{inputs[name]}) completed without writing anything to its output {name!r}")
                return
        zipped, content = self.snapshot(step["source"])
        key = reuse_key(step, content, inputs, self.parameters)
        if step.get("allow_reuse", True) and not self.pipeline.get("regenerate_outputs"):
            earlier = self.reusable(key, step)
            if earlier is not None:
                self.record_reused(node, earlier)
                return
        self.submit(node, step, zipped, key, inputs)

    def submit(self, node: str, step: dict[str, Any], zipped: bytes, key: str, inputs: dict[str, str]) -> None:
        run_id = f"{self.run.run_id}_{node}"
        folders = {name: self.folder(producer, name) for name, producer in inputs.items()}
        folders.update({name: self.folder(run_id, name) for name in step.get("outputs", [])})
        arguments = resolve_arguments(step.get("arguments", []), folders, self.parameters)
        properties = {RUNSOURCE: STEP_SOURCE, REUSE_KEY: key, **self.output_properties(step, run_id)}
        try:
            self.run.submit_child(node, child_definition(step, arguments, folders), display_name=step["name"],
                                  tags=self.step_tags(node), properties=properties, snapshot=zipped)
        except InvalidArgument as exc:   # the runner refused it (no script, no such target...)
            self.record(node, st.FAILED, "SubmitFailed", f"step {step['name']!r} could not be submitted: {exc}")
            return
        self.run.log(f"step {step['name']!r}: submitted as run {run_id}")

    def reusable(self, key: str, step: dict[str, Any]) -> pb.RunInfo | None:
        """The newest Completed run of this step with the same key whose output folders still exist."""
        req = pb.ListRunsRequest(properties={REUSE_KEY: key, RUNSOURCE: STEP_SOURCE}, status=st.COMPLETED,
                                 include_children=True, limit=REUSE_CANDIDATES)
        for info in self.run.store.list_runs(req):
            if info.parent_run_id == self.run.run_id:
                continue
            if all(produced(info.properties.get(OUTPUT_PATH + name, "")) for name in step.get("outputs", [])):
                return info
        return None

    def snapshot(self, source: str) -> tuple[bytes, str]:
        if source not in self._snapshots:
            if self._pipeline_zip is None:
                self._pipeline_zip = self.run.parent_snapshot()
            self._snapshots[source] = step_snapshot(self._pipeline_zip, source)
        return self._snapshots[source]

    # ---------------------------------------------------------------- recording

    def step_tags(self, node: str) -> dict[str, str]:
        return {"azureml.nodeid": node, "azureml.pipeline": self.run.run_id}

    def output_properties(self, step: dict[str, Any], producing_run: str) -> dict[str, str]:
        outputs = step.get("outputs", [])
        return {OUTPUTS: ",".join(outputs),
                **{OUTPUT_PATH + name: self.folder(producing_run, name) for name in outputs}}

    def record(self, node: str, status: str, code: str, message: str, *, tags: dict[str, str] | None = None,
               properties: dict[str, str] | None = None) -> None:
        step = self.steps[node]
        self.run.record_child(node, status, display_name=step["name"], tags={**self.step_tags(node), **(tags or {})},
                              properties={RUNSOURCE: STEP_SOURCE, **(properties or {})}, code=code, message=message)
        self.run.log(f"step {step['name']!r}: {status}" + (f" ({code}: {message})" if code else ""))
        self.run.state.setdefault("reported", {})[node] = status

    def record_skipped(self, node: str, why: str) -> None:
        self.record(node, st.CANCELED, "Skipped", f"not run: {why}")

    def record_reused(self, node: str, earlier: pb.RunInfo) -> None:
        step = self.steps[node]
        tags = {"azureml.reusedrunid": earlier.run_id, "azureml.reusedpipeline": earlier.parent_run_id,
                "azureml.reusednodeid": earlier.tags.get("azureml.nodeid", "")}
        properties = {RUNSOURCE: REUSED_SOURCE, **self.output_properties(step, earlier.run_id)}
        self.run.record_child(node, st.COMPLETED, display_name=step["name"], tags={**self.step_tags(node), **tags},
                              properties=properties)
        self.run.log(f"step {step['name']!r}: reused run {earlier.run_id} (same script snapshot, arguments "
                     "and inputs)")
        self.run.state.setdefault("reported", {})[node] = st.COMPLETED

    def report_endings(self) -> None:
        """One console line when a submitted step ends (once, also across restarts)."""
        reported = self.run.state.setdefault("reported", {})
        for node in self.order:
            info = self.child(node)
            if info is not None and st.is_terminal(info.status) and reported.get(node) != info.status:
                reported[node] = info.status
                self.run.log(f"step {self.steps[node]['name']!r}: {info.status} (run {info.run_id})")

    def finish(self) -> None:
        failed = [n for n in self.order if self.outcome(n) == "failed"]
        if not failed:
            self.run.log("pipeline: Completed")
            self.run.finish(st.COMPLETED)
            return
        causes = [n for n in failed if _error_code(self.child(n)) != "Skipped"]
        skipped = [n for n in failed if n not in causes]
        message = "; ".join(f"step {self.steps[n]['name']!r} (run {self.child(n).run_id}) "  # type: ignore[union-attr]
                            f"{self.child(n).status}" for n in causes)  # type: ignore[union-attr]
        if skipped:
            message += "; skipped: " + ", ".join(repr(self.steps[n]["name"]) for n in skipped)
        self.run.log(f"pipeline: Failed ({message})")
        self.run.finish(st.FAILED, "StepFailed", message)


def _error_code(info: pb.RunInfo | None) -> str:
    if info is None or not info.error_json:
        return ""
    try:
        return str(json.loads(info.error_json).get("error", {}).get("code") or "")
    except ValueError:
        return ""
