"""``gankit bench images``: DCGAN and conditional DCGAN on Fashion-MNIST at 32x32, with image
metrics at the end of every epoch.

Each model is its preset (``dcgan-fashion-mnist``, ``cdcgan-fashion-mnist``) with the bench's
width, batch size and length, trained by :class:`gankit.session.Run` (the one loop); a
callback evaluates the registered metrics ``fid``, ``kid``, ``pr`` and ``classes`` every
``eval_every`` steps (default: one epoch), and the run's own final evaluation gives the last
row. Wall time and images/s count training only; evaluation time is reported apart.

The defaults are the settings that meet the conditional-accuracy goal (>= 0.90 within 10
minutes on 2 CPU cores; README): narrower networks than the presets (width 16), Adam at 5e-4
decayed linearly to 0 over 8 epochs, and for ``cdcgan`` a projection discriminator with
per-class batch norm in the generator. ``--set width=32 --set lr=0.0002 --set lr_decay=none
--set projection=false --set conditional_bn=false`` is Radford et al.'s DCGAN as the presets have it.

The FID/KID/precision/recall columns of every evaluation are on the features of gankit's
classifier of the data set (trained once and cached; its description is in the report): they
are NOT comparable with Inception FIDs. Where the Inception weights are installed
(``gankit[inception]``) and ``eval_samples`` >= 2048, the final row also carries Inception
FID-N/KID/precision/recall (the run's own final evaluation, with its protocol card).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Literal

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
from gankit.errors import ConfigError

PRESETS = {"dcgan": "dcgan-fashion-mnist", "cdcgan": "cdcgan-fashion-mnist"}
METRICS = ["fid", "kid", "pr", "classes"]
# every evaluation during training is on gankit's classifier (cheap); the final one also on Inception
CLASSIFIER = {m: {"extractor": "classifier"} for m in ("fid", "kid", "pr")}
INCEPTION_KEYS = ("fid", "kid", "precision", "recall")
COLUMNS = [Column("epoch", "epoch", ".2f"), Column("step", "step", "d"), Column("train s", "train_s", ".0f"),
           Column("img/s", "images_per_s", ".0f"), Column("FID", "fid", ".2f"), Column("KID", "kid", ".4f"),
           Column("precision", "precision", ".3f"), Column("recall", "recall", ".3f"),
           Column("classes", "classes_generated", ".0f"), Column("KL(classes)", "classes_kl", ".3f"),
           Column("cond. acc.", "cond_accuracy", ".3f"), Column("eval s", "eval_s", ".0f"),
           Column("Inception FID-N", "inception_fid", ".2f"), Column("Inception KID", "inception_kid", ".4f"),
           Column("Inception P", "inception_precision", ".3f"), Column("Inception R", "inception_recall", ".3f")]


# How long the benchmark runs at its defaults (`gankit bench NAME --help` says it).
RUNTIME = ('12-14 min at the defaults on an idle 2-core CPU with 2 threads (training 342 s for dcgan + 396 s'
           ' for cdcgan, plus 18 evaluations); about 3x longer at load 8-10')


@BENCHMARKS.register("images", summary="DCGAN + conditional DCGAN on Fashion-MNIST 32x32: FID, KID, P/R, "
                                       "classes, cond. accuracy per epoch",
                     paper="Radford et al. 2016; Mirza & Osindero 2014",
                     runtime=RUNTIME)
def images(*, models: list[str] = ["dcgan", "cdcgan"], data: str = "fashion-mnist", size: int = 32,  # noqa: B006
           epochs: float = 8.0, eval_every: int = 0, width: int = 16, batch_size: int = 64, lr: float = 5e-4,
           lr_decay: Literal["none", "linear", "cosine"] = "linear", ema: float = 0.0, ema_start: int = 0,
           projection: bool = True, conditional_bn: bool = True, labels: str = "", eval_samples: int = 2500,
           seed: int = 0, baseline: bool = True, out: str = "runs/bench/images") -> list[dict[str, Any]]:
    """Train each of ``models`` for ``epochs`` passes over ``data`` and evaluate every
    ``eval_every`` steps (0: every epoch). ``width``: DCGAN feature maps next to the image (G
    and D); ``lr``: Adam's learning rate of both, ``lr_decay`` its schedule over the run (as
    ``train.lr_decay``); ``ema``: decay of an EMA of G's weights from step ``ema_start`` (0:
    off; else the metrics use the EMA generator); ``projection``: projection discriminator for
    ``cdcgan``, ``conditional_bn`` per-class batch norm in its generator; ``baseline``: also
    evaluate the untrained generator (step 0); ``labels``: the data set's ``labels`` option
    where it has one (``emoji``: ``group``, the 9 classes its feature classifier learns). Writes ``images.md`` and ``images.json`` in
    ``out``, a run directory per model below it (an earlier bench's run directory there is
    replaced)."""
    for m in models:
        if m not in PRESETS:
            raise ConfigError(f"bench images: unknown model {m!r} (choose from {', '.join(PRESETS)})")
    if epochs <= 0 or width < 1 or batch_size < 2 or eval_samples < 10 or eval_every < 0:
        raise ConfigError("bench images: needs epochs > 0, width >= 1, batch_size >= 2, eval_samples >= 10, "
                          "eval_every >= 0")
    options = {"models": models, "data": data, "size": size, "epochs": epochs, "eval_every": eval_every,
               "width": width, "batch_size": batch_size, "lr": lr, "lr_decay": lr_decay, "ema": ema,
               "ema_start": ema_start, "projection": projection, "conditional_bn": conditional_bn, "labels": labels,
               "eval_samples": eval_samples, "seed": seed, "baseline": baseline}
    out_dir = Path(out)
    env = environment()
    done = run_jobs(_bench_model, [(m, _config(m, options), out_dir / m, baseline) for m in models])
    rows = [row for model_rows, _, _ in done for row in model_rows]
    extractor, class_names = (done[-1][1], done[-1][2]) if done else ("", [])
    finish(env)
    report = {"options": options, "environment": env, "feature_extractor": extractor, "class_names": class_names,
              "rows": rows}
    write(out_dir, "images", report, markdown(rows, options, env, extractor, class_names), indent=2)
    return rows


def _config(model: str, o: dict[str, Any]) -> Any:
    """The model's preset with the bench's options; ``train.steps`` = ``epochs`` passes."""
    from gankit.config import build_config, load_preset, merge
    from gankit.data import DATASETS

    w = o["width"]
    raw = merge(load_preset(PRESETS[model]), {
        "name": model, "seed": o["seed"],
        "data": {"name": o["data"], "size": o["size"], **({"labels": o["labels"]} if o["labels"] else {})},
        "generator": {"width": w, "conditional_bn": o["conditional_bn"]},
        "discriminator": {"width": w, "projection": o["projection"]},
        "optim_g": {"lr": o["lr"]}, "optim_d": {"lr": o["lr"]},
        "train": {"batch_size": o["batch_size"], "ema": o["ema"], "ema_start": o["ema_start"],
                  "lr_decay": o["lr_decay"], "progress": True},
        "eval": {"metrics": METRICS, "num_samples": o["eval_samples"]}})
    cfg = build_config(raw)
    per_epoch = max(1, len(DATASETS.build(cfg.data.name, cfg.data.options)) // o["batch_size"])
    cfg.train.steps = max(1, math.ceil(o["epochs"] * per_epoch))
    cfg.train.eval_every = 0  # the bench's callback evaluates, timing the evaluation apart
    cfg.train.sample_every = o["eval_every"] or per_epoch
    cfg.train.checkpoint_every = 0
    return cfg


def _row(model: str, run: Any, metrics: dict[str, Any], train_s: float, eval_s: float | None,
         per_epoch: int) -> dict[str, Any]:
    step = run.step
    row: dict[str, Any] = {"model": model, "step": step, "epoch": round(step / per_epoch, 4),
                           "train_s": round(train_s, 3),  # to the ms: 2 decimals put sub-second runs >1 % off images_per_s
                           "images_per_s": round(step * run.cfg.train.batch_size / train_s, 1) if train_s > 0 else None,
                           "eval_s": None if eval_s is None else round(eval_s, 2)}
    for k, v in metrics.items():
        if isinstance(v, (int, float)) and k not in ("step", "wall_time_s"):
            row[k] = v
    return row


def _bench_model(model: str, cfg: Any, run_dir: Path,
                 baseline: bool) -> tuple[list[dict[str, Any]], str, list[str]]:
    """The rows of one model: the untrained generator (``baseline``), every evaluation
    period, the run's final evaluation; and the feature extractor's and classes' names."""
    from gankit.session import Run

    run = Run(cfg, run_dir)  # built here to evaluate its untrained generator before it trains
    per_epoch = max(1, len(run.data) // cfg.train.batch_size)
    every = cfg.train.sample_every
    rows: list[dict[str, Any]] = []
    extractor = ""
    if baseline:  # also trains (or loads) the feature classifier before any timing starts
        t = time.perf_counter()
        m = run.evaluate_in_training(options=CLASSIFIER)
        rows.append(_row(model, run, m, 0.0, time.perf_counter() - t, per_epoch))
        extractor = str(m.get("feature_extractor", ""))
        _print_row(rows[-1])
    eval_time = [0.0]
    start = time.perf_counter()

    def evaluate(r: Any, logs: dict[str, float]) -> None:
        # the run's own final evaluation is the last row; skip one less than half a period before it
        if r.step % every or 2 * (r.cfg.train.steps - r.step) < every:
            return
        t = time.perf_counter()
        m = r.evaluate_in_training(options=CLASSIFIER)  # leaves training's RNG streams and data order as they were
        dt = time.perf_counter() - t
        eval_time[0] += dt
        rows.append(_row(model, r, m, time.perf_counter() - start - eval_time[0], dt, per_epoch))
        _print_row(rows[-1])

    train_timed(cfg, run_dir, run=run, callbacks=[evaluate])
    # Run.fit's final evaluation: its wall time holds our callbacks' evaluations, taken out here
    t_final = float(run.metrics.get("wall_time_s", run.wall_time))
    final = run.metrics
    inception = {}
    if str(final.get("feature_extractor", "")).startswith("inception"):
        # the run's own final evaluation chose Inception (weights installed, >= 2048 images): keep those
        # numbers beside the classifier's, computed here on the same generated images' seed
        inception = {f"inception_{k}": final[k] for k in INCEPTION_KEYS if k in final}
        inception["inception_extractor"] = final["feature_extractor"]
        final = {**run.evaluate_in_training(options=CLASSIFIER), **{k: v for k, v in final.items()
                                                                    if k not in (*INCEPTION_KEYS, "feature_extractor")}}
    rows.append({**_row(model, run, final, t_final - eval_time[0], None, per_epoch), **inception})  # timed inside Run.fit
    _print_row(rows[-1])
    return rows, extractor or str(final.get("feature_extractor", "")), list(run.data.class_names)


def _print_row(row: dict[str, Any]) -> None:
    print(f"[{row['model']}] " + row_line(COLUMNS, row), flush=True)


def markdown(rows: list[dict[str, Any]], options: dict[str, Any], env: dict[str, Any], extractor: str,
             class_names: list[str] | None = None) -> str:
    """The bench report: the command, the machine, one table per model and, for conditional
    models, the final row's accuracy per requested class."""
    lines = [*header("images", command_from_options("images", options), machine_line(env)),
             f"Features for FID/KID/precision/recall: {extractor or 'n/a'} (not comparable with Inception FIDs). "
             "`classes`: classes generated (share >= 0.1 x data share), KL of the class histogram to the "
             "data's; `cond. acc.`: fraction of conditional samples the classifier assigns to the "
             "requested class. `train s` and `img/s` count training only (real images per second); "
             "`eval s` is the evaluation's own time. Step 0 is the untrained generator.", ""]
    inc = next((r for r in rows if r.get("inception_extractor")), None)
    if inc is not None:
        lines += [f"Inception columns (final evaluation only): {inc['inception_extractor']}, FID-N with N = "
                  f"{options['eval_samples']} generated images against as many images of the training split "
                  "(FID is biased upwards at small N: compare at equal N); the full protocol card is in each run's "
                  "metrics.json.", ""]
    for model in dict.fromkeys(r["model"] for r in rows):
        model_rows = [r for r in rows if r["model"] == model]
        shown = [c for c in COLUMNS if any(c.present(r) for r in model_rows)]    # Inception's: only where measured
        lines += [f"## {model}", "", *table(shown, model_rows), ""]
        last = model_rows[-1]
        per_class = {name: last[f"cond_accuracy_{c}"] for c, name in enumerate(class_names or [])
                     if f"cond_accuracy_{c}" in last}
        if per_class:
            columns = [Column("class", lambda r: "cond. acc."),
                       *(Column(name, name, ".3f") for name in per_class)]
            lines += [f"Conditional accuracy per requested class at step {last['step']}:", "",
                      *table(columns, [per_class]), ""]
    return "\n".join(lines)
