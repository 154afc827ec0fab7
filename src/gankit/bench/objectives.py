"""``gankit bench objectives``: every objective of gankit on the ring of `base`, over seeds.

One row per objective: each entry of :data:`gankit.losses.LOSSES` with its settings in
:data:`SETTINGS`, ``fgan`` once per registered f-divergence and ``wgan`` once per Lipschitz
constraint (weight clipping; gradient penalty with the paper's weight 10 and the authors'
toy-script weight 0.1), so a newly registered loss or divergence gets
a row (and a training test, ``tests/training/test_objectives_train.py``) without an edit here.
Every run is the ``base`` preset (``gankit train --preset base``: the ring, the MLPs, the
mixture latent, the optimiser, the length) plus the objective's overrides, trained by
:func:`gankit.session.train`. Metrics (2,500 samples): modes captured, % high-quality
samples, reverse KL of the mode histogram to uniform, the energy distance to real data beside
its real-vs-real baseline, the training loop's wall and CPU time. A run whose loss becomes
NaN/inf is counted as diverged (the loop stops it) instead of aborting the benchmark.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gankit.bench import BENCHMARKS
from gankit.bench.harness import run_jobs, train_timed
from gankit.bench.report import (
    POINT_METRICS,
    Column,
    command_line,
    environment,
    finish,
    header,
    machine_line,
    mean_se,
    point_metrics,
    table,
    write,
)
from gankit.errors import ConfigError

# Settings per loss (overrides of `base`). A loss absent here runs with its settings;
# the WGAN rows are the preset files below.
SETTINGS: dict[str, dict[str, Any]] = {
    # WGAN-GP's schedule (n_critic 5, Adam 1e-4, betas (0.5, 0.9)) with a gradient penalty on the
    # critic's features instead of Li et al.'s clipping; weight 1 rather than 10 because MMD^2 is
    # bounded by 2 k(0) = 10 with five kernels (not tuned).
    "mmd-gan": {"loss": {"name": "mmd-gan"}, "penalty": {"name": "gp", "weight": 1.0}, "train": {"d_steps": 5},
                "optim_g": {"lr": 1e-4, "betas": [0.5, 0.9]}, "optim_d": {"lr": 1e-4, "betas": [0.5, 0.9]}},
    # RpGAN with R3GAN's regulariser, R1 + R2 with one gamma; gamma 1 on the standardised ring
    # (not tuned: 0.1 and 1 both covered the 8 modes in a 2,000-step run).
    "rpgan": {"loss": {"name": "rpgan"}, "penalty": {"name": "r1r2", "gamma": 1.0}},
    # GMMN has no critic: only G trains, so one update per step; its default bandwidths span the ring.
    "gmmn": {"loss": {"name": "gmmn"}},
}
# The Lipschitz constraints of WGAN: a preset file (the papers' settings) plus overrides.
# Gulrajani et al.'s released toy script (gan_toy.py) lowers the penalty weight to 0.1.
WGAN_ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "wgan-gp": ("wgan-gp", {}),
    "wgan-gp-toy": ("wgan-gp", {"penalty": {"weight": 0.1}}),
    "wgan-clip": ("wgan-clip", {}),
}


def objective_table() -> dict[str, dict[str, Any]]:
    """Row name -> config overrides, read from the registries at call time."""
    from gankit.config import load_preset, merge
    from gankit.losses import DIVERGENCES, LOSSES

    out: dict[str, dict[str, Any]] = {}
    for entry in LOSSES:
        if entry.name == "fgan":
            for div in DIVERGENCES.names():
                out[f"fgan-{div}"] = {"loss": {"name": "fgan", "divergence": div}}
        elif entry.name == "wgan":
            for row, (preset, extra) in WGAN_ROWS.items():
                row_cfg = merge(load_preset(preset), extra)
                out[row] = {**row_cfg.pop("model", {}), **row_cfg}  # the short spelling: loss=wgan penalty=gp
        else:
            out[entry.name] = SETTINGS.get(entry.name, {"loss": {"name": entry.name}})
    return out


def describe(overrides: Mapping[str, Any], prefix: str = "") -> str:
    """``{"loss": {"name": "fgan", "divergence": "kl"}}`` -> ``loss=fgan loss.divergence=kl``."""
    parts = []
    for k, v in overrides.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            if "name" in v:
                parts.append(f"{key}={v['name']}")
            rest = {kk: vv for kk, vv in v.items() if kk != "name"}
            if rest:
                parts.append(describe(rest, key + "."))
        else:
            parts.append(f"{key}={v if isinstance(v, str) else json.dumps(v).replace(' ', '')}")
    return " ".join(p for p in parts if p)


def run_config(objective: str, seed: int, *, steps: int | None = None,
               overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Nested config of one run: the base preset (the default preset until 2026-12-01, the
    setting the table was measured in) < objective < seed/evaluation < steps < overrides, so a
    row is ``gankit train --preset base --set loss=...`` as a user types it."""
    from gankit.config import BASE_PRESET, merge, parse_overrides, preset_config

    table = objective_table()
    if objective not in table:
        raise ConfigError(f"unknown objective {objective!r}; choose one of: {', '.join(table)}")
    cfg = merge(merge(preset_config(BASE_PRESET), table[objective]), {"seed": seed, "device": "cpu",
                                   "eval": {"num_samples": 2500, "metrics": ["modes", "energy"]},
                                   "train": {"progress": False, "log_every": 100}})
    if steps is not None:
        cfg = merge(cfg, {"train": {"steps": steps}})
    return merge(cfg, parse_overrides(overrides))


def resolved_config(objective: str, seed: int, *, steps: int | None = None,
                    overrides: Sequence[str] = ()) -> dict[str, Any]:
    """:func:`run_config` with every default filled in, as the run's ``config.yaml`` will hold it."""
    from gankit.config import build_config

    return build_config(run_config(objective, seed, steps=steps, overrides=overrides)).to_dict()


def run_one(objective: str, seed: int, cfg: dict[str, Any], out: str, threads: int = 1) -> dict[str, Any]:
    """Train one run of the fully resolved ``cfg`` (resolved by the parent process, so every worker
    trains the same defaults even if gankit's defaults change during the benchmark); return its
    metrics and timings (``diverged`` and NaN metrics if the loss blew up)."""
    import torch

    torch.set_num_threads(threads)
    row: dict[str, Any] = {"objective": objective, "seed": seed}
    t = train_timed(cfg, Path(out) / "runs" / objective / f"seed{seed}", keep_checkpoint=False,
                    allow_divergence=True)
    if t.run is None:
        return {**row, "diverged": t.diverged, "steps": math.nan, "train_s": math.nan, "cpu_s": t.cpu_s,
                **dict.fromkeys(POINT_METRICS, math.nan)}
    return {**row, "diverged": "", "steps": t.run.step, "train_s": t.train_s, "cpu_s": t.cpu_s,
            **point_metrics(t.run.metrics)}


def summarise(rows: Sequence[Mapping[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    """Per objective: mean ± standard error over the seeds that did not diverge; the worst seed."""
    out = []
    for name in order:
        rs = [r for r in rows if r["objective"] == name]
        ok = [r for r in rs if not r["diverged"]]
        s: dict[str, Any] = {"objective": name, "seeds": len(rs), "diverged": len(rs) - len(ok)}
        for k in ("modes", "hq_percent", "energy", "energy_baseline", "train_s", "cpu_s"):
            s[k], s[k + "_se"] = mean_se([r[k] for r in ok])
        # A seed without a single high-quality sample has no mode histogram (reverse KL = inf):
        # average the others and count those apart.
        finite = [r["reverse_kl"] for r in ok if math.isfinite(r["reverse_kl"])]
        s["reverse_kl"], s["reverse_kl_se"] = mean_se(finite)
        s["reverse_kl_inf"] = len(ok) - len(finite)
        s["modes_total"] = ok[0]["modes_total"] if ok else math.nan
        s["modes_min"] = min((r["modes"] for r in ok), default=math.nan)
        out.append(s)
    return out


def _pm(k: str, fmt: str, scale: float = 1.0) -> Callable[[Mapping[str, Any]], str]:
    """Mean ± standard error of ``k`` over the seeds that did not diverge."""
    def cell(s: Mapping[str, Any]) -> str:
        if not math.isfinite(s[k]):  # no seed left
            return "n/a"
        return f"{s[k] * scale:{fmt}} ± {s[k + '_se'] * scale:{fmt}}"
    return cell


def _modes(s: Mapping[str, Any]) -> str:
    return _pm("modes", ".1f")(s) + (f" / {s['modes_total']:.0f}" if math.isfinite(s["modes_total"]) else "")


def _reverse_kl(s: Mapping[str, Any]) -> str:
    n = s["reverse_kl_inf"]
    return _pm("reverse_kl", ".3f")(s) + (f" ({n} × ∞)" if n else "")


def markdown(summary: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> str:
    columns = [Column("objective", "objective"), Column("modes", _modes),
               Column("worst", lambda s: f"{s['modes_min']:.0f}" if math.isfinite(s["modes_min"]) else "n/a"),
               Column("HQ %", _pm("hq_percent", ".1f")), Column("reverse KL", _reverse_kl),
               Column("energy ×1e3", _pm("energy", ".2f", 1e3)),
               Column("real-vs-real ×1e3", _pm("energy_baseline", ".2f", 1e3)),
               Column("train s", _pm("train_s", ".1f")), Column("cpu s", _pm("cpu_s", ".1f")),
               Column("diverged", lambda s: f"{s['diverged']}/{s['seeds']}"),
               Column("settings", lambda s: meta["settings"][s["objective"]] or "(defaults)")]
    lines = [*header("objectives", meta["command"], meta["machine"]),
             f"Base config (the `base` preset, `gankit train --preset base`): {meta['base']}", "",
             "Mean ± standard error over the seeds that did not diverge; *worst*: the fewest modes of a seed; "
             "reverse KL over the seeds with high-quality samples (k × ∞: seeds with none); "
             "energy distance (×10⁻³) to real data beside the real-vs-real baseline; time: the training loop's "
             "wall time per run (cpu: process CPU time, comparable under load); *diverged*: seeds whose loss "
             "became NaN/inf.", "", *table(columns, summary)]
    return "\n".join(lines) + "\n"


def _base(c: Mapping[str, Any]) -> str:
    """The shared part of a resolved config, in one line (`base` at run time)."""
    m = c["model"]
    d, g, dn, t, og = c["data"], m["generator"], m["discriminator"], c["train"], c["optim_g"]
    return (f"data={d['name']} ({', '.join(f'{k} {v}' for k, v in d.items() if k != 'name')}), "
            f"latent_dim={m['latent_dim']}, prior={m['prior']['name']}, G={g['name']} {g.get('width')}x{g.get('depth')}, "
            f"D={dn['name']} {dn.get('width')}x{dn.get('depth')}, steps={t['steps']}, batch={t['batch_size']}, "
            f"lr_decay={t['lr_decay']}, ema={t['ema']}, optimiser={og['name']} lr={og['lr']} betas={tuple(og['betas'])} "
            f"(unless the objective's settings say otherwise)")


# How long the benchmark runs at its defaults (`gankit bench NAME --help` says it).
RUNTIME = ('115 trainings at the defaults (23 objectives x 5 seeds): 95 of them (all but mmd-gan, d2gan, '
           'rpgan, feature-matching) took 1 h 58 min on one worker of a 2-core CPU; mmd-gan adds about 30 '
           'CPU-minutes per run: 2-3 h in all (estimated)')


@BENCHMARKS.register("objectives", summary="every loss / f-divergence / WGAN constraint / MMD on the ring of base: "
                                           "modes, HQ, reverse KL, energy, time",
                     paper="Nowozin et al. 2016; Arjovsky et al. 2017; Gulrajani et al. 2017; Li et al. 2015, 2017",
                     runtime=RUNTIME)
def objectives_bench(*, objectives: list[str] | None = None, seeds: int | list[int] = 5, steps: int | None = None,
                     workers: int = 2, threads: int = 1, overrides: list[str] = (),
                     out: str = "runs/bench/objectives") -> list[dict[str, Any]]:
    """Modes, % HQ, reverse KL, energy distance and wall time of every objective on the ring of ``base``.

    ``objectives``: row names (default: all, see :func:`objective_table`); ``seeds``: a count (seeds
    0..n-1) or a list; ``steps``: training steps for every run (default: gankit's default);
    ``workers`` runs in parallel processes of ``threads`` torch threads each; ``overrides``:
    extra ``key=value`` config overrides for every run. Writes ``objectives.md`` and
    ``objectives.json`` into ``out`` and returns the per-objective summary.
    """
    rows_of = objective_table()
    names = list(rows_of) if objectives is None else list(objectives)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not names or not seed_list or workers < 1 or threads < 1:
        raise ConfigError("bench objectives: objectives, seeds, workers and threads must be non-empty / >= 1")
    # Resolved here, before any training: unknown names or options fail at once.
    configs = {(name, seed): resolved_config(name, seed, steps=steps, overrides=overrides)
               for name in names for seed in seed_list}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment(workers=workers, threads=threads)
    jobs = [(name, seed, cfg, str(out_dir), threads) for (name, seed), cfg in configs.items()]
    rows = run_jobs(run_one, jobs, workers=workers, desc="bench objectives", postfix=_progress)
    summary = summarise(rows, names)
    lists = {"objectives": None if list(names) == list(rows_of) else names}
    meta = {"command": command_line("objectives", lists, seed_list, workers=workers, threads=threads, steps=steps,
                                    overrides=overrides),
            "machine": machine_line(finish(env)), "base": _base(configs[names[0], seed_list[0]]),
            "settings": {n: describe(rows_of[n]) for n in names},
            "configs": {n: configs[n, seed_list[0]] for n in names}}
    write(out_dir, "objectives", {"meta": meta, "environment": env, "summary": summary, "runs": rows},
          markdown(summary, meta))
    print(f"written: {out_dir / 'objectives.md'}, {out_dir / 'objectives.json'}")
    return summary


def _progress(row: Mapping[str, Any]) -> str:
    state = "diverged" if row["diverged"] else f"{row['modes']:.0f} modes, HQ {row['hq_percent']:.1f}%"
    return f"{row['objective']}/s{row['seed']}: {state}"
