"""`tailrun runs`, `tailrun logs`, `tailrun metrics`: read-only views of the service for the shell.

    tailrun runs [EXPERIMENT] [--all|--tree] [--limit N]
                                                    aligned table of runs, newest first; --tree puts
                                                    each run's children under it (a sweep's best
                                                    first, a pipeline's steps in order)
    tailrun logs RUN [-f]                           print a run's console; -f follows it live
    tailrun metrics RUN [NAME] [--format csv|json|parquet] [-o FILE]
                                                    every value with its step and time, exactly

Each takes --address/--token (default: TAILRUN_ADDRESS / TAILRUN_TOKEN / the local service).
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from typing import Any, TextIO

from .._settings import Settings
from .._status import is_terminal
from .._extras import MissingExtra
from ..exceptions import TailrunError
from ..metrics_table import FORMATS, KIND_NAMES, exact_text
from ..run_tree import ordered_children, sweep_metric
from .terminal import RESET, is_terminal as _tty, safe, safe_output

DEFAULT_LIMIT = 50


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    handlers = {"runs": (_runs_parser, runs), "logs": (_logs_parser, logs), "metrics": (_metrics_parser, metrics)}
    if command not in handlers:
        print(f"tailrun: {command!r} is not a query command (runs, logs, metrics)", file=sys.stderr)
        return 2
    make_parser, handler = handlers[command]
    args = make_parser().parse_intermixed_args(rest)  # options anywhere: `metrics RUN --system NAME`
    from ..client import Client
    client = Client(Settings.resolve(args.address, args.token))
    try:
        return handler(client, args, sys.stdout)
    except (TailrunError, MissingExtra) as exc:
        print(f"tailrun {command}: {safe(str(exc))}", file=sys.stderr)
        return 1
    finally:
        client.close()


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"tailrun {prog}", description=description)
    parser.add_argument("--address", help="service host:port (default: $TAILRUN_ADDRESS or the local service)")
    parser.add_argument("--token", help="access token (default: $TAILRUN_TOKEN)")
    return parser


# ---------------------------------------------------------------------- runs

def _runs_parser() -> argparse.ArgumentParser:
    parser = _parser("runs", "List runs, newest first.")
    parser.add_argument("experiment", nargs="?", help="only this experiment (default: every experiment)")
    parser.add_argument("--all", action="store_true", help="every run, child runs included, no limit")
    parser.add_argument("--tree", action="store_true",
                        help="each run's children indented under it: a sweep's trials best first with their "
                             "hyperparameters and primary metric, a pipeline's steps in dependency order")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"at most N runs (default {DEFAULT_LIMIT})")
    return parser


def runs(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    if args.limit < 0:
        raise SystemExit("tailrun runs: --limit must be >= 0")
    if args.tree and args.all:
        raise SystemExit("tailrun runs: give --tree or --all, not both")
    everything = args.all or args.tree
    infos = client.list_runs(experiment=args.experiment or "", include_children=everything,
                             limit=0 if everything else args.limit)
    if not infos:
        where = f"experiment {args.experiment!r}" if args.experiment else client.address
        print(f"no runs in {safe(where)}", file=out)
        return 0
    now = time.time()
    header = ("#", "RUN ID", "STATUS", "STARTED", "DURATION", "NAME")
    if not args.experiment:
        header = ("EXPERIMENT",) + header
    def row(info: Any, indent: str = "", name: str | None = None) -> tuple[str, ...]:
        started = info.start_time or info.created_time
        end = info.end_time if is_terminal(info.status) and info.end_time else now
        cells = (str(info.number), indent + info.run_id, info.status, _when(started),
                 _duration(end - started) if started else "", info.display_name if name is None else name)
        return ((info.experiment,) + cells) if not args.experiment else cells

    if not args.tree:
        print_table(out, header, [row(info) for info in infos])
        return 0
    by_parent: dict[str, list[Any]] = {}
    for info in infos:
        by_parent.setdefault(info.parent_run_id, []).append(info)
    rows: list[tuple[str, ...]] = []

    def add(info: Any, depth: int, name: str | None = None) -> None:
        rows.append(row(info, "  " * depth, name))
        kids = by_parent.get(info.run_id)
        if kids:
            metric = sweep_metric(info)
            if metric:   # lists carry only the metric columns asked for: the trials' primary metric
                kids = client.list_runs(parent_run_id=info.run_id, metric_columns=[metric])
            ordered = ordered_children(info, kids)
            for child in ordered.children:
                label = child.label or child.info.display_name
                if ordered.kind == "sweep":
                    value = "—" if child.metric is None else f"{child.metric:.6g}"
                    label = f"{ordered.metric_name}={value}  {label}".rstrip()
                add(child.info, depth + 1, label)

    for info in by_parent.get("", [])[:args.limit or None]:
        add(info, 0)
    print_table(out, header, rows)
    return 0


def print_table(out: TextIO, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Aligned columns; every cell is user data, escaped (see terminal.safe)."""
    rows = [tuple(safe(cell) for cell in row) for row in rows]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S") if seconds else ""


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ---------------------------------------------------------------------- logs

def _logs_parser() -> argparse.ArgumentParser:
    parser = _parser("logs", "Print a run's console output.")
    parser.add_argument("run", help="run id")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new output until the run ends")
    parser.add_argument("--raw", action="store_true",
                        help="the console's text exactly, escape sequences included (default: on a "
                             "terminal only colours are kept, other escape sequences are removed)")
    return parser


def logs(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    console = _Console(out, raw=getattr(args, "raw", False))
    try:
        return _logs(client, args, console)
    finally:
        console.close()


def _logs(client: Any, args: argparse.Namespace, console: "_Console") -> int:
    info = client.get_run(args.run)
    first = client.read_output(args.run)
    console.write(first.text)
    if not args.follow or is_terminal(info.status):
        return 0
    path = first.path
    printed = first.size  # the byte offset where the text read ends
    # Replay from the start and skip what was printed (by byte offset): no gap, no repeat. Followed
    # across reconnects: a restarted service does not end it.
    from .._script_wait import GIVE_UP_SECONDS
    follow = client.follow(run_id=args.run, from_start=True, kinds=["output", "status"],
                           give_up_after=GIVE_UP_SECONDS)
    try:
        for event in follow:
            kind = event.WhichOneof("kind")
            if kind == "output" and (not path or event.output.path == path):
                path = event.output.path
                data = event.output.text.encode("utf-8")
                end = event.output.size or event.output.offset + len(data)
                if end > printed:
                    console.write(data[max(0, printed - event.output.offset):].decode("utf-8", "replace"))
                    printed = end
            elif kind == "run" and is_terminal(event.run.status):
                return 0
    except KeyboardInterrupt:
        return 130
    finally:
        follow.stop()
    return 1   # not reached: a follow ends only by stop() or an error


class _Console:
    """Writes a run's console: colours kept on a terminal, other escape sequences removed, other
    control characters escaped (terminal.safe_output); exact with --raw."""

    def __init__(self, out: TextIO, raw: bool) -> None:
        self.out = out
        self.raw = raw
        self.colour = _tty(out)
        self.coloured = False

    def write(self, text: str) -> None:
        if not text:
            return
        shown = text if self.raw else safe_output(text, self.colour)
        self.coloured = self.coloured or (self.colour and "\x1b[" in shown)
        self.out.write(shown)
        self.out.flush()

    def close(self) -> None:
        if self.coloured and not self.raw:   # a run that left a colour on does not colour the prompt
            self.out.write(RESET)
            self.out.flush()


# ---------------------------------------------------------------------- metrics

def _metrics_parser() -> argparse.ArgumentParser:
    parser = _parser("metrics", "Print a run's metrics: every value with its step and time, exactly.")
    parser.add_argument("run", help="run id")
    parser.add_argument("name", nargs="?", help="only this metric")
    parser.add_argument("--format", choices=FORMATS, dest="format",
                        help="a table with the columns metric,kind,index,step,time,column,value "
                             "(csv; json: one object per line; parquet: needs -o and the 'export' extra)")
    parser.add_argument("--csv", action="store_const", const="csv", dest="format",
                        help="the same as --format csv")
    parser.add_argument("-o", "--output", help="write to this file instead of standard output")
    parser.add_argument("--system", action="store_true",
                        help="the run's system metrics (CPU, memory, disk, network, GPUs) instead; "
                             "step = sample index")
    return parser


def metrics(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    from .._system_metrics import shown_chunks, stored_name
    from ..metrics_shape import collect, series
    if args.format == "parquet" and not args.output:
        raise SystemExit("tailrun metrics: --format parquet writes a file: add -o FILE.parquet")
    client.get_run(args.run)  # a clear RunNotFound before anything else
    wanted = (stored_name(args.name) if args.system else args.name) if args.name else ""
    chunks = [c for c in client.get_metrics(args.run, wanted, system=args.system) if not wanted or c.name == wanted]
    if args.system:
        shown_chunks(chunks)
    what = "system metric" if args.system else "metric"
    if args.name and not chunks:
        print(f"run {args.run} has no {what} {args.name!r}", file=sys.stderr)
        return 1
    if not chunks:
        hint = " (sampling was off, not on Linux, or the run ended before its first sample)" if args.system else ""
        print(f"run {args.run} has no {what}s{hint}", file=sys.stderr)
    if args.format:
        return _write_table(chunks, args, out)
    for name, data in collect(chunks, with_index=True).items():
        s = series(data)
        kind = KIND_NAMES.get(data.kind, str(data.kind))
        print(f"{safe(name)} ({kind}, {len(s)} value{'s' if len(s) != 1 else ''})", file=out)
        rows = [(str(i), "" if step is None else str(step), _when_exact(t), _cell_text(v))
                for i, (step, v, t) in enumerate(s)]
        print_table(out, ("  INDEX", "STEP", "TIME", "VALUE"), [("  " + r[0],) + r[1:] for r in rows])
        print(file=out)
    return 0


def _write_table(chunks: list, args: argparse.Namespace, out: TextIO) -> int:
    """csv / json / parquet of the flat table (tailrun.metrics_table), to -o FILE or stdout."""
    from ..metrics_table import metric_table, write_csv, write_json, write_parquet
    table = metric_table(chunks)
    if args.format == "parquet":
        write_parquet(table, args.output)
        return 0
    target = open(args.output, "w", encoding="utf-8", newline="") if args.output else out
    try:
        if args.format == "csv":
            # CSV is exact data in a file or a pipe; on a terminal its text cells are escaped too.
            write_csv(table, target, cell=safe if _tty(target) else str)
        elif _tty(target):
            for line in _json_lines(table):
                print(safe(line), file=target)
        else:
            write_json(table, target)
    finally:
        if target is not out:
            target.close()
    return 0


def _json_lines(table: dict) -> list[str]:
    import io
    from ..metrics_table import write_json
    buf = io.StringIO()
    write_json(table, buf)
    return buf.getvalue().splitlines()


def _cell_text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={'None' if v is None else exact_text(v)}" for k, v in value.items())
    return "None" if value is None else exact_text(value)


def _when_exact(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S.%f") if seconds else ""
