"""`tailrun download RUN [--prefix P] [DIR]`: a run's files (those under P) into DIR (default:
the current folder), keeping their run paths; a progress bar on stderr for large files when it is
a terminal. Prints each local path."""
from __future__ import annotations

import sys
from pathlib import Path

from .._settings import Settings
from ..exceptions import TailrunError
from .progress import progress_for
from .query import _parser
from .terminal import safe


def main(argv: list[str]) -> int:
    parser = _parser("download", "Download a run's files, keeping their paths.")
    parser.add_argument("run", help="run id")
    parser.add_argument("dest", nargs="?", default=".", help="folder to write into (default: the current folder)")
    parser.add_argument("--prefix", default="", help="only files whose path starts with this, e.g. outputs/")
    args = parser.parse_intermixed_args(argv[1:])
    from ..client import Client
    from ..run_files import _clean_prefix, download
    from ..run_logging import clean_artifact_path
    client = Client(Settings.resolve(args.address, args.token))
    try:
        prefix = _clean_prefix(args.prefix)
        client.get_run(args.run)  # a clear RunNotFound first
        files = [f for f in client.list_files(args.run, prefix=prefix) if f.path.startswith(prefix)]
        if not files:
            print(f"tailrun download: run {safe(args.run)} has no files"
                  + (f" under {safe(prefix)!r}" if prefix else ""), file=sys.stderr)
            return 1
        base = Path(args.dest)
        for f in files:
            dest = base / clean_artifact_path(f.path)
            download(client, args.run, f.path, dest, progress_for(f.path, f.size))
            print(safe(str(dest)))
    except (TailrunError, OSError, ValueError) as exc:
        print(f"tailrun download: {safe(str(exc))}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0
