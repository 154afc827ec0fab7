"""``gankit sample``, ``gankit eval`` and ``gankit list``."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.config import EvalSamples
from gankit.errors import ConfigError
from gankit.registry import Count, Seed, coerce
from gankit.training.run import load_run
from gankit.validate import check_eval, check_output_file


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


# .npz files and PNGs are written from memory: at most this many bytes of samples. Larger
# requests go to .npy, which is streamed to disk in chunks (numpy.lib.format.open_memmap).
IN_MEMORY_BYTES = 2**30
MAX_GRID_IMAGES = 10_000       # a PNG grid is for looking at; 10,000 images is already 1,000 rows
MAX_SCATTER_POINTS = 1_000_000  # and so is a scatter plot of points
_CHUNK_BYTES = 2**26      # one streamed chunk of .npy samples (64 MiB)


def run_sample(args: argparse.Namespace) -> int:
    n = coerce(args.n, Count, "-n")
    seed = coerce(args.seed, Seed, "--seed")
    out = check_output_file(args.out, "--out", (".npy", ".npz", ".png"))
    run = load_run(args.run_dir)
    k = run.recipe.num_classes
    if args.cls is not None:
        if not k:
            raise ConfigError("--class needs a conditional run (conditional=true)")
        if not 0 <= args.cls < k:
            raise ConfigError(f"--class must be in 0..{k - 1}, got {args.cls}")
    shape = tuple(run.data.shape)
    size = n * 4 * math.prod(shape)  # float32 bytes
    what = f"-n {n} samples of shape {shape} ({_bytes(size)})"
    limit = MAX_GRID_IMAGES if run.data.kind == "images" else MAX_SCATTER_POINTS
    if out.suffix == ".png" and n > limit:
        raise ConfigError(f"{what} are too many for a PNG (at most {limit}); write .npy instead")
    if size > IN_MEMORY_BYTES:
        if out.suffix != ".npy":
            raise ConfigError(f"{what} exceed the {_bytes(IN_MEMORY_BYTES)} that {out.suffix} files are written "
                              f"from; write .npy (streamed to disk) or lower -n")
        _stream_npy(run, out, n, args.cls, seed, size)
    else:
        _write_samples(run, out, n, args.cls, seed)
    print(f"wrote {n} samples of shape {shape} to {out}")
    return 0


def _labels(k: int, cls: int | None, start: int, n: int) -> torch.Tensor | None:
    """Labels of samples ``start .. start + n - 1``: class ``cls``, or every class in turn."""
    if not k:
        return None
    if cls is not None:
        return torch.full((n,), cls, dtype=torch.long)
    return torch.arange(start, start + n) % k


def _write_samples(run: Any, out: Path, n: int, cls: int | None, seed: int) -> None:
    labels = _labels(run.recipe.num_classes, cls, 0, n)
    x = run.recipe.generate(n, labels, seed=seed)
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


def _stream_npy(run: Any, out: Path, n: int, cls: int | None, seed: int, size: int) -> None:
    """Samples too large for memory, chunk by chunk into an .npy written next to ``out`` and
    renamed when complete. The chunks draw from one stream, torch's CPU generator seeded with
    ``seed`` (the priors sample on the CPU), so the file is reproducible; it is not the same
    draw as the in-memory path, whose generator restarts per call."""
    from numpy.lib.format import open_memmap

    parent = out.parent if out.parent.exists() else Path(".")
    free = shutil.disk_usage(parent).free
    if size > free:
        raise ConfigError(f"-n {n} samples need {_bytes(size)} on disk and {parent} has {_bytes(free)} free; "
                          f"lower -n")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    rows = max(1, _CHUNK_BYTES // (size // n))
    try:
        arr = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, *run.data.shape))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for i in range(0, n, rows):
                m = min(rows, n - i)
                arr[i:i + m] = run.recipe.generate(m, _labels(run.recipe.num_classes, cls, i, m)).numpy()
        arr.flush()
        del arr
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def run_eval(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    if args.samples is not None:
        run.cfg.eval.num_samples = coerce(args.samples, EvalSamples, "--samples")
    if args.inception is not None:
        run.cfg.eval.inception = args.inception
    names = None
    if args.metrics is not None:
        names = [m.strip() for m in args.metrics.split(",") if m.strip()]
        if not names:
            raise ConfigError(f"--metrics must name at least one metric, got {args.metrics!r}")
    check_eval(run.cfg, run.data, run.recipe, names, where="--metrics" if names else "eval.metrics")
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
