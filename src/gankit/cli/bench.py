"""``gankit bench NAME [--set key=value ...]``: run a registered benchmark;
``gankit bench NAME --help``: its options, read from the benchmark's signature and docstring."""

from __future__ import annotations

import argparse
import inspect

from gankit.bench import load_all
from gankit.config import parse_overrides

BENCH_EPILOG = """\
examples:
  gankit bench                                   # the benchmarks, one line each
  gankit bench modes --help                      # one benchmark's options, types and defaults
  gankit bench modes --set methods=[gan,base] --set setups=[ring] --set seeds=2 --out runs/bench/try
"""


def register(sub: argparse._SubParsersAction) -> None:
    names = ", ".join(load_all().names())
    p = sub.add_parser("bench", help=f"benchmarks that print numbers ({names})", add_help=False,
                       description="Run a benchmark: it prints its table and writes markdown + JSON (and "
                                   "figures) into --out, nothing elsewhere. Options are --set KEY=VALUE, checked "
                                   "like config keys. Benchmarks run for minutes to hours: `gankit bench NAME "
                                   "--help` says how long.",
                       epilog=BENCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-h", "--help", action="store_true", help="show this help; with NAME, that benchmark's options")
    p.add_argument("name", nargs="?", metavar="NAME", help=f"benchmark: {names} (omit to list them)")
    p.add_argument("--set", "-s", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a benchmark option (repeatable); `gankit bench NAME --help` lists them")
    p.add_argument("--out", metavar="DIR", help="output folder for the markdown/JSON tables and figures")
    p.set_defaults(func=run_bench, bench_parser=p)


def bench_help(name: str) -> str:
    """A benchmark's description (its docstring) and every option with type, default and meaning."""
    from gankit.cli.inspect import option_lines

    reg = load_all()
    entry = reg.entry(name)  # unknown name: one line listing the benchmarks
    doc = inspect.getdoc(entry.factory) or entry.summary
    lines = [f"gankit bench {name}: {entry.summary}" + (f" ({entry.paper})" if entry.paper else ""), "",
             doc, "", f"run time: {entry.meta['runtime']}", "",
             "options (--set KEY=VALUE; --out DIR sets out; nothing is written outside out):"]
    lines += [f"  {line}" for line in option_lines(entry, reg.context)]
    return "\n".join(lines)


def run_bench(args: argparse.Namespace) -> int:
    reg = load_all()
    if args.help:
        print(bench_help(args.name) if args.name else args.bench_parser.format_help())
        return 0
    if not args.name:
        for e in reg:
            print(f"{e.name:<12} {e.summary}")
        return 0
    options = reg.resolve(args.name, parse_overrides(args.overrides), where="bench")
    if args.out:
        options["out"] = args.out
    reg.get(args.name)(**options)
    return 0
