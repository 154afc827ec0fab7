"""The default run (`make run`) where users run it: wall time idle and beside a busy process,
and gankit's training step against a plain hand-written PyTorch loop of the same networks.

    python benchmarks/default_run.py                 # everything (about 4 minutes on 2 cores)
    python benchmarks/default_run.py --skip-runs     # only the step comparison (about 30 s)

Part 1 runs ``gankit train`` (the default preset, nothing set) as a user does, once on the
idle machine and once with one CPU-bound process beside it (started and stopped here), and
prints the command's wall time and the training time the run recorded. No OMP_NUM_THREADS
is set: the thread count is gankit's own choice, as for a user.

Part 2 times training steps of the ``base`` preset's configuration (the plain non-saturating
GAN the default run builds on; the default adds an R1 penalty, an EMA of G and a larger
batch, which a hand-written loop would have to copy too): gankit's ``Trainer.train_step``
(D phase then G phase, with its logging read back every ``train.log_every`` steps) against a
loop written directly in PyTorch with the *same* network instances' copies, the same
non-saturating loss on logits, the same Adam settings, the same linear learning-rate decay
and the same data and latent samplers. Blocks of steps alternate between the two so that
load changes hit both alike; the ratio of medians is the number to read.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gankit.bench.report import cpu_name


def time_default_run(busy: bool) -> dict[str, float]:
    """Wall time of ``gankit train`` (default preset), optionally beside a spinning process."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run"
            env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "gankit", "train", "--out", str(out), "--set", "train.progress=false"],
                           check=True, env=env, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
            m = json.loads((out / "metrics.json").read_text())
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return {"wall_s": wall, "train_s": m["wall_time_s"], "modes": m["modes"], "hq_percent": m["hq_percent"],
            "threads": m.get("threads", 0)}


def step_comparison(blocks: int = 15, steps_per_block: int = 200) -> dict[str, float]:
    """Median ms per step of gankit's loop and of the hand-written loop, interleaved."""
    from gankit.config import load_config
    from gankit.engine.loop import read_logs
    from gankit.session.run import Run

    torch.set_num_threads(1)
    cfg = load_config(None, ["train.progress=false", "train.threads=1"], preset="base")
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(cfg, Path(tmp) / "r")
    recipe, trainer = run.recipe, run.recipe.trainer
    log_every = cfg.train.log_every

    # The hand-written loop: copies of the same networks, same optimiser settings.
    G, D = copy.deepcopy(recipe.G), copy.deepcopy(recipe.D)
    og, od = cfg.optim_g, cfg.optim_d
    opt_g = torch.optim.Adam(G.parameters(), lr=og.lr, betas=tuple(og.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=od.lr, betas=tuple(od.betas))
    data, prior, n, total = recipe.data, recipe.prior, cfg.train.batch_size, cfg.train.steps
    gen = torch.Generator().manual_seed(0)
    hand_step = [0]

    def hand() -> None:
        s = hand_step[0]
        f = max(0.0, 1.0 - s / total)
        for g in opt_g.param_groups:
            g["lr"] = og.lr * f
        for g in opt_d.param_groups:
            g["lr"] = od.lr * f
        real, _ = data.sample(n, gen)
        with torch.no_grad():
            fake = G(prior.sample(n), None)
        real_out, fake_out = D(real, None), D(fake, None)
        d_loss = F.softplus(-real_out).mean() + F.softplus(fake_out).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        g_loss = F.softplus(-D(G(prior.sample(n), None), None)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        hand_step[0] += 1
        if hand_step[0] % log_every == 0:
            _ = (float(d_loss.detach()), float(g_loss.detach()))

    def gankit_step() -> None:
        logs = trainer.train_step()
        if trainer.step % log_every == 0:
            read_logs(logs)
            trainer.check_finite()

    times: dict[str, list[float]] = {"gankit": [], "hand": []}
    for fn in (gankit_step, hand):  # warm-up
        for _ in range(50):
            fn()
    for b in range(blocks):
        order = (("gankit", gankit_step), ("hand", hand)) if b % 2 == 0 else (("hand", hand), ("gankit", gankit_step))
        for name, fn in order:
            t0 = time.perf_counter()
            for _ in range(steps_per_block):
                fn()
            times[name].append((time.perf_counter() - t0) / steps_per_block * 1e3)
    g, h = statistics.median(times["gankit"]), statistics.median(times["hand"])
    return {"gankit_ms": g, "hand_ms": h, "ratio": g / h}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-runs", action="store_true", help="only the step comparison")
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, load {load:.2f} at start\n")
    if not args.skip_runs:
        print("| `gankit train` (default preset) | threads | command wall time | training time | modes | HQ % |")
        print("|---|---|---|---|---|---|")
        for busy in (False, True):
            r = time_default_run(busy)
            label = "beside one CPU-bound process" if busy else "idle machine"
            print(f"| {label} | {r['threads']} | {r['wall_s']:.1f} s | {r['train_s']:.1f} s | {r['modes']:.0f} | "
                  f"{r['hq_percent']:.1f} |", flush=True)
        print()
    c = step_comparison()
    print("| base-preset step (D + G, batch 256, 1 thread) | ms per step (median of 15 blocks of 200) |")
    print("|---|---|")
    print(f"| gankit `Trainer.train_step` | {c['gankit_ms']:.3f} |")
    print(f"| hand-written PyTorch loop | {c['hand_ms']:.3f} |")
    print(f"| ratio gankit / hand | {c['ratio']:.3f} |")


if __name__ == "__main__":
    main()
