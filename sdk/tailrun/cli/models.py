"""`tailrun models`: the model registry from the shell.

    tailrun models [--name N] [--tag K[=V]]... [--run RUN] [--latest]   the registered versions
    tailrun models show NAME[:VERSION]                                   one version (default: latest)
    tailrun models download NAME[:VERSION] DIR [--overwrite]             its files into DIR

Each takes --address/--token (default: TAILRUN_ADDRESS / TAILRUN_TOKEN / the local service).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from .._settings import Settings
from ..exceptions import TailrunError
from .query import _when, print_table
from .terminal import safe


def main(argv: list[str]) -> int:
    rest = argv[1:]
    action = rest[0] if rest and rest[0] in ("show", "download") else "list"
    args = _parser(action).parse_args(rest[1:] if action != "list" else rest)
    settings = Settings.resolve(args.address, args.token)
    from ..client import Client
    client = Client(settings)
    try:
        if action == "list":
            return list_models(client, args, sys.stdout)
        if action == "show":
            return show(client, args, sys.stdout)
        return download(settings, args, sys.stdout)
    except TailrunError as exc:
        print(f"tailrun models: {safe(str(exc))}", file=sys.stderr)
        return 1
    finally:
        client.close()


def _parser(action: str) -> argparse.ArgumentParser:
    prog = "tailrun models" + ("" if action == "list" else f" {action}")
    descriptions = {"list": "List registered models (`show` and `download` take NAME[:VERSION]).",
                    "show": "Show one registered model version (the latest without :VERSION).",
                    "download": "Download a registered model's files into a folder."}
    parser = argparse.ArgumentParser(prog=prog, description=descriptions[action])
    parser.add_argument("--address", help="service host:port (default: $TAILRUN_ADDRESS or the local service)")
    parser.add_argument("--token", help="access token (default: $TAILRUN_TOKEN)")
    if action == "list":
        parser.add_argument("--name", help="only this model name")
        parser.add_argument("--tag", action="append", default=[], metavar="K[=V]",
                            help="only models with tag K (equal to V); repeatable")
        parser.add_argument("--run", help="only models registered from this run")
        parser.add_argument("--latest", action="store_true", help="only the newest version of each name")
    else:
        parser.add_argument("model", metavar="NAME[:VERSION]")
    if action == "download":
        parser.add_argument("dir", help="target folder (created if needed)")
        parser.add_argument("--overwrite", action="store_true", help="replace files that exist")
    return parser


def _name_version(text: str) -> tuple[str, int]:
    name, sep, version = text.rpartition(":")
    if not sep:
        return text, 0
    if not version.isdigit() or not name:
        raise SystemExit(f"tailrun models: {text!r} is not NAME or NAME:VERSION (a version is a number)")
    return name, int(version)


def _tags(tags: Any) -> str:
    return ", ".join(f"{k}={v}" if v else k for k, v in sorted(tags.items()))


def list_models(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    from ..v1 import tailrun_pb2 as pb
    req = pb.ListModelsRequest(name=args.name or "", run_id=args.run or "", latest=args.latest)
    for tag in args.tag:
        key, sep, value = tag.partition("=")
        if sep:
            req.tags[key] = value
        else:
            req.tag_keys.append(key)
    models = client.list_models(req)
    if not models:
        print("no models match" if args.name or args.tag or args.run else "no models are registered", file=out)
        return 0
    rows = [(m.name, str(m.version), m.run_id or "-", _when(m.created_time), _tags(m.tags)) for m in models]
    print_table(out, ("NAME", "VERSION", "RUN", "CREATED", "TAGS"), rows)
    return 0


def show(client: Any, args: argparse.Namespace, out: TextIO) -> int:
    name, version = _name_version(args.model)
    m = client.get_model(name, version)
    fields = [("Name", m.name), ("Version", str(m.version)), ("Id", m.id), ("Run", m.run_id or "-"),
              ("Experiment", m.experiment or "-"), ("Created", _when(m.created_time)),
              ("Created by", m.created_by or "-"), ("Model path", m.model_path or "-"),
              ("Description", m.description or "-"), ("Tags", _tags(m.tags) or "-"),
              ("Properties", ", ".join(f"{k}={v}" for k, v in sorted(m.properties.items())) or "-")]
    for label, value in fields:
        print(f"{label + ':':<13}{safe(value)}", file=out)
    print(f"Files ({len(m.files)}, {sum(f.size for f in m.files)} bytes):", file=out)
    print_table(out, ("  PATH", "SIZE"), [("  " + f.path, str(f.size)) for f in m.files])
    return 0


def download(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from ..model import Model
    from ..workspace import Workspace
    name, version = _name_version(args.model)
    # _from_config: these are a service's settings, never Azure's positional workspace names
    ws = Workspace(address=settings.address, token=settings.token, ca_file=settings.ca_file, _from_config=True)
    model = Model(ws, name=name, version=version or None)
    path = model.download(args.dir, exist_ok=args.overwrite)
    print(f"downloaded {safe(model.id)} to {safe(path)}", file=out)
    return 0
