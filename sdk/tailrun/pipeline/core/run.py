"""Azure ML's `azureml.pipeline.core.run`: `PipelineRun` (what `Experiment.submit(pipeline)`
returns) and `StepRun` (one step's run: a child of the pipeline run with its own console, metrics
and files).

How the service records a pipeline (tags and properties as Azure ML's):
- the pipeline run: property `azureml.runsource` = `azureml.PipelineRun`, its definition in
  `run_definition_json`;
- a step that ran: a child run named after the step, `azureml.runsource` = `azureml.StepRun`,
  tags `azureml.nodeid` and `azureml.pipeline` (the pipeline run's id);
- a reused step: a child run with `azureml.runsource` = `azureml.ReusedStepRun` and tags
  `azureml.reusedrunid`, `azureml.reusedpipeline`, `azureml.reusednodeid`: it links the earlier
  run, nothing is copied. As in Azure ML, `get_steps()` gives the StepRun of the earlier run
  (`is_reused` True), whose metrics and files are the step's;
- a step skipped because a step it depends on failed: a child run Canceled with error code
  `Skipped` naming that step (Azure ML leaves such steps NotStarted and creates no run).
"""
from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Iterator

from ...run import Run

if TYPE_CHECKING:  # pragma: no cover
    from ...experiment import Experiment
    from ...v1 import tailrun_pb2 as pb

__all__ = ["PipelineRun", "StepRun", "StepRunOutput"]

RUNSOURCE = "azureml.runsource"
PIPELINE_SOURCE, STEP_SOURCE, REUSED_SOURCE = "azureml.PipelineRun", "azureml.StepRun", "azureml.ReusedStepRun"
SKIPPED = "Skipped"


class _OrchestratedRun(Run):
    """A run the service's orchestration starts and ends: it cannot be ended, or given children,
    by hand (Azure ML's messages, naming the `_KIND` of run)."""
    _KIND = ""

    def complete(self) -> None:
        raise NotImplementedError(f"Complete is unsupported for {self._KIND} run.")

    def fail(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"Fail is unsupported for {self._KIND} run.")

    def child_run(self, *args: Any, **kwargs: Any) -> Run:
        raise NotImplementedError(f"Child run is unsupported for {self._KIND} run.")


class PipelineRun(_OrchestratedRun):
    """A submitted pipeline: its steps are child runs, executed by the service."""
    _KIND = "Pipeline"

    def __init__(self, experiment: "Experiment", run_id: str, _service_endpoint: Any = None) -> None:
        super().__init__(experiment, run_id)

    def get_steps(self) -> Iterator["StepRun"]:
        """The step runs created so far (steps that ran, were reused or skipped), in the order
        they were created. A generator."""
        infos = sorted(self._client().iter_runs(parent_run_id=self.id), key=lambda i: (i.created_time, i.number))
        for info in infos:
            yield StepRun._attach(self._experiment, info.run_id, info)

    def find_step_run(self, name: str) -> list["StepRun"]:
        """The step runs of the steps named `name` (a list: names need not be unique)."""
        return [step for step in self.get_steps() if step._step_name == name]

    def get_graph(self) -> dict[str, Any]:
        """The submitted definition (steps, their inputs, outputs and order): see tailrun.pipeline._dag."""
        return json.loads(self._fetch().run_definition_json or "{}").get("pipeline", {})

    def wait_for_completion(self, show_output: bool = True, timeout_seconds: float = sys.maxsize,
                            raise_on_error: bool = True) -> str:
        """Wait until the pipeline run has ended; returns its final status. With `show_output`,
        one line per step as it starts and ends (reused and skipped steps say so), then the
        pipeline's summary. A Failed pipeline raises ActivityFailedException unless
        `raise_on_error=False`."""
        from .._wait import wait_pipeline
        return wait_pipeline(self, show_output, timeout_seconds, raise_on_error)

    def cancel(self) -> None:
        """Cancel the pipeline: running and queued steps are canceled, no further step starts,
        then the pipeline run ends Canceled."""
        self._apply_info(self._client().cancel_run(self.id))

    def publish_pipeline(self, name: str, description: str, version: str, continue_on_step_failure: Any = None) -> Any:
        from ..errors import unsupported_argument
        unsupported_argument("PipelineRun", "publish_pipeline()", "there are no pipeline endpoints")



class StepRun(_OrchestratedRun):
    """The run of one step of a pipeline."""
    _KIND = "Step"

    def __init__(self, experiment: "Experiment", step_run_id: str, pipeline_run_id: str | None = None,
                 node_id: str | None = None, _service_endpoint: Any = None, _is_reused: bool = False,
                 _current_node_id: str | None = None) -> None:
        super().__init__(experiment, step_run_id)
        self._is_reused, self._current_node_id = _is_reused, _current_node_id
        self._link: "pb.RunInfo | None" = None

    @classmethod
    def _attach(cls, experiment: "Experiment", run_id: str, info: "pb.RunInfo | None" = None) -> "StepRun":
        """The StepRun of a pipeline's child; for a reused step (a link), the earlier run it reuses,
        as Azure ML gives it."""
        reused = info.tags.get("azureml.reusedrunid") if info is not None and \
            info.properties.get(RUNSOURCE) == REUSED_SOURCE else None
        if not reused:
            step = super()._attach(experiment, run_id, info)
            step._is_reused, step._current_node_id, step._link = False, None, None
            return step  # type: ignore[return-value]
        from ...experiment import Experiment
        original = experiment.workspace._client().get_run(reused)
        step = super()._attach(Experiment._attach(experiment.workspace, original.experiment), reused, original)
        step._is_reused, step._current_node_id, step._link = True, info.tags.get("azureml.nodeid"), info
        return step  # type: ignore[return-value]

    @property
    def _step_name(self) -> str:
        info = self._link or self._info
        return (info.display_name if info is not None else "") or self.name

    @property
    def pipeline_run_id(self) -> str:
        """The pipeline run this step ran in (for a reused step: the earlier pipeline's)."""
        return self._tags.get("azureml.pipeline") or (self._parent_id or "")

    @property
    def is_reused(self) -> bool:
        return self._is_reused

    @property
    def reused_in_run_id(self) -> str | None:
        """For a reused step: the id of the link run in the pipeline run that reused it."""
        return self._link.run_id if self._link is not None else None

    @property
    def skipped(self) -> bool:
        """True for a step that did not run because a step it depends on failed."""
        error = json.loads(self._info.error_json or "{}") if self._info is not None else {}
        return error.get("error", {}).get("code") == SKIPPED

    def cancel(self) -> None:
        """Cancel this step's run on the service; the pipeline treats it as a failed step."""
        self._apply_info(self._client().cancel_run(self.id))

    def get_job_log(self) -> str:
        return self.get_stdout_log()

    def get_stdout_log(self) -> str:
        """The step's console (`user_logs/std_log.txt`: stdout and stderr together)."""
        from .._wait import read_console
        return read_console(self)

    def get_stderr_log(self) -> str:
        return self.get_stdout_log()

    def get_outputs(self) -> dict[str, "StepRunOutput"]:
        """The step's declared outputs, by name."""
        return {name: StepRunOutput(self, name) for name in self._declared_outputs()}

    def get_output(self, name: str) -> "StepRunOutput":
        outputs = self._declared_outputs()
        if name not in outputs:
            from ...exceptions import NotFound
            raise NotFound(f"step {self._step_name!r} has no output {name!r}; its outputs: "
                           f"{', '.join(map(repr, outputs)) or 'none'}")
        return StepRunOutput(self, name)

    def _declared_outputs(self) -> list[str]:
        info = self._info if self._info is not None and self._info.properties else self._fetch()
        return [n for n in (info.properties.get("tailrun.outputs") or "").split(",") if n]



class StepRunOutput:
    """One output of a step run: `path` is its folder on the service's machine."""

    def __init__(self, step_run: StepRun, name: str) -> None:
        self.step_run, self.name = step_run, name

    @property
    def path(self) -> str:
        return self.step_run._fetch().properties.get(f"tailrun.output.{self.name}", "")

    def get_port_data_reference(self) -> Any:
        from ..errors import unsupported_argument
        unsupported_argument("StepRunOutput", "get_port_data_reference()", "read the folder at .path")

