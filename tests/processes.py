"""Whether a process group a test started (a submitted run's script, say) still has a live member."""
from __future__ import annotations

import os


def group_alive(pgid: int) -> bool:
    """True while some process of group `pgid` exists (a zombie counts until it is reaped)."""
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
