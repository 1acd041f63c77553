"""The snapshot of a submitted run: the source folder, zipped, minus ignored files.

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


def build_snapshot(source_directory: str | os.PathLike) -> IO[bytes]:
    """The zipped source folder in a temporary file (rewound), after checking the limits."""
    root = Path(source_directory)
    if not root.is_dir():
        raise SnapshotError(f"source_directory {str(source_directory)!r} is not a folder")
    files = list(iter_files(root))
    file_cap = None if os.environ.get("TAILRUN_SNAPSHOT_NO_FILE_LIMIT") else MAX_FILES
    if file_cap is not None and len(files) > file_cap:
        raise SnapshotError(
            f"source_directory {str(root)!r} has {len(files)} files, over the limit of {MAX_FILES}: "
            "exclude data and build folders with a .tailrunignore, .amlignore or .gitignore file")
    total = sum(full.stat().st_size for _, full in files)
    if total > MAX_BYTES:
        raise SnapshotError(
            f"source_directory {str(root)!r} holds {total / 1e6:.0f} MB, over the limit of "
            f"{MAX_BYTES // (1024 * 1024)} MB: exclude large files with a .tailrunignore, .amlignore or .gitignore file")
    out = tempfile.TemporaryFile()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for rel, full in files:
            archive.write(full, rel)
    out.seek(0)
    return out
