"""Mode collapse as it happens: where the generator's mass sits on the 8-mode ring, step by step.

Seed 001 (after Metz et al. 2017, Fig. 1): "In different training steps, GAN learns to map all
z values to one of the modes of mixture. When the discriminator learns to reject generation of
some mode, the generator learns to map all z values to another mode. However, it never learns
to generate all modes of the mixture."

A plain non-saturating GAN trained by :func:`gankit.session.train` (no EMA, no mitigation,
gankit's default Adam: lr 2e-4, betas (0.5, 0.999)) on the Unrolled-GAN paper's ring
(8 modes, radius 2, sigma 0.02), with a network pair of the size Metz et al. use there:
G two hidden layers of 128 ReLU, D one hidden layer of 128 ReLU. Every ``record_every``
steps a callback of ``Run.fit`` draws the *same* noise batch (so the figure follows fixed
latent points), assigns every sample to its nearest mode mean and records the fraction per
mode; the VEEGAN/PacGAN statistics (modes captured within 3 sigma, % high quality) of the
same batch come from :func:`gankit.metrics.modes.mode_statistics`.

What this shows, and what it does not: at these settings the generated mass is one
elongated clump (or two) at any recorded step, and that clump travels around the ring; it
usually lies *near* a mode rather than on it (few samples within 3 sigma), so the nearest-
mode fractions measure where the mass is, and the 3-sigma columns how little of it is sharp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.errors import ConfigError
from gankit.experiments.base import EXPERIMENTS, ExperimentResult
from gankit.experiments.optimal_discriminator import torch_threads
from gankit.metrics.modes import mode_statistics
from gankit.plotting.training_experiments import plot_mode_dynamics
from gankit.session import Run, train

NAME = "mode-collapse-dynamics"
CLAIM = ("without mitigation the non-saturating GAN's generator does not cover the 8 modes of the "
         "ring at once: at every recorded step its mass sits near one or a few modes, and over training "
         "that mass moves from mode to mode (seed 001's description of mode collapse, after Metz et al. 2017)")


def mode_fractions(x: torch.Tensor, means: torch.Tensor) -> np.ndarray:
    """Fraction of samples ``x (n, 2)`` whose nearest mode mean (``means (K, 2)``) is ``k``; ``(K,)``."""
    nearest = torch.cdist(x.double(), means.double()).argmin(dim=1)
    return (torch.bincount(nearest, minlength=means.shape[0]).double() / x.shape[0]).numpy()


def dominant_path(fractions: np.ndarray, minimum: float) -> list[int]:
    """The mode holding the most samples at each record, ``-1`` where none holds ``minimum``."""
    return [int(f.argmax()) if f.max() >= minimum else -1 for f in fractions]


def count_changes(path: list[int]) -> int:
    """How often the dominant mode switches, skipping records with no dominant mode."""
    seen = [m for m in path if m >= 0]
    return sum(a != b for a, b in zip(seen, seen[1:]))


def net_turns(path: list[int], k: int) -> float:
    """Signed turns around the ring made by the dominant mode: each switch counted as the
    shorter way round (``+1/k`` per mode in the direction of increasing index)."""
    seen = [m for m in path if m >= 0]
    return float(sum((b - a + k // 2) % k - k // 2 for a, b in zip(seen, seen[1:])) / k)


def segment_rows(steps: list[int], path: list[int], fractions: np.ndarray, covered: np.ndarray,
                 hq: list[float]) -> list[list[Any]]:
    """One row per stretch of consecutive records with the same dominant mode."""
    rows, start = [], 0
    for i in range(1, len(path) + 1):
        if i == len(path) or path[i] != path[start]:
            sl = slice(start, i)
            label = f"{steps[start]}-{steps[i - 1]}" if i - 1 > start else str(steps[start])
            rows.append([label, path[start] if path[start] >= 0 else "none", float(fractions[sl].max(axis=1).mean()),
                         int(covered[sl].max()), float(np.mean(hq[sl]))])
            start = i
    return rows


def config(*, seed: int, steps: int, batch_size: int, lr: float, g_width: int, d_width: int,
           radius: float, sigma: float) -> dict[str, Any]:
    """The training config: everything not set here is gankit's default."""
    return {
        "seed": seed, "device": "cpu", "latent_dim": 2, "loss": "ns",
        "data": {"name": "ring", "modes": 8, "radius": radius, "sigma": sigma},
        "generator": {"name": "mlp", "width": g_width, "depth": 2, "act": "relu"},
        "discriminator": {"name": "mlp", "width": d_width, "depth": 1, "act": "relu"},
        "optim_g": {"lr": lr}, "optim_d": {"lr": lr},
        "train": {"steps": steps, "batch_size": batch_size, "ema": 0.0, "progress": False,
                  "log_every": max(1, steps // 20)},
        "eval": {"metrics": ["modes", "energy"]},
    }


@EXPERIMENTS.register(NAME, claim=CLAIM, plot=plot_mode_dynamics,
                      paper="Metz et al. 2017, 'Unrolled Generative Adversarial Networks', Fig. 1; "
                            "Goodfellow 2016, 'NIPS 2016 Tutorial', §5.1.1 (the Helvetica scenario)")
def mode_collapse_dynamics(*, run_dir: Path, steps: int = 3000, batch_size: int = 256, lr: float = 2e-4,
                           g_width: int = 128, d_width: int = 128, radius: float = 2.0, sigma: float = 0.02,
                           record_every: int = 25, samples: int = 1000, covered_fraction: float = 0.05,
                           dominant_min: float = 0.3, min_changes: int = 3, min_visited: int = 4,
                           snapshots: int = 6, table_rows: int = 16, threads: int = 1,
                           seed: int = 0) -> ExperimentResult:
    """Fraction of generated samples per ring mode over the training of a plain NS GAN.

    Options: the GAN's ``steps``, ``batch_size``, ``lr`` (both players), hidden widths
    ``g_width`` / ``d_width``; the ring's ``radius`` and ``sigma``; every ``record_every`` steps
    ``samples`` points from a fixed noise batch are assigned to their nearest mode. A mode is
    *covered* at a step when it holds more than ``covered_fraction`` of the samples; the
    *dominant* mode holds the most, if at least ``dominant_min``. The claim holds when no
    recorded step covers all 8 modes, the dominant mode changes at least ``min_changes``
    times and at least ``min_visited`` different modes are dominant at some step.
    ``snapshots`` sample clouds are kept for the figure; the table lists the first
    ``table_rows`` stretches of steps with one dominant mode; ``threads``: torch threads while
    training. The training run (checkpoint, metrics, plots) is written to ``run_dir/train``.
    """
    if steps < record_every or record_every < 1 or samples < 10 or not 0 < covered_fraction < 1:
        raise ConfigError("mode-collapse-dynamics needs steps >= record_every >= 1, samples >= 10 "
                          "and 0 < covered_fraction < 1")
    if lr <= 0 or batch_size < 2 or g_width < 1 or d_width < 1 or radius <= 0 or sigma <= 0:
        raise ConfigError("mode-collapse-dynamics needs lr, radius, sigma > 0, batch_size >= 2 and widths >= 1")
    if snapshots < 0 or table_rows < 1 or threads < 1 or not 0 < dominant_min <= 1:
        raise ConfigError("mode-collapse-dynamics needs snapshots >= 0, table_rows >= 1, threads >= 1 "
                          "and 0 < dominant_min <= 1")
    cfg = config(seed=seed, steps=steps, batch_size=batch_size, lr=lr, g_width=g_width, d_width=d_width,
                 radius=radius, sigma=sigma)
    record: dict[str, list[Any]] = {"step": [], "fractions": [], "captured": [], "hq_percent": []}
    snap_steps = set(np.linspace(0, steps, snapshots + 1).round().astype(int)[1:].tolist()) if snapshots else set()
    clouds: dict[str, np.ndarray] = {}

    def on_step(run: Run, logs: dict[str, float]) -> None:
        if run.step % record_every and run.step not in snap_steps:
            return
        x = run.recipe.generate(samples, seed=seed + 12345)     # the same z at every record
        if run.step % record_every == 0:
            stats = mode_statistics(x, run.data.means, run.data.sigma)
            record["step"].append(run.step)
            record["fractions"].append(mode_fractions(x, run.data.means))
            record["captured"].append(stats["modes"])
            record["hq_percent"].append(stats["hq_percent"])
        if run.step in snap_steps:
            clouds[str(run.step)] = x[:500].numpy()

    # Run seeds the global RNG: fork it to leave the caller's alone
    with torch.random.fork_rng(), torch_threads(threads):
        run = train(cfg, run_dir=Path(run_dir) / "train", callbacks=[on_step])
    fractions = np.stack(record["fractions"])                   # (records, K)
    covered = (fractions > covered_fraction).sum(axis=1)        # (records,)
    path = dominant_path(fractions, dominant_min)
    changes = count_changes(path)
    visited = sorted({m for m in path if m >= 0})
    k = fractions.shape[1]
    holds = bool(covered.max() < k and changes >= min_changes and len(visited) >= min_visited)

    rows = segment_rows(record["step"], path, fractions, covered, record["hq_percent"])[:table_rows]
    summary = {
        "dominant mode changes": float(changes),
        "distinct dominant modes": float(len(visited)),
        "net turns around the ring": net_turns(path, k),
        "max modes covered at one step": float(covered.max()),
        "mean modes covered": float(covered.mean()),
        "mean fraction of the dominant mode": float(fractions.max(axis=1).mean()),
        "max modes captured (3 sigma) at one step": float(max(record["captured"])),
        "final modes captured (3 sigma, 2500 samples)": float(run.metrics["modes"]),
        "final HQ %": float(run.metrics["hq_percent"]),
    }
    return ExperimentResult(
        NAME, CLAIM,
        ["steps", "dominant mode", "its mean fraction", f"max modes > {covered_fraction:g}", "mean HQ % (3 sigma)"],
        rows, summary, holds,
        series={"step": record["step"], "fractions": fractions, "covered": covered, "dominant": path,
                "covered_fraction": covered_fraction, "snapshots": clouds, "means": run.data.means.numpy(),
                "radius": radius},
    )
