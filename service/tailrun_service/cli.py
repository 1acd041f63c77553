"""`tailrun server`: parse flags, start the service, print where it listens, run until SIGTERM.

The token never stays where a submitted script (or any user, with `ps`) could read it: `--token T`
is refused (a command line is world-readable in /proc/PID/cmdline), and a token given in
$TAILRUN_TOKEN makes the process re-execute itself without that variable (the kernel keeps the
initial environment in /proc/PID/environ whatever os.environ says later), receiving the token on
an inherited pipe instead (`--token-fd N`, internal).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, NoReturn

USAGE_EPILOG = ("A non-loopback --host needs a token (--token-file or $TAILRUN_TOKEN) "
                "or --insecure. Clients use TAILRUN_ADDRESS=host:port and TAILRUN_TOKEN=T.")
TOKEN_ON_COMMAND_LINE = ("--token would put the token on the command line, which every user of this machine "
                         "(and every submitted script) can read in `ps` and /proc/PID/cmdline: put it in a file "
                         "readable only by you and pass --token-file FILE, or set the TAILRUN_TOKEN variable")
ENV_TOKEN = "TAILRUN_TOKEN"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:   # one line, not argparse's usage dump
        raise _UsageError(message)


def _number(convert: Callable[[str], Any], noun: str, valid: Callable[[Any], bool],
            rule: str) -> Callable[[str], Any]:
    """An argparse `type`: `convert(text)`, or "not <noun>: <text>"; then `rule` (formatted with
    `value` and `text`) unless `valid(value)`."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(rule.format(value=value, text=text))
        return value
    return parse


_port = _number(int, "a port number", lambda v: 0 <= v <= 65535, "port {value} is outside 0-65535")
_positive = _number(int, "a number", lambda v: v >= 1, "must be at least 1, got {value}")
# NaN fails `> 0`; infinity would never time out
_seconds = _number(float, "a number of seconds", lambda v: v > 0 and v != float("inf"),
                   "must be a positive number of seconds, got {text}")


def resolve_token(args: argparse.Namespace) -> str | None:
    """The token of --token-fd (internal, see the module doc), else the first line of
    --token-file, else $TAILRUN_TOKEN, else None. Raises _UsageError for --token, for an
    unreadable or empty token file."""
    if args.token is not None:
        raise _UsageError(TOKEN_ON_COMMAND_LINE)
    if args.token_fd is not None:
        return _read_token_fd(args.token_fd)
    if args.token_file:
        try:
            text = args.token_file.read_text()
        except OSError as exc:
            raise _UsageError(f"--token-file {args.token_file}: {exc.strerror or exc}") from None
        token = (text.strip().splitlines() or [""])[0].strip()
        if not token:
            raise _UsageError(f"--token-file {args.token_file} is empty")
        return token
    return os.environ.get(ENV_TOKEN, "").strip() or None


def _read_token_fd(fd: int) -> str | None:
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    except OSError as exc:
        raise _UsageError(f"--token-fd {fd}: {exc.strerror or exc}") from None
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    return b"".join(chunks).decode().strip() or None


def _token_in_initial_environment() -> bool:
    """Whether $TAILRUN_TOKEN is in the environment this process was started with (what
    /proc/PID/environ shows to the process's user, and so to scripts running as that user)."""
    try:
        initial = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:   # no /proc: judge by the current environment
        return ENV_TOKEN in os.environ
    return any(entry.startswith(ENV_TOKEN.encode() + b"=") for entry in initial)


def reexec_without_token_variable(argv: list[str], token: str | None, token_from_file: bool) -> NoReturn:
    """Start this service again without $TAILRUN_TOKEN in its environment; the token (unless it
    is read from --token-file again) travels on a pipe the new process inherits."""
    env = {k: v for k, v in os.environ.items() if k != ENV_TOKEN}
    args = [sys.executable, "-m", "tailrun_service", *argv]
    if token and not token_from_file:
        read_end, write_end = os.pipe()
        os.write(write_end, token.encode())   # a token fits the pipe's buffer: no reader needed yet
        os.close(write_end)
        os.set_inheritable(read_end, True)
        args += ["--token-fd", str(read_end)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, args, env)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tailrun server", description="Run the tailrun service.", epilog=USAGE_EPILOG)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8245, help="port (default 8245; 0 = any free port)")
    parser.add_argument("--data-dir", type=Path, help="artifacts and the SQLite database "
                        "(default $TAILRUN_HOME or the per-user data dir)")
    parser.add_argument("--store", metavar="URL", help="database URL, e.g. postgresql+psycopg://user@host/db "
                        "(default SQLite in the data dir)")
    parser.add_argument("--token", help=argparse.SUPPRESS)   # refused, with the reason (see resolve_token)
    parser.add_argument("--token-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token-file", type=Path, metavar="PATH",
                        help="require `authorization: Bearer TOKEN` on every call but health, with the token "
                             "read from this file (first line); default: $TAILRUN_TOKEN")
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
    parser.add_argument("--compute-config", type=Path, metavar="FILE",
                        help="compute targets besides 'local' (TOML: [targets.NAME] kind = \"slurm\", "
                             "partition = ...); see the README, Running on a Slurm cluster")
    parser.add_argument("--run-as", metavar="USER",
                        help="run submitted scripts as this user (the service must run as root; default "
                             "when root: tailrun-run, created if missing). As a normal user, scripts run as "
                             "that user and can read what it can, the data dir included")
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
    if ENV_TOKEN in os.environ and _token_in_initial_environment():
        reexec_without_token_variable(argv, token, token_from_file=bool(args.token_file))
    os.environ.pop(ENV_TOKEN, None)   # set in-process (not in the initial block): no child inherits it
    for flag in ("tls_cert", "tls_key", "tls_ca"):
        path = getattr(args, flag)
        if path is not None and not path.is_file():
            print(f"tailrun server: --{flag.replace('_', '-')} {path}: no such file", file=sys.stderr)
            return 2

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tailrun_service").setLevel(logging.INFO)

    from .runner.isolation import RunUserError
    from .server import ServeError, run_forever, serve

    data_dir = args.data_dir or _default_data_dir()
    run_as = args.run_as
    if run_as is None and not args.no_runner and os.geteuid() == 0:
        from .runner.isolation import DEFAULT_RUN_USER
        run_as = DEFAULT_RUN_USER
    try:
        service = serve(host=args.host, port=args.port, data_dir=data_dir, store_url=args.store,
                        token=token, max_concurrent_runs=args.max_concurrent_runs,
                        insecure=args.insecure, tls_cert=args.tls_cert, tls_key=args.tls_key,
                        tls_ca=args.tls_ca, run_as=run_as,
                        with_runner=not args.no_runner, heartbeat_timeout=args.heartbeat_timeout,
                        max_file_bytes=args.max_file_bytes, compute_config=args.compute_config)
    except (ServeError, RunUserError) as exc:
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
