"""``gankit data fetch NAME``, ``gankit data info NAME`` and ``gankit data stats NAME``."""

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
  gankit data stats cifar10 --out cifar10-train.npz   # Inception statistics for eval.fid_reference
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

    s = dsub.add_parser("stats", help="Inception-v3 statistics of a data set split, for FID (docs/inception.md)",
                        epilog=DATA_EPILOG, formatter_class=raw,
                        description="Compute (once: cached by a checksum of the images and the protocol) the "
                                    "float64 mean and covariance of a data set's Inception features, for "
                                    "eval.fid_reference=FILE.")
    s.add_argument("name", help="a registered data set (gankit list datasets), or folder:PATH / npz:PATH")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a data set option, e.g. --set split=test (repeatable)")
    s.add_argument("--num", type=int, default=None, metavar="N",
                   help="a random subset of N images (seed --seed) instead of the whole split")
    s.add_argument("--seed", type=int, default=0, help="seed of the --num subset (default 0)")
    s.add_argument("--resize", choices=["clean", "legacy"], default="clean",
                   help="resize to 299 px: clean (PIL bicubic, default) or legacy (bilinear, as pytorch-fid)")
    s.add_argument("--inception", metavar="PATH", help="the weights file (default: the gankit[inception] extra's)")
    s.add_argument("--device", default="cpu", help="torch device of the network (default cpu)")
    s.add_argument("--out", metavar="FILE", help="also copy the statistics to FILE (.npz)")
    s.set_defaults(func=run_stats)


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


def run_stats(args: argparse.Namespace) -> int:
    import shutil
    import time

    from gankit.metrics.inception import reference_stats

    name, options = parse_options(args.name, args.set)
    src = DATASETS.build(name, options)
    x = getattr(src, "x", None)
    if x is None or src.kind != "images":
        raise ConfigError(f"data stats needs a finite image data set, not {name!r} ({src.kind})")
    subset = "all"
    if args.num is not None:
        if not 2 <= args.num <= x.shape[0]:
            raise ConfigError(f"--num {args.num}: choose 2 <= N <= {x.shape[0]} (the split's size)")
        x = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(args.seed))[:args.num]]
        subset = f"{args.num} drawn without replacement, seed {args.seed}"
    source = {"data": name, "options": options, "split": options.get("split", "train"), "subset": subset}
    t0 = time.perf_counter()
    path, reused = reference_stats(x, source, path=args.inception, resize=args.resize, device=args.device)
    how = "reused" if reused else f"computed in {time.perf_counter() - t0:.1f} s"
    print(f"{name}: Inception statistics of {x.shape[0]} images (resize={args.resize}), {how}: {path}")
    if args.out:
        shutil.copyfile(path, args.out)
        print(f"  copied to {args.out}; use it with eval.fid_reference={args.out}")
    return 0
