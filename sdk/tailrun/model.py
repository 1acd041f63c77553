"""`Model`: Azure ML's model registry (`azureml.core.model.Model`), stored by the tailrun service.

A registered model is a name and a version (1, 2, 3... per name) holding a file or a folder,
optionally linked to the run it came from. Register one from local files with
`Model.register(ws, model_path, model_name)`, or from a run's uploaded files with
`run.register_model(model_name, model_path="outputs/model.pkl")`; read it back with
`Model(ws, name, version=None)`, `Model.list(ws, ...)`, `model.download(target_dir)` and, in a
scoring script, `Model.get_model_path(model_name)`.

Files keep their path relative to model_path's parent: registering `./out/model.pkl` stores
`model.pkl`, registering the folder `./bert` stores `bert/...`, and a run's `outputs/model.pkl`
is stored as `model.pkl`; `download` recreates that layout under target_dir and returns the
path of the file or folder.

Differences from Azure ML, on purpose:
- `model_framework` and `model_framework_version` are kept as the properties
  `tailrun.model_framework` / `tailrun.model_framework_version` (shown as the attributes, not in
  `properties`). tailrun has no datasets nor profiling: `datasets`, `sample_input_dataset`,
  `sample_output_dataset` and `resource_configuration` are accepted and ignored with a warning.
- `Model.register` inside a submitted run links the model to that run (its `run_id`).
- `created_by` is `{"userName": <who registered it>}`: "admin" (the service's token) or
  "run:<run id>" (a submitted run's token).
- A run path names a file or a folder exactly: "outputs/model" does not match
  "outputs/model.pkl" (Azure ML matches any path that starts with the text).
- `download` returns the model's folder even when it holds one file (Azure ML's commonpath
  returns that file), and checks every target file before writing any.
- tailrun deploys no models: `Model.deploy`, `Model.package` and `Model.profile` raise
  WebserviceException saying what to do instead (see tailrun.cloud_only).
"""
from __future__ import annotations

import os
import re
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ._values import MODEL_NAME_RE, MODEL_NAME_RULE
from .wire import CHUNK_BYTES
from .exceptions import ModelNotFoundException, NotFound, WebserviceException

if TYPE_CHECKING:  # pragma: no cover
    from .run import Run
    from .v1 import tailrun_pb2 as pb
    from .workspace import Workspace

FRAMEWORK_PROPERTY = "tailrun.model_framework"
FRAMEWORK_VERSION_PROPERTY = "tailrun.model_framework_version"
_HIDDEN_PROPERTIES = (FRAMEWORK_PROPERTY, FRAMEWORK_VERSION_PROPERTY)
_MODEL_NAME = re.compile(MODEL_NAME_RE)
_IGNORED = ("datasets", "sample_input_dataset", "sample_output_dataset", "resource_configuration")


def models_dir() -> str:
    """Where `get_model_path` caches downloads: `$AML_APP_ROOT/azureml-models`, as in Azure ML
    (relative to the current folder when AML_APP_ROOT is not set)."""
    return os.path.join(os.environ.get("AML_APP_ROOT", ""), "azureml-models")


class Model:
    """A registered model version (Azure ML's `azureml.core.model.Model`).

    `Model(workspace, name=None, id=None, tags=None, properties=None, version=None, run_id=None,
    model_framework=None)` fetches the newest version matching every filter (or exactly
    `version`, or `id` = "name:version"); ModelNotFoundException (a WebserviceException) when
    none does, naming what exists.

    Attributes (as read when fetched): name, id, version, run_id, experiment_name, tags,
    properties, description, created_time (datetime, UTC), created_by, url, model_framework,
    model_framework_version, workspace, and `run` (the Run, read on first use; None without one).
    """

    class Framework:
        """Azure ML's framework names (any string is accepted)."""
        CUSTOM = "Custom"
        MULTI = "Multi"
        ONNX = "Onnx"
        PYTORCH = "PyTorch"
        SCIKITLEARN = "ScikitLearn"
        TENSORFLOW = "TensorFlow"
        TFKERAS = "TfKeras"

    def __init__(self, workspace: "Workspace", name: str | None = None, id: str | None = None,  # noqa: A002
                 tags: Any = None, properties: Any = None, version: int | None = None,
                 run_id: str | None = None, model_framework: str | None = None, expand: bool = True,
                 **kwargs: Any) -> None:
        info = kwargs.get("_info")
        if info is None and workspace is not None:
            info = _find(workspace, name, id, tags, properties, version, run_id, model_framework)
        self._set(workspace, info)

    @classmethod
    def _from_info(cls, workspace: "Workspace", info: "pb.ModelInfo") -> "Model":
        return cls(workspace, _info=info)

    def _set(self, workspace: "Workspace", info: "pb.ModelInfo | None") -> None:
        self.workspace = workspace
        self._run: Any = _UNREAD
        self.datasets: dict[str, list] = {}
        self.sample_input_dataset = self.sample_output_dataset = self.resource_configuration = None
        self.parent_id = self.derived_model_ids = None
        self.mime_type = "application/octet-stream"
        self.unpack = False
        if info is None:   # Model(None): an empty object, filled by deserialize
            self.name = self.id = self.run_id = self.experiment_name = self.description = None
            self.version = self.created_time = self.created_by = self.url = None
            self.model_framework = self.model_framework_version = None
            self.tags, self.properties = {}, {}
            return
        properties = dict(sorted(info.properties.items()))   # protobuf maps have no order
        self.name = info.name
        self.version = int(info.version)
        self.id = info.id or f"{info.name}:{info.version}"
        self.run_id = info.run_id or None
        self.experiment_name = info.experiment or None
        self.description = info.description or None
        self.tags = dict(sorted(info.tags.items()))
        self.model_framework = properties.pop(FRAMEWORK_PROPERTY, None)
        self.model_framework_version = properties.pop(FRAMEWORK_VERSION_PROPERTY, None)
        self.properties = properties
        self.created_time = datetime.fromtimestamp(info.created_time, tz=timezone.utc) if info.created_time else None
        self.created_by = {"userName": info.created_by} if info.created_by else None
        self.url = f"aml://asset/{self.id}"
        self._files = [(f.path, f.size) for f in info.files]

    # ------------------------------------------------------------------ registering

    @staticmethod
    def register(workspace: "Workspace", model_path: str | os.PathLike, model_name: str,
                 tags: dict[str, Any] | None = None, properties: dict[str, Any] | None = None,
                 description: str | None = None, datasets: Any = None, model_framework: str | None = None,
                 model_framework_version: str | None = None, child_paths: list[str] | None = None,
                 sample_input_dataset: Any = None, sample_output_dataset: Any = None,
                 resource_configuration: Any = None, **kwargs: Any) -> "Model":
        """Upload a local file or folder (with `child_paths`: only those paths inside the folder)
        as the next version of `model_name`; returns the registered Model."""
        _check_name(model_name)
        spec = _spec(model_name, tags, properties, description, model_framework, model_framework_version,
                     ignored=_given(datasets=datasets, sample_input_dataset=sample_input_dataset,
                                    sample_output_dataset=sample_output_dataset,
                                    resource_configuration=resource_configuration, **kwargs),
                     what="Model.register")
        model_path = os.fspath(model_path)
        files = _local_files(model_path, child_paths)
        spec.model_path = os.path.basename(os.path.abspath(model_path))
        spec.run_id = _context_run_id(workspace) or ""
        print(f"Registering model {model_name}")
        info = workspace._client().register_model(_upload_requests(spec, files), model_name)
        return Model._from_info(workspace, info)

    # ------------------------------------------------------------------ finding

    @staticmethod
    def list(workspace: "Workspace", name: str | None = None, tags: list | None = None,
             properties: list | None = None, run_id: str | None = None, latest: bool = False,
             dataset_id: str | None = None, expand: bool = True, page_count: int = 255,
             model_framework: str | None = None) -> list["Model"]:
        """Every registered model version matching the filters: `tags`/`properties` as in Azure
        ML, a list of keys or [key, value] pairs; `latest`: only the newest matching version of
        each name. Sorted by name, newest version first."""
        from .v1 import tailrun_pb2 as pb
        if tags is not None and not isinstance(tags, list):
            raise _user_error(f'Expected tags must be list type. Ex. ["key", ["key2", "key2 value"]]: '
                              f'provided {type(tags)}')
        keys, pairs = _key_filter(tags, "tags")
        req = pb.ListModelsRequest(name=name or "", run_id=run_id or "", tag_keys=keys, tags=pairs)
        infos = workspace._client().list_models(req)
        props_keys, props_pairs = _key_filter(properties, "properties")
        if props_keys or props_pairs or model_framework:
            infos = [i for i in infos if _properties_match(i, props_keys, props_pairs, model_framework)]
        if latest:   # properties are filtered here, so the newest matching version is picked here
            newest: dict[str, Any] = {}
            for info in infos:
                newest.setdefault(info.name, info)
            infos = list(newest.values())
        return [Model._from_info(workspace, info) for info in infos]

    @staticmethod
    def get_model_path(model_name: str, version: int | None = None, _workspace: "Workspace | None" = None) -> str:
        """The local path of a registered model, for scoring scripts.

        With a workspace (`_workspace`, or the submitted run's), the model is downloaded into
        `azureml-models/<name>/<version>/` (see `models_dir()`; kept there, a cached version is
        not downloaded again) and that path is returned. Without one, the cache is searched
        (the newest cached version when `version` is None), then `./<model_name>`."""
        if version is not None and not isinstance(version, int):
            raise WebserviceException("version should be an int")
        workspace = _workspace if _workspace is not None else _submitted_run_workspace()
        if version is not None:
            try:
                return _cached_model_path(model_name, version)
            except ModelNotFoundException:
                if workspace is None:
                    raise
                return _download_to_cache(workspace, model_name, version)
        if workspace is not None:
            return _download_to_cache(workspace, model_name, None)
        return _cached_model_path(model_name, None)

    # ------------------------------------------------------------------ reading

    @property
    def run(self) -> "Run | None":
        """The run the model was registered from (read once, on first use), or None."""
        if self._run is _UNREAD:
            self._run = None
            if self.run_id and self.workspace is not None:
                from .run import Run
                try:
                    self._run = Run.get(self.workspace, self.run_id)
                except NotFound:
                    pass
        return self._run

    def download(self, target_dir: str | os.PathLike = ".", exist_ok: bool = False,
                 exists_ok: bool | None = None) -> str:
        """Download the model's files into `target_dir` (their registered layout) and return the
        path of the model's file or folder there. An existing file raises WebserviceException
        unless `exist_ok` (nothing is written then)."""
        if exists_ok is not None:
            warnings.warn("exists_ok is deprecated. Please use exist_ok", DeprecationWarning, stacklevel=2)
            exist_ok = exists_ok
        client = self.workspace._client()
        files = self._files if getattr(self, "_files", None) else [
            (f.path, f.size) for f in client.get_model(self.name, self.version).files]
        target = Path(target_dir)
        paths = [target / path for path, _size in files]
        if not exist_ok:
            for path in paths:
                if path.exists():
                    raise WebserviceException(f"File already exists. To overwrite, set exist_ok to True. {path}")
        _write_chunks(client.download_model(self.name, self.version), target)
        # Every file is under the model's one top entry (its file, or its folder even when that
        # holds a single file; Azure ML's commonpath would name that file instead).
        return os.path.normpath(os.path.join(str(target), files[0][0].split("/", 1)[0]))

    def serialize(self) -> dict[str, Any]:
        """The model as Azure ML's JSON dict (`Model.deserialize(ws, d)` reads it back)."""
        return {"createdTime": self.created_time.isoformat() if self.created_time else None,
                "createdBy": self.created_by, "description": self.description, "id": self.id,
                "mimeType": self.mime_type, "name": self.name, "framework": self.model_framework,
                "frameworkVersion": self.model_framework_version, "tags": self.tags,
                "properties": self.properties, "unpack": self.unpack, "url": self.url,
                "version": self.version, "experimentName": self.experiment_name, "runId": self.run_id,
                "runDetails": str(self.run) if self.run_id else None, "datasets": [],
                "resourceConfiguration": None, "sampleInputDatasetId": None, "sampleOutputDatasetId": None}

    @staticmethod
    def deploy(workspace: "Workspace", name: str, models: Any = None, inference_config: Any = None,
               deployment_config: Any = None, **kwargs: Any) -> Any:
        """Raises WebserviceException: tailrun deploys no models (the message says what to do instead)."""
        from .cloud_only import DEPLOYMENT, unavailable
        raise unavailable("Model.deploy", DEPLOYMENT, "WebserviceException")

    @staticmethod
    def package(workspace: "Workspace", models: Any = None, inference_config: Any = None, **kwargs: Any) -> Any:
        """Raises WebserviceException: tailrun builds no images (the message says what to do instead)."""
        from .cloud_only import DEPLOYMENT, unavailable
        raise unavailable("Model.package", DEPLOYMENT, "WebserviceException")

    @staticmethod
    def profile(workspace: "Workspace", profile_name: str, models: Any = None, **kwargs: Any) -> Any:
        """Raises WebserviceException: tailrun deploys no models, so there is nothing to profile."""
        from .cloud_only import DEPLOYMENT, unavailable
        raise unavailable("Model.profile", DEPLOYMENT, "WebserviceException")

    @staticmethod
    def deserialize(workspace: "Workspace", model_payload: dict[str, Any]) -> "Model":
        model = Model(None)  # type: ignore[arg-type]
        model.workspace = workspace
        for key, attr in (("id", "id"), ("name", "name"), ("version", "version"), ("runId", "run_id"),
                          ("experimentName", "experiment_name"), ("description", "description"),
                          ("framework", "model_framework"), ("frameworkVersion", "model_framework_version"),
                          ("url", "url"), ("createdBy", "created_by")):
            setattr(model, attr, model_payload.get(key))
        model.tags = dict(model_payload.get("tags") or {})
        model.properties = dict(model_payload.get("properties") or {})
        created = model_payload.get("createdTime")
        model.created_time = datetime.fromisoformat(created) if created else None
        return model

    def __repr__(self) -> str:
        return (f"Model(workspace={self.workspace!r}, name={self.name}, id={self.id}, version={self.version}, "
                f"tags={self.tags}, properties={self.properties})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.id == self.id and other.workspace == self.workspace

    def __hash__(self) -> int:
        return hash(self.id)

    # ------------------------------------------------------------------ changing

    def update(self, tags: dict[str, Any] | None = None, description: str | None = None,
               sample_input_dataset: Any = None, sample_output_dataset: Any = None,
               resource_configuration: Any = None) -> None:
        """Replace the tags (with a non-empty dict) and/or the description."""
        _warn_ignored("Model.update", _given(sample_input_dataset=sample_input_dataset,
                                             sample_output_dataset=sample_output_dataset,
                                             resource_configuration=resource_configuration))
        new_tags = _str_dict(tags, "Tags") if tags else None
        removed = [k for k in self.tags if new_tags is not None and k not in new_tags]
        self._patch(add_tags=new_tags, remove_tags=removed, description=description or None)

    def update_tags_properties(self, add_tags: dict[str, Any] | None = None, remove_tags: list[str] | None = None,
                               add_properties: dict[str, Any] | None = None) -> None:
        """Add and remove tags, add properties (a property, once set, never changes)."""
        if remove_tags is not None and not isinstance(remove_tags, list):
            remove_tags = [remove_tags]
        for key in remove_tags or ():
            if key not in self.tags:
                print(f"Tag with key {key} not found.")
        self._patch(add_tags=_str_dict(add_tags, "Tags") if add_tags is not None else None,
                    remove_tags=remove_tags or [],
                    add_properties=_str_dict(add_properties, "Properties") if add_properties is not None else None)

    def add_tags(self, tags: dict[str, Any]) -> None:
        self.update_tags_properties(add_tags=tags)
        print("Model tag add operation complete.")

    def remove_tags(self, tags: list[str]) -> None:
        self.update_tags_properties(remove_tags=tags)
        print("Model tag remove operation complete.")

    def add_properties(self, properties: dict[str, Any]) -> None:
        self.update_tags_properties(add_properties=properties)
        print("Model properties add operation complete.")

    def _patch(self, add_tags: dict[str, str] | None = None, remove_tags: list[str] | None = None,
               add_properties: dict[str, str] | None = None, description: str | None = None) -> None:
        from .v1 import tailrun_pb2 as pb
        if not (add_tags or remove_tags or add_properties or description is not None):
            return
        req = pb.UpdateModelRequest(name=self.name, version=self.version, add_tags=add_tags or {},
                                    remove_tags=remove_tags or [], add_properties=add_properties or {})
        if description is not None:
            req.description = description
        self._set(self.workspace, self.workspace._client().update_model(req))


# ---------------------------------------------------------------------- registering

def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise WebserviceException(f"Error, provided model name is invalid. {MODEL_NAME_RULE[0].upper()}"
                                  f"{MODEL_NAME_RULE[1:]}.")


def _given(**values: Any) -> list[str]:
    """The names of the Azure ML-only arguments that were really passed."""
    return [name for name, value in values.items() if value is not None]


def _warn_ignored(what: str, names: list[str]) -> None:
    if names:
        warnings.warn(f"tailrun: {what} ignores {', '.join(names)} (tailrun has no datasets or "
                      "model profiling)", stacklevel=3)


def _spec(name: str, tags: Any, properties: Any, description: Any, framework: str | None,
          framework_version: str | None, ignored: list[str], what: str) -> "pb.RegisterModelSpec":
    """The RegisterModelSpec of a registration; Azure ML's checks and messages."""
    from .v1 import tailrun_pb2 as pb
    if framework is None and framework_version is not None:
        raise WebserviceException("Model framework version cannot be provided without a valid framework")
    if description is not None and not isinstance(description, str):
        raise WebserviceException(f"description must be a str, not {type(description).__name__}")
    _warn_ignored(what, ignored)
    props = _str_dict(properties, "Properties") if properties else {}
    for key in _HIDDEN_PROPERTIES:
        props.pop(key, None)
    if framework is not None:
        props[FRAMEWORK_PROPERTY] = str(framework)
    if framework_version is not None:
        props[FRAMEWORK_VERSION_PROPERTY] = str(framework_version)
    return pb.RegisterModelSpec(name=name, description=description or "",
                                tags=_str_dict(tags, "Tags") if tags else {}, properties=props)


def _str_dict(values: Any, what: str) -> dict[str, str]:
    if not isinstance(values, dict):
        raise WebserviceException(f"{what} must be a dict")
    return {str(k): "" if v is None else str(v) for k, v in values.items()}


def _local_files(model_path: str, child_paths: list[str] | None) -> list[tuple[Path, str]]:
    """(local file, path in the model) of a registration: paths relative to model_path's parent.
    Symlinks that lead out of a folder are skipped (with a warning), as in upload_folder."""
    from .run_files import _walk_files
    if not os.path.exists(model_path):
        raise WebserviceException(f'Error, provided model path "{model_path}" cannot be found')
    root = Path(model_path).absolute()
    parent = root.parent
    if child_paths:
        for child in child_paths:
            if not os.path.exists(os.path.join(model_path, child)):
                raise WebserviceException(f'Error, provided child path "{child}" cannot be found')
        tops = [root / child for child in child_paths]
    else:
        tops = [root]
    found: dict[str, Path] = {}
    for top in tops:
        if top.is_dir():
            files, outside = _walk_files(top)
            for link, points_to in outside:
                warnings.warn(f"tailrun: Model.register skipped {str(link)!r}: a symlink to {points_to!r}, "
                              f"outside {str(top)!r}", stacklevel=3)
        else:
            files = [top]
        for file in files:
            found[Path(os.path.relpath(file, parent)).as_posix()] = file
    if not found:
        raise WebserviceException(f'Error, provided model path "{model_path}" holds no files')
    return [(found[path], path) for path in sorted(found)]


def _upload_requests(spec: "pb.RegisterModelSpec", files: list[tuple[Path, str]]) -> Iterator[Any]:
    """The RegisterModel stream: the spec, then each file in chunks (read as they are sent)."""
    from .v1 import tailrun_pb2 as pb
    yield pb.RegisterModelRequest(spec=spec)
    for local, path in files:
        with open(local, "rb") as fh:
            offset, data = 0, fh.read(CHUNK_BYTES)
            while True:
                following = fh.read(CHUNK_BYTES) if len(data) == CHUNK_BYTES else b""
                yield pb.RegisterModelRequest(file=pb.FileChunk(path=path, offset=offset, data=data,
                                                                last=not following))
                if not following:
                    break
                offset += len(data)
                data = following


def _context_run_id(workspace: "Workspace") -> str | None:
    """The submitted run this process runs in, when `workspace` is that run's service."""
    from ._settings import ENV_RUN_ID, Settings
    run_id = os.environ.get(ENV_RUN_ID)
    return run_id if run_id and workspace.settings.address == Settings.resolve().address else None


# ---------------------------------------------------------------------- finding

def _find(workspace: "Workspace", name: str | None, model_id: str | None, tags: Any, properties: Any,
          version: int | None, run_id: str | None, framework: str | None) -> "pb.ModelInfo":
    if not model_id and not name:
        raise WebserviceException("Error, one of id or name must be provided.")
    client = workspace._client()
    if model_id:
        name, _, number = model_id.rpartition(":")
        if not name or not number.isdigit():
            raise WebserviceException(f"invalid model id {model_id!r}: expected '<name>:<version>'")
        return client.get_model(name, int(number))
    assert name is not None
    if version is not None:
        return client.get_model(name, int(version))
    if not (tags or properties or run_id or framework):
        return client.get_model(name, 0)
    found = Model.list(workspace, name=name, tags=tags, properties=properties, run_id=run_id,
                       model_framework=framework, latest=True)
    if not found:
        given = {"name": name, "tags": tags, "properties": properties, "run_id": run_id,
                 "model_framework": framework}
        raise ModelNotFoundException("ModelNotFound: Model with " + ", ".join(
            f"{k} {v}" for k, v in given.items() if v) + " not found in provided workspace")
    return _info_of(found[0])


def _info_of(model: Model) -> "pb.ModelInfo":
    return model.workspace._client().get_model(model.name, model.version)


def _key_filter(values: Any, what: str) -> tuple[list[str], dict[str, str]]:
    """Azure ML's filter list (['key', ['key2', 'value']]) -> (keys, {key: value})."""
    keys: list[str] = []
    pairs: dict[str, str] = {}
    if isinstance(values, dict):
        values = [[k, v] if v not in (None, "") else k for k, v in values.items()]
    for item in values or ():
        if isinstance(item, str):
            keys.append(item)
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            pairs[str(item[0])] = str(item[1])
        else:
            raise _user_error(f"{what} filter entries must be a key or a [key, value] pair, not {item!r}")
    return keys, pairs


def _properties_match(info: Any, keys: list[str], pairs: dict[str, str], framework: str | None) -> bool:
    props = info.properties
    return (all(k in props for k in keys) and all(props.get(k) == v for k, v in pairs.items())
            and (framework is None or props.get(FRAMEWORK_PROPERTY) == framework))


def _user_error(message: str) -> Exception:
    from .script_run import UserErrorException
    return UserErrorException(message)


# ---------------------------------------------------------------------- downloading

def _write_chunks(chunks: Iterator[Any], target: Path) -> None:
    """Write a DownloadModel stream under `target`, each file through a temporary file that
    replaces the old one only when complete."""
    out = tmp = None
    try:
        for chunk in chunks:
            if out is None:
                dest = target / chunk.path
                dest.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
                out = os.fdopen(fd, "wb")
            out.write(chunk.data)
            if chunk.last:
                out.close()
                os.replace(tmp, target / chunk.path)
                out = tmp = None
    finally:
        if out is not None:
            out.close()
        if tmp is not None:
            os.unlink(tmp)


def _submitted_run_workspace() -> "Workspace | None":
    from ._settings import ENV_EXPERIMENT, ENV_RUN_ID
    if not (os.environ.get(ENV_RUN_ID) and os.environ.get(ENV_EXPERIMENT)):
        return None
    from .run import Run
    return Run.get_context(allow_offline=False).experiment.workspace


def _download_to_cache(workspace: "Workspace", name: str, version: int | None) -> str:
    model = Model(workspace, name=name, version=version)
    target = os.path.join(models_dir(), name, str(model.version))
    return model.download(target, exist_ok=True)


def _cached_model_path(name: str, version: int | None) -> str:
    """Azure ML's local lookup: azureml-models/<name>/<version>/<the one entry>, else ./<name>."""
    folder = os.path.join(models_dir(), name)
    if os.path.isdir(folder):
        versions = [int(v) for v in os.listdir(folder) if v.isdigit()]
        chosen = version if version is not None else max(versions, default=None)
        candidate = os.path.join(folder, str(chosen))
        if chosen is not None and os.path.isdir(candidate):
            entries = [e for e in os.listdir(candidate) if not e.startswith(".")]
            if len(entries) != 1:
                raise WebserviceException(f"Dir {candidate} can contain only 1 file or folder. Found {entries}")
            return os.path.join(candidate, entries[0])
    if os.path.exists(name):
        return name
    raise ModelNotFoundException(f"Model {name} not found in cache at {models_dir()} or in current working "
                                 f"directory {os.getcwd()}.")


_UNREAD = object()
