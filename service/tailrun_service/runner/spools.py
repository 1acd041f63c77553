"""The spools a submitted run's SDK left in its private home (TAILRUN_HOME = runs/<id>/home).

A script that could not reach the service (or ran out of its exit drain) leaves its batches in
`home/spool/<writer>/`, where no later process of that user looks. When the run's processes have
ended, and before its final status is written, the runner uploads them like `tailrun sync` would:
over gRPC with the run's own run-scoped token, so the service's checks (the run's scope, writer
ownership, reserved writer ids, sequence dedup) apply exactly as to the script itself. Each batch
keeps its writer and seq, so an upload repeated after a crash stores nothing twice.
"""
from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("tailrun_service.runner")

UPLOAD_TIMEOUT = 120.0


@dataclass
class SpoolReport:
    batches: int = 0                  # sent now (the service had not stored them)
    events: int = 0
    already: int = 0                  # batches the service had stored before
    failed: list[str] = field(default_factory=list)   # "writer: why" for spools kept on disk

    def warnings(self, home: Path) -> list[str]:
        """Lines for the run's warnings (none when there was nothing to recover)."""
        lines = []
        if self.batches:
            lines.append(f"the runner uploaded {self.batches} batches ({self.events} events) that the script "
                         "had left in its spool (it could not send them before it ended)")
        for failure in self.failed:
            lines.append(f"the runner could not upload a spool the script left ({failure}); it is kept in "
                         f"{home} (TAILRUN_HOME={home} tailrun sync)")
        return lines


def upload_spools(home: Path, address: str, token: str | None, ca_file: str | None,
                  timeout: float = UPLOAD_TIMEOUT, staging: Path | None = None) -> SpoolReport:
    """Upload every spool under `home/spool` whose owner is dead; remove those fully acknowledged.

    With `staging` (a folder of the service's own), each spool is first copied there and the copy
    is uploaded: the home belongs to a script running as another user, which must not get the
    service to follow its links or create files where it points (isolation.py)."""
    from tailrun._spool import abandoned, claim, spool_root
    from tailrun._upload import upload_folder

    report = SpoolReport()
    root = spool_root(home)
    if root.is_symlink() or not root.is_dir():   # the script owns its home: follow none of its links
        return report
    folders = _stage(root, staging) if staging is not None else abandoned(root)
    for folder in folders:
        if folder.is_symlink():
            continue
        fd = claim(folder)
        if fd is None:          # a process of the run still holds it (it is killed before this)
            report.failed.append(f"{folder.name}: still in use")
            continue
        try:
            result = upload_folder(folder, address, token, ca_file, timeout=timeout)
        except Exception as exc:   # kept on disk; the warning says where
            report.failed.append(f"{folder.name}: {exc}")
            log.warning("spool %s of a submitted run could not be uploaded: %s", folder, exc)
            continue
        finally:
            os.close(fd)
        report.batches += result.batches
        report.events += result.events
        report.already += result.already
        if result.complete:
            shutil.rmtree(folder, ignore_errors=True)
            if staging is not None:
                shutil.rmtree(root / folder.name, ignore_errors=True)   # rmtree does not follow links
    return report


def _stage(root: Path, staging: Path) -> list[Path]:
    """Copies of the spool folders under `root` in `staging` (regular files only, opened without
    following links out of their folder)."""
    from tailrun._exec.files import open_inside

    copies = []
    for folder in sorted(root.iterdir()):
        if folder.is_symlink() or not folder.is_dir() or folder.name.startswith("."):
            continue
        copy = staging / folder.name
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir(parents=True, mode=0o700)
        real = os.path.realpath(folder)
        for entry in sorted(folder.iterdir()):
            if entry.name == "lock":
                continue
            source = open_inside(real, entry)
            if source is None:
                continue
            with source, open(copy / entry.name, "wb") as out:
                shutil.copyfileobj(source, out)
        copies.append(copy)
    return copies
