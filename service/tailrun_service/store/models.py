"""The model registry (Azure ML's `Model`): versions 1, 2, 3... per name, each a set of files,
linked to the run it came from. Rows in the `models` and `model_files` tables; files in the
ModelFileStore (model_files.py).

A version is allocated inside the transaction that inserts it: SQLite has one writer at a time,
PostgreSQL takes an advisory lock on the name first, so two registrations of one name at the
same moment (from any number of service replicas) always get different versions.
"""
from __future__ import annotations

import json
import re
import time

from sqlalchemy import Connection, func, insert, select, update

from tailrun import _values
from tailrun.v1 import tailrun_pb2 as pb

from ..artifacts import ArtifactStore, validate_path
from ..errors import InvalidArgument, NotFound
from ..model_files import ModelFileStore, Staging
from .engine import Database
from .schema import experiments, model_files, models, runs
from .validation import MAX_KEY_CHARS, check_map, check_text

MODEL_NAME_RE = re.compile(_values.MODEL_NAME_RE)   # Azure ML's rule, shared with the SDK
MAX_DESCRIPTION_CHARS = 5000
MAX_LISTED_NAMES = 30        # names listed in a "not found" message
MAX_LISTED_FILES = 20        # run files listed in a "model_path not found" message
PG_MODELS_LOCK = 0x7461696E  # pg_advisory_xact_lock(PG_MODELS_LOCK, hashtext(name))


def validate_model_name(name: str) -> str:
    if not MODEL_NAME_RE.fullmatch(name or ""):
        raise InvalidArgument(
            f"invalid model name {name[:80]!r}: {_values.MODEL_NAME_RULE}")
    return name


def clean_model_path(path: str) -> str:
    """A run path as Azure ML normalises it ("./outputs/m/" -> "outputs/m"), then checked."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return validate_path(path.rstrip("/"))


class ModelRegistry:
    def __init__(self, db: Database, artifacts: ArtifactStore, files: ModelFileStore) -> None:
        self.db = db
        self.artifacts = artifacts
        self.files = files

    # ------------------------------------------------------------------ registering

    def check_spec(self, spec: pb.RegisterModelSpec) -> None:
        """Refuse a bad name, tags, properties or description before any file is staged."""
        validate_model_name(spec.name)
        check_map("model tag", spec.tags)
        check_map("model property", spec.properties)
        check_text("model description", spec.description, MAX_DESCRIPTION_CHARS)
        check_text("model_path", spec.model_path, 1024)

    def stage(self) -> Staging:
        return self.files.stage()

    def stage_run_files(self, staging: Staging, run_id: str, model_path: str) -> str:
        """Copy the run's files under `model_path` (default: the model's name, as in Azure ML)
        into `staging`; returns the cleaned model_path. NotFound with Azure ML's message when
        the run has no such file or folder."""
        model_path = clean_model_path(model_path)
        with self.db.read() as conn:
            _require_run(conn, run_id)
        if self.files.stage_run_files(staging, self.artifacts, run_id, model_path) is None:
            names = [rel for rel, _ in self.artifacts.walk(run_id)]
            shown = names[:MAX_LISTED_FILES] + ([f"... ({len(names) - MAX_LISTED_FILES} more)"]
                                                if len(names) > MAX_LISTED_FILES else [])
            raise NotFound(f"Could not locate the provided model_path {model_path} in the set of files "
                           f"uploaded to the run: {shown}")
        return model_path

    def register(self, spec: pb.RegisterModelSpec, staging: Staging, created_by: str,
                 model_path: str | None = None) -> pb.ModelInfo:
        """Make the staged files version N+1 of `spec.name`. The staging folder is gone afterwards
        (moved into place, or removed when anything failed)."""
        final = None
        try:
            self.check_spec(spec)
            manifest = staging.manifest()
            experiment = ""
            if spec.run_id:
                with self.db.read() as conn:
                    experiment = _require_run(conn, spec.run_id)
            with self.db.write() as conn:
                if not self.db.is_sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_MODELS_LOCK}, hashtext(%(name)s))",
                                         {"name": spec.name})
                version = (conn.execute(select(func.max(models.c.version)).where(
                    models.c.name == spec.name)).scalar() or 0) + 1
                conn.execute(insert(models).values(
                    name=spec.name, version=version, run_id=spec.run_id, experiment=experiment,
                    description=spec.description, tags_json=json.dumps(dict(spec.tags), sort_keys=True),
                    properties_json=json.dumps(dict(spec.properties), sort_keys=True),
                    model_path=model_path if model_path is not None else spec.model_path,
                    created_time=time.time(), created_by=created_by))
                conn.execute(insert(model_files), [
                    {"name": spec.name, "version": version, "path": path, "size": size, "sha256": digest}
                    for path, size, digest in manifest])
                final = self.files.commit(staging, spec.name, version)
        except BaseException:
            if final is not None:
                self.files.remove(final)
            raise
        finally:
            staging.discard()
        return self.get(spec.name, version)

    # ------------------------------------------------------------------ reading

    def get(self, name: str, version: int = 0) -> pb.ModelInfo:
        """One version (0 = the latest), with its files."""
        validate_model_name(name)
        if version < 0:
            raise InvalidArgument(f"model version must be a positive number (0 = the latest), not {version}")
        with self.db.read() as conn:
            query = select(models).where(models.c.name == name)
            query = (query.order_by(models.c.version.desc()).limit(1) if version == 0
                     else query.where(models.c.version == version))
            row = conn.execute(query).first()
            if row is None:
                raise NotFound(_missing(conn, name, version))
            info = _to_info(row)
            for f in conn.execute(select(model_files).where(
                    model_files.c.name == name, model_files.c.version == row.version).order_by(model_files.c.path)):
                info.files.add(path=f.path, size=f.size, complete=True)
            return info

    def open_file(self, name: str, version: int, path: str):
        """One file of a registered version (a path of `get(...).files`), opened for reading."""
        return self.files.open(name, version, path)

    def list(self, req: pb.ListModelsRequest) -> list[pb.ModelInfo]:
        """Models matching every filter, by name, newest version first; `latest`: the newest
        matching version of each name. Files are not listed (GetModel has them)."""
        query = select(models).order_by(models.c.name, models.c.version.desc())
        if req.name:
            query = query.where(models.c.name == req.name)
        if req.run_id:
            query = query.where(models.c.run_id == req.run_id)
        wanted = dict(req.tags)
        keys = list(req.tag_keys)
        found: list[pb.ModelInfo] = []
        with self.db.read() as conn:
            for row in conn.execute(query):
                if req.latest and found and found[-1].name == row.name:
                    continue
                tags = json.loads(row.tags_json)
                if all(k in tags for k in keys) and all(
                        k in tags and (not v or tags[k] == v) for k, v in wanted.items()):
                    found.append(_to_info(row, tags))
        return found

    # ------------------------------------------------------------------ changing

    def update(self, req: pb.UpdateModelRequest) -> pb.ModelInfo:
        """Add/remove tags, add properties (never change one), set the description."""
        validate_model_name(req.name)
        if req.version < 0:
            raise InvalidArgument(f"model version must be a positive number (0 = the latest), not {req.version}")
        check_map("model tag", req.add_tags)
        check_map("model property", req.add_properties)
        for key in req.remove_tags:
            check_text("removed model tag", key, MAX_KEY_CHARS)
        if req.HasField("description"):
            check_text("model description", req.description, MAX_DESCRIPTION_CHARS)
        with self.db.write() as conn:
            query = select(models).where(models.c.name == req.name)
            query = (query.order_by(models.c.version.desc()).limit(1) if req.version == 0
                     else query.where(models.c.version == req.version))
            row = conn.execute(query.with_for_update()).first()
            if row is None:
                raise NotFound(_missing(conn, req.name, req.version))
            tags = json.loads(row.tags_json)
            properties = json.loads(row.properties_json)
            clashes = [k for k, v in req.add_properties.items() if k in properties and properties[k] != v]
            if clashes:
                raise InvalidArgument(
                    f"model {row.name}:{row.version} already has the propert{'ies' if len(clashes) > 1 else 'y'} "
                    + ", ".join(f"{k!r} = {properties[k]!r}" for k in clashes[:5])
                    + "; properties can be added but never changed")
            tags.update(req.add_tags)
            for key in req.remove_tags:
                tags.pop(key, None)
            properties.update(req.add_properties)
            values = {"tags_json": json.dumps(tags, sort_keys=True),
                      "properties_json": json.dumps(properties, sort_keys=True)}
            if req.HasField("description"):
                values["description"] = req.description
            conn.execute(update(models).where(models.c.name == row.name, models.c.version == row.version)
                         .values(**values))
            version = row.version
        return self.get(req.name, version)


# ---------------------------------------------------------------------- helpers

def _require_run(conn: Connection, run_id: str) -> str:
    """The run's experiment name; NotFound when there is no such run."""
    row = conn.execute(select(experiments.c.name).join(runs, runs.c.experiment_id == experiments.c.id)
                       .where(runs.c.run_id == run_id)).first()
    if row is None:
        raise NotFound(f"run {run_id!r} not found")
    return row.name


def _missing(conn: Connection, name: str, version: int) -> str:
    """Why a model is not found, naming the versions (or the names) that exist."""
    versions = [v for (v,) in conn.execute(select(models.c.version).where(models.c.name == name)
                                           .order_by(models.c.version))]
    if versions:
        return (f"ModelNotFound: model {name!r} has no version {version}; its versions are "
                f"{', '.join(map(str, versions))}")
    names = [n for (n,) in conn.execute(select(models.c.name).distinct().order_by(models.c.name)
                                        .limit(MAX_LISTED_NAMES + 1))]
    if not names:
        return f"ModelNotFound: model {name!r} not found; no models are registered"
    more = ", ..." if len(names) > MAX_LISTED_NAMES else ""
    return f"ModelNotFound: model {name!r} not found; registered models: {', '.join(names[:MAX_LISTED_NAMES])}{more}"


def _to_info(row, tags: dict | None = None) -> pb.ModelInfo:
    info = pb.ModelInfo(name=row.name, version=row.version, id=f"{row.name}:{row.version}", run_id=row.run_id,
                        experiment=row.experiment, description=row.description,
                        created_time=row.created_time, model_path=row.model_path, created_by=row.created_by)
    info.tags.update(tags if tags is not None else json.loads(row.tags_json))
    info.properties.update(json.loads(row.properties_json))
    return info

