"""`tailrun server`: parse flags, start the service, print where it listens, run until SIGTERM."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

USAGE_EPILOG = ("A non-loopback --host needs a token (--token, --token-file or $TAILRUN_TOKEN) "
                "or --insecure. Clients use TAILRUN_ADDRESS=host:port and TAILRUN_TOKEN=T.")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:   # one line, not argparse's usage dump
        raise _UsageError(message)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 0-65535")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def resolve_token(args: argparse.Namespace) -> str | None:
    """--token, else the first line of --token-file, else $TAILRUN_TOKEN, else None.
    Raises _UsageError for an unreadable or empty token file, or two sources at once."""
    if args.token and args.token_file:
        raise _UsageError("give --token or --token-file, not both")
    if args.token_file:
        try:
            text = args.token_file.read_text()
        except OSError as exc:
            raise _UsageError(f"--token-file {args.token_file}: {exc.strerror or exc}") from None
        token = (text.strip().splitlines() or [""])[0].strip()
        if not token:
            raise _UsageError(f"--token-file {args.token_file} is empty")
        return token
    return args.token or os.environ.get("TAILRUN_TOKEN", "").strip() or None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tailrun server", description="Run the tailrun service.", epilog=USAGE_EPILOG)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8245, help="port (default 8245; 0 = any free port)")
    parser.add_argument("--data-dir", type=Path, help="artifacts and the SQLite database "
                        "(default $TAILRUN_HOME or the per-user data dir)")
    parser.add_argument("--store", metavar="URL", help="database URL, e.g. postgresql+psycopg://user@host/db "
                        "(default SQLite in the data dir)")
    parser.add_argument("--token", help="require `authorization: Bearer TOKEN` on every call but health "
                        "(visible in `ps`: prefer --token-file or $TAILRUN_TOKEN)")
    parser.add_argument("--token-file", type=Path, metavar="PATH",
                        help="read the token from this file (first line); default: $TAILRUN_TOKEN")
    parser.add_argument("--max-concurrent-runs", type=_positive, metavar="N",
                        help="submitted runs executing at once (default: CPU count)")
    parser.add_argument("--insecure", action="store_true", help="allow a non-loopback host without a token")
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate (with --tls-key)")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key (with --tls-cert)")
    parser.add_argument("--tls-ca", type=Path, metavar="FILE", help="PEM of the CA that signed --tls-cert, "
                        "given to submitted runs as TAILRUN_CA (default: --tls-cert itself, for a "
                        "self-signed certificate)")
    parser.add_argument("--port-file", type=Path, metavar="PATH", help="write the bound port here once listening")
    parser.add_argument("--no-runner", action="store_true", help="do not run submitted scripts")
    parser.add_argument("--stop-runs-on-exit", action="store_true",
                        help="on SIGTERM/SIGINT, terminate the submitted runs (Failed, ServiceStopped); "
                             "by default they keep running and the next service on this data dir adopts them")
    parser.add_argument("--max-file-bytes", type=_positive, metavar="N", default=None,
                        help="largest run file or image stored (default 4 GiB)")
    parser.add_argument("--heartbeat-timeout", type=_seconds, default=60.0, metavar="SECONDS",
                        help="a run not heartbeating this long becomes NotResponding, after twice "
                             "this long Failed (default 60; the SDK heartbeats every 10 s)")
    return parser


def write_port_file(path: Path, port: int) -> None:
    """Write atomically, so a reader never sees an empty or partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".port-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{port}\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default_data_dir() -> Path:
    from tailrun._settings import home_dir  # honours $TAILRUN_HOME

    return home_dir()


def _store_kind(url: str | None) -> str:
    if not url:
        return "sqlite"
    return url.split(":", 1)[0].split("+", 1)[0] or "?"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "server":
        argv = argv[1:]
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        print(f"tailrun server: {exc} (see tailrun server --help)", file=sys.stderr)
        return 2
    except SystemExit as exc:   # --help
        return int(exc.code or 0)
    try:
        token = resolve_token(args)
    except _UsageError as exc:
        print(f"tailrun server: {exc}", file=sys.stderr)
        return 2
    for flag in ("tls_cert", "tls_key", "tls_ca"):
        path = getattr(args, flag)
        if path is not None and not path.is_file():
            print(f"tailrun server: --{flag.replace('_', '-')} {path}: no such file", file=sys.stderr)
            return 2

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tailrun_service").setLevel(logging.INFO)

    from .server import ServeError, run_forever, serve

    data_dir = args.data_dir or _default_data_dir()
    try:
        service = serve(host=args.host, port=args.port, data_dir=data_dir, store_url=args.store,
                        token=token, max_concurrent_runs=args.max_concurrent_runs,
                        insecure=args.insecure, tls_cert=args.tls_cert, tls_key=args.tls_key,
                        tls_ca=args.tls_ca,
                        with_runner=not args.no_runner, heartbeat_timeout=args.heartbeat_timeout,
                        max_file_bytes=args.max_file_bytes)
    except ServeError as exc:
        print(f"tailrun server: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:   # e.g. the database is unreachable: one line, not a traceback
        first_line = (str(exc).strip().splitlines() or [""])[0]
        print(f"tailrun server: cannot start: {type(exc).__name__}: {first_line}", file=sys.stderr)
        return 1
    try:
        if args.port_file:
            write_port_file(args.port_file, service.port)
        tls = ", tls" if args.tls_cert else ""
        print(f"tailrun server listening on {service.address} "
              f"(data: {service.data_dir}, store: {_store_kind(args.store)}{tls})", flush=True)
    except BaseException:
        service.stop(grace=0)
        raise
    return run_forever(service, stop_runs=args.stop_runs_on_exit)
