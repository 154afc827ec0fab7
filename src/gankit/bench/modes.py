"""``gankit bench modes``: mode coverage of every mitigation on the 2-D mixture benchmarks.

Setups are those of ../shared/REFERENCE.md §6: PacGAN's ring (8 modes, radius 1, sigma 0.01)
and grid (5 x 5, spacing 2, sigma 0.05), the Unrolled-GAN paper's ring (radius 2, sigma 0.02)
and a 7 x 7 grid. A *method* is a named set of config overrides on top of gankit's
defaults; every run is the one training loop (:func:`gankit.session.train`). Metrics per run
(VEEGAN/PacGAN's definitions, 2,500 samples): modes captured, % high-quality samples,
reverse KL of the mode histogram to uniform, and the energy distance to real data beside
its real-vs-real baseline; summarised as mean ± standard error over seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gankit.bench import BENCHMARKS
from gankit.bench.harness import run_jobs, train_timed
from gankit.bench.report import (
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

SETUPS: dict[str, dict[str, Any]] = {
    "ring": {"name": "ring", "modes": 8, "radius": 1.0, "sigma": 0.01},            # PacGAN
    "grid": {"name": "grid", "n": 5, "spacing": 2.0, "sigma": 0.05},               # PacGAN
    "ring-unrolled": {"name": "ring", "modes": 8, "radius": 2.0, "sigma": 0.02},   # Metz et al. 2017
    "grid7": {"name": "grid", "n": 7, "spacing": 2.0, "sigma": 0.05},              # 49 modes
}

# A plain non-saturating GAN, tuned (128-wide nets train ~2x faster than 256 on a CPU and, at
# lr 5e-4 with linear decay, reach more of the ring in 3000 steps than 256 at 1e-4), that
# every mitigation row adds one thing to.
PLAIN: dict[str, Any] = {
    "loss": {"name": "ns"}, "penalty": {"name": "none"}, "prior": {"name": "normal"}, "latent_dim": 2,
    "generator": {"name": "mlp", "width": 128, "depth": 3},
    "discriminator": {"name": "mlp", "width": 128, "depth": 3},
    "optim_g": {"lr": 5e-4, "betas": [0.5, 0.999]}, "optim_d": {"lr": 5e-4, "betas": [0.5, 0.999]},
    "train": {"steps": 3000, "batch_size": 256, "lr_decay": "linear", "ema": 0.0},
}


Method = Callable[[int], dict[str, Any]]  # number of modes of the setup -> config overrides


def _preset(name: str) -> dict[str, Any]:
    from gankit.config import preset_config

    return preset_config(name)


def _plus(extra: Mapping[str, Any]) -> Method:
    """The plain GAN plus ``extra``, the same for every setup."""
    from gankit.config import merge

    cfg = merge(PLAIN, extra)
    return lambda modes: cfg


def _code(modes: int) -> dict[str, Any]:
    """One categorical code per mode (times 3) plus two N(0, 0.1^2) noise coordinates."""
    return {"prior": {"name": "categorical", "components": modes, "scale": 3.0, "sigma": 0.1},
            "latent_dim": modes + 2}


def _best(modes: int) -> dict[str, Any]:
    """The categorical code with a faster D than G (TTUR, Heusel et al. 2017), higher learning
    rates decayed linearly over 5000 steps, an EMA of G over the last 2000, and a weak R1 penalty
    (gamma 0.1, Mescheder et al. 2018), which keeps D's gradient pointing at the modes' centres
    when the modes are narrow (tuned on the 5x5 grid, seeds 0 and 2: gamma 1 and no penalty
    left a cluster beside its mode)."""
    from gankit.config import merge

    return merge(_plus(_code(modes))(modes), {
        "optim_g": {"lr": 1e-3}, "optim_d": {"lr": 2e-3}, "penalty": {"name": "r1", "gamma": 0.1},
        "train": {"steps": 5000, "ema": 0.99, "ema_start": 3000}})


def _mog(modes: int) -> dict[str, Any]:
    """One latent component per mode on a circle, spaced ~1.5 apart, sigma 0.2 (a gap of ~7.5 sigma)."""
    radius = max(2.0, 1.5 * modes / (2 * math.pi))
    return {"prior": {"name": "mog", "components": modes, "radius": round(radius, 3), "sigma": 0.2}}


METHODS: dict[str, Method] = {
    "default": lambda modes: _preset("default"),                        # `gankit train` as shipped
    "base": lambda modes: _preset("base"),                              # the default preset until 2026-12-01
    "gan": _plus({}),
    "ema": _plus({"train": {"ema": 0.999}}),
    "mog-prior": lambda modes: _plus(_mog(modes))(modes),
    "code": lambda modes: _plus(_code(modes))(modes),
    "best": _best,
    "pack2": _plus({"mitigations": {"pack": {"m": 2}}}),
    "pack4": _plus({"mitigations": {"pack": {"m": 4}}}),
    # 8 kernels of dimension 4: the paper's 100 x 5 costs ~30x a plain step at batch 256 on a CPU
    "minibatch": _plus({"mitigations": {"minibatch": {"kernels": 8, "dims": 4}}}),
    "mbstd": _plus({"mitigations": {"mbstd": {}}}),
    "unrolled5": _plus({"mitigations": {"unrolled": {"k": 5}}}),
    "instance-noise": _plus({"mitigations": {"instance_noise": {"sigma": 0.1}}}),
    "sn": _plus({"discriminator": {"spectral_norm": True}}),
    "wgan-gp": _plus({"loss": {"name": "wgan"}, "penalty": {"name": "gp", "weight": 10.0},
                      "train": {"d_steps": 5},
                      "optim_g": {"betas": [0.5, 0.9]}, "optim_d": {"betas": [0.5, 0.9]}}),
}


def setup_modes(setup: str) -> int:
    d = SETUPS[setup]
    return int(d["modes"]) if d["name"] == "ring" else int(d["n"]) ** 2


GOAL = {"hq_percent": 98.0, "reverse_kl": 0.02, "seconds": 60.0}


def run_config(method: str, setup: str, seed: int, *, steps: int | None = None,
               overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The nested config of one benchmark run: defaults < method < setup < steps < overrides."""
    from gankit.config import merge, parse_overrides

    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if setup not in SETUPS:
        raise ConfigError(f"unknown setup {setup!r}; choose one of: {', '.join(SETUPS)}")
    cfg = merge(METHODS[method](setup_modes(setup)), {
        "seed": seed, "device": "cpu", "data": dict(SETUPS[setup]),
        "eval": {"num_samples": 2500, "metrics": ["modes", "energy"]},
        "train": {"progress": False, "log_every": 100},
    })
    if steps is not None:
        cfg = merge(cfg, {"train": {"steps": steps}})
    return merge(cfg, parse_overrides(overrides))


def run_one(method: str, setup: str, seed: int, out: str, steps: int | None = None,
            overrides: Sequence[str] = (), threads: int = 1, keep: bool = False) -> dict[str, Any]:
    """Train one run, save its 2,500 evaluation samples, return its metrics and timings."""
    import torch

    torch.set_num_threads(threads)
    cfg = run_config(method, setup, seed, steps=steps, overrides=overrides)
    t = train_timed(cfg, Path(out) / "runs" / method / setup / f"seed{seed}", keep_checkpoint=keep)
    run = t.run
    # Exactly the samples the 'modes' and 'energy' metrics were computed from.
    samples = run.recipe.generate(run.cfg.eval.num_samples, seed=run.cfg.eval.seed).numpy()
    path = Path(out) / "samples" / f"{method}__{setup}__seed{seed}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, samples)
    m = run.metrics
    width = mode_width(samples, run.data.means.numpy(), run.data.sigma)
    return {"method": method, "setup": setup, "seed": seed, "steps": run.step,
            **point_metrics(m),
            "width": width,
            "train_s": t.train_s, "total_s": t.wall_s, "cpu_s": t.cpu_s, "samples": str(path)}


# RMS per-coordinate spread of a 2-D Gaussian truncated at 3 sigma, in units of sigma:
# E[r^2 | r < 3] = (2 - 11 e^{-4.5}) / (1 - e^{-4.5}) for r ~ Rayleigh(1); per coordinate: / 2.
PERFECT_WIDTH = math.sqrt((2 - 11 * math.exp(-4.5)) / (1 - math.exp(-4.5)) / 2)


def mode_width(samples: np.ndarray, means: np.ndarray, sigma: float) -> float:
    """RMS per-coordinate distance of the high-quality samples to their mode, in units of sigma.

    A sampler of the data scores :data:`PERFECT_WIDTH` (0.974); a generator that squeezes
    each mode towards a point, which raises HQ above 98.9 %, scores less.
    """
    x = np.asarray(samples, dtype=np.float64)
    d = np.sqrt(((x[:, None, :] - np.asarray(means)[None]) ** 2).sum(-1)).min(axis=1)  # (n,)
    hq = d <= 3 * sigma
    return float(np.sqrt((d[hq] ** 2).mean() / x.shape[1]) / sigma) if hq.any() else math.nan


def at_goal(row: Mapping[str, Any]) -> bool:
    """All modes, >= 98 % HQ, reverse KL <= 0.02, trained in <= 60 s."""
    return (row["modes"] == row["modes_total"] and row["hq_percent"] >= GOAL["hq_percent"]
            and row["reverse_kl"] <= GOAL["reverse_kl"] and row["train_s"] <= GOAL["seconds"])


def summarise(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (method, setup): mean and standard error over seeds, worst seed, seeds at the goal."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["setup"]), []).append(r)
    out = []
    for (method, setup), rs in groups.items():
        s: dict[str, Any] = {"method": method, "setup": setup, "seeds": len(rs), "modes_total": rs[0]["modes_total"]}
        for k in ("modes", "hq_percent", "reverse_kl", "energy", "energy_baseline", "width", "train_s", "total_s",
                  "cpu_s"):
            s[k], s[k + "_se"] = mean_se([r[k] for r in rs])
        s["modes_min"] = min(r["modes"] for r in rs)
        s["hq_percent_min"] = min(r["hq_percent"] for r in rs)
        s["reverse_kl_max"] = max(r["reverse_kl"] for r in rs)
        s["train_s_max"] = max(r["train_s"] for r in rs)
        s["at_goal"] = sum(at_goal(r) for r in rs)
        out.append(s)
    return out


def _pm(k: str, fmt: str, scale: float = 1.0) -> Callable[[Mapping[str, Any]], str]:
    """Mean ± standard error of ``k`` over seeds."""
    def cell(s: Mapping[str, Any]) -> str:
        if not math.isfinite(s[k]):  # a run without any high-quality sample has reverse KL = inf
            return "∞"
        return f"{s[k] * scale:{fmt}} ± {s[k + '_se'] * scale:{fmt}}"
    return cell


COLUMNS = [Column("method", "method"), Column("setup", "setup"),
           Column("modes", lambda s: f"{_pm('modes', '.2f')(s)} / {s['modes_total']:.0f}"),
           Column("worst", "modes_min", ".0f"), Column("HQ %", _pm("hq_percent", ".1f")),
           Column("worst HQ %", "hq_percent_min", ".1f"), Column("reverse KL", _pm("reverse_kl", ".3f")),
           Column("energy ×1e3", _pm("energy", ".2f", 1e3)),
           Column("real-vs-real ×1e3", lambda s: f"{s['energy_baseline'] * 1e3:.2f}"),
           Column("width", _pm("width", ".2f")), Column("train s", _pm("train_s", ".1f")),
           Column("cpu s", "cpu_s", ".1f"), Column("goal", lambda s: f"{s['at_goal']}/{s['seeds']}")]


def markdown(summary: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> str:
    lines = [*header("modes", meta["command"], meta["machine"]),
             "Mean ± standard error over seeds; *worst* is the worst seed; energy distance "
             "(×10⁻³) to real data beside the real-vs-real baseline; *width*: RMS distance of the HQ "
             f"samples to their mode per coordinate, in σ (the data: {PERFECT_WIDTH:.3f}; less = modes squeezed); "
             "time is the training loop's "
             "wall time per run (cpu: process CPU time, comparable under load); *goal*: seeds with "
             "every mode, HQ ≥ 98 %, reverse KL ≤ 0.02 and ≤ 60 s.", "", *table(COLUMNS, summary)]
    return "\n".join(lines) + "\n"


# How long the benchmark runs at its defaults (`gankit bench NAME --help` says it).
RUNTIME = ('120 trainings at the defaults (12 methods x 2 setups x 5 seeds), 20-300 s each on one thread '
           '(unrolled5 and wgan-gp the slowest): about 1 h with 2 workers on a 2-core CPU (estimated from '
           'the per-run times in docs/bench-modes.md)')


@BENCHMARKS.register("modes", paper="Srivastava et al. 2017 (VEEGAN); Lin et al. 2018 (PacGAN); Metz et al. 2017",
                     runtime=RUNTIME)
def modes_bench(*, methods: list[str] = ("gan", "ema", "mog-prior", "pack2", "pack4", "minibatch", "mbstd",
                                         "unrolled5", "instance-noise", "sn", "wgan-gp", "base"),
                setups: list[str] = ("ring", "grid"), seeds: int | list[int] = 5, steps: int | None = None,
                workers: int = 2, threads: int = 1, overrides: list[str] = (), keep: bool = False,
                out: str = "runs/bench/modes") -> list[dict[str, Any]]:
    """Modes captured, % HQ, reverse KL and energy distance of each method on ring and grid mixtures.

    ``methods``: named sets of config overrides, see METHODS (default, gan, ema, mog-prior, code,
    best, pack2, pack4, ...); ``setups``: the mixtures, see SETUPS (ring, grid, ring-unrolled,
    grid7); ``seeds``: a count (seeds 0..n-1) or a
    list; ``steps``: training steps for every method (default: each method's own);
    ``workers``: parallel processes; ``threads``: torch threads per worker;
    ``overrides``: extra ``key=value`` config overrides for every run;
    ``keep``: keep each run's checkpoint. Writes ``modes.md``, ``modes.json`` and
    ``modes.png`` into ``out`` and returns the per-(method, setup) summary.
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list or workers < 1 or threads < 1:
        raise ConfigError("bench modes: seeds, workers and threads must be >= 1")
    from gankit.config import build_config

    # Every (method, setup) config is resolved before any training: unknown names, options or
    # values fail at once, in one line, not after an hour of runs.
    for name in methods:
        for setup in setups:
            build_config(run_config(name, setup, 0, steps=steps, overrides=overrides))
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment(workers=workers, threads=threads)
    jobs = [(m, s, seed, str(out_dir), steps, list(overrides), threads, keep)
            for m in methods for s in setups for seed in seed_list]
    rows = run_jobs(run_one, jobs, workers=workers, desc="bench modes",
                    postfix=lambda r: f"{r['method']}/{r['setup']}/s{r['seed']}: {r['modes']:.0f} modes, "
                                      f"HQ {r['hq_percent']:.1f}%, {r['train_s']:.0f}s")
    summary = summarise(rows)
    meta = {"command": command_line("modes", {"methods": methods, "setups": setups}, seed_list, workers=workers,
                                    threads=threads, steps=steps, overrides=overrides),
            "machine": machine_line(finish(env)), "goal": GOAL,
            "configs": {f"{m}/{s}": run_config(m, s, 0, steps=steps, overrides=overrides) for m in methods for s in setups}}
    _figure(rows, methods, setups, seed_list[0], out_dir / "modes.png")
    write(out_dir, "modes", {"meta": meta, "environment": env, "summary": summary, "runs": rows},
          markdown(summary, meta))
    print(f"written: {out_dir / 'modes.md'}, {out_dir / 'modes.json'}, {out_dir / 'modes.png'}")
    return summary


def _figure(rows: Sequence[Mapping[str, Any]], methods: Sequence[str], setups: Sequence[str], seed: int,
            path: Path) -> None:
    from gankit.data import DATASETS
    from gankit.plotting.bench import plot_mode_samples

    samples, titles = {}, {}
    for r in rows:
        if r["seed"] == seed:
            samples[(r["method"], r["setup"])] = np.load(r["samples"])
            titles[(r["method"], r["setup"])] = (f"seed {seed}: {r['modes']:.0f}/{r['modes_total']:.0f} modes, "
                                                 f"HQ {r['hq_percent']:.1f}%")
    means, sigmas = {}, {}
    for s in setups:
        opts = {k: v for k, v in SETUPS[s].items() if k != "name"}
        data = DATASETS.build(SETUPS[s]["name"], opts)
        means[s], sigmas[s] = data.means.numpy(), data.sigma
    plot_mode_samples(samples, means, sigmas, methods, setups, path, titles)
