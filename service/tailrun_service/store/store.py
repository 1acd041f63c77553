"""The Store: the one object the servicer and the runner talk to (contract in docs/ARCHITECTURE.md).

It owns the database (SQLite in the data dir, or PostgreSQL), the artifact files under
<data_dir>/artifacts and the model registry (`store.models`, files under <data_dir>/models).
Each method is a short transaction, safe to call from many threads; several processes (service
replicas) may share one PostgreSQL database.
"""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select, update

from tailrun.v1 import tailrun_pb2 as pb

from ..artifacts import DEFAULT_MAX_FILE_BYTES, ArtifactStore, validate_run_id
from ..errors import NotFound
from ..model_files import ModelFileStore
from . import environments as environments_mod
from . import files as files_mod
from . import ingest, orchestrations, queries, series, watch
from .engine import Database, sqlite_url
from .ingest import ApplyResult
from .integrity import StoreIntegrity
from .migrate import upgrade_to_head
from .models import ModelRegistry
from .recent_chunks import RecentChunks
from .schema import runs


class Store:
    def __init__(self, db: Database, artifacts: ArtifactStore, integrity: StoreIntegrity | None = None) -> None:
        self.db = db
        self.artifacts = artifacts
        self.integrity = integrity
        # <data_dir>/models beside <data_dir>/artifacts; a model file has the run-file size limit
        self.models = ModelRegistry(db, artifacts, ModelFileStore(artifacts.root.parent / "models",
                                                                  artifacts.max_file_bytes))
        if integrity is not None:
            db.write_guard = integrity.require
        self._changes = watch.ChangeNotifier(self.last_event_id)
        self.recent_chunks = RecentChunks()   # live Watch events are served from these

    @classmethod
    def open(cls, url: str | None, data_dir: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Store:
        """Open (and migrate to the newest schema) the store; url None = SQLite in data_dir.
        `max_file_bytes` caps one run file (see artifacts.py)."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(url or sqlite_url(data_dir))
        try:
            upgrade_to_head(db)
            artifacts = ArtifactStore(data_dir / "artifacts", max_file_bytes)
            db_file = db.engine.url.database if db.is_sqlite else None
            files = {"database file": Path(db_file)} if db_file and db_file != ":memory:" else {}
            integrity = StoreIntegrity({"data dir": data_dir, "artifact folder": artifacts.root}, files)
        except BaseException:
            db.dispose()
            raise
        return cls(db, artifacts, integrity.start())

    def close(self) -> None:
        self._changes.notify()  # waiters re-check and return at their timeout
        self.db.dispose()
        if self.integrity is not None:
            self.integrity.close()

    def check_usable(self) -> str | None:
        """None while the store can be written; else why not (its data dir, database file or
        artifact folder vanished, was replaced or is not writable). Cheap: a few stat calls.
        For health checks: NOT_SERVING while this returns a reason."""
        return self.integrity.check() if self.integrity is not None else None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ ingest

    def committed_seq(self, writer: str, *, principal: str | None = None) -> int:
        """The writer's last applied seq (the Ingest handshake); `principal` as in apply_batch.
        Raises Unavailable when the store cannot take batches now."""
        self.db.write_guard()
        with self.db.read() as conn:
            return ingest.handshake(conn, writer, principal)

    def apply_batch(self, writer: str, seq: int, events: Sequence[pb.Event],
                    allowed: ingest.AllowedRuns | None = None, *, principal: str | None = None) -> ApplyResult:
        """Apply one batch in one transaction, exactly once per (writer, seq); see ingest.py.

        Only seq == committed + 1 is applied; a lower seq is a duplicate (nothing stored), a
        higher one raises SeqGap. `principal` is the gRPC caller's (auth.Caller.principal:
        "admin" or "run:<run_id>"): a run-scoped caller may only use writers it owns, and no
        caller may use the service's own writer ids (PermissionDenied); None = the service itself.
        `allowed(run_id, event)` returning False rejects an event that writes a run ("token may
        not write run X"); experiment events name no run and are not checked.
        Raises Unavailable (nothing stored) when the store's files vanished or are unwritable."""
        result = ingest.apply_batch(self.db, self.artifacts, writer, seq, events, allowed, principal,
                                    self.recent_chunks)
        self._changes.notify()
        return result

    def set_run_definition(self, run_id: str, *, run_definition_json: str = "", target: str = "",
                           script: str = "", arguments: Sequence[str] = ()) -> pb.RunInfo:
        """For the runner: the submitted run's definition (fields RunStart does not carry)."""
        with self.db.write() as conn:
            done = conn.execute(update(runs).where(runs.c.run_id == run_id).values(
                run_definition_json=run_definition_json, target=target, script=script,
                arguments_json=json.dumps(list(arguments))))
            if done.rowcount == 0:
                raise NotFound(f"run {run_id!r} not found")
            return queries.get_run(conn, run_id)

    # ------------------------------------------------------------ experiments and runs

    def list_experiments(self, view_type: str = "ActiveOnly", name: str = "") -> list[pb.Experiment]:
        with self.db.read() as conn:
            return queries.list_experiments(conn, view_type, name)

    def set_experiment_archived(self, name: str, id: str, archived: bool) -> pb.Experiment:  # noqa: A002
        with self.db.write() as conn:
            return queries.set_experiment_archived(conn, name, id, archived)

    def list_runs(self, req: pb.ListRunsRequest) -> list[pb.RunInfo]:
        """Every page of the list, for the service's own use (ListRuns answers one page)."""
        with self.db.read() as conn:
            return queries.list_runs(conn, req)

    def list_runs_page(self, req: pb.ListRunsRequest) -> pb.ListRunsResponse:
        """One page of the list and the token for the next: see ListRunsRequest."""
        with self.db.read() as conn:
            return queries.list_runs_page(conn, req)

    def get_run(self, run_id: str) -> pb.RunInfo:
        with self.db.read() as conn:
            return queries.get_run(conn, run_id)

    def run_exists(self, run_id: str) -> bool:
        with self.db.read() as conn:
            return conn.execute(select(runs.c.run_id).where(runs.c.run_id == run_id)).first() is not None

    # ------------------------------------------------------------ metrics

    def iter_metrics(self, run_id: str, name: str = "", system: bool = False) -> Iterator[pb.MetricPoints]:
        return series.iter_metrics(self.db, run_id, name, system)

    def metric_data(self, run_id: str, name: str = "", batched: bool = False,
                    system: bool = False) -> Iterator[pb.MetricData]:
        """GetMetrics' messages: see series.metric_data."""
        return series.metric_data(self.db, run_id, name, batched, system)

    def get_series(self, req: pb.SeriesRequest) -> pb.SeriesResponse:
        return series.get_series(self.db, req)

    # ------------------------------------------------------------ files

    def list_files(self, run_id: str, prefix: str = "") -> list[pb.FileInfo]:
        with self.db.read() as conn:
            return files_mod.list_files(conn, self.artifacts, run_id, prefix)

    def open_file(self, run_id: str, path: str) -> BinaryIO:
        validate_run_id(run_id)
        if not self.run_exists(run_id):
            raise NotFound(f"run {run_id!r} not found")
        return self.artifacts.open(run_id, path)

    def read_output(self, req: pb.ReadOutputRequest) -> pb.OutputText:
        with self.db.read() as conn:
            return files_mod.read_output(conn, self.artifacts, req)

    # ------------------------------------------------------------ environments

    def register_environment(self, name: str, definition_json: str) -> pb.EnvironmentInfo:
        """The next version of `name`, or its latest when the definition equals it (environments.py)."""
        return environments_mod.register(self.db, name, definition_json)

    def get_environment(self, name: str, version: int = 0) -> pb.EnvironmentInfo:
        """Version 0 = the latest; NotFound names the versions or environments that exist."""
        with self.db.read() as conn:
            return environments_mod.get(conn, name, version)

    def list_environments(self, name: str = "", latest: bool = False) -> list[pb.EnvironmentInfo]:
        with self.db.read() as conn:
            return environments_mod.list_all(conn, name, latest)

    # ------------------------------------------------------------ orchestrated runs

    def create_orchestration(self, run_id: str, kind: str, state: dict) -> None:
        orchestrations.create(self.db, run_id, kind, state)

    def save_orchestration(self, run_id: str, state: dict, final: str = "") -> None:
        """The controller's state after a decision; `final` (the parent's final status) ends it."""
        orchestrations.save(self.db, run_id, state, final)

    def active_orchestrations(self) -> list[tuple[str, str, dict]]:
        """(run_id, kind, state) of the orchestrated runs still driven by a controller."""
        return orchestrations.active(self.db)

    def get_orchestration(self, run_id: str) -> tuple[str, dict, str] | None:
        """(kind, state, final) of an orchestrated run; None when the run is not one."""
        return orchestrations.get(self.db, run_id)

    # ------------------------------------------------------------ watch

    def events_after(self, cursor: int, run_ids: Sequence[str] | None = None,
                     experiment: str | None = None, kinds: Sequence[str] | None = None,
                     limit: int = 500) -> list[pb.WatchEvent]:
        return watch.events_after(self.db, self.artifacts, self.recent_chunks, cursor, run_ids, experiment,
                                  kinds, limit)

    def last_event_id(self) -> int:
        return watch.last_event_id(self.db)

    def wait_for_change(self, after_cursor: int, timeout: float) -> bool:
        """Block until an event after `after_cursor` exists (True) or `timeout` passes (False)."""
        return self._changes.wait(after_cursor, timeout)
