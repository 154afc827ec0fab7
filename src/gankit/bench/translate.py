"""``gankit bench translate``: pix2pix on Fashion-MNIST edges -> images and CycleGAN between two
Fashion-MNIST classes, measured on held-out data beside trivial translators.

Each model is its preset trained by :class:`gankit.session.Run` (the one loop) with the
bench's length: ``pix2pix`` (``pix2pix-fashion-edges``: L1 + cGAN), ``l1`` (the same with
``model.gan=0``: the paper's "L1 alone" regression) and ``cyclegan`` (``cyclegan-fashion``).

* pix2pix / l1: held-out L1 (pixels in [-1, 1]) and PSNR (dB, pixels in [0, 1]) beside the
  identity (output = the edge map) and the mean training image (the best constant answer in
  squared error);
* cyclegan: the share of held-out A images that gankit's Fashion-MNIST classifier labels as
  B's class after G (and B as A's after F), beside the untranslated images' share (the
  identity) and real images of the target class (the classifier's ceiling), and the held-out
  cycle errors ``mean|F(G(a)) - a|``, ``mean|G(F(b)) - b|`` beside the mean image of the domain.

Writes ``translate.md`` and ``translate.json`` in ``out``, a run directory per model below it,
and each model's sample grid (held-out triplets) as ``<out>/translate-<model>.png``.
The papers' own numbers (FCN scores on Cityscapes, AMT studies on maps, horse <-> zebra) come
from data sets and raters gankit cannot use offline: docs/bench-translate.md cites them beside
these, not as comparable numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.bench import BENCHMARKS
from gankit.bench.harness import run_jobs, train_timed
from gankit.bench.report import (
    Column,
    command_from_options,
    environment,
    finish,
    header,
    machine_line,
    table,
    write,
)
from gankit.errors import ConfigError

PRESETS = {"pix2pix": "pix2pix-fashion-edges", "l1": "pix2pix-fashion-edges", "cyclegan": "cyclegan-fashion"}
PAIRED = [Column("translator", "translator"), Column("steps", "steps"), Column("train s", "train_s"),
          Column("L1", "l1", ".4f"), Column("PSNR dB", "psnr", ".2f")]
CYCLE = [Column("", "what"), Column("A -> B", "ab"), Column("B -> A", "ba")]
BASELINES = [("identity", "input itself"), ("mean_image", "mean training image")]
TIMES = [Column("run", "model"), Column("train s", "train_s", ".0f"), Column("whole run s", "total_s", ".0f"),
         Column("load start", "load_start"), Column("load end", "load_end")]


# How long the benchmark runs at its defaults (`gankit bench NAME --help` says it).
RUNTIME = ('3 trainings at the defaults: 7 min 54 s with one thread on a 2-core CPU at load 8-9')


@BENCHMARKS.register("translate", summary="pix2pix (Fashion-MNIST edges -> image) and CycleGAN (two classes): "
                                          "held-out L1/PSNR, translated-class accuracy, cycle error",
                     paper="Isola et al. 2017; Zhu et al. 2017",
                     runtime=RUNTIME)
def translate(*, models: list[str] = ["pix2pix", "l1", "cyclegan"], pix2pix_steps: int = 1200,  # noqa: B006
              cyclegan_steps: int = 600, a: str = "Sneaker", b: str = "Ankle boot", seed: int = 0,
              eval_samples: int = 2000, out: str = "runs/bench/translate", grids: bool = True) -> list[dict[str, Any]]:
    """Train each of ``models`` (pix2pix, l1, cyclegan) from its preset for ``pix2pix_steps`` /
    ``cyclegan_steps`` steps; ``a``, ``b``: CycleGAN's two Fashion-MNIST classes; evaluate on
    ``eval_samples`` held-out images. Writes ``translate.md`` / ``translate.json``, a run directory
    per model and, with ``grids``, a sample grid ``translate-<model>.png`` per model, all in ``out``
    (nothing outside it)."""
    for m in models:
        if m not in PRESETS:
            raise ConfigError(f"bench translate: unknown model {m!r} (choose from {', '.join(PRESETS)})")
    if pix2pix_steps < 1 or cyclegan_steps < 1 or eval_samples < 2:
        raise ConfigError("bench translate: needs pix2pix_steps >= 1, cyclegan_steps >= 1, eval_samples >= 2")
    options = {"models": models, "pix2pix_steps": pix2pix_steps, "cyclegan_steps": cyclegan_steps, "a": a, "b": b,
               "seed": seed, "eval_samples": eval_samples}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    jobs = [(m, _config(m, options), out_dir / m, grid_path(out_dir, m) if grids else None) for m in models]
    rows = run_jobs(_bench_model, jobs, echo=_line)
    write(out_dir, "translate", {"options": options, "environment": finish(env), "rows": rows},
          markdown(rows, options, env), indent=2)
    return rows


def _config(model: str, o: dict[str, Any]) -> Any:
    """What ``gankit train --preset <the model's preset>`` trains, for the bench's length and evaluation."""
    from gankit.config import load_config

    sets = [f"name={model}", f"seed={o['seed']}", f"eval.num_samples={o['eval_samples']}", "train.checkpoint_every=0",
            "train.progress=false"]
    if model == "cyclegan":
        sets += [f"data.a={o['a']}", f"data.b={o['b']}", f"train.steps={o['cyclegan_steps']}"]
    else:
        sets += [f"train.steps={o['pix2pix_steps']}", f"data.test_num={o['eval_samples']}"]
        if model == "l1":
            sets.append("model.gan=0")
    return load_config(preset=PRESETS[model], overrides=sets)


def grid_path(out_dir: Path, model: str) -> Path:
    """Where the sample grid of ``model`` goes: inside the bench's output folder."""
    return out_dir / f"translate-{model}.png"


def _bench_model(model: str, cfg: Any, run_dir: Path, grid: Path | None) -> dict[str, Any]:
    """One row: the run's held-out metrics, its timing and load, its sample grid's path."""
    from gankit.plotting.grid import save_image_grid

    t = train_timed(cfg, run_dir)
    run = t.run
    row: dict[str, Any] = {"model": model, "preset": PRESETS[model], "steps": run.step,
                           "batch_size": cfg.train.batch_size, "train_s": round(t.train_s, 1),
                           "total_s": round(t.wall_s, 1), "load_start": round(t.load_start[0], 2),
                           "load_end": round(t.load_end[0], 2), "data": run.data.name}
    row.update({k: v for k, v in run.metrics.items() if isinstance(v, (int, float, str))
                and k not in ("step", "wall_time_s")})
    if grid is not None:
        imgs, nrow = run.recipe.sample_grid(16, seed=cfg.eval.seed)
        row["grid"] = str(save_image_grid(imgs, grid, nrow=nrow))
    return row


def _line(r: dict[str, Any]) -> str:
    keys = [k for k in r if isinstance(r[k], float) and k not in ("train_s", "total_s", "load_start", "load_end")]
    return f"[{r['model']}] {r['steps']} steps, {r['train_s']:.0f} s: " + ", ".join(f"{k}={r[k]:.4g}" for k in keys)


def markdown(rows: list[dict[str, Any]], options: dict[str, Any], env: dict[str, Any]) -> str:
    lines = header("translate", command_from_options("translate", options), machine_line(env))
    paired = [r for r in rows if r["model"] in ("pix2pix", "l1")]
    if paired:
        runs = [{"translator": "pix2pix (L1 + cGAN)" if r["model"] == "pix2pix" else "L1 alone (model.gan=0)",
                 "steps": r["steps"], "train_s": f"{r['train_s']:.0f}", "l1": r["l1"], "psnr": r["psnr"]}
                for r in paired]
        runs += [{"translator": what, "steps": "-", "train_s": "-", "l1": paired[0][f"l1_{key}"],
                  "psnr": paired[0][f"psnr_{key}"]} for key, what in BASELINES if f"l1_{key}" in paired[0]]
        lines += ["## Fashion-MNIST Sobel edges -> image, held-out pairs", "", *table(PAIRED, runs), ""]
    for r in (r for r in rows if r["model"] == "cyclegan"):
        lines += [f"## CycleGAN {r['data'].split(':', 1)[-1]}, held-out images", "",
                  f"{r['steps']} steps of batch {r['batch_size']}, {r['train_s']:.0f} s of training.", "",
                  *table(CYCLE, _cycle_rows(r)), ""]
        if r.get("feature_extractor"):
            lines += [f"Classifier: {r['feature_extractor']}.", ""]
    lines += ["Wall time and load per run:", "", *table(TIMES, rows)]
    return "\n".join(lines) + "\n"


def _cycle_rows(r: dict[str, Any]) -> list[dict[str, str]]:
    """CycleGAN's rows, A -> B beside B -> A: translated-class accuracy (with the identity's and
    real images'), the cycle errors beside a translator that forgets."""
    def row(what: str, ab: str, ba: str, fmt: str) -> dict[str, str]:
        return {"what": what, "ab": format(r[ab], fmt), "ba": format(r[ba], fmt)}

    out = []
    if "translated_acc_AB" in r:
        out += [row("translated-class accuracy", "translated_acc_AB", "translated_acc_BA", ".3f"),
                row("... of the untranslated images (identity)", "translated_acc_AB_identity",
                    "translated_acc_BA_identity", ".3f"),
                row("... of real target images (the classifier's ceiling)", "translated_acc_AB_real",
                    "translated_acc_BA_real", ".3f")]
    return out + [row("cycle error mean abs(F(G(a)) - a), mean abs(G(F(b)) - b)", "cycle_l1_A", "cycle_l1_B", ".4f"),
                  row("... of a translator that forgets (the domain's mean image)", "cycle_l1_A_mean_image",
                      "cycle_l1_B_mean_image", ".4f")]
