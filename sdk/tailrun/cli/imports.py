"""`tailrun import tensorboard LOGDIR` and `tailrun import mlflow URI`: runs from other trackers.

Each prints the id of every run it created, one per line (runs imported before are skipped and
named on stderr), and takes `--experiment NAME` (default: the log folder's name, or each MLflow
experiment's own name). The source is read whole before anything is written: a corrupt source
imports nothing. See tailrun/importers/common.py for how an import is made all-or-nothing.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

from .._extras import MissingExtra
from .._settings import Settings
from ..exceptions import TailrunError
from .query import _parser
from .terminal import safe

SOURCES = ("tensorboard", "mlflow")


def _import_parser() -> argparse.ArgumentParser:
    parser = _parser("import", "Import runs from TensorBoard event files or an MLflow tracking store.")
    parser.add_argument("kind", choices=SOURCES, help="what to import from")
    parser.add_argument("source", help="tensorboard: a log folder (or one event file); "
                                       "mlflow: a file store folder (mlruns), file:///... or sqlite:///...db")
    parser.add_argument("--experiment", help="put every run into this experiment")
    return parser


def main(argv: list[str]) -> int:
    args = _import_parser().parse_intermixed_args(argv[1:])
    from ..workspace import Workspace
    from ..importers.common import write_runs

    skipped: Counter = Counter()
    try:
        with tempfile.TemporaryDirectory(prefix="tailrun-import-") as workdir:
            if args.kind == "tensorboard":
                from ..importers.tensorboard import read_logdir
                runs = read_logdir(args.source, args.experiment, skipped)
            else:
                from ..importers.mlflow import read_store
                runs = read_store(args.source, args.experiment, Path(workdir))
            for what, count in sorted(skipped.items()):
                print(f"tailrun import: not imported: {count} {safe(what)} value{'s' if count != 1 else ''}",
                      file=sys.stderr)
            settings = Settings.resolve(args.address, args.token)
            ws = Workspace(address=settings.address, token=settings.token, ca_file=settings.ca_file)
            write_runs(ws, runs, on_created=lambda run_id: print(run_id, flush=True))
    except (TailrunError, MissingExtra, OSError, ValueError) as exc:
        print(f"tailrun import {args.kind}: {safe(str(exc))}", file=sys.stderr)
        return 1
    return 0
