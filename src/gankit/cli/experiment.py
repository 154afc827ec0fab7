"""``gankit experiment NAME [--set key=value ...] [--out DIR]`` and ``gankit experiment --list``.

Prints the experiment's table and writes its run directory; the exit status is 0 when the
claim held at these settings and 1 when it did not (user errors exit 2 through ``main``).
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from gankit import experiments
from gankit.errors import ConfigError, GankitError
from gankit.experiments.base import DEFAULT_ROOT


_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("experiment", help="check one of the notes' claims: table, figure and JSON",
                       description="Run one of the notes' claims as a numerical check. "
                                   "`gankit experiment --list` shows them all.",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  gankit experiment --list
  gankit experiment optimal-discriminator
  gankit experiment bilinear-game --set eta=0.1 --out runs/experiments/bilinear""")
    p.add_argument("name", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and the claim each checks")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override an option; VALUE is YAML (0.1, 1e-3, [1, 2], true); repeatable")
    p.add_argument("--out", help="run directory (default: runs/experiments/NAME-YYYYmmdd-HHMMSS)")
    p.set_defaults(func=run_experiment)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``["lr=0.1", "start=[1, 2]"]`` -> ``{"lr": 0.1, "start": [1, 2]}`` (values read as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"--set {key.strip()}: cannot read {raw!r} as a value") from None
        if isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
        out[key.strip()] = value
    return out


@contextlib.contextmanager
def _no_new_empty_dirs(target: Path) -> Iterator[None]:
    """On a user error, remove the directories the failed call created and left empty.

    ``experiments.run`` creates the run directory before the experiment checks the ranges of
    its own options (``steps >= 10``, say), so a bad value would leave an empty directory."""
    existing = {d for d in [target, *target.parents] if d.exists()}
    before = set(target.iterdir()) if target.is_dir() else set()
    try:
        yield
    except GankitError:
        new = [d for d in (target.iterdir() if target.is_dir() else ()) if d not in before and d.is_dir()]
        for d in [*new, *(a for a in [target, *target.parents] if a not in existing)]:
            with contextlib.suppress(OSError):
                d.rmdir()  # only when empty: never a file the experiment wrote
        raise


def run_experiment(args: argparse.Namespace) -> int:
    if args.list:
        for name, summary, claim in experiments.describe():
            print(f"{name:22s} {summary} Claim: {claim}.")
        return 0
    if not args.name:
        raise ConfigError("name an experiment (gankit experiment --list shows them)")
    options = parse_sets(args.set)
    with _no_new_empty_dirs(Path(args.out) if args.out else DEFAULT_ROOT):
        result = experiments.run(args.name, out_dir=args.out, **options)
    print(experiments.format_table(result))
    print(f"\nwrote {result.run_dir / 'result.json'} and {result.run_dir / (result.name + '.png')}")
    return 0 if result.holds else 1
