"""`tailrun submit` and `tailrun cancel`.

    tailrun submit [-e EXPERIMENT] [-C SOURCE_DIR] [--pip PKG]... [--env K=V]... [--wait] SCRIPT [-- ARGS...]
    tailrun cancel RUN

`submit` snapshots SOURCE_DIR (default: the current folder), runs SCRIPT (a path inside it) on the
service with ARGS, and prints the run id; with --wait it streams the console like
`run.wait_for_completion(show_output=True)` and exits 0 only if the run Completed.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("submit", [])
    if command == "cancel":
        return _cancel(rest)
    return _submit(rest)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--address", help="service host:port (default: $TAILRUN_ADDRESS or the local service)")
    parser.add_argument("--token", help="access token (default: $TAILRUN_TOKEN)")


def _submit_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tailrun submit", usage="tailrun submit [options] SCRIPT [-- ARGS...]",
        description="Run a script on the tailrun service as a run of an experiment.")
    parser.add_argument("script", help="the script, a path inside SOURCE_DIR (or relative to it)")
    parser.add_argument("-e", "--experiment", help="experiment name (default: the script's name)")
    parser.add_argument("-C", "--source-dir", default=".", help="folder to snapshot and run in (default: .)")
    parser.add_argument("--pip", action="append", default=[], metavar="PKG",
                        help="pip package for the run's environment (repeatable); built once, reused")
    parser.add_argument("--env", action="append", default=[], metavar="K=V",
                        help="environment variable for the script (repeatable)")
    parser.add_argument("--time-limit", type=float, metavar="SECONDS",
                        help="fail the run after this many seconds (max_run_duration_seconds)")
    parser.add_argument("-t", "--target", default="local", metavar="NAME",
                        help="compute target (default: local; see tailrun compute list)")
    parser.add_argument("--wait", action="store_true", help="stream the console until the run ends")
    _common(parser)
    return parser


def _submit(argv: list[str]) -> int:
    args_at = argv.index("--") if "--" in argv else len(argv)
    script_argv = argv[args_at + 1:]
    parser = _submit_parser()
    args = parser.parse_args(argv[:args_at])
    env_vars = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--env needs KEY=VALUE, got {item!r}")
        env_vars[key] = value

    from ..environment import Environment
    from ..exceptions import TailrunError
    from ..experiment import Experiment
    from ..script_run import ScriptRunConfig
    from ..workspace import Workspace
    from .terminal import safe

    source = Path(args.source_dir)
    script = Path(args.script)
    if not script.is_absolute() and not (source / script).exists() and script.exists():
        script = script.resolve()   # a path given relative to the current folder
    environment = None
    if args.pip:
        environment = Environment("tailrun-submit")
        for package in args.pip:
            environment.python.conda_dependencies.add_pip_package(package)
    experiment_name = args.experiment or _default_experiment(script)
    try:
        config = ScriptRunConfig(str(source), script=str(script), arguments=script_argv,
                                 environment=environment, max_run_duration_seconds=args.time_limit,
                                 compute_target=args.target)
        config.run_config.environment_variables = env_vars
        ws = Workspace(address=args.address, token=args.token)
        run = Experiment(ws, experiment_name).submit(config)
        if not args.wait:
            run_id = safe(run.id)
            print(f"Submitted run {run_id} to experiment {safe(repr(experiment_name))} (status {safe(run.status)}).")
            print(f"Follow it with: tailrun logs -f {run_id}    Cancel it with: tailrun cancel {run_id}")
            return 0
        details = run.wait_for_completion(show_output=True, raise_on_error=False)
    except (TailrunError, ValueError, TypeError) as exc:
        print(f"tailrun submit: {safe(str(exc))}", file=sys.stderr)
        return 1
    return 0 if details.get("status") == "Completed" else 1


def _default_experiment(script: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_\-]", "_", script.stem).lstrip("_-")
    return stem or "tailrun-submit"


def _cancel(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tailrun cancel", description="Cancel a submitted run.")
    parser.add_argument("run_id", metavar="RUN", help="the run's id")
    _common(parser)
    args = parser.parse_args(argv)

    from ..client import Client
    from .._settings import Settings
    from ..exceptions import TailrunError
    from .terminal import safe

    try:
        with Client(Settings.resolve(args.address, args.token)) as client:
            info = client.cancel_run(args.run_id)
    except TailrunError as exc:
        print(f"tailrun cancel: {safe(str(exc))}", file=sys.stderr)
        return 1
    if info.status in ("Completed", "Failed", "Canceled"):
        print(f"Run {safe(info.run_id)} already ended ({safe(info.status)}); nothing to cancel.")
    else:
        print(f"Canceling run {safe(info.run_id)} (status {safe(info.status)}).")
    return 0
