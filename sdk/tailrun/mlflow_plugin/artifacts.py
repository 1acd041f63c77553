"""MLflow's artifact repository for `tailrun://HOST:PORT/runs/<run id>/artifacts[/path]` URIs
(the `mlflow.artifact_repository` entry point): MLflow artifacts are the run's files, at the same
paths (`mlflow.log_artifact("model.pt", "outputs")` -> `outputs/model.pt`). Uploads go through the
SDK's queue like every file (stored once, spooled while the service is away) and are flushed
before the call returns."""
from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from .._mlflow_uri import parse_artifact_uri
from ..exceptions import NotFound
from ..run_files import download
from ..run_logging import clean_artifact_path
from .store import TailrunStore


class TailrunArtifactRepository(ArtifactRepository):
    def __init__(self, artifact_uri: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(artifact_uri, *args, **kwargs)
        tracking, self.run_id, self.base = parse_artifact_uri(artifact_uri)
        self.store = TailrunStore(tracking)

    def _path(self, *parts: str | None) -> str:
        joined = posixpath.join(self.base, *(p for p in parts if p))
        return clean_artifact_path(joined, "artifact path") if joined else ""

    def log_artifact(self, local_file, artifact_path=None):
        run = self.store._writer(self.run_id)
        run.upload_file(self._path(artifact_path, os.path.basename(local_file)), local_file)

    def log_artifacts(self, local_dir, artifact_path=None):
        run = self.store._writer(self.run_id)
        names, paths = [], []
        for root, _, files in os.walk(local_dir):
            for name in sorted(files):
                local = Path(root) / name
                names.append(self._path(artifact_path, local.relative_to(local_dir).as_posix()))
                paths.append(local)
        if names:
            run.upload_files(names, paths)

    def list_artifacts(self, path=None):
        """The files and folders directly under `path` (MLflow lists one level at a time)."""
        prefix = self._path(path)
        client = self.store._flushed_client()
        try:
            files = client.list_files(self.run_id, prefix=prefix)
        except NotFound:
            return []
        start = len(prefix) + 1 if prefix else 0
        seen: dict[str, FileInfo] = {}
        for f in files:
            if prefix and not f.path.startswith(prefix + "/"):
                continue
            head, sep, _ = f.path[start:].partition("/")
            rel = posixpath.join(path, head) if path else head
            if sep:
                seen.setdefault(rel, FileInfo(rel, True, None))
            else:
                seen[rel] = FileInfo(rel, False, int(f.size))
        return [seen[k] for k in sorted(seen)]

    def _download_file(self, remote_file_path, local_path):
        name = self._path(remote_file_path)
        try:
            download(self.store._flushed_client(), self.run_id, name, Path(local_path))
        except NotFound as exc:
            raise MlflowException(f"run {self.run_id} has no artifact {name!r}", RESOURCE_DOES_NOT_EXIST) from exc

    def delete_artifacts(self, artifact_path=None):
        raise MlflowException("tailrun does not delete run files")
