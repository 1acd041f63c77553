"""`tailrun sync`: upload the spools that processes left behind (the service was unreachable, or
the process died before everything was acknowledged).

Each spool keeps its writer id and sequence numbers, so uploading one twice stores nothing twice.
A spool still owned by a live process is left alone (its owner sends it). What could not be sent
is said on stderr with counts (damaged records, the batches lost with them, events refused by the
service), and the exit status is then 1.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from .._settings import ENV_ADDRESS, Settings, home_dir
from .._spool import abandoned, claim, read_target, spool_root
from .terminal import safe


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tailrun sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", help="send to this service (host:port) instead of the one each "
                                          "spool was meant for")
    parser.add_argument("--token", help="the service's token (default: the spool's, or $TAILRUN_TOKEN)")
    parser.add_argument("--dry-run", action="store_true", help="only print what would be sent")
    return parser


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def _destination(args: argparse.Namespace, target: dict) -> tuple[str | None, str | None]:
    """Where one spool goes: --address, else the spool's own target, else env / the local service."""
    if args.address:
        return args.address, args.token or os.environ.get("TAILRUN_TOKEN") or None
    if target.get("address") and not target.get("local"):
        return target["address"], args.token or target.get("token") or os.environ.get("TAILRUN_TOKEN")
    from .._local import resolve_address

    address, token, _ = resolve_address(Settings.resolve(token=args.token))
    return address, token


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv[1:])
    root = spool_root(home_dir())
    folders = abandoned(root)
    if not folders:
        print(f"tailrun sync: nothing to upload (no spooled data under {root})")
        return 0
    from .._upload import summarize_folder, upload_folder

    failures = 0
    for folder in folders:
        target = read_target(folder)
        if args.dry_run:
            plan = summarize_folder(folder)
            where = args.address or target.get("address") or "the local service"
            split = f"; {plan.split} over the message limit would be sent in parts" if plan.split else ""
            print(f"would send {plan.batches} batches ({plan.events} events, {_size(plan.bytes)}) "
                  f"of writer {safe(plan.writer)} to {safe(where)}{split}")
            for line in plan.losses():
                print(f"tailrun sync: writer {safe(plan.writer)}: {safe(line)}", file=sys.stderr)
            continue
        address, token = _destination(args, target)
        if not address:
            print(f"tailrun sync: no service to send {safe(folder.name)} to: pass --address or set {ENV_ADDRESS}",
                  file=sys.stderr)
            return 2
        failures += not _upload_one(folder, address, token, upload_folder)
    return 1 if failures else 0


def _upload_one(folder: Path, address: str, token: str | None, upload_folder) -> bool:
    fd = claim(folder)
    if fd is None:   # its owner came back to life, or another sync took it
        return True
    try:
        result = upload_folder(folder, address, token)
        shutil.rmtree(folder, ignore_errors=True)   # still holding its lock
    except Exception as exc:
        print(f"tailrun sync: could not upload {safe(folder.name)} to {safe(address)}: {safe(str(exc))}; "
              "the spool is kept",
              file=sys.stderr)
        return False
    finally:
        os.close(fd)
    already = f"; {result.already} were already stored" if result.already else ""
    split = (f"; {result.split} over the message limit were sent in {result.parts} parts"
             if result.split else "")
    print(f"sent {result.batches} batches ({result.events} events, {_size(result.bytes)}) of writer "
          f"{safe(result.writer)} to {safe(address)}{already}{split}")
    for line in result.losses():
        print(f"tailrun sync: LOST data of writer {safe(result.writer)}: {safe(line)}", file=sys.stderr)
    if result.rejected:
        shown = "; ".join(result.rejected[:5]) + ("; ..." if len(result.rejected) > 5 else "")
        print(f"tailrun sync: the service refused {len(result.rejected)} events of writer "
              f"{safe(result.writer)}: {safe(shown)}", file=sys.stderr)
    return not (result.lost or result.rejected)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(["sync", *sys.argv[1:]]))
