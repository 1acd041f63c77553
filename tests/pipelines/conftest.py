"""Fixtures of the pipeline tests: a workspace per service, folders of step scripts. Helpers and
the step scripts are in pipeline_helpers.py (a unique module name: `conftest` is ambiguous when
several test folders run together)."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from recorder_reset import reset_recorder


@pytest.fixture
def workspace_of() -> Iterator[Callable[[Any], Any]]:
    """`workspace_of(service)`: a Workspace on that service, with a fresh recorder."""
    from tailrun import Workspace

    def make(service: Any) -> Any:
        reset_recorder()
        return Workspace(address=service.address, token=service.token)

    yield make
    reset_recorder()


@pytest.fixture
def folder(tmp_path: Path) -> Callable[..., Path]:
    """`folder("name", {"a.py": code})` writes dedented files into tmp_path/name and returns it."""

    def make(name: str, files: dict[str, str]) -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        for file, text in files.items():
            (root / file).write_text(textwrap.dedent(text))
        return root

    return make
