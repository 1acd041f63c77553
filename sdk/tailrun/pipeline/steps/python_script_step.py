"""Azure ML's `azureml.pipeline.steps.python_script_step`: `PythonScriptStep`, a script run as one
step of a pipeline (a child run of the pipeline run, with its own console, metrics and files)."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Iterable

from ..core.builder import PipelineStep, _DataFolder, _folder_of
from ..errors import PipelineConfigError, unsupported_argument

if TYPE_CHECKING:  # pragma: no cover
    from ..core.pipeline import _DefinitionBuilder

__all__ = ["PythonScriptStep"]


class PythonScriptStep(PipelineStep):
    """Run `script_name` from `source_directory` (default: the pipeline's default_source_directory)
    with `arguments`, on `compute_target` (default "local") under `runconfig`.

    `inputs`/`outputs` take PipelineData and OutputFileDatasetConfig (or their `as_input()`); in
    `arguments` such an object becomes the folder's path. `params` become the environment variables
    `AML_PARAMETER_<name>`, as in Azure ML. With `allow_reuse` (the default) the step is not run
    again when a previous run of it had the same script snapshot, arguments and inputs: the pipeline
    links that run instead."""

    def __init__(self, script_name: str, name: str | None = None, arguments: Iterable[Any] | None = None,
                 compute_target: Any = None, runconfig: Any = None, runconfig_pipeline_params: Any = None,
                 inputs: Iterable[Any] | None = None, outputs: Iterable[Any] | None = None,
                 params: dict[str, Any] | None = None, source_directory: str | None = None,
                 allow_reuse: bool = True, version: str | None = None, hash_paths: Any = None) -> None:
        if not isinstance(script_name, str) or not script_name:
            raise PipelineConfigError(f"PythonScriptStep: script_name must be a file name, got {script_name!r}")
        if runconfig_pipeline_params:
            unsupported_argument("PythonScriptStep", "runconfig_pipeline_params",
                                 "pass values in arguments or params")
        if hash_paths:
            warnings.warn("PythonScriptStep: hash_paths is deprecated in Azure ML and ignored by tailrun: "
                          "every file of source_directory counts for reuse", stacklevel=2)
        for item in list(outputs or []):
            if not isinstance(item, _DataFolder):
                raise PipelineConfigError(f"PythonScriptStep {name or script_name!r}: an output must be a "
                                          f"PipelineData or an OutputFileDatasetConfig, not {type(item).__name__}")
        for item in list(inputs or []):
            if _folder_of(item) is None:
                raise PipelineConfigError(
                    f"PythonScriptStep {name or script_name!r}: an input must be a PipelineData, an "
                    f"OutputFileDatasetConfig or their as_input(), not {type(item).__name__} "
                    "(tailrun has no datasets or datastores)")
        super().__init__(name or script_name, inputs=inputs, outputs=outputs, arguments=arguments)
        self.script_name = script_name
        self.source_directory = source_directory
        self.compute_target = compute_target
        self.runconfig = runconfig
        self.params = dict(params or {})
        self.allow_reuse = bool(allow_reuse)
        self.version = version

    def _step_definition(self, builder: "_DefinitionBuilder") -> dict[str, Any]:
        from ...runconfig import RunConfiguration, _target_name

        label = f"step {self.name!r}"
        source, script = builder.source(label, self.source_directory, self.script_name)
        config = self.runconfig if self.runconfig is not None else RunConfiguration()
        if not isinstance(config, RunConfiguration):
            builder.problem(f"{label}: runconfig must be a RunConfiguration, not {type(config).__name__}")
            config = RunConfiguration()
        run_config = config._to_dict()
        for key in ("script", "arguments", "command"):
            run_config.pop(key, None)
        run_config["environment_variables"] = {
            **run_config.get("environment_variables", {}),
            **{f"AML_PARAMETER_{k}": str(v) for k, v in self.params.items()}}
        target = self.compute_target if self.compute_target is not None else \
            (config.target if self.runconfig is not None else "local")
        inputs = [builder.data(label, _folder_of(item)) for item in self._inputs]
        outputs = [builder.data(label, item) for item in self._outputs]
        return {"node_id": self._node_id, "name": self.name, "script": script, "source": source,
                "arguments": [builder.argument(label, arg) for arg in self._arguments],
                "inputs": list(dict.fromkeys(inputs)), "outputs": list(dict.fromkeys(outputs)),
                "after": [step._node_id for step in self._run_after],
                "allow_reuse": self.allow_reuse, "target": _target_name(target), "run_config": run_config}
