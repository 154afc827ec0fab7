"""``gankit bench aux``: the auxiliary-head recipes against their published numbers.

* ``infogan``: the ``infogan-digits`` preset; its categorical code's accuracy after matching
  codes to classes one-to-one (Hungarian algorithm) on gankit's digits classifier's labels of
  the generated samples (metric ``codes``). Published: 5 % error (95 % accuracy) for the
  categorical code on MNIST (Chen et al. 2016, sec. 7.2).
* ``acgan`` / ``cdcgan``: the ``acgan-fashion-mnist`` and ``cdcgan-fashion-mnist`` presets
  (same generator, optimiser and schedule; D with a class head vs a projection D): the
  conditional accuracy of their samples on gankit's Fashion-MNIST classifier (metric ``classes``).

Each model is its preset trained by :class:`gankit.training.Run` (the one loop), one after the
other; ``steps`` (0: the preset's) and ``seeds`` (one run per seed) apply to all. Writes ``aux.md``, ``aux.json``
and a sample grid per model (a row per code value / class) into ``out``.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from gankit import jsonio
from gankit.bench import BENCHMARKS
from gankit.bench.report import command_from_options
from gankit.errors import ConfigError

PRESETS = {"infogan": "infogan-digits", "acgan": "acgan-fashion-mnist", "cdcgan": "cdcgan-fashion-mnist"}
PUBLISHED = {
    "infogan": "5 % error (95 % accuracy) of the categorical code on MNIST (Chen et al. 2016, sec. 7.2)",
    "acgan": "no accuracy of this kind published for Fashion-MNIST; compare with cdcgan on the same setup",
    "cdcgan": "the cdcgan-fashion-mnist preset's measured line: cond. accuracy 0.915 in 468 s (one thread, load 4-8)",
}
COLUMNS = [("model", "model", "s"), ("preset", "preset", "s"), ("seed", "seed", "d"), ("steps", "steps", "d"), ("train_s", "train s", ".0f"),
           ("code_accuracy", "code acc.", ".3f"), ("code_accuracy_worst", "worst code", ".3f"),
           ("cond_accuracy", "cond. acc.", ".3f"), ("cond_accuracy_worst", "worst class", ".3f"),
           ("classes_generated", "classes", ".0f"), ("fid", "FID", ".2f"), ("precision", "precision", ".3f"),
           ("recall", "recall", ".3f"), ("load", "load 1-min (start/end)", "s")]


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
    env = {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
           "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    rows = []
    for model in models:
        for seed in seeds:
            rows.append(_bench_model(model, steps, seed, out_dir, suffix=f"-{seed}" if len(seeds) > 1 else ""))
            _print_row(rows[-1])
    report = {"options": options, "environment": env, "published": PUBLISHED, "rows": rows}
    (out_dir / "aux.json").write_text(jsonio.dumps(report, indent=2) + "\n")
    md = markdown(rows, options, env)
    (out_dir / "aux.md").write_text(md)
    print(md)
    return rows


def _bench_model(model: str, steps: int, seed: int, out_dir: Path, suffix: str = "") -> dict[str, Any]:
    from gankit.config import build_config, load_preset, merge
    from gankit.plotting.grid import save_image_grid
    from gankit.training import Run

    raw = merge(load_preset(PRESETS[model]), {"name": model, "seed": seed, "train": {"progress": False}})
    cfg = build_config(raw)
    if steps:
        cfg.train.steps = steps
    cfg.train.checkpoint_every = 0
    run_dir = out_dir / f"{model}{suffix}"
    if (run_dir / "checkpoint.pt").exists():  # the bench's own run folder from an earlier bench
        shutil.rmtree(run_dir)
    load_start = os.getloadavg()[0]
    t = time.perf_counter()
    run = Run(cfg, run_dir).fit()
    total_s = time.perf_counter() - t
    load_end = os.getloadavg()[0]
    recipe = run.recipe
    if hasattr(recipe, "code_grid"):       # a row per code value, continuous code 0 along it
        grid, cols = recipe.code_grid(10, vary=0 if recipe.codes.continuous else None, seed=0), 10
    else:                                  # a row per class
        k = recipe.num_classes
        grid, cols = recipe.generate(10 * k, torch.arange(k).repeat_interleave(10), seed=0), 10
    save_image_grid(grid, out_dir / f"{model}{suffix}.png", nrow=cols)
    row: dict[str, Any] = {"model": model, "preset": PRESETS[model], "seed": seed, "steps": run.step,
                           "train_s": round(run.wall_time, 1), "total_s": round(total_s, 1),
                           "threads": run.threads, "load": f"{load_start:.1f} / {load_end:.1f}"}
    row.update({k: v for k, v in run.metrics.items() if isinstance(v, (int, float)) and k not in ("step",)})
    return row


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _print_row(row: dict[str, Any]) -> None:
    print("  ".join(f"{title}={_fmt(row.get(k), spec)}" for k, title, spec in COLUMNS if row.get(k) is not None),
          flush=True)


def markdown(rows: list[dict[str, Any]], options: dict[str, Any], env: dict[str, Any]) -> str:
    machine = (f"Machine: {env['cpu_count']} CPUs, torch {env['torch']}, torch threads {env['torch_threads']} "
               f"(OMP_NUM_THREADS={env['omp_num_threads']}), {env['date']}. `train s`: training only; "
               "`load`: the 1-minute load average when the model's run started and ended.")
    lines = ["# gankit bench aux", "", f"Command: `{command_from_options('aux', options)}`", "", machine, "",
             "| " + " | ".join(t for _, t, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(r.get(k), s) for k, _, s in COLUMNS) + " |" for r in rows]
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
