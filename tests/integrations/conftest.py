"""The integration tests start runs with `start_logging`, which tracks `./outputs`: run each test
in its own folder so that nothing lands in the checkout."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path
