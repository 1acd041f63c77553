"""Each integration test runs in its own folder: the runs it starts with `start_logging` track
`./outputs`, which must not land in the checkout."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path
