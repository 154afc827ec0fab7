"""``gankit encode``: the codes ``E(x)`` of an adversarial autoencoder run's data set.

``gankit sample`` needs nothing here: for ``model=aae`` it decodes prior samples through
the recipe's ``generate``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from gankit.capabilities import Encodes
from gankit.errors import ConfigError
from gankit.registry import Count, Seed, coerce
from gankit.cli.inspect import IN_MEMORY_BYTES
from gankit.session.run import load_run
from gankit.validate import check_output_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="write the latent codes of an adversarial autoencoder run's data set",
                       description="Encode every example of the run's data set (in its stored order) with "
                                   "the run's encoder; .npz also holds the labels y of a labelled set.",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  gankit encode runs/aae-ns-digits-20261201-101500 --out codes.npy
  gankit encode runs/aae-ns-digits-20261201-101500 --out codes.npz --split test   # codes and labels
  gankit encode runs/aae-ns-ring-20261201-101500 --out codes.npy -n 5000 --seed 1  # a toy data set""")
    p.add_argument("run_dir", help="a run of a model that encodes (model=aae, bigan)")
    p.add_argument("--out", "-o", required=True, help=".npy (codes z) or .npz (z, and y for labelled data)")
    p.add_argument("--split", help="encode this split of the data set instead of the run's (e.g. test)")
    p.add_argument("-n", type=int, default=1000, help="samples to encode from an infinite (toy) data set")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling a toy data set")
    p.set_defaults(func=run_encode)


def run_encode(args: argparse.Namespace) -> int:
    out = check_output_file(args.out, "--out", (".npy", ".npz"))
    n, seed = coerce(args.n, Count, "-n"), coerce(args.seed, Seed, "--seed")
    run = load_run(args.run_dir)
    if not isinstance(run.recipe, Encodes):
        raise ConfigError(f"{args.run_dir} is a model={run.cfg.model.name} run; encode needs a model that encodes (model=aae, bigan)")
    data = run.data
    if args.split is not None:
        from gankit.data import DATASETS

        name, opts = run.cfg.data.name, dict(run.cfg.data.options)
        if "split" not in DATASETS.entry(name).options():
            raise ConfigError(f"data set {name!r} has no splits; drop --split")
        data = DATASETS.build(name, {**opts, "split": args.split})
    if data.x is not None:
        x, y = data.x, data.y
    else:
        size = n * 4 * math.prod(data.shape)
        if size > IN_MEMORY_BYTES:
            raise ConfigError(f"-n {n} samples of shape {tuple(data.shape)} need {size / 2**30:.1f} GiB in memory; "
                              f"at most {IN_MEMORY_BYTES // 2**30} GiB, lower -n")
        x, y = data.sample(n, torch.Generator().manual_seed(seed))
    z = run.recipe.encode(x).numpy().astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, z)
    else:
        np.savez(out, z=z, **({} if y is None else {"y": y.numpy()}))
    print(f"wrote {z.shape[0]} codes of dimension {z.shape[1]} to {out}")
    return 0
