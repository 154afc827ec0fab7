"""``gankit data fetch NAME`` and ``gankit data info NAME``."""

from __future__ import annotations

import argparse

import torch

from gankit.data import DATASETS
from gankit.data.fetch import IDX_SETS, data_dir, fetch
from gankit.errors import ConfigError


DATA_EPILOG = """\
examples:
  gankit data fetch fashion-mnist            # finds Debian's dataset-fashion-mnist, or downloads
  gankit data info fashion-mnist --set split=test
  gankit data info folder:/path/to/images --set size=32
"""


def register(sub: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("data", help="download data sets and describe them", epilog=DATA_EPILOG, formatter_class=raw,
                       description="fetch: make an IDX data set's official files available (checksums checked); "
                                   "info: count, shape, classes and value range of any data set.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True,
                            parser_class=type(p))
    f = dsub.add_parser("fetch", help="make the official files of an IDX data set available, checking checksums",
                        description="Use a system copy that verifies (Debian's dataset-fashion-mnist in "
                                    "/usr/share/datasets), else download the official files with their checksums.",
                        epilog=DATA_EPILOG, formatter_class=raw)
    f.add_argument("name", choices=list(IDX_SETS))
    f.add_argument("--dir", help=f"put the files in this directory (default: a verified system copy where it is, "
                                 f"else {data_dir()}/NAME)")
    f.set_defaults(func=run_fetch)

    i = dsub.add_parser("info", help="count, shape, classes and value range of a data set", epilog=DATA_EPILOG,
                        formatter_class=raw, description="Describe a data set as gankit loads it.")
    i.add_argument("name", help="a registered data set (gankit list datasets), or folder:PATH / npz:PATH")
    i.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a data set option, e.g. --set size=32 --set split=test (repeatable)")
    i.set_defaults(func=run_info)


def run_fetch(args: argparse.Namespace) -> int:
    out = fetch(args.name, args.dir)
    print(f"{args.name}: files in {out}")
    return 0


def parse_options(name: str, pairs: list[str]) -> tuple[str, dict]:
    """``folder:PATH`` shorthand and ``KEY=VALUE`` pairs (values parsed as YAML); a key may
    be spelled as ``gankit train`` spells it (``data.labels=kind``) or without ``data.``."""
    from gankit.config import parse_value

    options = {}
    if ":" in name and name.split(":", 1)[0] in DATASETS:
        name, options["path"] = name.split(":", 1)
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r} is not of the form KEY=VALUE")
        options[key.strip().removeprefix("data.")] = parse_value(text)  # data.labels=kind, as train spells it
    return name, options


def run_info(args: argparse.Namespace) -> int:
    name, options = parse_options(args.name, args.set)
    src = DATASETS.build(name, options)
    x = getattr(src, "x", None)
    if x is None:  # infinite toy distributions: describe a sample
        x, _ = src.sample(10_000, torch.Generator().manual_seed(0))
        print(f"{name}: {src.kind}, infinite (statistics of 10000 samples)")
    else:
        print(f"{name}: {src.kind}, {x.shape[0]} examples")
    print(f"  shape        {tuple(src.shape)}")
    lo, hi, mean = (float(v) + 0.0 for v in (x.min(), x.max(), x.float().mean()))  # + 0.0: never "-0"
    print(f"  value range  [{lo:.4g}, {hi:.4g}], mean {mean:.4g}")
    y = getattr(src, "y", None)
    if src.num_classes and y is not None:
        counts = torch.bincount(y, minlength=src.num_classes).tolist()
        names = getattr(src, "class_names", [str(k) for k in range(src.num_classes)])
        print(f"  classes      {src.num_classes}: " + ", ".join(f"{n} ({c})" for n, c in zip(names, counts)))
    else:
        print("  classes      none (unlabelled)")
    return 0
