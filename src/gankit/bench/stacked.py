"""``gankit bench stacked``: Stacked MNIST's mode count (Metz et al. 2017; Srivastava et al.
2017; Lin et al. 2018, Table 2) for DCGAN and the mode-collapse mitigations, over seeds.

Every run is the ``dcgan-stacked-mnist`` preset (DCGAN width 16, Adam 5e-4 decayed linearly,
3 epochs) with a method's overrides, trained by :func:`gankit.session.train` (the one loop)
one after the other in this process. Its final evaluation gives the ``stacked_modes`` metric:
modes of 1000 with at least one of ``eval_samples`` samples and KL(p_gen || p_data), beside the
same numbers for as many real stacked images. ``base``: the stacked data set (MNIST's files
are not needed for ``fashion-mnist`` on Debian, or for ``digits``).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    mean_se,
    table,
    write,
)
from gankit.errors import ConfigError

PRESET = "dcgan-stacked-mnist"
_ADAM = {"lr": 2e-4, "betas": [0.0, 0.99]}
_R1R2: dict[str, Any] = {"penalty": {"name": "r1r2", "gamma": 10.0}, "discriminator": {"norm": "none"},
                         "optim_g": _ADAM, "optim_d": _ADAM}
METHODS: dict[str, dict[str, Any]] = {
    "dcgan": {},
    "pack2": {"mitigations": {"pack": {"m": 2}}},          # PacDCGAN2 (Lin et al. 2018)
    "pack4": {"mitigations": {"pack": {"m": 4}}},
    "mbstd": {"mitigations": {"mbstd": {}}},                # Karras et al. 2018
    "minibatch": {"mitigations": {"minibatch": {}}},        # Salimans et al. 2016, the paper's 50 x 5 kernels
    "sn": {"discriminator": {"spectral_norm": True}},      # Miyato et al. 2018
    "d2gan": {"loss": {"name": "d2gan"}},                   # Nguyen et al. 2017
    "mgan": {"mitigations": {"mgan": {"generators": 10}}},  # Hoang et al. 2018
    "bourgan": {"mitigations": {"bourgan": {}}},            # Xiao et al. 2018 (latent_dim 100 >= log2 256)
    # more latent centres than the 1000 modes (measured: about as many modes as 256, docs/bench-stacked.md)
    "bourgan4096": {"mitigations": {"bourgan": {"samples": 4096}}},
    "vbn": {"generator": {"virtual_bn": 64}},               # Salimans et al. 2016
    # R3GAN's objective (Huang et al. 2024) on the same DCGAN networks and steps: RpGAN with R1 + R2
    # (one gamma), beside the non-saturating loss with the same penalties. D without batch norm, so
    # the penalties are per sample; Adam with beta1 = 0 and lr 2e-4 as R3GAN trains. gamma 10: of
    # 0.05, 1, 10 and 30 on seed 0 of mnist5k, 0.05 and 1 let D win and collapse G
    # (docs/bench-stacked.md).
    "rpgan-r1r2": {"loss": {"name": "rpgan"}, **_R1R2},
    "ns-r1r2": {"loss": {"name": "ns"}, **_R1R2},
}


def run_config(method: str, seed: int, *, base: str, size: int, steps: int, eval_samples: int,
               num: int = 0, width: int = 0) -> Any:
    """The preset with the method's overrides (and ``width`` for both networks, 0: the
    preset's 16): a validated :class:`~gankit.config.Config`."""
    from gankit.config import build_config, load_preset, merge

    if method not in METHODS:
        raise ConfigError(f"bench stacked: unknown method {method!r} (choose from {', '.join(METHODS)})")
    raw = merge(load_preset(PRESET), {
        "name": f"{method}-{seed}", "seed": seed, "device": "cpu", "data": {"base": base, "size": size, "num": num},
        "train": {"progress": True, **({"steps": steps} if steps else {})},
        "eval": {"num_samples": eval_samples}})
    if width:
        raw = merge(raw, {"generator": {"width": width}, "discriminator": {"width": width}})
    return build_config(merge(raw, METHODS[method]))


# How long the benchmark runs at its defaults (`gankit bench NAME --help` says it).
RUNTIME = ('6 trainings at the defaults (2 methods x 3 seeds), each about 2 min with 2 threads plus its '
           '26,000-sample evaluation (measured on Fashion-MNIST): about 15 min')


@BENCHMARKS.register("stacked", summary="Stacked MNIST: modes of 1000 and KL for DCGAN and mitigations, over seeds",
                     paper="Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018",
                     runtime=RUNTIME)
def stacked(*, methods: list[str] = ["dcgan", "pack2"], base: Literal["mnist", "mnist5k", "fashion-mnist", "digits"] = "mnist",  # noqa: B006
            size: int = 32, num: int = 0, width: int = 0, seeds: int = 3, first_seed: int = 0, steps: int = 0,
            eval_samples: int = 26000, out: str = "runs/bench/stacked") -> list[dict[str, Any]]:
    """Train each of ``methods`` (names of :data:`METHODS`) on seeds ``first_seed ..
    first_seed + seeds - 1`` for ``steps`` steps (0: the preset's 2,811) on ``num`` stacked
    images (0: as many as the base set has; give mnist5k's 4,000 digits more, 60000) with both
    networks ``width`` wide (0: the preset's 16) and count the modes of ``eval_samples``
    samples. Writes ``stacked.md`` and ``stacked.json`` in ``out`` and a run directory per
    method and seed below it (an earlier bench's run directory there is replaced)."""
    if seeds < 1 or first_seed < 0 or steps < 0 or width < 0 or eval_samples < 10:
        raise ConfigError("bench stacked: needs seeds >= 1, first_seed >= 0, steps >= 0, width >= 0, eval_samples >= 10")
    options = {"methods": methods, "base": base, "size": size, "num": num, "width": width, "seeds": seeds,
               "first_seed": first_seed, "steps": steps, "eval_samples": eval_samples}
    configs = {(m, s): run_config(m, s, base=base, size=size, steps=steps, eval_samples=eval_samples, num=num,
                                  width=width)
               for m in methods for s in range(first_seed, first_seed + seeds)}  # all validated before the first run
    out_dir = Path(out)
    env = environment()
    rows = run_jobs(run_one, [(m, s, cfg, out_dir / f"{m}-{s}") for (m, s), cfg in configs.items()], echo=_line)
    summary = summarise(rows)
    meta = {"command": command_from_options("stacked", options), "machine": machine_line(finish(env)),
            "feature_extractor": rows[0]["feature_extractor"]}
    write(out_dir, "stacked", {"options": options, **meta, "environment": env, "summary": summary, "rows": rows},
          markdown(summary, meta), indent=2)
    return rows


def run_one(method: str, seed: int, cfg: Any, run_dir: Path) -> dict[str, Any]:
    """One row: the run's Stacked MNIST metrics and its training time."""
    m = train_timed(cfg, run_dir).run.metrics
    return {"method": method, "seed": seed, "steps": cfg.train.steps, "train_s": m["wall_time_s"],
            **{k: m[k] for k in ("stacked_modes", "stacked_kl", "stacked_modes_real", "stacked_kl_real")},
            "feature_extractor": m["feature_extractor"]}


def _line(r: Mapping[str, Any]) -> str:
    return (f"[{r['method']} seed {r['seed']}] modes={r['stacked_modes']:.0f}/1000  KL={r['stacked_kl']:.3f}  "
            f"(real: {r['stacked_modes_real']:.0f}, {r['stacked_kl_real']:.3f})  train s={r['train_s']:.0f}")


def summarise(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per method: the seeds' mode counts, their mean and standard error, the same for the KL,
    the real-data baseline and the training time."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == method]
        modes, kl = mean_se([r["stacked_modes"] for r in rs]), mean_se([r["stacked_kl"] for r in rs])
        one = len(rs) == 1  # one seed has no standard error to report (mean_se gives 0 for it)
        out.append({"method": method, "seeds": len(rs), "modes": [r["stacked_modes"] for r in rs],
                    "modes_mean": modes[0], "modes_se": None if one else modes[1],
                    "kl_mean": kl[0], "kl_se": None if one else kl[1],
                    "modes_real": mean_se([r["stacked_modes_real"] for r in rs])[0],
                    "kl_real": mean_se([r["stacked_kl_real"] for r in rs])[0],
                    "train_s": [min(r["train_s"] for r in rs), max(r["train_s"] for r in rs)]})
    return out


def _pm(mean: float, se: float | None, spec: str) -> str:
    return format(mean, spec) + ("" if se is None else " ± " + format(se, spec))


COLUMNS = [Column("method", "method"),
           Column("modes of 1000 (per seed)", lambda s: " / ".join(f"{m:.0f}" for m in s["modes"])),
           Column("modes", lambda s: _pm(s["modes_mean"], s["modes_se"], ".0f")),
           Column("KL(p_gen ‖ p_data)", lambda s: _pm(s["kl_mean"], s["kl_se"], ".3f")),
           Column("real: modes, KL", lambda s: f"{s['modes_real']:.0f}, {s['kl_real']:.3f}"),
           Column("train s", lambda s: f"{s['train_s'][0]:.0f}–{s['train_s'][1]:.0f}")]


def markdown(summary: list[Mapping[str, Any]], meta: Mapping[str, Any]) -> str:
    lines = [*header("stacked", meta["command"], meta["machine"]),
             f"Modes counted with {meta['feature_extractor']} on each channel. `real`: the same count for as many "
             "real stacked images. Mean ± standard error over seeds.", "", *table(COLUMNS, summary)]
    return "\n".join(lines) + "\n"
