"""`tailrun ui [--address A] [--token T] [--experiment E] [--run R]`."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tailrun ui", description="Open the tailrun terminal UI.")
    parser.add_argument("--address", help="service host:port (default: $TAILRUN_ADDRESS, else the local service)")
    parser.add_argument("--token", help="access token (default: $TAILRUN_TOKEN)")
    parser.add_argument("--experiment", "-e", help="open this experiment's runs")
    parser.add_argument("--run", "-r", help="open this run on its Overview tab")
    parser.add_argument("--tab", choices=("overview", "metrics", "output", "tables", "images", "files", "system",
                                          "child-runs"),
                        default="overview", help="with --run: the tab to open on")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv[1:] if argv and argv[0] == "ui" else argv)
    if not sys.stdout.isatty():
        print("tailrun ui: needs a terminal (stdout is not a TTY); try `tailrun runs` or `tailrun logs`",
              file=sys.stderr)
        return 2
    run_app(args.address, args.token, args.experiment, args.run, args.tab)
    return 0


def run_app(address: str | None, token: str | None, experiment: str | None, run_id: str | None,
            tab: str = "overview") -> None:
    # textual-image asks the terminal about graphics support; that must happen before Textual starts.
    try:
        import textual_image.widget  # noqa: F401
    except Exception:  # no terminal answer: the images tab falls back to half blocks
        pass
    from .app import TailrunApp
    from tailrun._settings import Settings

    app = TailrunApp(Settings.resolve(address=address, token=token), experiment=experiment, run_id=run_id, tab=tab)
    app.run()
