"""``gankit train`` and ``gankit resume``."""

from __future__ import annotations

import argparse

from gankit import jsonio
from gankit.config import load_config
from gankit.training import distributed
from gankit.training.run import Run, _new_run_dir, check_new_run_dir, resume


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a GAN (default: non-saturating GAN on the 8-mode ring)",
                       description="Train a GAN. Every choice is a config key: --set loss=wgan --set penalty=gp ... "
                                   "Several processes: torchrun --nproc_per_node N -m gankit train ... "
                                   "(train.batch_size is then the global batch, split over the processes).")
    p.add_argument("--config", "-c", help="YAML/JSON config file")
    p.add_argument("--preset", help="a named preset shipped with gankit (see `gankit list`)")
    p.add_argument("--set", "-s", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set train.steps=2000")
    p.add_argument("--out", help="run directory (default: runs/<data>-<loss>-<time>)")
    p.set_defaults(func=run_train)

    r = sub.add_parser("resume", help="continue a run exactly where it stopped")
    r.add_argument("run_dir")
    r.add_argument("--steps", type=int, help="new total number of steps (default: the config's)")
    r.set_defaults(func=run_resume)


def _report(run: Run) -> None:
    if not run.is_main:  # torchrun: one report, from rank 0
        return
    print(f"run directory: {run.dir}")
    print(jsonio.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in run.metrics.items()}, indent=2))
    files = sorted(p.name for p in run.dir.iterdir() if p.is_file())
    print("files: " + ", ".join(files))


def run_train(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides, preset=args.preset)
    from pathlib import Path

    distributed.setup(cfg.device)  # under torchrun: join the job before naming the run
    try:
        run_dir = Path(args.out) if args.out else Path(distributed.broadcast_object(str(_new_run_dir(cfg))))
        check_new_run_dir(run_dir)
        run = Run(cfg, run_dir)
        _report(run.fit())
    finally:
        distributed.cleanup()
    return 0


def run_resume(args: argparse.Namespace) -> int:
    try:
        _report(resume(args.run_dir, args.steps))
    finally:
        distributed.cleanup()
    return 0
