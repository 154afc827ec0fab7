"""gankit on the 2-D setups of BourGAN's and D2GAN's official code, each mitigation beside the
plain GAN of the same networks (docs/published-mitigations.md, where the setups were read from
the authors' repositories).

    OMP_NUM_THREADS=1 python benchmarks/authors_setups.py                 # 3 seeds, 2 runs at a time
    OMP_NUM_THREADS=1 python benchmarks/authors_setups.py --seeds 1 --steps 200 --workers 1   # a dry run
    OMP_NUM_THREADS=1 python benchmarks/authors_setups.py --setups d2gan-ring              # one setup

* ``bourgan-grid``: a554b554/BourGAN's notebook: the 5 x 5 grid (spacing 2, sigma 0.1), G and D
  2 x 128 leaky-ReLU MLPs, Adam 1e-3, 5,000 steps of batch 128; BourGAN's latent (a Bourgain
  embedding of 1,250 data points into 55 dimensions, distance-term weight 0.1) against the
  notebook's baseline, N(0, I) in 25 dimensions.
* ``d2gan-ring``: tund/D2GAN's 2-D code: 8 Gaussians on a circle of radius 2 (sigma sqrt(0.02)),
  z ~ N(0, I) in 256 dimensions, G 2 x 128 and D 1 x 128 ReLU MLPs with every weight drawn from
  N(0, 0.01²) and zero biases, Adam 2e-4 (beta1 0.5), 25,000 steps of batch 512; D2GAN
  (alpha = beta = 1) against the NS GAN of the same networks.

Every run layers on the ``base`` preset (plain Adam, no penalty, EMA or rejection), so that the
setup is the code's and not gankit's default. The score is gankit's (modes, HQ within 3 sigma and
reverse KL on 2,500 samples, energy distance against its real-vs-real baseline): neither code
computes a metric, and the papers' tables were not read, so no published number stands beside
these. Prints a markdown table and writes it with the per-run JSON into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

GRID = ["data=grid", "data.n=5", "data.spacing=2", "data.sigma=0.1", "prior=normal",
        "generator.width=128", "generator.depth=2", "generator.act=leaky_relu",
        "discriminator.width=128", "discriminator.depth=2", "discriminator.act=leaky_relu",
        "loss=ns", "train.batch_size=128", "train.steps=5000", "train.lr_decay=none",
        "train.standardize=false", "optim_g.lr=0.001", "optim_d.lr=0.001"]
RING = ["data=ring", "data.modes=8", "data.radius=2", "data.sigma=0.1414", "prior=normal", "latent_dim=256",
        "generator.width=128", "generator.depth=2", "generator.act=relu",
        "discriminator.width=128", "discriminator.depth=1", "discriminator.act=relu",
        "generator.init_std=0.01", "discriminator.init_std=0.01",
        "train.batch_size=512", "train.steps=25000", "train.lr_decay=none", "train.standardize=false",
        "optim_g.lr=0.0002", "optim_d.lr=0.0002"]
SETUPS: dict[str, dict[str, list[str]]] = {
    "bourgan-grid": {
        "gan (N(0, I), 25-d)": [*GRID, "latent_dim=25"],
        "bourgan": [*GRID, "latent_dim=55", "mitigations.bourgan.samples=1250", "mitigations.bourgan.weight=0.1"],
    },
    "d2gan-ring": {
        "gan (NS)": [*RING, "loss=ns"],
        "d2gan": [*RING, "loss=d2gan", "loss.alpha=1", "loss.beta=1"],
    },
}


def run_one(setup: str, method: str, seed: int, steps: int | None, out: str) -> dict[str, Any]:
    from gankit.bench.harness import train_timed
    from gankit.bench.report import point_metrics
    from gankit.config import load_config

    sets = [*SETUPS[setup][method], f"seed={seed}", "device=cpu", "train.progress=false", "train.threads=1",
            "eval.num_samples=2500", "eval.metrics=[modes,energy]"]
    if steps is not None:
        sets.append(f"train.steps={steps}")
    cfg = load_config(overrides=sets, preset="base")
    t = train_timed(cfg, Path(out) / "runs" / setup / method.split()[0] / f"seed{seed}", keep_checkpoint=False)
    return {"setup": setup, "method": method, "seed": seed, "steps": t.run.step,
            **point_metrics(t.run.metrics), "train_s": t.train_s, "cpu_s": t.cpu_s}


def table(rows: list[dict[str, Any]]) -> str:
    from gankit.bench.report import mean_se

    lines = ["| setup | method | modes (per seed) | HQ % | reverse KL | energy (baseline) | CPU s per run |",
             "|---|---|---|---|---|---|---|"]
    for setup, methods in SETUPS.items():
        for method in methods:
            rs = [r for r in rows if r["setup"] == setup and r["method"] == method]
            if not rs:
                continue
            hq, hq_se = mean_se([r["hq_percent"] for r in rs])
            kl, kl_se = mean_se([r["reverse_kl"] for r in rs])
            en, _ = mean_se([r["energy"] for r in rs])
            base, _ = mean_se([r["energy_baseline"] for r in rs])
            cpu, _ = mean_se([r["cpu_s"] for r in rs])
            modes = " / ".join(f"{r['modes']:.0f}" for r in rs)
            lines.append(f"| {setup} | {method} | {modes} of {rs[0]['modes_total']:.0f} | {hq:.1f} ± {hq_se:.1f} | "
                         f"{kl:.3f} ± {kl_se:.3f} | {en:.4f} ({base:.4f}) | {cpu:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=None, help="override every run's steps (for a dry run)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--setups", nargs="+", choices=list(SETUPS), default=list(SETUPS))
    ap.add_argument("--out", default="runs/bench/authors-setups")
    a = ap.parse_args()
    from gankit.bench.harness import run_jobs
    from gankit.bench.report import environment, finish, machine_line

    env = environment(workers=a.workers, threads=1)
    jobs = [(s, m, seed, a.steps, a.out) for s, ms in SETUPS.items() if s in a.setups for m in ms
            for seed in range(a.seeds)]
    rows = run_jobs(run_one, jobs, workers=a.workers, threads=1, desc="authors' setups")

    only = "" if a.setups == list(SETUPS) else f" --setups {' '.join(a.setups)}"
    text = (f"`OMP_NUM_THREADS=1 python benchmarks/authors_setups.py --seeds {a.seeds} --workers {a.workers}{only}"
            f"{'' if a.steps is None else f' --steps {a.steps}'}`\n\nMachine: {machine_line(finish(env))}\n\n"
            f"{table(rows)}\n")
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "authors_setups.md").write_text(text)
    (Path(a.out) / "authors_setups.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(text)
    print(f"written: {os.path.join(a.out, 'authors_setups.md')}")


if __name__ == "__main__":
    main()
