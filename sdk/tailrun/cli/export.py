"""`tailrun export RUN|EXPERIMENT DIR [--format csv|json|parquet]`: a run (with its child runs) or
an experiment as plain files; the layout is in tailrun/export.py. Prints the exported run ids."""
from __future__ import annotations

import sys

from .._extras import MissingExtra
from .._settings import Settings
from ..exceptions import TailrunError
from .progress import progress_for
from .query import _parser
from .terminal import safe


def main(argv: list[str]) -> int:
    parser = _parser("export", "Export a run (and its child runs) or a whole experiment into a new folder.")
    parser.add_argument("source", help="a run id or an experiment name")
    parser.add_argument("dest", help="the folder to create (it must not exist)")
    parser.add_argument("--format", choices=("csv", "json", "parquet"), default="csv",
                        help="format of each run's metrics file (default csv; parquet needs the 'export' extra)")
    args = parser.parse_intermixed_args(argv[1:])
    from ..client import Client
    from ..export import export
    client = Client(Settings.resolve(args.address, args.token))
    try:
        run_ids = export(client, args.source, args.dest, args.format, progress=progress_for)
    except (TailrunError, MissingExtra, OSError, ValueError) as exc:
        print(f"tailrun export: {safe(str(exc))}", file=sys.stderr)
        return 1
    finally:
        client.close()
    for run_id in run_ids:
        print(safe(run_id))
    print(f"exported {len(run_ids)} run{'s' if len(run_ids) != 1 else ''} to {safe(args.dest)}", file=sys.stderr)
    return 0
