"""``gankit bench NAME [--set key=value ...]``: run a registered benchmark."""

from __future__ import annotations

import argparse

from gankit.bench import load_all
from gankit.config import parse_overrides


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks that print numbers (modes, speed, images, objectives)")
    p.add_argument("name", nargs="?", help="benchmark name (omit to list them)")
    p.add_argument("--set", "-s", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", help="output folder for the markdown/JSON tables and figures")
    p.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    reg = load_all()
    if not args.name:
        for e in reg:
            print(f"{e.name:<12} {e.summary}")
        return 0
    options = reg.resolve(args.name, parse_overrides(args.overrides), where="bench")
    if args.out:
        options["out"] = args.out
    reg.get(args.name)(**options)
    return 0
