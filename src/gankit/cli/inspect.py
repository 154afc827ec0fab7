"""``gankit sample``, ``gankit eval`` and ``gankit list``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from gankit.errors import ConfigError
from gankit.training.run import load_run


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample", help="write generated samples of a run")
    s.add_argument("run_dir")
    s.add_argument("-n", type=int, default=1000, help="number of samples")
    s.add_argument("--out", "-o", required=True, help=".npy (array), .npz (x, y) or .png (image grid / scatter)")
    s.add_argument("--class", dest="cls", type=int, help="class label for conditional models")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=run_sample)

    e = sub.add_parser("eval", help="recompute a run's metrics from its checkpoint")
    e.add_argument("run_dir")
    e.add_argument("--metrics", help="comma-separated metric names (default: the run's)")
    e.add_argument("--samples", type=int, help="number of generated samples")
    e.add_argument("--inception", help="TorchScript Inception file for Inception-feature FID")
    e.set_defaults(func=run_eval)

    ls = sub.add_parser("list", help="what is registered: losses, networks, data sets, metrics, ...")
    ls.add_argument("kind", nargs="?", help="only this kind")
    ls.set_defaults(func=run_list)


def run_sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ConfigError("-n must be >= 1")
    out = Path(args.out)
    if out.suffix not in (".npy", ".npz", ".png"):
        raise ConfigError(f"--out must end in .npy, .npz or .png, got {out.name!r}")
    run = load_run(args.run_dir)
    labels = None
    if args.cls is not None:
        k = run.recipe.num_classes
        if not k:
            raise ConfigError("--class needs a conditional run (conditional=true)")
        if not 0 <= args.cls < k:
            raise ConfigError(f"--class must be in 0..{k - 1}, got {args.cls}")
        labels = torch.full((args.n,), args.cls, dtype=torch.long)
    elif run.recipe.num_classes:
        labels = torch.arange(args.n) % run.recipe.num_classes
    x = run.recipe.generate(args.n, labels, seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, x.numpy().astype(np.float32))
    elif out.suffix == ".npz":
        np.savez(out, x=x.numpy().astype(np.float32), **({} if labels is None else {"y": labels.numpy()}))
    elif run.data.kind == "images":
        from gankit.plotting.grid import save_image_grid

        save_image_grid(x, out, nrow=10 if labels is not None else 8)
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(x[:, 0], x[:, 1] if x.shape[1] > 1 else np.zeros(len(x)), s=2)
        fig.savefig(out, dpi=110)
        plt.close(fig)
    print(f"wrote {args.n} samples of shape {tuple(x.shape[1:])} to {out}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    if args.samples is not None:
        run.cfg.eval.num_samples = args.samples
    if args.inception is not None:
        run.cfg.eval.inception = args.inception
    names = None
    if args.metrics:
        from gankit.metrics import METRICS

        names = [m.strip() for m in args.metrics.split(",") if m.strip()]
        for m in names:
            METRICS.entry(m)
    metrics = run.evaluate(names)
    print(f"run {run.dir} at step {run.step}")
    print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in metrics.items()}, indent=2))
    return 0


def registries() -> dict[str, object]:
    """Every registry, by kind (the docs tables and `gankit list` read this)."""
    from gankit.data import DATASETS
    from gankit.losses import LOSSES
    from gankit.losses.penalties import PENALTIES
    from gankit.metrics import METRICS
    from gankit.networks import DISCRIMINATORS, ENCODERS, GENERATORS, PRIORS
    from gankit.training.mitigations import MITIGATIONS
    from gankit.training.run import RECIPES, _register_recipes

    _register_recipes()
    regs: dict[str, object] = {"models": RECIPES, "losses": LOSSES}
    try:
        from gankit.losses.fdiv import DIVERGENCES

        regs["divergences"] = DIVERGENCES
    except ImportError:
        pass
    regs.update({"penalties": PENALTIES, "mitigations": MITIGATIONS, "generators": GENERATORS,
                 "discriminators": DISCRIMINATORS, "encoders": ENCODERS, "priors": PRIORS, "datasets": DATASETS, "metrics": METRICS})
    try:
        from gankit.experiments import EXPERIMENTS

        regs["experiments"] = EXPERIMENTS
    except ImportError:
        pass
    return regs


def run_list(args: argparse.Namespace) -> int:
    regs = registries()
    if args.kind and args.kind not in regs:
        raise ConfigError(f"unknown kind {args.kind!r}; choose one of: {', '.join(regs)}")
    for kind, reg in regs.items():
        if args.kind and kind != args.kind:
            continue
        print(f"{kind}:")
        for e in reg:  # type: ignore[attr-defined]
            opts = ", ".join(f"{k}={v!r}" for k, v in e.defaults(reg.context).items())  # type: ignore[attr-defined]
            print(f"  {e.name:<24} {e.summary}" + (f"  [{opts}]" if opts else ""))
        print()
    return 0
