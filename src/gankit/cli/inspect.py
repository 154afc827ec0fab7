"""``gankit sample``, ``gankit eval`` and ``gankit list``."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit import jsonio
from gankit.capabilities import DrawsSampleGrid, HasCodes
from gankit.config import EvalSamples
from gankit.errors import ConfigError
from gankit.registry import Count, Seed, coerce
from gankit.session.run import load_run, writing
from gankit.validate import check_eval, check_output_file


SAMPLE_EPILOG = """\
examples:
  gankit sample runs/gan-ns-ring-20261122-081500 -n 2500 --out samples.npy     # float32 (2500, 2)
  gankit sample runs/cdcgan-ns-fashion-mnist-20261122-090000 -n 64 --class Dress --out dresses.png
  gankit sample RUN -n 10000 --out samples.npz --seed 3                        # x, and y when conditional
  gankit sample runs/infogan-ns-digits-20261201-140000 --code all --vary 0 -n 100 --out codes.png
"""

EVAL_EPILOG = """\
examples:
  gankit eval runs/gan-ns-ring-20261122-081500                 # the run's own metrics again
  gankit eval RUN --metrics fid,kid --samples 10000
  gankit eval RUN --inception /path/to/inception.pt            # FID on Inception features
"""

LIST_EPILOG = """\
examples:
  gankit list                  # everything: config keys, registries, presets, benchmarks
  gankit list train            # the train.* keys with their types, defaults and meanings
  gankit list presets          # what each preset trains and what it was measured to reach
"""


def register(sub: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    s = sub.add_parser("sample", help="write generated samples of a run", epilog=SAMPLE_EPILOG, formatter_class=raw,
                       description="Generate samples from a run's checkpoint (its EMA generator when it has one).")
    s.add_argument("run_dir", metavar="RUN_DIR", help="a run directory holding checkpoint.pt")
    s.add_argument("-n", type=int, default=1000, help="number of samples (default 1000)")
    s.add_argument("--out", "-o", required=True, help=".npy (array), .npz (x, y) or .png (image grid / scatter)")
    s.add_argument("--class", dest="cls", metavar="CLASS",
                   help="class of every sample (conditional runs): an index or a class name such as Dress "
                        "(case-insensitive); default: every class in turn")
    s.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    s.add_argument("--code", metavar="K|all",
                   help="InfoGAN runs: the categorical code of every sample, or all: one row of n/K per value")
    s.add_argument("--vary", type=int, metavar="J",
                   help="InfoGAN runs: continuous code J runs from -1 to 1 along each row, the rest fixed")
    s.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    s.set_defaults(func=run_sample)

    e = sub.add_parser("eval", help="recompute a run's metrics from its checkpoint", epilog=EVAL_EPILOG,
                       formatter_class=raw, description="Evaluate a run's checkpoint; prints strict JSON.")
    e.add_argument("run_dir", metavar="RUN_DIR", help="a run directory holding checkpoint.pt")
    e.add_argument("--metrics", help="comma-separated metric names (default: the run's; see `gankit list metrics`)")
    e.add_argument("--samples", type=int, help="number of generated samples (default: the run's eval.num_samples)")
    e.add_argument("--inception", metavar="PATH", help="TorchScript Inception file for Inception-feature FID")
    e.set_defaults(func=run_eval)

    ls = sub.add_parser("list", help="every option and registered name: config keys, losses, networks, data sets, "
                                     "metrics, presets, ...", epilog=LIST_EPILOG, formatter_class=raw,
                        description="Every config key with its type, default and meaning, read from the same "
                                    "dataclasses and registries that validate a config.")
    ls.add_argument("kind", nargs="?", help=f"only this kind: {', '.join(kinds())}")
    ls.set_defaults(func=run_list)


def class_label(text: str | None, data: Any, num_classes: int, option: str = "--class") -> int | None:
    """``--class``: a class index or, case-insensitively, one of the data set's class names."""
    if text is None:
        return None
    if not num_classes:
        raise ConfigError(f"{option} needs a conditional run (conditional=true)")
    names = [str(n) for n in data.class_names]
    t = str(text).strip()
    try:
        k = int(t)
    except ValueError:
        folded = [n.casefold() for n in names]
        if t.casefold() in folded:
            return folded.index(t.casefold())
        shown = ", ".join(names) if names else f"0..{num_classes - 1}"
        raise ConfigError(f"{option} {text!r} is not a class index or name; classes: {shown}") from None
    if not 0 <= k < num_classes:
        raise ConfigError(f"{option} must be in 0..{num_classes - 1}, got {k}")
    return k


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
    if out.exists() and not args.force:
        raise ConfigError(f"--out {out} exists; pass --force to overwrite it, or choose another file")
    # a file written into a run directory (RUN/samples.png, say) waits for no run writing there
    inside = Path(args.run_dir).resolve() in out.resolve().parents
    with writing(args.run_dir) if inside else contextlib.nullcontext():
        return _sample(args, out, n, seed)


def _sample(args: argparse.Namespace, out: Path, n: int, seed: int) -> int:
    run = load_run(args.run_dir)
    args.cls = class_label(args.cls, run.data, run.recipe.num_classes)
    if args.code is not None or args.vary is not None:
        return _write_code_samples(run, out, n, args.code, args.vary, seed)
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
    elif isinstance(run.recipe, DrawsSampleGrid) and run.data.kind == "images":  # the recipe's own picture (translation: input | output | target)
        from gankit.plotting.grid import save_image_grid

        imgs, nrow = run.recipe.sample_grid(n, seed=seed)
        save_image_grid(imgs, out, nrow=nrow)
    elif run.data.kind == "images":
        from gankit.plotting.grid import save_image_grid

        # every class in turn: one column per class; else as near a square as the count allows
        save_image_grid(x, out, nrow=grid_columns(n, run.recipe.num_classes if cls is None else 0))
    elif x.shape[1] > 2:  # a pair plot of generated vs real points, not the first two coordinates alone
        from gankit.plotting.runs import plot_points_pairs

        plot_points_pairs(run, out, fake=x, labels=labels, title=f"{n} samples of {Path(str(run.dir)).name}")
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(x[:, 0], x[:, 1] if x.shape[1] > 1 else np.zeros(len(x)), s=2)
        fig.savefig(out, dpi=110)
        plt.close(fig)


def _write_code_samples(run: Any, out: Path, n: int, code: str | None, vary: int | None, seed: int) -> int:
    """``--code`` / ``--vary``: an InfoGAN run's samples for chosen codes, a row per code value."""
    if not isinstance(run.recipe, HasCodes):
        raise ConfigError("--code and --vary need an InfoGAN run (model=infogan)")
    codes = run.recipe.codes
    k = codes.categories
    if code is None or str(code).strip().lower() == "all":
        rows = list(range(k))
    else:
        try:
            rows = [int(code)]
        except ValueError:
            raise ConfigError(f"--code must be a code value 0..{k - 1} or all, got {code!r}") from None
    cols = max(1, n // max(len(rows), 1))
    x = run.recipe.code_grid(cols, rows=rows, vary=vary, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, x.numpy().astype(np.float32))
    elif out.suffix == ".npz":
        np.savez(out, x=x.numpy().astype(np.float32), code=np.repeat(rows or [0], cols))
    elif run.data.kind == "images":
        from gankit.plotting.grid import save_image_grid

        save_image_grid(x, out, nrow=cols)
    else:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(x[:, 0], x[:, 1] if x.shape[1] > 1 else np.zeros(len(x)), s=2,
                   c=np.repeat(rows or [0], cols), cmap="tab10")
        fig.savefig(out, dpi=110)
        plt.close(fig)
    print(f"wrote {x.shape[0]} samples ({len(rows) or 1} code value(s) x {cols}) of shape "
          f"{tuple(run.data.shape)} to {out}")
    return 0


def grid_columns(n: int, classes: int = 0) -> int:
    """Images per row of an ``n``-image grid: ``classes`` when the samples cycle through the
    classes (one column each), else ceil(sqrt(n)), e.g. 8 for 64 and 10 for 100."""
    if classes:
        return classes
    return max(1, math.isqrt(n - 1) + 1) if n > 1 else 1


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
    print(jsonio.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in metrics.items()}, indent=2))
    return 0


def registries() -> dict[str, object]:
    """Every registry, by kind (the docs tables and `gankit list` read this)."""
    from gankit.components import registries as every

    return dict(every())


# Config sections `gankit list KIND` shows: kind -> (dataclass, key prefix, what it is).
def _sections() -> dict[str, tuple[type, str, str]]:
    from gankit.config import Config, EvalConfig, OptimConfig, TrainConfig

    return {"config": (Config, "", "the top-level keys"), "train": (TrainConfig, "train.", "the training loop"),
            "optim": (OptimConfig, "optim_g. / optim_d.", "the optimisers, one for G and one for D"),
            "eval": (EvalConfig, "eval.", "the evaluation")}


def kinds() -> list[str]:
    """What `gankit list KIND` accepts: config sections, registries, presets, benchmarks."""
    return [*_sections(), *registries(), "presets", "benchmarks"]


def run_list(args: argparse.Namespace) -> int:
    regs = registries()
    names = kinds()
    if args.kind and args.kind not in names:
        raise ConfigError(f"unknown kind {args.kind!r}; choose one of: {', '.join(names)}")
    for kind in names:
        if args.kind and kind != args.kind:
            continue
        if kind in _sections():
            _list_section(kind)
        elif kind == "presets":
            _list_presets()
        elif kind == "benchmarks":
            from gankit.bench import load_all

            _list_registry(kind, load_all(), prefix="")
        else:
            _list_registry(kind, regs[kind], prefix=f"{_CONFIG_KEY.get(kind, '')}." if kind in _CONFIG_KEY else "")
        print()
    return 0


# Registries that are config sections: their options are KEY.OPTION (generator.width=64).
_CONFIG_KEY = {"losses": "loss", "penalties": "penalty", "generators": "generator", "discriminators": "discriminator",
               "encoders": "encoder", "priors": "prior", "datasets": "data", "mitigations": "mitigations.NAME"}


def _list_section(kind: str) -> None:
    from gankit.config import load_config, section_options

    cls, prefix, what = _sections()[kind]
    doc = " ".join((inspect.getdoc(cls) or what).split())
    print(f"{kind}: {doc}")
    run = load_config().to_dict()  # the default preset's values, where they differ
    for o in section_options(cls, prefix if kind != "optim" else ""):
        keys = [o.key] if kind != "optim" else [f"optim_g.{o.key}", f"optim_d.{o.key}"]
        here = [_lookup(run, k) for k in keys]
        here = [v["name"] if isinstance(v, dict) and "name" in v else v for v in here]  # a component: its name
        differs = [f"{k.split('.')[0]} {_show(v)}" if kind == "optim" else _show(v)
                   for k, v in zip(keys, here) if v is not _MISSING and v != _plain(o.default)]
        extra = f" (the default preset: {', '.join(differs)})" if differs and o.type != "section" else ""
        if o.type == "section":
            print(f"  {o.key}: a section")
        else:
            print(f"  {' / '.join(keys)}: {o.type} = {_show(_plain(o.default))}{extra}")
        if o.help:
            print(f"      {o.help}")


_MISSING = object()


def _lookup(d: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return _MISSING
        d = d[part]
    return d


def _plain(v: Any) -> Any:
    from gankit.registry import plain

    return plain(v)


def _show(v: Any) -> str:
    return jsonio.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v


def _summary(entry: Any) -> str:
    """The entry's summary; the docstring's whole first paragraph when the summary is its first line."""
    doc = (inspect.getdoc(entry.factory) or "").strip()
    first = doc.split("\n\n", 1)[0]
    if doc and entry.summary == doc.splitlines()[0]:
        return " ".join(line.strip() for line in first.splitlines())
    return entry.summary


def _option_help(doc: str, name: str) -> str:
    """The docstring's clause about option ``name`` (``name``: ... up to ; or the sentence's end)."""
    flat = " ".join(doc.split())
    m = re.search(rf"``{re.escape(name)}(?:=[^`]*)?``\s*(?:\([^)]*\)\s*)?:\s*(.+?)(?:;|\.\s+(?=[A-Z`])|\.?$)", flat)
    return m.group(1).strip().replace("``", "") if m else ""


def _list_registry(kind: str, reg: Any, prefix: str) -> None:
    print(f"{kind}:")
    for e in reg:
        paper = f" ({e.paper})" if e.paper else ""
        print(f"  {e.name:<22} {_summary(e)}{paper}")
        for line in option_lines(e, reg.context, prefix):
            print(f"      {line}")


def option_lines(entry: Any, context: tuple[str, ...] = (), prefix: str = "") -> list[str]:
    """``KEY: TYPE = DEFAULT  (meaning)`` for every option of a registry entry, read from its
    signature (the hints validation checks) and its docstring."""
    from gankit.config import describe_hint

    doc = inspect.getdoc(entry.factory) or ""
    if inspect.isclass(entry.factory):  # a recipe describes its options in __init__'s docstring
        doc += "\n" + "\n".join(inspect.getdoc(klass.__init__) or "" for klass in entry.factory.__mro__
                                if "__init__" in klass.__dict__ and klass is not object)
    lines = []
    for name, param in entry.options(context).items():
        hint = entry.hint(name)
        kind_text = describe_hint(hint) if hint is not Any else "any"
        default = "(required)" if param.default is inspect.Parameter.empty else _show(_plain(param.default))
        meaning = _option_help(doc, name)
        lines.append(f"{prefix}{name}: {kind_text} = {default}" + (f"  ({meaning})" if meaning else ""))
    return lines


def _list_presets() -> None:
    from gankit.config import preset_info, preset_names

    print("presets (gankit train --preset NAME; each is layered on `base`, and the default preset is what "
          "gankit train trains without --preset; "
          "gankit train --dry-run --preset NAME shows what it sets):")
    for name in preset_names():
        info = preset_info(name)
        print(f"  {name}")
        print(f"      trains:   {info.trains}")
        print(f"      measured: {info.measured}")
