"""``gankit bench semisup``: semi-supervised test error of the AAE and the GAN with few labels,
each next to the same classifier trained on the labelled examples alone.

For every ``labels`` count and every method (``ssaae``: Makhzani et al. 2016 §5; ``ssgan``:
Salimans et al. 2016 §5) the method's preset (``ssaae-fashion-mnist``, ``ssgan-fashion-mnist``)
trains through :class:`gankit.session.Run` (the one loop) on ``data`` with ``model.labels``
labelled training examples (balanced, chosen by ``label_seed``), then the same preset with
``model.unlabelled=false``: the same classifier (the AAE's encoder, the GAN's discriminator),
the same labels, optimiser and steps, without the unlabelled data. Both are scored by
``test_error`` on the data set's test split. The gain is the baseline's error minus the method's.

The published rows are MNIST's (permutation-invariant MNIST, all 60k training images used
unlabelled): Makhzani et al. 2016, Table 2 (AAE: 1.90 +- 0.10 % with 100 labels, 1.60 +- 0.08 %
with 1000) and Salimans et al. 2016, Table 1 (feature matching: 93 +- 6.5 of 10,000 test
examples wrong with 100 labels, 0.93 %). Fashion-MNIST is harder and neither paper has a row
for it; ``data=mnist`` (with ``path=`` to the IDX files, nothing is downloaded) measures the
papers' setting, with the bench's short CPU budget rather than the papers' hundreds of epochs.
"""

from __future__ import annotations

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
    table,
    write,
)
from gankit.errors import ConfigError
from gankit.registry import Count, NonNegativeInt, Seed

PRESETS = {"ssaae": "ssaae-fashion-mnist", "ssgan": "ssgan-fashion-mnist"}
# (paper, labels) -> published MNIST test error in %, mean +- std over their runs
PUBLISHED = {("ssaae", 100): ("1.90 ± 0.10", "Makhzani et al. 2016, Table 2"),
             ("ssaae", 1000): ("1.60 ± 0.08", "Makhzani et al. 2016, Table 2"),
             ("ssgan", 100): ("0.93 ± 0.065", "Salimans et al. 2016, Table 1 (93 ± 6.5 errors)")}


# How long the benchmark runs at its defaults (`gankit bench NAME --help` says it).
RUNTIME = ('8 trainings at the defaults: 444 s (7.4 min) with one thread on a 2-core CPU at load 0.6-2.2; '
           'about 6x longer at load 6-9')


@BENCHMARKS.register("semisup", summary="semi-supervised test error (ssaae, ssgan) vs the labels-alone "
                                        "classifier, Fashion-MNIST 100 / 1000 labels",
                     paper="Makhzani et al. 2016 §5; Salimans et al. 2016 §5",
                     runtime=RUNTIME)
def semisup(*, data: Literal["fashion-mnist", "mnist"] = "fashion-mnist", path: str | None = None,
            labels: list[Count] = [100, 1000], methods: list[str] = ["ssaae", "ssgan"],  # noqa: B006
            steps: NonNegativeInt = 0, seed: Seed = 0, label_seed: Seed = 0, baseline: bool = True,
            out: str = "runs/bench/semisup") -> list[dict[str, Any]]:
    """Train each method of ``methods`` with each count of ``labels`` (and, with ``baseline``,
    its labels-alone classifier) for ``steps`` steps (0: the preset's) and report the test
    errors. ``path``: folder of the data set's IDX files (default: gankit's search). Writes
    ``semisup.md`` and ``semisup.json`` in ``out``, a run directory per training below it."""
    for m in methods:
        if m not in PRESETS:
            raise ConfigError(f"bench semisup: unknown method {m!r} (choose from {', '.join(PRESETS)})")
    options = {"data": data, "path": path, "labels": labels, "methods": methods, "steps": steps, "seed": seed,
               "label_seed": label_seed, "baseline": baseline}
    configs = [(m, n, unl, _config(m, n, unl, options)) for n in labels for m in methods
               for unl in ((True, False) if baseline else (True,))]   # all checked before the first trains
    out_dir = Path(out)
    env = environment()
    jobs = [(m, n, unl, cfg, out_dir / f"{m}-{n}{'' if unl else '-labelled-only'}") for m, n, unl, cfg in configs]
    rows = run_jobs(_train, jobs, echo=lambda r: f"[{r['method']} labels={r['labels']}] test error "
                                                 f"{100 * r['test_error']:.2f} %  train {r['train_s']:.0f} s  "
                                                 f"load {r['load']}")
    write(out_dir, "semisup", {"options": options, "environment": finish(env), "rows": rows},
          markdown(rows, options, env), indent=2)
    return rows


def _config(method: str, n: int, unlabelled: bool, o: dict[str, Any]) -> Any:
    from gankit.config import build_config, merge, preset_config

    data: dict[str, Any] = {"name": o["data"]}
    if o["path"]:
        data["path"] = o["path"]
    over: dict[str, Any] = {"seed": o["seed"], "data": data,
                            "model": {"labels": n, "label_seed": o["label_seed"], "unlabelled": unlabelled},
                            "train": {"checkpoint_every": 0, "checkpoint_seconds": 0.0, "progress": False}}
    if o["steps"]:
        over["train"]["steps"] = o["steps"]
    # as `gankit train --preset` builds it: base < preset < the bench's settings
    return build_config(merge(preset_config(PRESETS[method]), over))


def _train(method: str, n: int, unlabelled: bool, cfg: Any, run_dir: Path) -> dict[str, Any]:
    """One row: the test error of one training (the method, or its labels-alone baseline)."""
    t = train_timed(cfg, run_dir)
    return {"method": method if unlabelled else f"{method} labelled only", "labels": n,
            "test_error": t.run.metrics["test_error"], "steps": t.run.step, "train_s": round(t.train_s, 2),
            "total_s": round(t.wall_s, 2), "threads": t.run.threads,
            "load": "/".join(f"{v:.1f}" for v in t.load_end)}


def markdown(rows: list[dict[str, Any]], options: dict[str, Any], env: dict[str, Any]) -> str:
    """The report: command, machine, one table (method vs labels-alone, gain, published MNIST)."""
    base = {(r["method"].split()[0], r["labels"]): r for r in rows if r["method"].endswith("labelled only")}
    published = ("this is MNIST" if options["data"] == "mnist"
                 else "Fashion-MNIST is harder; neither paper has a row for it")
    about = (f"Data: {options['data']} (test split). `labelled only`: the same classifier, labels, optimiser and "
             f"steps without the unlabelled data; gain = its error minus the method's. Published: the papers' "
             f"MNIST numbers ({published}).")

    def alone(r: dict[str, Any]) -> dict[str, Any] | None:
        return base.get((r["method"], r["labels"]))

    def pub(r: dict[str, Any]) -> str:
        p = PUBLISHED.get((r["method"], r["labels"]))
        return "-" if p is None else f"{p[0]} ({p[1]})"

    columns = [Column("method", "method"), Column("labels", "labels"),
               Column("test error %", lambda r: f"{100 * r['test_error']:.2f}"),
               Column("labelled only %", lambda r: "-" if (b := alone(r)) is None else f"{100 * b['test_error']:.2f}"),
               Column("gain (points)", lambda r: "-" if (b := alone(r)) is None
                      else f"{100 * (b['test_error'] - r['test_error']):+.2f}"),
               Column("steps", "steps"),
               Column("train s", lambda r: f"{r['train_s']:.0f}" + ("" if (b := alone(r)) is None
                                                                    else f" + {b['train_s']:.0f}")),
               Column("load after", "load"), Column("published MNIST %", pub)]
    lines = [*header("semisup", command_from_options("semisup", options), machine_line(env)), about, "",
             *table(columns, [r for r in rows if not r["method"].endswith("labelled only")])]
    return "\n".join(lines) + "\n"
