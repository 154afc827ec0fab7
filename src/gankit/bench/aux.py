"""``gankit bench aux``: the auxiliary-head recipes against their published numbers.

* ``infogan``: the ``infogan-digits`` preset; its categorical code's accuracy after matching
  codes to classes one-to-one (Hungarian algorithm) on gankit's digits classifier's labels of
  the generated samples (metric ``codes``). Published: 5 % error (95 % accuracy) for the
  categorical code on MNIST (Chen et al. 2016, sec. 7.2).
* ``acgan`` / ``cdcgan``: the ``acgan-fashion-mnist`` and ``cdcgan-fashion-mnist`` presets
  (same generator, optimiser and schedule; D with a class head vs a projection D): the
  conditional accuracy of their samples on gankit's Fashion-MNIST classifier (metric ``classes``).

Each model is its preset trained by :class:`gankit.session.Run` (the one loop), one after the
other; ``steps`` (0: the preset's) and ``seeds`` (one run per seed) apply to all. Writes ``aux.md``, ``aux.json``
and a sample grid per model (a row per code value / class) into ``out``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gankit.bench import BENCHMARKS
from gankit.bench.harness import run_jobs, train_timed
from gankit.bench.report import (
    Column,
    command_from_options,
    environment,
    finish,
    header,
    machine_line,
    row_line,
    table,
    write,
)
from gankit.capabilities import HasCodes
from gankit.errors import ConfigError

PRESETS = {"infogan": "infogan-digits", "acgan": "acgan-fashion-mnist", "cdcgan": "cdcgan-fashion-mnist"}
PUBLISHED = {
    "infogan": "5 % error (95 % accuracy) of the categorical code on MNIST (Chen et al. 2016, sec. 7.2)",
    "acgan": "no accuracy of this kind published for Fashion-MNIST; compare with cdcgan on the same setup",
    "cdcgan": "the cdcgan-fashion-mnist preset's measured line: cond. accuracy 0.915 in 468 s (one thread, load 4-8)",
}
COLUMNS = [Column("model", "model", "s"), Column("preset", "preset", "s"), Column("seed", "seed", "d"),
           Column("steps", "steps", "d"), Column("train s", "train_s", ".0f"),
           Column("code acc.", "code_accuracy", ".3f"), Column("worst code", "code_accuracy_worst", ".3f"),
           Column("cond. acc.", "cond_accuracy", ".3f"), Column("worst class", "cond_accuracy_worst", ".3f"),
           Column("classes", "classes_generated", ".0f"), Column("FID", "fid", ".2f"),
           Column("precision", "precision", ".3f"), Column("recall", "recall", ".3f"),
           Column("load 1-min (start/end)", "load", "s")]


# How long the benchmark runs at its defaults (`gankit bench NAME --help` says it).
RUNTIME = ('3 trainings at the defaults: infogan 40-90 s, acgan 1,715 s and cdcgan 470 s-30 min (one thread,'
           ' load 4-9): 35-60 min')


@BENCHMARKS.register("aux", summary="InfoGAN code accuracy on digits; AC-GAN vs projection cDCGAN cond. accuracy",
                     paper="Chen et al. 2016; Odena et al. 2017",
                     runtime=RUNTIME)
def aux(*, models: list[str] = ["infogan", "acgan", "cdcgan"], steps: int = 0, seeds: list[int] = [0],  # noqa: B006
        out: str = "runs/bench/aux") -> list[dict[str, Any]]:
    """Train each of ``models`` (infogan, acgan, cdcgan) from its preset, ``steps`` steps (0:
    the preset's), once per seed in ``seeds``, one run after the other, and tabulate code /
    conditional accuracy beside the published numbers. Writes ``aux.md``, ``aux.json`` and
    ``<model>[-<seed>].png`` sample grids in ``out``, a run directory per run below it."""
    for m in models:
        if m not in PRESETS:
            raise ConfigError(f"bench aux: unknown model {m!r} (choose from {', '.join(PRESETS)})")
    if steps < 0:
        raise ConfigError("bench aux: steps must be >= 0 (0: the preset's)")
    if not seeds:
        raise ConfigError("bench aux: seeds must name at least one seed")
    options = {"models": models, "steps": steps, "seeds": seeds}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    suffix = (lambda seed: f"-{seed}") if len(seeds) > 1 else (lambda seed: "")
    rows = run_jobs(_bench_model, [(m, steps, seed, out_dir, suffix(seed)) for m in models for seed in seeds],
                    echo=lambda row: row_line(COLUMNS, row))
    report = {"options": options, "environment": finish(env), "published": PUBLISHED, "rows": rows}
    write(out_dir, "aux", report, markdown(rows, options, env), indent=2)
    return rows


def _bench_model(model: str, steps: int, seed: int, out_dir: Path, suffix: str = "") -> dict[str, Any]:
    from gankit.config import build_config, load_preset, merge
    from gankit.plotting.grid import save_image_grid
    raw = merge(load_preset(PRESETS[model]), {"name": model, "seed": seed, "train": {"progress": False}})
    cfg = build_config(raw)
    if steps:
        cfg.train.steps = steps
    cfg.train.checkpoint_every = 0
    t = train_timed(cfg, out_dir / f"{model}{suffix}")
    run = t.run
    recipe = run.recipe
    if isinstance(recipe, HasCodes):        # a row per code value, continuous code 0 along it
        grid, cols = recipe.code_grid(10, vary=0 if recipe.codes.continuous else None, seed=0), 10
    else:                                  # a row per class
        k = recipe.num_classes
        grid, cols = recipe.generate(10 * k, torch.arange(k).repeat_interleave(10), seed=0), 10
    save_image_grid(grid, out_dir / f"{model}{suffix}.png", nrow=cols)
    row: dict[str, Any] = {"model": model, "preset": PRESETS[model], "seed": seed, "steps": run.step,
                           "train_s": round(t.train_s, 1), "total_s": round(t.wall_s, 1),
                           "threads": run.threads, "load": f"{t.load_start[0]:.1f} / {t.load_end[0]:.1f}"}
    row.update({k: v for k, v in run.metrics.items() if isinstance(v, (int, float)) and k not in ("step",)})
    return row


def markdown(rows: list[dict[str, Any]], options: dict[str, Any], env: dict[str, Any]) -> str:
    lines = [*header("aux", command_from_options("aux", options), machine_line(env)),
             "`train s`: training only; `load`: the 1-minute load average when the model's run started and ended.",
             "", *table(COLUMNS, rows)]
    for model in dict.fromkeys(r["model"] for r in rows):
        for key, what in (("code_accuracy", "code accuracy"), ("cond_accuracy", "cond. accuracy")):
            vals = [r[key] for r in rows if r["model"] == model and key in r]
            if len(vals) > 1:
                mean = sum(vals) / len(vals)
                sd = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5
                lines += ["", (f"{model}: {what} {mean:.3f} +- {sd:.3f} (mean +- sd over {len(vals)} seeds, "
                               f"range {min(vals):.3f}-{max(vals):.3f})")]
    lines += ["", "Published:", ""] + [f"* {m}: {PUBLISHED[m]}" for m in dict.fromkeys(r["model"] for r in rows)]
    return "\n".join(lines) + "\n"
