"""Push-forward: a 1-D GAN turns Gaussian noise into a bimodal target (seed 003).

Seed 003's representation theorem: for a continuous noise law r and any target p there are
maps T with ``Z ~ r => T(Z) ~ p``; "w.l.o.g. we may simply take r to be standard Gaussian
noise", and "T is not unique". In 1-D one such map is explicit, the monotone transport
``T(z) = F^{-1}(Phi(z))`` (F the target's CDF, Phi the normal one); so is its mirror
``T(-z)``, which is decreasing and pushes N(0, 1) to the same law because ``-Z ~ Z``.

A GAN with ``latent_dim = 1`` and standard normal z is trained on a two-mode mixture by
:func:`gankit.session.train` (non-saturating loss, R1 penalty on D for convergence,
Mescheder et al. 2018, linear learning-rate decay). Then:

* the learned map ``z -> G(z)`` on ``[-z_range, z_range]`` is compared with ``T(z)`` and with
  ``T(-z)``, whichever is closer on average (reported, with the fraction of the interval where
  G runs the same way). The sup sits at the jump between the modes near z = 0, where T is
  steep (``T' = phi / p``, large where the target density is small); the mean is the
  informative number. A GAN is free to learn either, or a non-monotone map that folds the
  noise, which pushes forward to the target just as well: the law is what the game checks;
* the law: the Wasserstein-1 distance between ``samples`` generated points and as many
  target points (``scipy.stats.wasserstein_distance``), beside the W1 between two target
  samples of that size, the sampling baseline; and the quantile function of the generated
  samples (their monotone rearrangement) against ``F^{-1}``.

``F^{-1}`` is computed by bisection on the exact mixture CDF in float64.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import special, stats

from gankit.data.toy import mixture1d
from gankit.errors import ConfigError
from gankit.experiments.base import EXPERIMENTS, ExperimentResult
from gankit.experiments.optimal_discriminator import torch_threads
from gankit.plotting.training_experiments import plot_push_forward
from gankit.session import Run, train

NAME = "push-forward"
CLAIM = ("a generator fed 1-D standard Gaussian noise learns to push it forward to a bimodal target "
         "(seed 003's representation theorem): the Wasserstein-1 distance between its samples and the target "
         "becomes small (below 0.1 for modes 4 apart); the map it learns is one of many (T is not unique) and "
         "is compared with the exact monotone transports F^-1(Phi(z)) and F^-1(Phi(-z))")


def mixture_cdf(x: np.ndarray, means: np.ndarray, sigmas: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``F(x) = sum_k w_k Phi((x - m_k) / s_k)`` for ``x (n,)``."""
    return (weights * special.ndtr((x[:, None] - means) / sigmas)).sum(axis=1)


def mixture_quantile(u: np.ndarray, means: np.ndarray, sigmas: np.ndarray, weights: np.ndarray,
                     iterations: int = 200) -> np.ndarray:
    """``F^{-1}(u)`` by bisection (F is continuous and strictly increasing); ``u (n,)`` in (0, 1)."""
    lo = np.full(u.shape, float((means - 40 * sigmas).min()))
    hi = np.full(u.shape, float((means + 40 * sigmas).max()))
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        below = mixture_cdf(mid, means, sigmas, weights) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        if np.all(hi - lo <= 1e-13 * np.maximum(1.0, np.abs(mid))):
            break
    return 0.5 * (lo + hi)


def transport(z: np.ndarray, means: np.ndarray, sigmas: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The increasing transport of N(0, 1) onto the mixture: ``T(z) = F^{-1}(Phi(z))``."""
    return mixture_quantile(special.ndtr(z), means, sigmas, weights)


def config(*, seed: int, means: list[float], sigmas: list[float], weights: list[float] | None, steps: int,
           batch_size: int, lr: float, width: int, depth: int, r1_gamma: float) -> dict[str, Any]:
    """The training config: everything not set here is gankit's default."""
    return {
        "seed": seed, "device": "cpu", "latent_dim": 1, "prior": "normal", "loss": "ns",
        "data": {"name": "mixture1d", "means": list(means), "sigmas": list(sigmas), "weights": weights},
        "generator": {"name": "mlp", "width": width, "depth": depth},
        "discriminator": {"name": "mlp", "width": width, "depth": depth},
        "penalty": {"name": "r1", "gamma": r1_gamma} if r1_gamma > 0 else {"name": "none"},
        "optim_g": {"lr": lr}, "optim_d": {"lr": lr},
        "train": {"steps": steps, "batch_size": batch_size, "lr_decay": "linear", "ema": 0.0,
                  "progress": False, "log_every": max(1, steps // 20)},
        "eval": {"metrics": ["jsd1d"]},
    }


@torch.no_grad()
def generator_map(run: Run, z: np.ndarray) -> np.ndarray:
    """``G(z)`` for ``z (n,)``; shape ``(n,)``."""
    G = run.recipe.sampler()
    was_training = G.training
    G.eval()
    out = G(torch.as_tensor(z, dtype=torch.float32)[:, None]).reshape(-1).double().numpy()
    G.train(was_training)
    return out


@EXPERIMENTS.register(NAME, claim=CLAIM, plot=plot_push_forward,
                      paper="Yu, CS480/680 Lec. 14 (seed 003), 'Representation through push-forward'; "
                            "Goodfellow et al. 2014; Mescheder et al. 2018 (R1)")
def push_forward(*, run_dir: Path, means: list[float] = (-2.0, 2.0), sigmas: list[float] = (0.5, 0.5),
                 weights: list[float] | None = None, steps: int = 3000, batch_size: int = 512, lr: float = 1e-3,
                 width: int = 64, depth: int = 2, r1_gamma: float = 1.0, z_range: float = 2.0,
                 samples: int = 100_000, record_every: int = 250, w1_tol: float = 0.1, threads: int = 1,
                 seed: int = 0) -> ExperimentResult:
    """Train a 1-D GAN from N(0, 1) noise; compare G with the exact transport and W1 with its baseline.

    Options: the target mixture (``means``, ``sigmas``, ``weights``: gankit's ``mixture1d``); the
    GAN's ``steps``, ``batch_size``, ``lr`` (both players, linear decay), MLP ``width`` and
    ``depth`` of G and D, ``r1_gamma`` of D's R1 penalty (0 = none); the map is compared on
    ``[-z_range, z_range]``; W1 uses ``samples`` points of each law and is also recorded every
    ``record_every`` steps; ``threads``: torch threads while training. The claim holds when the
    final W1 is below ``w1_tol``. The training run is written to ``run_dir/train``.
    """
    if steps < 1 or batch_size < 2 or lr <= 0 or width < 1 or depth < 1 or r1_gamma < 0:
        raise ConfigError("push-forward needs steps >= 1, batch_size >= 2, lr > 0, width, depth >= 1, r1_gamma >= 0")
    if z_range <= 0 or samples < 10 or record_every < 1 or w1_tol <= 0 or threads < 1:
        raise ConfigError("push-forward needs z_range > 0, samples >= 10, record_every >= 1, w1_tol > 0, threads >= 1")
    cfg = config(seed=seed, means=list(means), sigmas=list(sigmas), weights=None if weights is None else list(weights),
                 steps=steps, batch_size=batch_size, lr=lr, width=width, depth=depth, r1_gamma=r1_gamma)
    data = mixture1d(means=list(means), sigmas=list(sigmas), weights=cfg["data"]["weights"])
    rng = torch.Generator().manual_seed(seed + 4242)
    target, target_b = (data.sample(samples, rng)[0].reshape(-1).double().numpy() for _ in range(2))
    history: dict[str, list[float]] = {"step": [], "w1": []}
    final: dict[str, np.ndarray] = {}

    def on_step(run: Run, logs: dict[str, float]) -> None:
        if run.step % record_every == 0 or run.step == steps:
            fake = run.recipe.generate(samples, seed=seed + 1).reshape(-1).double().numpy()   # the same z each time
            history["step"].append(run.step)
            history["w1"].append(float(stats.wasserstein_distance(fake, target)))
            final["fake"] = fake

    # Run seeds the global RNG: fork it to leave the caller's alone
    with torch.random.fork_rng(), torch_threads(threads):
        run = train(cfg, run_dir=Path(run_dir) / "train", callbacks=[on_step])
    m, sd, w = (t.reshape(-1).double().numpy() for t in (data.means, data.sigmas, data.weights))

    z = np.linspace(-z_range, z_range, 801)
    g = generator_map(run, z)
    t_up, t_down = transport(z, m, sd, w), transport(-z, m, sd, w)
    err_up, err_down = np.abs(g - t_up), np.abs(g - t_down)
    increasing = err_up.mean() <= err_down.mean()
    err = err_up if increasing else err_down
    same_way = float(np.mean(np.sign(np.diff(g)) == (1 if increasing else -1)))

    fake = final["fake"]
    w1, w1_base = history["w1"][-1], float(stats.wasserstein_distance(target_b, target))
    q_err = np.abs(np.quantile(fake, special.ndtr(z)) - t_up)    # law only: G's monotone rearrangement

    x = np.linspace(m.min() - 4 * sd.max(), m.max() + 4 * sd.max(), 400)
    density = data.log_prob(torch.as_tensor(x)[:, None]).exp().numpy()
    direction = "increasing T(z)" if increasing else "decreasing T(-z)"
    rows = [
        ["learned map G(z) vs the closer transport", direction, float(err.max()), float(err.mean())],
        ["learned map G(z) vs T(z)", "increasing", float(err_up.max()), float(err_up.mean())],
        ["learned map G(z) vs T(-z)", "decreasing", float(err_down.max()), float(err_down.mean())],
        ["quantiles of G's samples vs F^-1", "rearranged", float(q_err.max()), float(q_err.mean())],
    ]
    summary = {
        "W1(generated, target)": w1, "W1(target, target) baseline": w1_base, "W1 / baseline": w1 / w1_base,
        "sup |G - T| (closer transport)": float(err.max()), "mean |G - T| (closer transport)": float(err.mean()),
        "G runs the transport's way on this fraction of z": same_way, "G is increasing": float(increasing),
        "final JSD (binned)": float(run.metrics.get("jsd", float("nan"))),
    }
    return ExperimentResult(
        NAME, CLAIM, [f"comparison on z in [-{z_range:g}, {z_range:g}]", "map", "sup |difference|",
                      "mean |difference|"],
        rows, summary, w1 < w1_tol,
        series={"z": z, "g": g, "t_up": t_up, "t_down": t_down, "increasing": bool(increasing),
                "fake": fake[:5000], "x": x, "density": density, "history": history, "w1_baseline": w1_base},
    )
