"""`make bench`: run every benchmark, each in its own process, and print one line per benchmark.

Each process is separate because the SDK sends to one service per process and the benchmarks
start their own services. Figures go into bench/README.md by hand.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = ["bench_import", "bench_log", "bench_e2e", "bench_query", "bench_watch", "bench_submit", "bench_ui", "bench_io",
           "bench_soak", "bench_names", "bench_fork"]


def main(argv: list[str]) -> int:
    failed = 0
    for name in argv or BENCHES:
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"{name}: (not present)")
            continue
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE, capture_output=True, text=True)
        lines = proc.stdout.strip().splitlines()
        result = lines[-1] if lines else ""
        if proc.returncode != 0:
            failed += 1
            result = f"FAILED (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
        print(f"{name} ({time.perf_counter() - t0:.1f} s): {result}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
