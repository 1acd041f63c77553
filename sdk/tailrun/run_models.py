"""`Run.register_model`: register files the run uploaded as a model version linked to the run.

The service copies the run's stored files under `model_path` (a file or a folder, e.g.
"outputs/model.pkl"), so nothing is uploaded twice. A model in the run's outputs folder that
is not uploaded yet (outputs are uploaded when the run ends) is uploaded first, and then not
again at the end unless it changed; everything the run queued before is flushed first, so a file
just given to `upload_file` is found.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .run_files import _stat_key, _walk_files

if TYPE_CHECKING:  # pragma: no cover
    from ._run_parts import ModelsHost as _Run   # what this part uses of Run
    from .model import Model
else:
    _Run = object

ENV_OUTPUT_DIRECTORY = "TAILRUN_OUTPUT_DIRECTORY"   # a submitted run's ./outputs, set by the runner


class ModelsMixin(_Run):
    """The model registration of a Run (mixed into run.Run; uses of it what _run_parts.ModelsHost lists)."""

    def register_model(self, model_name: str, model_path: str | None = None, tags: dict[str, Any] | None = None,
                       properties: dict[str, Any] | None = None, model_framework: str | None = None,
                       model_framework_version: str | None = None, description: str | None = None,
                       datasets: Any = None, sample_input_dataset: Any = None, sample_output_dataset: Any = None,
                       resource_configuration: Any = None, **kwargs: Any) -> "Model":
        """Register the run's file or folder `model_path` (default: `model_name`) as the next
        version of `model_name`. ModelPathNotFoundException, listing the run's files, when the
        run has nothing there."""
        from .model import Model, _check_name, _given, _spec
        from .v1 import tailrun_pb2 as pb
        _check_name(model_name)
        path = _run_path(model_path if model_path is not None else model_name)
        spec = _spec(model_name, tags, properties, description, model_framework, model_framework_version,
                     ignored=_given(datasets=datasets, sample_input_dataset=sample_input_dataset,
                                    sample_output_dataset=sample_output_dataset,
                                    resource_configuration=resource_configuration, **kwargs),
                     what="Run.register_model")
        spec.run_id, spec.model_path = self._id, path
        self._upload_pending_outputs(path)
        self._recorder().flush(300)
        info = self._client().register_model(iter([pb.RegisterModelRequest(spec=spec)]), model_name)
        return Model._from_info(self._ws, info)

    def _upload_pending_outputs(self, path: str) -> None:
        """Queue the local outputs file or folder at run path `path` now, if the run's outputs
        are not uploaded yet; remembered so the upload at the end skips what did not change."""
        if self._finished:
            return
        if self._outputs is not None:
            folder, prefix = self._outputs
        elif self._submitted and os.environ.get(ENV_OUTPUT_DIRECTORY):
            folder, prefix = Path(os.environ[ENV_OUTPUT_DIRECTORY]), "outputs"
        else:
            return
        if path != prefix and not path.startswith(prefix + "/"):
            return
        local = folder / path[len(prefix) + 1:] if path != prefix else folder
        if local.is_file():
            files = [(path, local)]
        elif local.is_dir():
            found, _outside = _walk_files(local)   # links out of the folder are never uploaded
            files = [(f"{path}/{f.relative_to(local).as_posix()}", f) for f in sorted(found)]
        else:
            return
        for target, file in files:
            key = _stat_key(file)
            if self._early_uploads.get(target) != key:
                self._queue_file(target, file)
                self._early_uploads[target] = key


def _run_path(model_path: Any) -> str:
    """Azure ML normalises model_path (os.path.normpath, "/" separators)."""
    if not isinstance(model_path, (str, os.PathLike)):
        raise TypeError(f"model_path must be a str, not {type(model_path).__name__}")
    return posixpath.normpath(os.fspath(model_path).replace(os.sep, "/"))
