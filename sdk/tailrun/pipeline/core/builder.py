"""Azure ML's `azureml.pipeline.core.builder`: `PipelineStep`, `PipelineData`, `StepSequence`.

A `PipelineData` is a folder one step writes and later steps read. The step that lists it in
`outputs` produces it; steps listing it (or `data.as_input()`) in `inputs` consume it, which is
what orders them. Where the object appears in a step's `arguments`, the script receives the
folder's absolute path instead, as Azure ML passes the mounted path: the producer gets an empty
folder (created for it), each consumer gets that same folder once the producer has completed.
"""
from __future__ import annotations

import uuid
from typing import Any, Iterable

from .._dag import DATA_NAME_RE
from ..errors import PipelineConfigError, unsupported_argument

__all__ = ["PipelineStep", "PipelineData", "StepSequence", "InputPortBinding"]


class _DataFolder:
    """What PipelineData and OutputFileDatasetConfig share: a named folder passed between steps."""

    TYPE = ""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not DATA_NAME_RE.match(name):
            raise PipelineConfigError(
                f"{type(self).__name__} name {name!r} is not valid: it may contain only letters, digits "
                "and underscores (it names a folder)")
        self._name = name
        self._producer: "PipelineStep | None" = None   # the step with it in `outputs`

    @property
    def name(self) -> str:
        return self._name

    def _set_producer(self, step: "PipelineStep") -> None:
        """Remember the first step producing it (for resolve_closure); validate() reports a second."""
        if self._producer is None:
            self._producer = step

    def __repr__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self._name}"

    __str__ = __repr__


class InputPortBinding:
    """A step input bound to a producer's data (Azure ML's `azureml.pipeline.core.graph.InputPortBinding`):
    what `PipelineData.as_input()`, `as_mount()` and `as_download()` return. The folder is the
    producer's; `name` is the input's name (the data's by default)."""

    def __init__(self, name: str | None, bind_object: _DataFolder, bind_mode: str = "mount",
                 path_on_compute: str | None = None, overwrite: bool | None = None,
                 is_resource: bool = False, **kwargs: Any) -> None:
        if not isinstance(bind_object, _DataFolder):
            raise PipelineConfigError(f"InputPortBinding binds a PipelineData or OutputFileDatasetConfig, "
                                      f"not {type(bind_object).__name__}")
        if path_on_compute is not None:
            unsupported_argument("InputPortBinding", "path_on_compute", "the input is the producer's folder")
        self.name = name or bind_object.name
        self.bind_object = bind_object
        self.bind_mode = bind_mode

    @property
    def data(self) -> _DataFolder:
        return self.bind_object

    def __repr__(self) -> str:
        return repr(self.bind_object)

    __str__ = __repr__


class PipelineData(_DataFolder):
    """Intermediate data of a pipeline: a folder produced by one step and read by later ones.

    Only `name` matters to tailrun: the folder lives on the service's machine (the datastore,
    output mode and path settings of Azure ML are accepted and ignored, except that
    `output_path_on_compute` and `pipeline_output_name` raise, since tailrun chooses the folder)."""

    TYPE = "PipelineData"

    def __init__(self, name: str, datastore: Any = None, output_name: str | None = None,
                 output_mode: str = "mount", output_path_on_compute: str | None = None,
                 output_overwrite: bool | None = None, data_type: str | None = None,
                 is_directory: bool | None = None, pipeline_output_name: str | None = None,
                 training_output: Any = None) -> None:
        super().__init__(name)
        if output_mode not in ("mount", "upload"):
            raise PipelineConfigError(f"PipelineData {name!r}: output_mode must be 'mount' or 'upload', "
                                      f"not {output_mode!r}")
        if output_path_on_compute is not None:
            unsupported_argument("PipelineData", "output_path_on_compute",
                                 "the producer writes to a folder the service creates")
        if pipeline_output_name is not None or training_output is not None:
            unsupported_argument("PipelineData", "pipeline_output_name" if pipeline_output_name is not None
                                 else "training_output", "pipeline outputs are not published")
        self.datastore = datastore
        self.output_name = output_name or name
        self.output_mode = output_mode
        self.data_type = data_type or "AnyFile"

    def as_input(self, input_name: str | None = None) -> InputPortBinding:
        return InputPortBinding(input_name, self)

    def as_mount(self, input_name: str | None = None) -> InputPortBinding:
        return InputPortBinding(input_name, self, bind_mode="mount")

    def as_download(self, input_name: str | None = None, path_on_compute: str | None = None,
                    overwrite: bool | None = None) -> InputPortBinding:
        return InputPortBinding(input_name, self, bind_mode="download", path_on_compute=path_on_compute)

    def as_dataset(self) -> "PipelineData":
        """Azure ML turns the output into a dataset; in tailrun it stays a folder."""
        return self


class PipelineStep:
    """Base class of the steps: a name, inputs and outputs (data), arguments, and what must run
    before it (`run_after`). Subclasses give `_step_definition()` the script and its folder."""

    def __init__(self, name: str, inputs: Iterable[Any] | None = None, outputs: Iterable[Any] | None = None,
                 arguments: Iterable[Any] | None = None, fix_port_name_collisions: bool = False,
                 resource_inputs: Any = None) -> None:
        if not isinstance(name, str) or not name.strip():
            raise PipelineConfigError(f"a step needs a non-empty name, got {name!r}")
        if resource_inputs:
            unsupported_argument(type(self).__name__, "resource_inputs", "datasets are not supported")
        self.name = name
        self._node_id = uuid.uuid4().hex[:8]
        self._inputs = list(inputs or [])
        self._outputs = list(outputs or [])
        self._arguments = list(arguments or [])
        self._run_after: list[PipelineStep] = []
        for arg in self._arguments:
            self._bind_argument(arg)
        for output in self._outputs:
            if isinstance(output, _DataFolder):
                output._set_producer(self)

    def _bind_argument(self, arg: Any) -> None:
        """As Azure ML: data in `arguments` must be among the inputs or outputs, except that an
        OutputFileDatasetConfig is an output and its `as_input()` an input without being listed."""
        declared_inputs = [_folder_of(i) for i in self._inputs]
        if isinstance(arg, InputPortBinding):
            if arg.bind_object.TYPE == "OutputFileDatasetConfig":
                if not any(f is arg.bind_object for f in declared_inputs):
                    self._inputs.append(arg)
            elif not any(i is arg or f is arg.bind_object for i, f in zip(self._inputs, declared_inputs)):
                raise PipelineConfigError(f"step {self.name!r}: input {arg.name!r} appears in arguments "
                                          "but is not in the inputs list")
        elif isinstance(arg, _DataFolder):
            if any(o is arg for o in self._outputs) or any(f is arg for f in declared_inputs):
                return
            if arg.TYPE == "OutputFileDatasetConfig":
                self._outputs.append(arg)
            else:
                raise PipelineConfigError(f"step {self.name!r}: {arg.TYPE} {arg.name!r} appears in arguments "
                                          "but is not in the inputs or outputs lists")

    def run_after(self, step: "PipelineStep") -> None:
        """Run this step after `step` has completed, whether or not data links them."""
        if not isinstance(step, PipelineStep):
            raise PipelineConfigError(f"run_after takes a step, not {type(step).__name__}")
        self._run_after.append(step)

    @property
    def inputs(self) -> list[Any]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[Any]:
        return list(self._outputs)

    @property
    def arguments(self) -> list[Any]:
        return list(self._arguments)

    def _step_definition(self, builder: Any) -> dict[str, Any]:  # pragma: no cover - abstract
        """This step in the pipeline's definition (see tailrun.pipeline._dag); problems go to
        `builder.problem`."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _folder_of(item: Any) -> _DataFolder | None:
    """The data folder an input or argument refers to (None for plain values)."""
    if isinstance(item, _DataFolder):
        return item
    if isinstance(item, InputPortBinding):
        return item.bind_object
    return None


class StepSequence:
    """Steps that run one after another, whether or not data links them. An element may be a list
    of steps: those run concurrently, after the previous element and before the next."""

    def __init__(self, steps: Iterable[Any] | None = None) -> None:
        self._groups: list[list[PipelineStep]] = []
        for element in list(steps or []):
            group = list(element) if isinstance(element, (list, tuple)) else [element]
            for step in group:
                if not isinstance(step, PipelineStep):
                    raise PipelineConfigError(f"StepSequence takes steps (or lists of steps), "
                                              f"not {type(step).__name__}")
            if group:
                self._groups.append(group)
        for before, after in zip(self._groups, self._groups[1:]):
            for step in after:
                for earlier in before:
                    step.run_after(earlier)

    @property
    def steps(self) -> list[PipelineStep]:
        return [step for group in self._groups for step in group]
