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
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_PATH",
                        help="load a plug-in (a module name or a .py file) that registers your own data sets, "
                             "networks, losses or metrics; repeatable; a run records it (see docs/your-data.md)")
    parser.add_argument("--trust-plugins", action="store_true",
                        help="load the plug-ins a run directory records (only those whose content still has the "
                             "recorded SHA-256); without it a run's plug-in is loaded only when --plugin names it")
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


def _plugin_args(argv: Sequence[str]) -> tuple[list[str], bool]:
    """The ``--plugin X`` / ``--plugin=X`` values before the sub-command, and whether
    ``--trust-plugins`` is among them."""
    out, trust, i = [], False, 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] == "--plugin" and i + 1 < len(argv):
            out.append(argv[i + 1])
            i += 2
            continue
        if argv[i].startswith("--plugin="):
            out.append(argv[i].split("=", 1)[1])
        trust = trust or argv[i] == "--trust-plugins"
        i += 1
    return out, trust


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # before the parser: plug-ins add entries that sub-commands list and configs name
        from gankit import plugins

        plugins.load_entry_points()
        specs, trust = _plugin_args(argv)
        plugins.request(specs, trust=trust)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt as e:
        from gankit.session.run import RunInterrupted

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
    """The ``gankit`` command: :func:`main`, with a Ctrl-C while torch and the sub-commands are
    still loading (the first second or so) ending as one line too."""
    try:
        status = main()
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)


if __name__ == "__main__":
    entry()
