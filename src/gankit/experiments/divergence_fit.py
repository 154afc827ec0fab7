"""Fit a Gaussian to a two-mode mixture by each divergence: exactly, and adversarially.

The picture of seeds 000 and 004 (Theis, van den Oord & Bethge 2016, Fig. 1): a Gaussian
``q = N(mu, s^2)`` fitted to a mixture ``p`` by minimising ``KL(p||q)`` covers both modes,
by minimising ``KL(q||p)`` or ``JSD`` it locks onto one mode, and the MMD fit lies in between.

*Exact fits.* Each divergence is a differentiable function of ``(mu, log s)``: KL, reverse KL
and JSD by Simpson quadrature (:mod:`gankit.integrate`), ``MMD^2`` in closed form for the
Gaussian kernel ``k(x, y) = sum_h exp(-(x - y)^2 / (2 h^2))``, from
``E k(X, Y) = h / sqrt(h^2 + a^2 + b^2) * exp(-(m_X - m_Y)^2 / (2 (h^2 + a^2 + b^2)))`` for
``X ~ N(m_X, a^2)``, ``Y ~ N(m_Y, b^2)``. L-BFGS from a grid of starts finds every local
minimum (gradient ~ 0, positive definite Hessian); the lowest is the fit.

*Adversarial fits.* gankit's GAN recipe and training loop with the Gaussian generator
``x = mu + s z`` (:mod:`gankit.networks.gaussian`) and the loss whose optimal critic makes the
generator's objective that divergence: f-GAN ``kl`` (``KL(p_data || p_g)``), ``reverse-kl``
and ``js`` (``2 JSD``), and GMMN with the same kernel. The f-GAN generator is the *minimax*
one (it minimises the variational bound): the f-GAN paper's alternative update
``-E_q[g_f(v)]`` has the same fixed point only when ``q`` can equal ``p``; for a misspecified
family it minimises another objective (for the KL row, with the optimal critic
``T = 1 + log p/q``, it is ``KL(q||p)``). The critic first trains alone for ``critic_warmup``
steps: a random critic sends the generator's first steps anywhere, and the mode-seeking
divergences have several basins. The fit is the average of the last quarter of iterates.

Each adversarial fit is compared with the exact descent *from the same start*: the same
optimiser, learning rate and schedule on the exact divergence, then L-BFGS to the bottom of
that basin. From other starts the mode-seeking divergences may end in another local
minimum; that is the landscape, not an estimation error, and the table shows both.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from gankit.data.toy import GaussianMixture, mixture1d
from gankit.errors import ConfigError
from gankit.experiments.base import EXPERIMENTS, ExperimentResult
from gankit.integrate import Grid, grid_1d, js_divergence, kl_divergence, normal_log_prob, reverse_kl_divergence
from gankit.plotting.divergence_fit import plot_divergence_fit
from gankit.session.callbacks import Callback
from gankit.engine.loop import Trainer, lr_factor, make_optimizer
from gankit.session.run import Run, train

NAME = "divergence-fit"
CLAIM = ("fitting a Gaussian to a two-mode mixture, KL(p||q) covers both modes, reverse KL and JSD lock onto one "
         "mode and MMD sits in between; gankit's adversarial losses reach the fits of the exact divergences")
PAPER = ("Theis, van den Oord & Bethge 2016, 'A note on the evaluation of generative models', Fig. 1; "
         "Nowozin et al. 2016 (f-GAN); Li et al. 2015 (GMMN)")
Divergence = Literal["kl", "reverse-kl", "jsd", "mmd"]
LABELS = {"kl": "KL(p||q)", "reverse-kl": "KL(q||p)", "jsd": "JSD", "mmd": "MMD^2"}
F64 = torch.float64

# (mu, s) as 0-dim float64 tensors -> divergence between the data and N(mu, s^2)
Objective = Callable[[Tensor, Tensor], Tensor]


def adversarial_loss(divergence: str, bandwidth: float) -> dict[str, Any]:
    """The gankit loss section whose generator minimises ``divergence`` (see the module doc)."""
    if divergence == "mmd":
        return {"name": "gmmn", "bandwidths": [bandwidth]}
    row = {"kl": "kl", "reverse-kl": "reverse-kl", "jsd": "js"}[divergence]
    return {"name": "fgan", "divergence": row, "generator": "minimax"}


# --- exact divergences ---------------------------------------------------------------------

def _kernel_mean(m1: Tensor, v1: Tensor, m2: Tensor, v2: Tensor, h: float) -> Tensor:
    """``E exp(-(X - Y)^2 / (2 h^2))`` for independent ``X ~ N(m1, v1)``, ``Y ~ N(m2, v2)``."""
    v = h * h + v1 + v2
    return h / torch.sqrt(v) * torch.exp(-(m1 - m2) ** 2 / (2 * v))


def mmd2_to_gaussian(data: GaussianMixture, mu: Tensor, s: Tensor, bandwidths: Sequence[float]) -> Tensor:
    """Closed-form ``MMD^2(p, N(mu, s^2))`` for a 1-D mixture ``p`` and the kernel of
    :func:`gankit.losses.mmd.gaussian_kernel` (a sum of Gaussian kernels)."""
    m, v, w = data.means[:, 0], data.sigmas ** 2, data.weights                    # (K,)
    mu, s2 = torch.as_tensor(mu, dtype=F64), torch.as_tensor(s, dtype=F64) ** 2
    total = torch.zeros((), dtype=F64)
    for h in bandwidths:
        pp = (w[:, None] * w[None, :] * _kernel_mean(m[:, None], v[:, None], m[None, :], v[None, :], h)).sum()
        pq = (w * _kernel_mean(m, v, mu, s2, h)).sum()
        total = total + pp + _kernel_mean(mu, s2, mu, s2, h) - 2 * pq
    return total


def exact_objective(divergence: str, data: GaussianMixture, grid: Grid, bandwidth: float) -> Objective:
    """``(mu, s) -> D(p_data, N(mu, s^2))`` for the divergence named like the table's rows."""
    if divergence == "kl":
        return lambda mu, s: kl_divergence(data.log_prob, normal_log_prob(mu, s), grid)
    if divergence == "reverse-kl":
        return lambda mu, s: reverse_kl_divergence(data.log_prob, normal_log_prob(mu, s), grid)
    if divergence == "jsd":
        return lambda mu, s: js_divergence(data.log_prob, normal_log_prob(mu, s), grid)
    if divergence == "mmd":
        return lambda mu, s: mmd2_to_gaussian(data, mu, s, (bandwidth,))
    raise ConfigError(f"unknown divergence {divergence!r}; choose from kl, reverse-kl, jsd, mmd")


def _value(objective: Objective, theta: Tensor) -> Tensor:
    return objective(theta[0], theta[1].exp())                # theta = (mu, log s)


def lbfgs(objective: Objective, theta0: Sequence[float], rounds: int = 3) -> Tensor:
    """L-BFGS (strong Wolfe) on ``theta = (mu, log s)`` from ``theta0``; returns ``theta (2,)``."""
    theta = torch.tensor(list(theta0), dtype=F64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], max_iter=100, tolerance_grad=1e-10, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = _value(objective, theta)
        loss.backward()
        return loss

    for _ in range(rounds):
        opt.step(closure)
    return theta.detach()


def is_local_minimum(objective: Objective, theta: Tensor, box: tuple[float, float, float, float]) -> bool:
    """Inside ``box = (mu_lo, mu_hi, s_lo, s_hi)`` (where the quadrature is trusted), gradient
    norm below 1e-6 and a positive definite Hessian (saddles between basins are not minima)."""
    mu, s = float(theta[0]), math.exp(float(theta[1]))
    if not (box[0] <= mu <= box[1] and box[2] <= s <= box[3]):
        return False
    t = theta.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(_value(objective, t), t)
    hess = torch.autograd.functional.hessian(lambda th: _value(objective, th), theta)
    return bool(torch.isfinite(hess).all() and grad.norm() < 1e-6 and torch.linalg.eigvalsh(hess).min() > 0)


def local_minima(objective: Objective, starts: Sequence[tuple[float, float]],
                 box: tuple[float, float, float, float]) -> list[dict[str, float]]:
    """Distinct local minima reached by L-BFGS from ``starts`` ``(mu, s)``, lowest first."""
    found: list[dict[str, float]] = []
    for mu0, s0 in starts:
        theta = lbfgs(objective, (mu0, math.log(s0)))
        if not is_local_minimum(objective, theta, box):
            continue
        mu, s = float(theta[0]), math.exp(float(theta[1]))
        if all(abs(mu - f["mean"]) > 1e-3 or abs(math.log(s / f["scale"])) > 1e-3 for f in found):
            found.append({"mean": mu, "scale": s, "value": float(_value(objective, theta))})
    return sorted(found, key=lambda f: f["value"])


def exact_descent(objective: Objective, start: tuple[float, float], *, lr: float, betas: tuple[float, float],
                  steps: int) -> np.ndarray:
    """The generator's optimiser (Adam, linear decay) on the exact divergence: ``(steps + 1, 2)`` of ``(mu, s)``."""
    theta = torch.nn.Parameter(torch.tensor([start[0], math.log(start[1])], dtype=F64))
    opt = make_optimizer([theta], "adam", lr, betas)
    factor = lr_factor("linear", steps)
    path = [(start[0], start[1])]
    for t in range(steps):
        opt.param_groups[0]["lr"] = lr * factor(t)
        opt.zero_grad()
        _value(objective, theta).backward()
        opt.step()
        path.append((float(theta[0].detach()), math.exp(float(theta[1].detach()))))
    return np.asarray(path)


# --- adversarial fits ------------------------------------------------------------------------

def adversarial_config(divergence: str, data_options: dict[str, Any], start: tuple[float, float], *,
                       bandwidth: float, steps: int, batch_size: int, d_steps: int, lr_g: float, lr_d: float,
                       betas: tuple[float, float], critic_width: int, seed: int) -> dict[str, Any]:
    """The gankit config of one adversarial fit (a plain dict, as ``gankit train`` would read it)."""
    return {
        "seed": seed, "device": "cpu", "latent_dim": 1,
        "data": {"name": "mixture1d", **data_options},
        "generator": {"name": "gaussian", "init_mean": start[0], "init_spread": 0.0, "init_scale": start[1]},
        "discriminator": {"name": "mlp", "width": critic_width, "depth": 2},
        "loss": adversarial_loss(divergence, bandwidth),
        "train": {"steps": steps, "batch_size": batch_size, "d_steps": d_steps, "lr_decay": "linear",
                  "progress": False},
        "optim_g": {"name": "adam", "lr": lr_g, "betas": list(betas)},
        "optim_d": {"name": "adam", "lr": lr_d, "betas": list(betas)},
    }


class _Fit(Callback):
    """The experiment's view of the run: a critic-only warm-up before the first step (a
    :class:`~gankit.engine.loop.Trainer` of the recipe's D phase) and the generator's
    ``(mu, s)`` after every step."""

    def __init__(self, critic_warmup: int) -> None:
        self.critic_warmup = critic_warmup
        self.path: list[tuple[float, float]] = []

    def _params(self, run: Run) -> tuple[float, float]:
        G = run.recipe.G
        return float(G.mu.detach().reshape(-1)[0]), float(G.log_s.detach().reshape(-1)[0].exp())

    def on_fit_start(self, run: Run) -> None:
        critic_phases = [ph for ph in run.recipe.trainer.phases if ph.name == "D"]
        if critic_phases and self.critic_warmup > 0:
            warm = Trainer(critic_phases)
            for _ in range(self.critic_warmup):
                warm.train_step()
        self.path.append(self._params(run))

    def on_step(self, run: Run, step: int, logs: dict[str, float] | None) -> None:
        self.path.append(self._params(run))


def train_adversarial(cfg: dict[str, Any], critic_warmup: int, run_dir: Path | None = None) -> np.ndarray:
    """Train with the GAN recipe and the one loop (:func:`gankit.session.train`); returns
    the ``(mu, s)`` path, ``(steps + 1, 2)``.

    The run is written to ``run_dir`` (``gankit sample RUN_DIR`` draws from the fitted
    Gaussian), or to a temporary directory that is removed afterwards.
    """
    fit = _Fit(critic_warmup)
    with contextlib.ExitStack() as stack:
        if run_dir is None:
            run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gankit-fit-"))) / "run"
        with torch.random.fork_rng():                # Run seeds the global RNG; leave the caller's alone
            train(cfg, run_dir=run_dir, callbacks=[fit])
    return np.asarray(fit.path)


def tail_average(path: np.ndarray, fraction: float = 0.25) -> tuple[float, float]:
    """Mean ``(mu, s)`` over the last ``fraction`` of the iterates (Polyak averaging)."""
    tail = path[-max(1, int(round(fraction * (len(path) - 1)))):]
    return float(tail[:, 0].mean()), float(tail[:, 1].mean())


def compare_from_start(objective: Objective, cfg: dict[str, Any], critic_warmup: int,
                       run_dir: Path | None = None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Adversarial fit of ``cfg`` and the exact descent from the generator's start.

    Returns ``(fit, adversarial path, exact path)``; ``fit`` holds the averaged adversarial
    ``mean``/``scale``, the exact divergence ``value`` there, the ``start`` and ``same_start``:
    the local minimum at the end of the exact descent (Adam with the generator's settings,
    then L-BFGS to the bottom of the basin).
    """
    g, o = cfg["generator"], cfg["optim_g"]
    start = (float(g["init_mean"]), float(g["init_scale"]))
    descent = exact_descent(objective, start, lr=o["lr"], betas=tuple(o["betas"]), steps=cfg["train"]["steps"])
    theta = lbfgs(objective, (descent[-1, 0], math.log(descent[-1, 1])))
    same = {"mean": float(theta[0]), "scale": math.exp(float(theta[1])), "value": float(_value(objective, theta))}
    path = train_adversarial(cfg, critic_warmup, run_dir)
    mu, s = tail_average(path)
    value = float(objective(torch.tensor(mu, dtype=F64), torch.tensor(s, dtype=F64)))
    return {"start": list(start), "mean": mu, "scale": s, "value": value, "same_start": same}, path, descent


# --- the experiment --------------------------------------------------------------------------

def _nearest_mode(data: GaussianMixture, mean: float) -> int:
    return int(torch.argmin((data.means[:, 0] - mean).abs()))


def _checks(data: GaussianMixture, fits: dict[str, dict[str, float]], cross: dict[str, dict[str, float]],
            mode_tol: float) -> dict[str, bool]:
    """The claims on the exact fits (see the docstring of :func:`divergence_fit`)."""
    m, sig = data.means[:, 0], data.sigmas
    sep = float(m.max() - m.min())
    data_mean = float((data.weights * m).sum())
    out: dict[str, bool] = {}
    if "kl" in fits:
        f = fits["kl"]
        out["kl covers both modes"] = f["scale"] > sep / 2 and abs(f["mean"] - data_mean) <= 0.05 * sep
    for name in ("reverse-kl", "jsd"):
        if name in fits:
            f = fits[name]
            k = _nearest_mode(data, f["mean"])
            out[f"{name} locks onto one mode"] = (abs(f["mean"] - float(m[k])) <= mode_tol * float(sig[k])
                                                  and abs(f["scale"] / float(sig[k]) - 1) <= mode_tol)
    if {"mmd", "kl", "reverse-kl"} <= fits.keys():
        f = fits["mmd"]
        k = _nearest_mode(data, f["mean"])
        out["mmd in between"] = (float(sig[k]) < f["scale"] < fits["kl"]["scale"]
                                 and cross["mmd"]["kl"] < cross["reverse-kl"]["kl"]
                                 and cross["mmd"]["reverse-kl"] < cross["kl"]["reverse-kl"])
    return out


@EXPERIMENTS.register(NAME, claim=CLAIM, plot=plot_divergence_fit, paper=PAPER)
def divergence_fit(*, means: list[float] = (-2.0, 2.0), sigmas: list[float] = (0.5, 0.5),
                   weights: list[float] = (0.6, 0.4), divergences: list[Divergence] = ("kl", "reverse-kl", "jsd", "mmd"),
                   bandwidth: float = 0.5, starts: list[tuple[float, float]] = ((-1.5, 1.0),),
                   adversarial: bool = True, steps: int = 600, batch_size: int = 512, d_steps: int = 3,
                   critic_warmup: int = 200, lr_g: float = 0.05, lr_d: float = 2e-3, critic_width: int = 64,
                   mean_tol: float = 0.15, scale_tol: float = 0.1, mode_tol: float = 0.2, grid_points: int = 4001,
                   seed: int = 0, run_dir: Path | None = None) -> ExperimentResult:
    """Gaussian fits to a 1-D mixture by KL, reverse KL, JSD and MMD: exact and adversarial.

    Data: ``sum_k weights_k N(means_k, sigmas_k^2)``; the MMD kernel has bandwidth ``bandwidth``.
    Exact: the lowest local minimum over a grid of L-BFGS starts. Adversarial (``adversarial``):
    one fit per ``starts`` entry ``(mean, scale)`` (the generator's initial Gaussian), trained
    ``steps`` generator steps of batch ``batch_size`` with ``d_steps`` critic steps each (critic:
    MLP of width ``critic_width``, depth 2), after ``critic_warmup`` critic-only steps; Adam
    ``lr_g`` / ``lr_d``, betas (0.5, 0.999), linear decay. Claims checked:

    * KL covers both modes: scale > half the distance between the outer modes, mean within
      5 % of that distance of the mixture mean;
    * reverse KL and JSD lock onto one mode: mean within ``mode_tol`` mode sigmas of a mode and
      scale within a factor ``1 ± mode_tol`` of its sigma;
    * MMD in between: its scale lies strictly between its nearest mode's sigma and the KL fit's
      scale, and it pays less forward KL than the reverse-KL fit and less reverse KL than the
      KL fit;
    * every adversarial fit is within ``mean_tol`` (absolute) and ``scale_tol`` (relative) of
      the exact descent from the same start.
    """
    if len(means) < 2:
        raise ConfigError("divergence-fit needs a mixture of at least two modes")
    if steps < 10 or batch_size < 2 or d_steps < 1 or critic_warmup < 0 or lr_g <= 0 or lr_d <= 0 or bandwidth <= 0:
        raise ConfigError("divergence-fit needs steps >= 10, batch_size >= 2, d_steps >= 1, critic_warmup >= 0, "
                          "lr_g, lr_d and bandwidth > 0")
    if grid_points < 101 or grid_points % 2 == 0:
        raise ConfigError(f"grid_points must be odd and >= 101, got {grid_points}")
    if any(len(s) != 2 or s[1] <= 0 for s in starts):
        raise ConfigError("each start is [mean, scale] with scale > 0")
    data_options = {"means": list(means), "sigmas": list(sigmas), "weights": list(weights)}
    data = mixture1d(**data_options)
    m = data.means[:, 0]
    data_mean = float((data.weights * m).sum())
    data_std = float(((data.weights * (data.sigmas ** 2 + m ** 2)).sum() - data_mean ** 2).sqrt())
    grid = grid_1d(data_mean - 12 * data_std, data_mean + 12 * data_std, grid_points)
    dx = 24 * data_std / (grid_points - 1)
    box = (data_mean - 3 * data_std, data_mean + 3 * data_std, 10 * dx, 2 * data_std)
    search = [(float(mu0), float(s0)) for mu0 in np.linspace(float(m.min()) - float(data.sigmas.min()),
                                                             float(m.max()) + float(data.sigmas.min()), 7)
              for s0 in (float(data.sigmas.min()), data_std)]
    betas = (0.5, 0.999)

    objectives = {d: exact_objective(d, data, grid, bandwidth) for d in divergences}
    minima = {d: local_minima(obj, search, box) for d, obj in objectives.items()}
    for d, mins in minima.items():
        if not mins:
            raise ConfigError(f"divergence-fit: no local minimum of {d} found inside the search box; widen the data")
    fits = {d: mins[0] for d, mins in minima.items()}
    # Every fit scored by both KL directions: where it sits between covering and seeking.
    both = {k: exact_objective(k, data, grid, bandwidth) for k in ("kl", "reverse-kl")}
    cross = {d: {k: float(obj(torch.tensor(f["mean"], dtype=F64), torch.tensor(f["scale"], dtype=F64)))
                 for k, obj in both.items()} for d, f in fits.items()}
    checks = _checks(data, fits, cross, mode_tol)

    rows, summary = [], {}
    paths: dict[str, Any] = {"adversarial": {}, "exact": {}}
    adv_fits: dict[str, list[dict[str, float]]] = {d: [] for d in divergences}
    for d in divergences:
        f = fits[d]
        summary.update({f"{d} exact mean": f["mean"], f"{d} exact scale": f["scale"], f"{d} exact value": f["value"],
                        f"{d} fit: KL(p||q)": cross[d]["kl"], f"{d} fit: KL(q||p)": cross[d]["reverse-kl"]})
        if not adversarial:
            rows.append([d, _loss_label(d, bandwidth), f["mean"], f["scale"], f["value"]] + [None] * 9)
            continue
        for i, start in enumerate(starts):
            key, start = f"{d} start {i}", (float(start[0]), float(start[1]))
            cfg = adversarial_config(d, data_options, start, bandwidth=bandwidth, steps=steps, batch_size=batch_size,
                                     d_steps=d_steps, lr_g=lr_g, lr_d=lr_d, betas=betas, critic_width=critic_width,
                                     seed=seed)
            adv, path, descent = compare_from_start(
                objectives[d], cfg, critic_warmup, run_dir / "adversarial" / f"{d}-start{i}" if run_dir else None)
            same = adv["same_start"]
            d_mean, d_scale = abs(adv["mean"] - same["mean"]), adv["scale"] / same["scale"] - 1
            adv["agree"] = checks[f"{key}: adversarial agrees"] = bool(d_mean <= mean_tol and abs(d_scale) <= scale_tol)
            adv_fits[d].append(adv)
            paths["adversarial"][key], paths["exact"][key] = path, descent
            summary.update({f"{key} adversarial mean": adv["mean"], f"{key} adversarial scale": adv["scale"]})
            rows.append([d, _loss_label(d, bandwidth), f["mean"], f["scale"], f["value"], f"({start[0]:g}, {start[1]:g})",
                         adv["mean"], adv["scale"], same["mean"], same["scale"], d_mean, 100 * d_scale,
                         adv["value"] - same["value"], adv["agree"]])
    xs = torch.linspace(float(m.min()) - 2 * data_std, float(m.max()) + 2 * data_std, 801, dtype=F64)
    return ExperimentResult(
        NAME, CLAIM,
        ["divergence", "adversarial loss", "exact mean", "exact scale", "exact value", "start (mean, scale)",
         "adv. mean", "adv. scale", "exact same-start mean", "exact same-start scale", "|d mean|", "d scale %",
         "excess divergence", "agree"],
        rows, summary, all(checks.values()),
        series={"x": xs, "density": data.prob(xs[:, None]), "means": m, "sigmas": data.sigmas,
                "fits": fits, "minima": minima, "adversarial_fits": adv_fits, "paths": paths,
                "labels": {d: LABELS[d] for d in divergences}, "checks": checks, "cross": cross},
    )


def _loss_label(divergence: str, bandwidth: float) -> str:
    loss = adversarial_loss(divergence, bandwidth)
    if loss["name"] == "gmmn":
        return f"gmmn bandwidths=[{bandwidth:g}]"
    return f"fgan {loss['divergence']} minimax"
