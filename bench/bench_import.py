"""`import tailrun` time in a fresh interpreter (median of 7), and the grpc+protobuf import it defers."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys

SNIPPETS = {
    "import tailrun": "import tailrun",
    "from tailrun.core import Workspace, Experiment, Run": "from tailrun.core import Workspace, Experiment, Run",
    "grpc + protobuf (deferred to the sender thread)": "import grpc, google.protobuf.message",
}


def time_import(code: str) -> float:
    prog = ("import time; t=time.perf_counter(); " + code +
            "; print(time.perf_counter()-t)")
    # As installed by pip: modules compiled to bytecode once (a first run writes the .pyc files,
    # which PYTHONDONTWRITEBYTECODE would prevent), then timed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    runs = [float(subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                                 env=env, check=True).stdout) for _ in range(7)]
    return statistics.median(runs)


def main() -> dict:
    return {name: f"{time_import(code) * 1000:.1f} ms" for name, code in SNIPPETS.items()}


if __name__ == "__main__":
    import json
    print(json.dumps(main()))
