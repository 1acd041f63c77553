"""Snapshots: a submitted run's source folder, a `start_logging` run's snapshot_directory, or what
`Run.take_snapshot` is given, zipped, minus ignored files.

Ignore files (gitignore syntax, simple fnmatch patterns): `.gitignore`, then `.amlignore`, then
`.tailrunignore`, each one that exists at the top of the folder; their rules add up, in that order,
and the last matching rule wins (so `!pattern` in `.amlignore` re-includes what `.gitignore`
excluded). Only the files at the top of the folder are read. `.git` folders are never included. Limits: 300 MB and
2000 files (TAILRUN_SNAPSHOT_NO_FILE_LIMIT=1 lifts the file cap), as in Azure ML.
"""
from __future__ import annotations

import fnmatch
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

MAX_BYTES = 300 * 1024 * 1024
MAX_FILES = 2000
IGNORE_FILES = (".gitignore", ".amlignore", ".tailrunignore")   # read in this order, rules add up
ALWAYS_SKIPPED = (".git",)


class SnapshotError(ValueError):
    """The source folder cannot be snapshotted (missing, over a limit); the message says why."""


@dataclass(frozen=True)
class _Rule:
    pattern: str
    negate: bool
    dir_only: bool
    anchored: bool

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if self.anchored:
            return fnmatch.fnmatchcase(rel, self.pattern)
        name = rel.rsplit("/", 1)[-1]
        return fnmatch.fnmatchcase(name, self.pattern) or fnmatch.fnmatchcase(rel, self.pattern) \
            or fnmatch.fnmatchcase(rel, "*/" + self.pattern)


def load_rules(root: Path) -> list[_Rule]:
    rules: list[_Rule] = []
    for name in IGNORE_FILES:
        path = root / name
        if path.is_file():
            rules += parse_rules(path.read_text(errors="replace"))
    return rules


def parse_rules(text: str) -> list[_Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line[1:] if negate else line
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if line:
            rules.append(_Rule(line, negate, dir_only, anchored))
    return rules


def is_ignored(rules: list[_Rule], rel: str, is_dir: bool) -> bool:
    ignored = False
    for rule in rules:  # the last matching rule wins, as in git
        if rule.matches(rel, is_dir):
            ignored = not rule.negate
    return ignored


def iter_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix path, full path) of every file to include, in a stable order."""
    rules = load_rules(root)
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        rel_base = base.relative_to(root).as_posix()
        rel_base = "" if rel_base == "." else rel_base + "/"
        dirnames[:] = sorted(d for d in dirnames if d not in ALWAYS_SKIPPED
                             and not is_ignored(rules, rel_base + d, True))
        for name in sorted(filenames):
            rel = rel_base + name
            full = base / name
            if is_ignored(rules, rel, False) or not full.is_file():
                continue
            yield rel, full


def build_snapshot(source_directory: str | os.PathLike, what: str = "source_directory") -> IO[bytes]:
    """The zipped source folder in a temporary file (rewound), after checking the limits; `what`
    names the folder's argument in errors (submit's source_directory, start_logging's
    snapshot_directory)."""
    root = Path(source_directory)
    if not root.is_dir():
        raise SnapshotError(f"{what} {str(source_directory)!r} is not a folder")
    return zip_entries(list(iter_files(root)), f"{what} {str(root)!r}")


def snapshot_entries(paths: str | os.PathLike | list | tuple) -> list[tuple[str, Path]]:
    """(name in the zip, full path) of a file, a folder, or a list of both (Run.take_snapshot).

    A folder contributes its files minus the ignored ones, named relative to it; a file named
    explicitly is always included, under its own name. In a list, names are relative to the
    folder holding all the items, so `["train.py", "lib"]` gives `train.py` and `lib/...`."""
    items = [Path(p) for p in paths] if isinstance(paths, (list, tuple)) else [Path(paths)]
    if not items:
        raise SnapshotError("nothing to snapshot: the list of files and folders is empty")
    for item in items:
        if not item.exists():
            raise SnapshotError(f"cannot snapshot {str(item)!r}: no such file or folder")
    if len(items) == 1 and items[0].is_dir():
        return list(iter_files(items[0]))
    resolved = [item.resolve() for item in items]
    base = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in resolved]))
    entries: dict[str, Path] = {}
    for item in resolved:
        if item.is_dir():
            prefix = item.relative_to(base).as_posix()
            for rel, full in iter_files(item):
                entries[f"{prefix}/{rel}" if prefix != "." else rel] = full
        else:
            entries[item.relative_to(base).as_posix()] = item
    return sorted(entries.items())


def zip_entries(files: list[tuple[str, Path]], what: str) -> IO[bytes]:
    """Zip `files` into a temporary file (rewound), after checking the limits of `what`."""
    file_cap = None if os.environ.get("TAILRUN_SNAPSHOT_NO_FILE_LIMIT") else MAX_FILES
    if file_cap is not None and len(files) > file_cap:
        raise SnapshotError(
            f"{what} has {len(files)} files, over the limit of {MAX_FILES}: "
            "exclude data and build folders with a .tailrunignore, .amlignore or .gitignore file")
    total = sum(full.stat().st_size for _, full in files)
    if total > MAX_BYTES:
        raise SnapshotError(
            f"{what} holds {total / 1e6:.0f} MB, over the limit of "
            f"{MAX_BYTES // (1024 * 1024)} MB: exclude large files with a .tailrunignore, .amlignore or .gitignore file")
    out = tempfile.TemporaryFile()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for rel, full in files:
            archive.write(full, rel)
    out.seek(0)
    return out
