"""``gankit train`` and ``gankit resume``."""

from __future__ import annotations

import argparse
import json

from gankit import jsonio
from gankit.config import LAYER_ORDER, config_layers, image_default_line, load_config, resolve_config
from gankit.engine import distributed
from gankit.session.run import Run, resume, train

TRAIN_EPILOG = f"""\
The config is layered, each layer overriding the ones before it:
  {' < '.join(LAYER_ORDER)}
(`base` is the preset every run starts from; without --preset, a GAN run adds the default preset,
or on image data the image default, derived from the data (it says what it chose);
a value no layer sets is the built-in default. `gankit list presets` lists the presets, `gankit list`
every key with its type, built-in default and meaning; `gankit list train|optim|eval` one section,
`gankit list models` each recipe's own options, set as model.KEY or by their short names: loss=wgan).
A layer that switches a component's name (loss: wgan) drops the options the layers below gave
the old entry; switching the recipe (model=aae) keeps those the new recipe also takes.

examples:
  gankit train --dry-run --preset wgan-gp      # the resolved config, where each value came from
  gankit train --set loss=fgan --set loss.divergence=reverse-kl --set train.steps=2000
  gankit train --preset cdcgan-fashion-mnist --out runs/cdcgan
"""

RESUME_EPILOG = """\
examples:
  gankit resume runs/gan-ns-ring-20261122-081500              # to the run's planned end
  gankit resume runs/long --steps 6000                         # past it: the lr schedule restarts
  torchrun --nproc_per_node 2 -m gankit resume runs/ring-ddp   # several processes
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a GAN (without --preset: the default preset, on the 8-mode ring)",
                       description="Train a GAN. Every choice is a config key: --set loss=wgan --set penalty=gp ... "
                                   "Several processes: torchrun --nproc_per_node N -m gankit train ... "
                                   "(train.batch_size is then the global batch, split over the processes).",
                       epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", "-c", metavar="PATH", help="YAML/JSON config file, layered on the preset")
    p.add_argument("--preset", metavar="NAME", help="a named preset shipped with gankit, layered on `base` instead of the default preset "
                                                    "(see `gankit list presets`)")
    p.add_argument("--set", "-s", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, the last layer (repeatable), e.g. --set train.steps=2000")
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/<model>-<loss>-<data>-<time>)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved config with the layer that set each value, then exit; "
                        "nothing is trained or written")
    p.set_defaults(func=run_train)

    r = sub.add_parser("resume", help="continue a run exactly where it stopped",
                       description="Continue a run bit-identically from its checkpoint.",
                       epilog=RESUME_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("run_dir", metavar="RUN_DIR", help="a run directory holding checkpoint.pt")
    r.add_argument("--steps", type=int, help="new total number of steps (default: the config's)")
    r.add_argument("--max-hours", type=float, metavar="H",
                   help="allow a run this long at the speed of its first steps (sets train.max_hours; 0 = no limit)")
    r.set_defaults(func=run_resume)


def _report(run: Run) -> None:
    if not run.is_main:  # torchrun: one report, from rank 0
        return
    print(f"run directory: {run.dir}")
    print(jsonio.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in run.metrics.items()}, indent=2))
    files = sorted(p.name for p in run.dir.iterdir() if p.is_file() and not p.name.startswith("."))
    print("files: " + ", ".join(files))


def format_resolved(file: str | None, overrides: list[str], preset: str | None) -> str:
    """The resolved config, one ``key: value`` line per key (values as YAML/JSON reads them)
    and the layer that set it: ``default``, ``preset NAME``, ``file PATH``, ``--set`` or
    ``built-in default`` (no layer sets it: the dataclass's or the registered factory's default)."""
    cfg, sources = resolve_config(file, overrides, preset)
    layers = [source for source, _ in config_layers(file, overrides, preset)]
    flat = _flat(cfg.to_dict())
    width = max(len(k) + len(_value(v)) for k, v in flat.items()) + 4
    lines = [f"# resolved config: {' < '.join(layers)} (then built-in defaults)"]
    line = image_default_line(file, overrides, preset)
    if line:
        lines.append(f"# {line}")
    for key, value in flat.items():
        text = f"{key}: {_value(value)}"
        lines.append(f"{text:<{width}}# {sources[key]}")
    return "\n".join(lines)


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _value(v: object) -> str:
    return json.dumps(jsonio.strict(v), ensure_ascii=False)


def run_train(args: argparse.Namespace) -> int:
    if args.dry_run:
        print(format_resolved(args.config, args.overrides, args.preset))
        return 0
    cfg = load_config(args.config, args.overrides, preset=args.preset)
    line = image_default_line(args.config, args.overrides, args.preset)
    try:
        _report(train(cfg, run_dir=args.out, notes=[line] if line else []))
    finally:
        distributed.cleanup()
    return 0


def run_resume(args: argparse.Namespace) -> int:
    try:
        _report(resume(args.run_dir, args.steps, max_hours=args.max_hours))
    finally:
        distributed.cleanup()
    return 0
