"""The `tailrun` command: one console script, a module per subcommand.

Each subcommand lives in its own module with a `main(argv) -> int`; only the chosen one is
imported, so `tailrun logs` does not pay for the service or the UI, and a missing extra gives a
clear message instead of a traceback.
"""
from __future__ import annotations

import importlib
import os
import sys

# name -> (module, one-line help, extra that provides it or None)
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "server": ("tailrun_service.cli", "run the tailrun service", "server"),
    "ui": ("tailrun_tui.cli", "open the terminal UI", "tui"),
    "demo": ("tailrun_demo.launcher", "start a throwaway service, example runs and the UI", "all"),
    "runs": ("tailrun.cli.query", "list runs as a table", None),
    "logs": ("tailrun.cli.query", "print or follow a run's output", None),
    "metrics": ("tailrun.cli.query", "print a run's metrics with steps (--format csv|json|parquet, --system)", None),
    "export": ("tailrun.cli.export", "write a run or an experiment into a folder of plain files", None),
    "download": ("tailrun.cli.download", "download a run's files", None),
    "import": ("tailrun.cli.imports", "import runs from TensorBoard logs or an MLflow store", None),
    "models": ("tailrun.cli.models", "list, show and download registered models", None),
    "sync": ("tailrun.cli.sync", "upload spooled runs to the service", None),
    "submit": ("tailrun.cli.submit", "submit a script as a run", None),
    "cancel": ("tailrun.cli.submit", "cancel a submitted run", None),
    "compute": ("tailrun.cli.compute", "list the service's compute targets (compute list)", None),
}


def _usage() -> str:
    lines = ["usage: tailrun COMMAND [ARGS...]", "", "commands:"]
    width = max(map(len, COMMANDS)) + 2
    lines += [f"  {name:<{width}}{help_}" for name, (_, help_, _) in COMMANDS.items()]
    lines += ["", "Run `tailrun COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"tailrun: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _, extra = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if extra and exc.name and exc.name.split(".")[0] in (module_name.split(".")[0], "textual",
                                                               "sqlalchemy", "alembic", "textual_plotext"):
            print(f"tailrun {name}: needs the '{extra}' extra: pip install 'tailrun[{extra}]' ({exc})",
                  file=sys.stderr)
            return 2
        raise
    try:
        code = int(module.main([name, *rest]) or 0)
        sys.stdout.flush()  # a reader that left shows here, not as a traceback at exit
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """stdout's reader went away (`tailrun runs | head -1`): stop quietly with 141, the status of
    a program ended by SIGPIPE. Python flushes stdout once more at exit: point it at devnull."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file (embedded, captured)
        pass
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
