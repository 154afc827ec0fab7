"""``gankit`` entry point. Each sub-command lives in its own module exposing
``register(subparsers)``; user errors become one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from gankit.errors import GankitError

# Sub-command modules, in the order `gankit --help` lists them.
COMMAND_MODULES = [
    "gankit.cli.train",
    "gankit.cli.inspect",
    "gankit.cli.experiment",
    "gankit.cli.data",
    "gankit.cli.bench",
    "gankit.cli.images",
    "gankit.cli.aae",
    "gankit.cli.report",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, status 2
        self.exit(2, f"gankit: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gankit", description="Generative adversarial networks, checked against the mathematics.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # a sub-command not written yet
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        from gankit.training.run import RunInterrupted

        if isinstance(e, RunInterrupted):
            print(f"gankit: {e}", file=sys.stderr)
            return 128 + e.signum
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except FloatingPointError as e:
        print(f"gankit: error: training diverged: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a file or folder the command could not read or write: one line, not a traceback
        where = f": {e.filename}" if e.filename else ""
        print(f"gankit: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except MemoryError:
        print("gankit: error: out of memory (ask for fewer samples, a smaller batch or smaller networks)",
              file=sys.stderr)
        return 2


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
