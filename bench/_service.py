"""Start a real tailrun service in a child process for a benchmark (so it does not share our GIL)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def service_process(store_url: str | None = None, data_dir: Path | None = None):
    """Yield (address, data_dir, pid) of a fresh service on a free loopback port; `data_dir`: a
    second service on another one's data (as a replica would be)."""
    with tempfile.TemporaryDirectory(prefix="tailrun-bench-") as tmp:
        data_dir = data_dir or Path(tmp) / "data"
        port_file = Path(tmp) / "port"
        cmd = [sys.executable, "-m", "tailrun_service", "--host", "127.0.0.1", "--port", "0",
               "--port-file", str(port_file), "--data-dir", str(data_dir)]
        if store_url:
            cmd += ["--store", store_url]
        if os.geteuid() == 0:   # as root, scripts would run as tailrun-run, who may not read this Python
            cmd += ["--run-as", "root"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"service did not start: {proc.stderr.read().decode()}")
            time.sleep(0.05)
        address = f"127.0.0.1:{int(port_file.read_text())}"
        os.environ["TAILRUN_HOME"] = str(Path(tmp) / "home")
        try:
            yield address, data_dir, proc.pid
        finally:
            proc.terminate()
            proc.wait(30)


def peak_rss_mib(pid: int | None = None) -> float:
    """Peak resident set size (VmHWM) of a process, in MiB."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
