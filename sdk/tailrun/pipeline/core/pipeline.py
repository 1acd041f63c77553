"""Azure ML's `azureml.pipeline.core.pipeline`: `Pipeline`, steps whose order follows the data they
pass (and StepSequence / run_after), validated before anything runs and executed by the service.

What is sent (see `tailrun.pipeline._dag` for the definition): one SubmitRun whose definition is
the pipeline and whose snapshot is one zip holding each distinct source_directory under its own
folder (`src0/`, `src1/`, ...); the service gives each step a snapshot of its own folder only, so
a step's ContentSnapshotId (what reuse compares) depends on its own files alone. The snapshot
limits (300 MB, 2000 files) apply to the pipeline's folders together.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from .. import _dag
from ..errors import PipelineConfigError, PipelineValidationError, unsupported_argument
from .builder import InputPortBinding, PipelineStep, StepSequence, _DataFolder, _folder_of
from .graph import PipelineParameter

if TYPE_CHECKING:  # pragma: no cover
    from ...experiment import Experiment
    from .run import PipelineRun

__all__ = ["Pipeline"]

SUBMIT_KWARGS = ("pipeline_parameters", "continue_on_step_failure", "regenerate_outputs",
                 "parent_run_id", "credential_passthrough")


class Pipeline:
    """Steps to run as one pipeline run of an experiment: `Experiment(ws, "x").submit(pipeline)`.

    `steps` is a list of steps (or StepSequences), or one StepSequence. With `resolve_closure`
    (the default) the steps producing the inputs of the given steps (and those they run after)
    are added, so listing the last step is enough."""

    def __init__(self, workspace: Any, steps: Any, description: str | None = None,
                 default_datastore: Any = None, default_source_directory: str | None = None,
                 resolve_closure: bool = True, **kwargs: Any) -> None:
        if workspace is None or not hasattr(workspace, "_client"):
            raise PipelineConfigError(f"Pipeline needs a tailrun Workspace, not {type(workspace).__name__}")
        unknown = sorted(k for k in kwargs if not k.startswith("_"))
        if unknown:
            raise TypeError(f"Pipeline() got unexpected keyword arguments {', '.join(unknown)}")
        self._workspace = workspace
        self.description = description
        self.default_datastore = default_datastore
        self.default_source_directory = default_source_directory
        self._steps = _collect_steps(steps, resolve_closure)

    @property
    def workspace(self) -> Any:
        return self._workspace

    @property
    def steps(self) -> list[PipelineStep]:
        return list(self._steps)

    def validate(self) -> list[str]:
        """The pipeline's errors (empty when it can run): missing source folders and scripts,
        unconnected inputs, outputs produced twice, arguments naming undeclared data, cycles.
        Nothing is sent to the service."""
        return _DefinitionBuilder(self).build()[1]

    def submit(self, experiment_name: str, pipeline_parameters: dict[str, Any] | None = None,
               continue_on_step_failure: bool = False, regenerate_outputs: bool = False,
               parent_run_id: str | None = None, credential_passthrough: Any = None,
               **kwargs: Any) -> "PipelineRun":
        """`Experiment(workspace, experiment_name).submit(self, ...)`."""
        from ...experiment import Experiment
        return Experiment(self._workspace, experiment_name).submit(
            self, pipeline_parameters=pipeline_parameters, continue_on_step_failure=continue_on_step_failure,
            regenerate_outputs=regenerate_outputs, parent_run_id=parent_run_id, **kwargs)

    def publish(self, *args: Any, **kwargs: Any) -> Any:
        unsupported_argument("Pipeline", "publish()", "there are no pipeline endpoints; submit the pipeline")

    @staticmethod
    def load_yaml(*args: Any, **kwargs: Any) -> Any:
        unsupported_argument("Pipeline", "load_yaml()", "build the pipeline with its steps in Python")

    def _definition(self, pipeline_parameters: dict[str, Any] | None = None,
                    continue_on_step_failure: bool = False,
                    regenerate_outputs: bool = False) -> tuple[dict[str, Any], list[str], dict[str, Path]]:
        """(definition, errors, {snapshot folder: source_directory})."""
        return _DefinitionBuilder(self, pipeline_parameters, continue_on_step_failure,
                                  regenerate_outputs).build()

    def _tailrun_submit(self, experiment: "Experiment", tags: dict[str, Any] | None = None, **kwargs: Any) -> "PipelineRun":
        """What `Experiment.submit(pipeline, tags, **kwargs)` does."""
        unknown = sorted(set(kwargs) - set(SUBMIT_KWARGS))
        if unknown:
            raise TypeError(f"Experiment.submit(Pipeline) got unexpected keyword arguments {', '.join(unknown)} "
                            f"(allowed: {', '.join(SUBMIT_KWARGS)})")
        if kwargs.get("parent_run_id"):
            unsupported_argument("Experiment.submit(Pipeline)", "parent_run_id",
                                 "a pipeline run is a top-level run")
        definition, errors, sources = self._definition(
            kwargs.get("pipeline_parameters"), bool(kwargs.get("continue_on_step_failure")),
            bool(kwargs.get("regenerate_outputs")))
        if errors:
            raise PipelineValidationError(errors)
        from ...run import _user
        from ...script_run import _send, new_run_id
        from ...v1 import tailrun_pb2 as pb
        from .run import PipelineRun

        snapshot = snapshot_zip(sources)
        run_id = new_run_id(experiment.name)
        spec = pb.SubmitSpec(experiment=experiment.name, run_id=run_id, run_definition_json=json.dumps({_dag.KEY: definition}),
                             submitted_by=_user(), description=self.description or "",
                             tags={str(k): "" if v is None else str(v) for k, v in (tags or {}).items()})
        with snapshot:
            info = _send(experiment.workspace._client(), spec, snapshot)
        return PipelineRun._attach(experiment, run_id, info)

    def __repr__(self) -> str:
        return f"Pipeline(steps={[s.name for s in self._steps]!r})"


def snapshot_zip(sources: dict[str, Path]) -> Any:
    """One zip (a rewound temporary file) with each source folder under its key, minus ignored files."""
    from ..._snapshot import SnapshotError, iter_files, zip_entries

    entries = [(f"{key}/{rel}", full) for key, root in sources.items() for rel, full in iter_files(root)]
    try:
        return zip_entries(entries, "the pipeline's source directories (together)")
    except SnapshotError as exc:
        raise PipelineValidationError([str(exc)]) from None


def _collect_steps(steps: Any, resolve_closure: bool) -> list[PipelineStep]:
    items = steps.steps if isinstance(steps, StepSequence) else steps
    if isinstance(items, PipelineStep):
        items = [items]
    if not isinstance(items, Iterable) or isinstance(items, (str, bytes)):
        raise PipelineConfigError(f"Pipeline steps must be a list of steps or a StepSequence, "
                                  f"not {type(steps).__name__}")
    found: list[PipelineStep] = []
    for item in items:
        group = item.steps if isinstance(item, StepSequence) else [item]
        for step in group:
            if not isinstance(step, PipelineStep):
                raise PipelineConfigError(f"Pipeline steps must be steps or StepSequences, "
                                          f"not {type(step).__name__}")
            if not any(step is s for s in found):
                found.append(step)
    if resolve_closure:   # add what the given steps need, transitively
        index = 0
        while index < len(found):
            step = found[index]
            folders = [_folder_of(item) for item in step._inputs]
            needed = [f._producer for f in folders if f is not None and f._producer is not None]
            needed += step._run_after
            for other in needed:
                if other is not None and not any(other is s for s in found):
                    found.append(other)
            index += 1
    return found


class _DefinitionBuilder:
    """Turns a Pipeline's objects into the definition, collecting every problem on the way."""

    def __init__(self, pipeline: Pipeline, parameters: dict[str, Any] | None = None,
                 continue_on_step_failure: bool = False, regenerate_outputs: bool = False) -> None:
        self.pipeline = pipeline
        self.overrides = dict(parameters or {})
        self.continue_on_step_failure = continue_on_step_failure
        self.regenerate_outputs = regenerate_outputs
        self.problems: list[str] = []
        self.sources: dict[str, Path] = {}
        self.data_objects: dict[str, _DataFolder] = {}
        self.params: dict[str, PipelineParameter] = {}

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def source(self, label: str, directory: str | None, script: str) -> tuple[str, str]:
        """(snapshot folder of the step's source_directory, the script relative to it)."""
        from ...script_run import UserErrorException, _script_in

        folder = directory or self.pipeline.default_source_directory or "."
        path = Path(folder)
        if not path.is_dir():
            self.problem(f"{label}: source_directory {str(folder)!r} is not a folder")
            return "src?", script
        root = path.resolve()
        key = next((k for k, v in self.sources.items() if v == root), None)
        if key is None:
            key = f"src{len(self.sources)}"
            self.sources[key] = root
        try:
            return key, _script_in(path, script)
        except UserErrorException as exc:
            self.problem(f"{label}: {exc}")
            return key, script

    def data(self, label: str, folder: _DataFolder | None) -> str:
        assert folder is not None
        known = self.data_objects.setdefault(folder.name, folder)
        if known is not folder:
            self.problem(f"{label}: two different data objects are named {folder.name!r}; "
                         "data names must be unique in a pipeline")
        return folder.name

    def argument(self, label: str, arg: Any) -> Any:
        if isinstance(arg, (_DataFolder, InputPortBinding)):
            return {"data": self.data(label, _folder_of(arg))}
        if isinstance(arg, PipelineParameter):
            known = self.params.setdefault(arg.name, arg)
            if known is not arg and known.default_value != arg.default_value:
                self.problem(f"{label}: two pipeline parameters are named {arg.name!r} with different defaults")
            return {"param": arg.name}
        if isinstance(arg, (list, dict, set, tuple)) or arg is None:
            self.problem(f"{label}: argument {arg!r} is not a value (give strings, numbers, data or parameters)")
            return str(arg)
        return str(arg)

    def build(self) -> tuple[dict[str, Any], list[str], dict[str, Path]]:
        steps = [step._step_definition(self) for step in self.pipeline._steps]
        unknown = sorted(set(self.overrides) - set(self.params))
        if unknown:
            self.problem(f"pipeline_parameters names {', '.join(map(repr, unknown))}, which the pipeline does "
                         f"not use (its parameters: {', '.join(map(repr, sorted(self.params))) or 'none'})")
        definition = {
            "version": 1, "description": self.pipeline.description or "",
            "continue_on_step_failure": self.continue_on_step_failure,
            "regenerate_outputs": self.regenerate_outputs,
            "parameters": {name: str(self.overrides.get(name, p.default_value)) for name, p in self.params.items()},
            "data": {name: {"type": obj.TYPE} for name, obj in self.data_objects.items()},
            "steps": steps,
        }
        for text in _dag.problems(definition):
            self.problem(text)
        return definition, self.problems, self.sources
