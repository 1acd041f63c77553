"""What the system-metrics tests of the local runner and of Slurm share (tests/sdk/test_system_metrics.py,
tests/slurm/test_slurm_runs.py)."""

FAST = {"TAILRUN_SYSTEM_METRICS_INTERVAL": "0.2"}
BASE_NAMES = {"cpu_percent", "memory_rss_mb", "memory_percent", "machine_memory_used_mb", "disk_read_mb_per_s",
              "disk_write_mb_per_s", "net_recv_mb_per_s", "net_sent_mb_per_s"}

# The script daemonizes a worker (fork, the middle process exits): reparented away from the
# script, the worker is still in the run's process group, so the runner still counts it.
SUBMITTED = """
import json, os, subprocess, sys, time
from tailrun import Run
run = Run.get_context()
run.log("x", 1.0)
worker = ("import os, sys\\nif os.fork(): os._exit(0)\\nb = bytearray(96 << 20)\\n"
          "for i in range(0, len(b), 4096): b[i] = 1\\nprint(os.getpid(), flush=True)\\nsys.stdin.read()\\n")
middle = subprocess.Popen([sys.executable, "-c", worker], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
pid = int(middle.stdout.readline())
middle.wait()
assert int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]) != os.getpid()   # not our child
def count():
    return len(run.get_system_metrics().get("memory_rss_mb", []))
wanted = count() + 3
while count() < wanted:
    time.sleep(0.05)
middle.stdin.close()   # the worker's stdin: it ends
"""
