"""`tailrun compute list`: the service's compute targets with their live state.

    tailrun compute list [--address HOST:PORT] [--token T]

NAME, KIND, STATE ("Succeeded" when usable) and a one-line DETAIL (for a Slurm target, the
partition's idle/allocated/down nodes from `sinfo`).
"""
from __future__ import annotations

import argparse
import sys

from .._settings import Settings
from ..exceptions import TailrunError
from .query import print_table
from .terminal import safe


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tailrun compute", description="The service's compute targets.")
    parser.add_argument("action", choices=["list"], help="list: every target with its live state")
    parser.add_argument("--address", help="service host:port (default: $TAILRUN_ADDRESS or the local service)")
    parser.add_argument("--token", help="access token (default: $TAILRUN_TOKEN)")
    args = parser.parse_args(argv[1:])
    from ..client import Client

    client = Client(Settings.resolve(args.address, args.token))
    try:
        targets = client.list_compute_targets()
    except TailrunError as exc:
        print(f"tailrun compute: {safe(str(exc))}", file=sys.stderr)
        return 1
    finally:
        client.close()
    print_table(sys.stdout, ("NAME", "KIND", "STATE", "DETAIL"),
                [(t.name, t.kind, t.state, t.detail) for t in targets])
    return 0
