"""``gankit bench smalldata``: does augmentation help when a user has few images?

For each data set and each size (a seeded random subset of ``n`` images, or all of them), the
benchmark trains three recipes at **equal wall time** and scores them on Inception features
against one fixed reference set of the full data set:

* ``ada``: the image default (DCGAN width 32, non-saturating loss, Adam 5e-4) with ADA's adaptive
  augmentation (Karras et al. 2020), as the image default chooses below 30,000 images;
* ``none``: the same recipe without augmentation;
* ``dcgan``: the ``dcgan-fashion-mnist`` preset (width 16, latent 100, Adam 5e-4 decayed
  linearly), the DCGAN recipe gankit measured before the image default existed.

Equal wall time: before the trainings, each recipe's speed on each data set is measured in a
probe of ``probe_steps`` steps run the way the trainings run (``workers`` at a time, one torch
thread each), and every run gets ``budget_s`` seconds' worth of steps. The step counts are
fixed before any training starts, so a rerun trains the same steps whatever the load; the
report gives each run's steps and its measured training time.

Scores: KID (unbiased at any N; the small-data papers' measure) and FID-N with N =
``eval_samples`` generated images against the ``reference`` real images (a seeded subset of the
full data set, the same for every size: a 1,000-image run is judged against the whole
distribution, as ADA's paper does). FID is biased upwards at small N: compare its values only
at the same N. Features: Inception-v3 (``gankit[inception]``) under gankit's default protocol
(clean resize); without the weights the benchmark says how to get them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gankit.bench import BENCHMARKS
from gankit.bench.harness import run_jobs, train_timed
from gankit.bench.report import Column, command_from_options, environment, finish, header, machine_line, mean_se, \
    table, write
from gankit.errors import ConfigError

METHODS = ("ada", "none", "dcgan")
DATA = {"emoji": {"name": "emoji", "size": 32}, "fashion-mnist": {"name": "fashion-mnist", "size": 32}}
ADA = {"augment": {"p": 0.0, "adaptive": True, "ada_kimg": 100.0}}
NO_AUG = {"augment": {"p": 0.0, "adaptive": False}}

RUNTIME = ('at the defaults 36 trainings of 90 s (2 data sets x 2 sizes x 3 recipes x 3 seeds), each followed '
           'by Inception features of 500 images, plus 6 speed probes and 2 reference sets of 2,000 images: '
           '1 h 38 min on 2 cores with other jobs beside it (2 runs at a time); about 1 h idle (estimated)')


@BENCHMARKS.register("smalldata", summary="small data: the image default with ADA, without, and DCGAN at equal "
                                          "wall time on 1,000 and all images (Inception KID/FID)",
                     paper="Karras et al. 2020 (ADA); Zhao et al. 2020 (DiffAugment)", runtime=RUNTIME)
def smalldata(*, data: list[str] = ["emoji", "fashion-mnist"], sizes: list[int] = [1000, 0],  # noqa: B006
              methods: list[str] = list(METHODS), seeds: int = 3, budget_s: float = 90.0,  # noqa: B006
              probe_steps: int = 60, eval_samples: int = 500, reference: int = 2000, workers: int = 2,
              out: str = "runs/bench/smalldata") -> list[dict[str, Any]]:
    """Train every recipe of ``methods`` on every data set of ``data`` at every size of
    ``sizes`` (0: all images) for ``seeds`` seeds, each run ``budget_s`` seconds' worth of
    steps on one torch thread, ``workers`` runs at a time; score ``eval_samples`` generated
    images against ``reference`` real ones (KID, FID-N). Writes ``smalldata.md``,
    ``smalldata.json``, the subsets (``data/``) and a run directory per run in ``out``."""
    from gankit.metrics import inception as inc

    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"bench smalldata: unknown method {m!r} (choose from {', '.join(METHODS)})")
    for d in data:
        if d not in DATA:
            raise ConfigError(f"bench smalldata: unknown data set {d!r} (choose from {', '.join(DATA)})")
    if seeds < 1 or budget_s <= 0 or probe_steps < 10 or eval_samples < 2 or reference < 2 or workers < 1 \
            or any(n < 0 for n in sizes):
        raise ConfigError("bench smalldata: needs seeds >= 1, budget_s > 0, probe_steps >= 10, eval_samples >= 2, "
                          "reference >= 2, workers >= 1, sizes >= 0")
    if inc.find_weights() is None:
        raise ConfigError(f"bench smalldata scores on Inception features: {inc.INSTALL_HINT}")
    options = {"data": data, "sizes": sizes, "methods": methods, "seeds": seeds, "budget_s": budget_s,
               "probe_steps": probe_steps, "eval_samples": eval_samples, "reference": reference,
               "workers": workers}
    out_dir = Path(out)
    env = environment(workers=workers, threads=1)
    files = {(d, n): write_subset(d, n, out_dir / "data") for d in data for n in sizes}
    refs = run_jobs(reference_features, [(d, reference, out_dir / "data") for d in data], workers=min(workers, len(data)),
                    threads=1)
    ref_paths = dict(zip(data, refs))
    # the speed of every recipe on every data set, measured as the runs will run: `workers` at a time
    probe_jobs = [(m, d, files[(d, max(sizes))], probe_steps, out_dir / "probe" / f"{d}-{m}") for d in data
                  for m in methods]
    rates = dict(zip([(d, m) for d in data for m in methods],
                     run_jobs(probe, probe_jobs, workers=workers, threads=1)))
    jobs = []
    for d in data:
        for n in sizes:
            for m in methods:
                steps = max(1, round(budget_s * rates[(d, m)]))
                for s in range(seeds):
                    name = f"{d}-{n or 'all'}-{m}-{s}"
                    jobs.append((m, d, n, s, files[(d, n)], steps, eval_samples, ref_paths[d], out_dir / name))
    rows = run_jobs(run_one, jobs, workers=workers, threads=1, echo=_line)
    finish(env)
    summary = summarise(rows)
    meta = {"command": command_from_options("smalldata", options), "machine": machine_line(env),
            "steps_per_s": {f"{d}/{m}": r for (d, m), r in rates.items()}}
    write(out_dir, "smalldata", {"options": options, **meta, "environment": env, "summary": summary, "rows": rows},
          markdown(summary, rows, meta, options), indent=2)
    return rows


def write_subset(name: str, n: int, folder: Path) -> Path:
    """``folder/NAME-N.npz``: ``n`` images of data set ``name`` (a random subset, seed 0; 0: all)
    at 32x32 as uint8 NCHW, the form ``data=npz:PATH`` reads; written once."""
    import numpy as np
    import torch

    path = folder / f"{name}-{n or 'all'}.npz"
    if path.is_file():
        return path
    x = _images(name)
    if n:
        if n > x.shape[0]:
            raise ConfigError(f"bench smalldata: {name} has {x.shape[0]} images, fewer than the size {n}")
        x = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(0))[:n]]
    folder.mkdir(parents=True, exist_ok=True)
    u8 = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, x=u8)
    tmp.replace(path)
    return path


def _images(name: str) -> Any:
    """All images ``(N, C, 32, 32)`` in [-1, 1] of the bench's data set ``name``."""
    from gankit.data import DATASETS

    return DATASETS.build(DATA[name]["name"], {k: v for k, v in DATA[name].items() if k != "name"}).x


def reference_features(name: str, n: int, folder: Path) -> Path:
    """Inception features of ``n`` real images of the full data set (seed 1, apart from the
    subsets' draw), saved as ``folder/NAME-reference-N.pt``; computed once."""
    import torch

    from gankit.metrics.inception import InceptionV3

    path = folder / f"{name}-reference-{n}.pt"
    if path.is_file():
        return path
    x = _images(name)
    idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(1))[:n]
    feats = InceptionV3(progress=False).features(x[idx])
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(feats, path)
    return path


def config(method: str, npz: Path, seed: int, steps: int) -> Any:
    """The run's config: the image default (``ada``, ``none``) or the DCGAN preset on ``npz``."""
    from gankit.config import load_config

    sets = [f"data=npz:{npz}", f"seed={seed}", f"train.steps={steps}", "eval.metrics=[]", "train.progress=false",
            "train.checkpoint_every=0", "device=cpu"]
    if method == "dcgan":
        return load_config(overrides=sets, preset="dcgan-fashion-mnist")
    cfg = load_config(overrides=sets)
    from gankit.config import build_config, merge

    raw = cfg.to_dict()
    raw["model"]["mitigations"] = ADA if method == "ada" else NO_AUG
    return build_config(merge({}, raw))


def probe(method: str, name: str, npz: Path, steps: int, run_dir: Path) -> float:
    """Training steps per second of ``method`` on data set ``name`` (one thread)."""
    t = train_timed(config(method, npz, 0, steps), run_dir, keep_checkpoint=False)
    return steps / t.train_s


def run_one(method: str, name: str, n: int, seed: int, npz: Path, steps: int, eval_samples: int,
            ref_path: Path, run_dir: Path) -> dict[str, Any]:
    """One training and its scores on Inception features against the reference."""
    import torch

    from gankit.metrics.frechet import frechet_distance
    from gankit.metrics.image import kid_from_features
    from gankit.metrics.inception import InceptionV3

    t = train_timed(config(method, npz, seed, steps), run_dir, keep_checkpoint=False)
    run = t.run
    t0 = time.perf_counter()
    with torch.no_grad():
        fake = torch.cat([run.recipe.generate(min(250, eval_samples - i), None, seed=10_000 + seed + i)
                          for i in range(0, eval_samples, 250)])
    f_fake = InceptionV3(progress=False).features(fake).double()
    f_real = torch.load(ref_path, weights_only=True).double()
    fid = frechet_distance(f_real.mean(0), torch.cov(f_real.T), f_fake.mean(0), torch.cov(f_fake.T))
    kid, kid_std = kid_from_features(f_real, f_fake)
    aug = [m for m in getattr(run.recipe, "mitigations", []) if getattr(m, "name", "") == "augment"]
    p = float(aug[0].state.p) if aug else None       # ADA's probability at the end
    return {"data": name, "size": n or int(run.data.x.shape[0]), "subset": n, "method": method, "seed": seed,
            "steps": steps, "train_s": round(t.train_s, 1), "eval_s": round(time.perf_counter() - t0, 1),
            "kid": kid, "kid_std": kid_std, "fid": fid, "ada_p": p}


def _line(r: Mapping[str, Any]) -> str:
    return (f"[{r['data']} {r['size']} {r['method']} seed {r['seed']}] steps={r['steps']} train s={r['train_s']:.0f} "
            f"KID={r['kid']:.4f} FID-N={r['fid']:.1f}")


def summarise(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per data set, size and method: KID and FID over seeds (mean and standard error)."""
    out = []
    for key in dict.fromkeys((r["data"], r["size"], r["method"]) for r in rows):
        group = [r for r in rows if (r["data"], r["size"], r["method"]) == key]
        kid, kid_se = mean_se([r["kid"] for r in group])
        fid, fid_se = mean_se([r["fid"] for r in group])
        out.append({"data": key[0], "size": key[1], "method": key[2], "steps": group[0]["steps"],
                    "kid_seeds": [r["kid"] for r in group], "kid": kid, "kid_se": kid_se, "fid": fid,
                    "fid_se": fid_se, "train_s": [min(r["train_s"] for r in group), max(r["train_s"] for r in group)]})
    return out


def markdown(summary: list[dict[str, Any]], rows: list[dict[str, Any]], meta: Mapping[str, Any],
             options: Mapping[str, Any]) -> str:
    cols = [Column("data", "data"), Column("images", "size", ","), Column("recipe", "method"),
            Column("steps", "steps", ","),
            Column("KID x 1000 (seeds)", lambda r: " / ".join(f"{1000 * v:.1f}" for v in r["kid_seeds"])),
            Column("KID x 1000", lambda r: f"{1000 * r['kid']:.1f} ± {1000 * r['kid_se']:.1f}"),
            Column(f"FID-{options['eval_samples']}", lambda r: f"{r['fid']:.1f} ± {r['fid_se']:.1f}"),
            Column("train s", lambda r: f"{r['train_s'][0]:.0f}-{r['train_s'][1]:.0f}")]
    lines = [*header("smalldata", meta["command"], meta["machine"]),
             f"Each run: {options['budget_s']:g} s' worth of training steps on one torch thread (the speed measured "
             f"in a {options['probe_steps']}-step probe per recipe and data set), then {options['eval_samples']} "
             f"generated images against {options['reference']} real images of the full data set on "
             "Inception-v3 features (clean resize). KID: unbiased polynomial-kernel MMD² (×1000); FID-N is biased "
             "upwards at this N, compare it only within this table. Mean ± standard error over seeds.", "",
             *table(cols, summary), ""]
    return "\n".join(lines)
