"""`import tailrun` time in a fresh interpreter (median of 7), and the grpc+protobuf import it defers."""
from __future__ import annotations

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
    runs = [float(subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(7)]
    return statistics.median(runs)


def main() -> dict:
    return {name: f"{time_import(code) * 1000:.1f} ms" for name, code in SNIPPETS.items()}


if __name__ == "__main__":
    import json
    print(json.dumps(main()))
