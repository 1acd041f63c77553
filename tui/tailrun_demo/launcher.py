"""`tailrun demo`: a throwaway service on its embedded SQLite store, example runs as real child
processes (curves, console output, tables, images, output files; one fails, one is still running,
one has child runs), then the UI. Quitting (q or Ctrl-C) stops the runs and the service and
deletes the data dir (unless --keep)."""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPTS = Path(__file__).parent / "scripts"
EXPERIMENT = "demo-mnist"


def plan(long_seconds: float) -> list[tuple[str, list[str]]]:
    """(work folder, argv) for each example run."""
    train = str(SCRIPTS / "train.py")
    return [
        ("baseline", [train, "--experiment", EXPERIMENT, "--name", "baseline", "--lr", "0.01",
                      "--epochs", "4", "--seconds", "8", "--seed", "1"]),
        ("high-lr", [train, "--experiment", EXPERIMENT, "--name", "high-lr", "--lr", "0.05",
                     "--epochs", "6", "--seconds", "10", "--fail-at-epoch", "3", "--seed", "2"]),
        ("long", [train, "--experiment", EXPERIMENT, "--name", "long-run", "--lr", "0.003",
                  "--epochs", "12", "--seconds", str(long_seconds), "--seed", "3"]),
        ("small-lr", [train, "--experiment", EXPERIMENT, "--name", "small-lr", "--lr", "0.002",
                      "--epochs", "6", "--seconds", str(long_seconds / 2), "--seed", "4"]),
        ("sweep", [str(SCRIPTS / "sweep.py"), "demo-sweep", str(min(90.0, long_seconds / 2))]),
    ]


def start_runs(address: str, data_dir: Path, long_seconds: float) -> list[subprocess.Popen]:
    env = dict(os.environ)
    env.update({"TAILRUN_ADDRESS": address, "TAILRUN_HOME": str(data_dir / "home"),
                "PYTHONUNBUFFERED": "1"})
    env.pop("TAILRUN_TOKEN", None)
    procs = []
    for folder, argv in plan(long_seconds):
        cwd = data_dir / "work" / folder
        cwd.mkdir(parents=True, exist_ok=True)
        # Their console goes to the run's output (the SDK tees it), not over the UI.
        procs.append(subprocess.Popen([sys.executable, *argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))
    return procs


def stop_runs(procs: list[subprocess.Popen], grace: float = 3.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tailrun demo", description=__doc__)
    parser.add_argument("--seconds", type=float, default=240, help="how long the longest run trains")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and print where it is")
    parser.add_argument("--no-ui", action="store_true", help="start everything, wait for the runs, exit")
    args = parser.parse_args(argv[1:] if argv and argv[0] == "demo" else argv)
    if not args.no_ui and not sys.stdout.isatty():
        print("tailrun demo: needs a terminal for the UI (or pass --no-ui)", file=sys.stderr)
        return 2

    from tailrun_service.server import serve

    data_dir = Path(tempfile.mkdtemp(prefix="tailrun-demo-"))
    # The service logs to a file: anything on stderr would be drawn over the UI.
    logging.basicConfig(filename=str(data_dir / "service.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = serve(host="127.0.0.1", port=0, data_dir=data_dir / "service", with_runner=False)
    procs: list[subprocess.Popen] = []
    try:
        procs = start_runs(service.address, data_dir, args.seconds)
        # Point your own script at the demo: the address is also on the UI's status line.
        print(f"tailrun demo: service at {service.address} "
              f"(TAILRUN_ADDRESS={service.address} python your_script.py)", flush=True)
        if args.no_ui:
            for proc in procs:
                proc.wait()
            print(f"tailrun demo: {len(procs)} runs finished on {service.address}")
            return 0
        time.sleep(2.5)   # let the first runs start so the UI opens on something
        from tailrun_tui.cli import run_app

        run_app(service.address, None, EXPERIMENT, None)
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        stop_runs(procs)
        service.stop(grace=1)
        if args.keep:
            print(f"tailrun demo: data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
