"""The optimal discriminator and the equilibrium, checked by training D alone.

For a fixed generator distribution ``p_g`` the value function
``V(D, G) = ∫ p_data log D + ∫ p_g log(1 - D)`` is maximised pointwise by
``D*(x) = p_data / (p_data + p_g)``, where ``V(D*, G) = 2 JSD(p_data || p_g) - log 4``
(Goodfellow et al. 2014, Prop. 1 and Thm. 1; seed 001, eqs. 8-14). With ``p_g = p_data``,
``D* = 1/2`` everywhere and ``V = -log 4`` (eq. 15).

Both densities here are known mixtures (:mod:`gankit.data.toy`) and only D trains: one
:class:`~gankit.engine.loop.Phase` of the training loop whose loss draws fresh samples
from both each step and calls :func:`gankit.losses.gan.discriminator_loss`. Adam with a
cosine decay of the learning rate to 0, so the late iterates average out the sampling
noise. The trained D is then compared with ``D*`` on a quadrature grid
(:mod:`gankit.integrate`):

* ``max`` and ``mean |D - D*|`` over the grid points of the *mass region*
  ``{x : p_data + p_g > mass_threshold * max(p_data + p_g)}``: outside it D sees
  (almost) no samples and its value is arbitrary;
* ``V(D, G)`` by Monte Carlo (gankit's ``value_function`` on ``mc_samples`` fresh samples of
  each density, with its standard error) and by quadrature of the trained logit, against
  ``2 JSD - log 4`` by quadrature. ``D*`` maximises ``V``, so the quadrature value of any
  trained D lies below it; the gap is what training left on the table.

The cases: ``1d`` is the two-mode mixture ``½N(-2, 0.5²) + ½N(2, 0.5²)`` (gankit's
``mixture1d``) against ``p_g = N(0, g_std²)``; ``2d`` is an 8-mode ring of radius 2 and
``sigma = ring_sigma`` against ``p_g = N(0, g_std² I)``. For the equilibrium ``p_g`` is the
data itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.toy import GaussianMixture, mixture1d, ring
from gankit.errors import ConfigError
from gankit.experiments.base import EXPERIMENTS, ExperimentResult
from gankit.integrate import Grid, grid_1d, grid_2d, js_divergence, value_function
from gankit.losses import gan
from gankit.networks import DISCRIMINATORS
from gankit.plotting.training_experiments import plot_discriminator
from gankit.engine.loop import Phase, Trainer, lr_factor, make_optimizer

PAPER = "Goodfellow et al. 2014, 'Generative Adversarial Nets', Proposition 1 and Theorem 1"
CaseName = Literal["1d", "2d"]
PLOT_POINTS = {1: 801, 2: 121}   # points per axis of the grid the figure draws


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` intra-op threads, then restore. The experiments' networks are tiny MLPs:
    on a busy 2-core machine a second thread's synchronisation costs ~10x the work it saves."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclasses.dataclass(frozen=True)
class Case:
    """A fixed pair of densities and the quadrature grid covering both."""

    name: str
    label: str
    p_data: GaussianMixture
    p_g: GaussianMixture
    box: tuple[float, float]       # the figure's range per axis
    grid: Grid


def make_case(name: str, *, equal: bool, g_std: float, ring_sigma: float) -> Case:
    """The ``1d`` / ``2d`` densities; ``equal`` sets ``p_g = p_data`` (the equilibrium)."""
    if name == "1d":
        p_data = mixture1d()
        data_label = "0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2)"
        # the grid must hold p_g's mass too: quadrature of 2 JSD - log 4 is off by log 2 x the mass outside
        box, grid = (-8.0, 8.0), grid_1d(-10.0, 10.0, 5001)
    else:
        p_data = ring(modes=8, radius=2.0, sigma=ring_sigma)
        data_label = f"8-mode ring, r = 2, sigma = {ring_sigma:g}"
        box, grid = (-4.5, 4.5), grid_2d(-9.0, 9.0, 361)
    d = p_data.dim
    if equal:
        return Case(name, f"{name}: p_g = p_data = {data_label}", p_data, p_data, box, grid)
    p_g = GaussianMixture(torch.zeros(1, d), torch.tensor([g_std]), name="gaussian")
    return Case(name, f"{name}: {data_label} vs N(0, {g_std:g}^2{' I' if d > 1 else ''})", p_data, p_g, box, grid)


@dataclasses.dataclass
class TrainSettings:
    """How D is trained (the experiment's options of the same names)."""

    steps: int
    batch_size: int
    lr: float
    width: int
    depth: int
    act: str
    record_every: int


def fit_discriminator(case: Case, s: TrainSettings, rng: torch.Generator,
                      record: Callable[[int, nn.Module], None]) -> nn.Module:
    """Train an MLP D (logits) on fresh samples of the two fixed densities; ``record(step, D)``
    is called before training, every ``record_every`` steps and at the end."""
    D = DISCRIMINATORS.build("mlp", {"width": s.width, "depth": s.depth, "act": s.act},
                             data_shape=case.p_data.shape, num_classes=0, out_dim=1)

    def loss_fn() -> tuple[Tensor, dict[str, float]]:
        real, _ = case.p_data.sample(s.batch_size, rng)                 # (B, d)
        fake, _ = case.p_g.sample(s.batch_size, rng)                    # (B, d)
        loss = gan.discriminator_loss(D(real), D(fake))                 # -V(D, G), Monte Carlo
        return loss, {"d_loss": loss.item()}

    opt = make_optimizer(D.parameters(), "adam", s.lr, betas=(0.9, 0.999))
    trainer = Trainer([Phase("D", [D], opt, loss_fn)], lr_factor=lr_factor("cosine", s.steps))
    record(0, D)
    while trainer.step < s.steps:
        trainer.train_step()
        if trainer.step % s.record_every == 0 or trainer.step == s.steps:
            record(trainer.step, D)
    return D


@torch.no_grad()
def logit_on(D: nn.Module, x: Tensor, chunk: int = 65536) -> Tensor:
    """D's logit at float64 points ``x (n, d)``, as float64 ``(n,)``, in chunks."""
    return torch.cat([D(x[i:i + chunk].float()).double() for i in range(0, x.shape[0], chunk)])


@torch.no_grad()
def compare(D: nn.Module, case: Case, mass_threshold: float) -> dict[str, float]:
    """``max``/``mean |D - D*|`` on the mass region and ``V(D, G)`` by quadrature."""
    x = case.grid.points
    lp_data, lp_g = case.p_data.log_prob(x), case.p_g.log_prob(x)
    density = lp_data.exp() + lp_g.exp()
    mass = density > mass_threshold * density.max()
    err = (torch.sigmoid(logit_on(D, x)) - torch.sigmoid(lp_data - lp_g)).abs()[mass]
    v_quad = value_function(case.p_data.log_prob, case.p_g.log_prob, case.grid, logit=lambda t: logit_on(D, t))
    return {"max_error": float(err.max()), "mean_error": float(err.mean()), "v_quad": float(v_quad)}


@torch.no_grad()
def value_monte_carlo(D: nn.Module, case: Case, n: int, rng: torch.Generator,
                      chunk: int = 100_000) -> tuple[float, float]:
    """``V(D, G)`` as gankit's :func:`~gankit.losses.gan.value_function` on ``n`` fresh samples of
    each density, and its standard error ``sqrt(var log D(x) / n + var log(1 - D(x')) / n)``."""
    a_real = torch.cat([logit_on(D, case.p_data.sample(min(chunk, n - i), rng)[0].double())
                        for i in range(0, n, chunk)])
    a_fake = torch.cat([logit_on(D, case.p_g.sample(min(chunk, n - i), rng)[0].double())
                        for i in range(0, n, chunk)])
    v = float(gan.value_function(a_real, a_fake))
    se = math.sqrt(float(F.softplus(-a_real).var()) / n + float(F.softplus(a_fake).var()) / n)
    return v, se


@torch.no_grad()
def plot_series(D: nn.Module, case: Case) -> dict[str, np.ndarray]:
    """D, D* and both densities on a coarse grid for the figure."""
    dim = case.p_data.dim
    t = torch.linspace(*case.box, PLOT_POINTS[dim], dtype=torch.float64)
    if dim == 1:
        x, shape = t[:, None], (len(t),)
    else:                                           # [i, j] holds the point (t_i, t_j)
        gx, gy = torch.meshgrid(t, t, indexing="ij")
        x, shape = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1), (len(t), len(t))
    lp_data, lp_g = case.p_data.log_prob(x), case.p_g.log_prob(x)
    return {"axis": t.numpy(),
            "d": torch.sigmoid(logit_on(D, x)).reshape(shape).numpy(),
            "d_star": torch.sigmoid(lp_data - lp_g).reshape(shape).numpy(),
            "p_data": lp_data.exp().reshape(shape).numpy(), "p_g": lp_g.exp().reshape(shape).numpy()}


def run_cases(cases: list[str], *, equal: bool, settings: TrainSettings, g_std: float, ring_sigma: float,
              mass_threshold: float, mc_samples: int, seed: int) -> list[tuple[Case, dict[str, float], dict]]:
    """Train D for each case and measure it: ``[(case, numbers, figure series)]``."""
    out = []
    for k, name in enumerate(cases):
        case = make_case(name, equal=equal, g_std=g_std, ring_sigma=ring_sigma)
        rng = torch.Generator().manual_seed(seed * 1000 + k)
        history: dict[str, list[float]] = {"step": [], "max_error": [], "mean_error": [], "v_quad": []}

        def record(step: int, D: nn.Module) -> None:
            m = compare(D, case, mass_threshold)
            history["step"].append(step)
            for key in ("max_error", "mean_error", "v_quad"):
                history[key].append(m[key])

        with torch.random.fork_rng():          # D's initialisation: seeded, global RNG untouched
            torch.manual_seed(seed * 1000 + k)
            D = fit_discriminator(case, settings, rng, record)
        numbers = compare(D, case, mass_threshold)
        numbers["v_star"] = float(2 * js_divergence(case.p_data.log_prob, case.p_g.log_prob, case.grid) - math.log(4))
        numbers["v_mc"], numbers["v_mc_se"] = value_monte_carlo(D, case, mc_samples, rng)
        out.append((case, numbers, {**plot_series(D, case), "history": history, "label": case.label}))
    return out


def _check(steps: int, batch_size: int, lr: float, width: int, depth: int, record_every: int,
           mass_threshold: float, mc_samples: int, cases: list[str], threads: int) -> None:
    if threads < 1:
        raise ConfigError("threads must be >= 1")
    if steps < 1 or batch_size < 2 or lr <= 0 or width < 1 or depth < 1 or record_every < 1:
        raise ConfigError("need steps >= 1, batch_size >= 2, lr > 0, width >= 1, depth >= 1, record_every >= 1")
    if not 0 < mass_threshold < 1 or mc_samples < 2 or not cases:
        raise ConfigError("need 0 < mass_threshold < 1, mc_samples >= 2 and at least one case")


OPT_NAME = "optimal-discriminator"
OPT_CLAIM = ("for fixed p_data and p_g, the discriminator trained to convergence approaches "
             "D* = p_data / (p_data + p_g) (Goodfellow et al. 2014, Prop. 1) on the region where the "
             "densities have mass, and the value it reaches approaches max_D V(D, G) = 2 JSD(p_data || p_g) - log 4")


@EXPERIMENTS.register(OPT_NAME, claim=OPT_CLAIM, plot=plot_discriminator, paper=PAPER)
def optimal_discriminator(*, cases: list[CaseName] = ("1d", "2d"), steps: int = 4000, batch_size: int = 1024,
                          lr: float = 1e-2, width: int = 64, depth: int = 3, act: str = "silu",
                          g_std: float = 1.5, ring_sigma: float = 0.25, mass_threshold: float = 1e-3,
                          mc_samples: int = 1_000_000, record_every: int = 250, max_error_tol: float = 0.05,
                          mean_error_tol: float = 0.01, value_tol: float = 0.01, threads: int = 1,
                          seed: int = 0) -> ExperimentResult:
    """Train D alone against fixed densities; compare it with D* and V with 2 JSD - log 4.

    Options: ``cases`` (``1d`` mixture vs Gaussian, ``2d`` ring vs Gaussian); D's training:
    ``steps`` of Adam at ``lr`` (cosine decay to 0) on ``batch_size`` fresh samples of each
    density, an MLP of ``width``, ``depth`` and activation ``act``; ``g_std`` of the Gaussian
    p_g; ``ring_sigma``; ``mass_threshold`` defining the mass region; ``mc_samples`` per density
    for the Monte Carlo V; errors are recorded every ``record_every`` steps; ``threads``: torch
    threads while training (restored afterwards). The claim holds
    when on every case ``max |D - D*| < max_error_tol``, ``mean |D - D*| < mean_error_tol``
    and both V estimates are within ``value_tol`` of ``2 JSD - log 4``.
    """
    _check(steps, batch_size, lr, width, depth, record_every, mass_threshold, mc_samples, list(cases), threads)
    if g_std <= 0 or ring_sigma <= 0:
        raise ConfigError("optimal-discriminator needs g_std > 0 and ring_sigma > 0")
    settings = TrainSettings(steps, batch_size, lr, width, depth, act, record_every)
    with torch_threads(threads):
        results = run_cases(list(cases), equal=False, settings=settings, g_std=g_std, ring_sigma=ring_sigma,
                            mass_threshold=mass_threshold, mc_samples=mc_samples, seed=seed)
    rows, summary, series, holds = [], {}, {}, True
    for case, m, s in results:
        gap_quad, gap_mc = abs(m["v_quad"] - m["v_star"]), abs(m["v_mc"] - m["v_star"])
        ok = (m["max_error"] < max_error_tol and m["mean_error"] < mean_error_tol
              and gap_quad < value_tol and gap_mc < value_tol)
        holds = holds and ok
        rows.append([case.label, m["max_error"], m["mean_error"], m["v_star"], m["v_quad"], m["v_mc"],
                     m["v_mc_se"], m["v_star"] - m["v_quad"], gap_mc, ok])
        summary.update({f"max |D - D*| {case.name}": m["max_error"], f"mean |D - D*| {case.name}": m["mean_error"],
                        f"2 JSD - log 4 {case.name}": m["v_star"], f"V quadrature {case.name}": m["v_quad"],
                        f"V Monte Carlo {case.name}": m["v_mc"], f"V Monte Carlo s.e. {case.name}": m["v_mc_se"]})
        series[case.name] = s
    return ExperimentResult(
        OPT_NAME, OPT_CLAIM,
        ["p_data vs p_g", "max |D - D*|", "mean |D - D*|", "2 JSD - log 4", "V(D, G) quadrature",
         "V(D, G) Monte Carlo", "MC s.e.", "V* - V quadrature", "|V MC - V*|", "within tolerance"],
        rows, summary, holds, series={"cases": series, "reference": "D*", "mass_threshold": mass_threshold},
    )


EQ_NAME = "equilibrium"
EQ_CLAIM = ("when p_g = p_data the best discriminator cannot tell them apart: the trained D approaches "
            "1/2 everywhere on the data's support and V(D, G) approaches its global minimum -log 4 "
            "(Goodfellow et al. 2014, Thm. 1)")


@EXPERIMENTS.register(EQ_NAME, claim=EQ_CLAIM, plot=plot_discriminator, paper=PAPER)
def equilibrium(*, cases: list[CaseName] = ("1d", "2d"), steps: int = 1000, batch_size: int = 1024,
                lr: float = 1e-2, width: int = 64, depth: int = 3, act: str = "silu", ring_sigma: float = 0.25,
                mass_threshold: float = 1e-3, mc_samples: int = 1_000_000, record_every: int = 100,
                max_error_tol: float = 0.01, value_tol: float = 1e-3, threads: int = 1,
                seed: int = 0) -> ExperimentResult:
    """Train D alone with p_g = p_data; measure max |D - 1/2| and V + log 4.

    Options as in ``optimal-discriminator`` (the data of each case is also its p_g). The claim
    holds when on every case ``max |D - 1/2| < max_error_tol`` on the mass region and both V
    estimates are within ``value_tol`` of ``-log 4``.
    """
    _check(steps, batch_size, lr, width, depth, record_every, mass_threshold, mc_samples, list(cases), threads)
    if ring_sigma <= 0:
        raise ConfigError("equilibrium needs ring_sigma > 0")
    settings = TrainSettings(steps, batch_size, lr, width, depth, act, record_every)
    with torch_threads(threads):
        results = run_cases(list(cases), equal=True, settings=settings, g_std=1.0, ring_sigma=ring_sigma,
                            mass_threshold=mass_threshold, mc_samples=mc_samples, seed=seed)
    rows, summary, series, holds = [], {}, {}, True
    log4 = math.log(4)
    for case, m, s in results:
        ok = (m["max_error"] < max_error_tol and abs(m["v_quad"] + log4) < value_tol
              and abs(m["v_mc"] + log4) < value_tol)
        holds = holds and ok
        rows.append([case.label, m["max_error"], m["mean_error"], m["v_quad"] + log4, m["v_mc"] + log4,
                     m["v_mc_se"], ok])
        summary.update({f"max |D - 1/2| {case.name}": m["max_error"], f"mean |D - 1/2| {case.name}": m["mean_error"],
                        f"V quadrature + log 4 {case.name}": m["v_quad"] + log4,
                        f"V Monte Carlo + log 4 {case.name}": m["v_mc"] + log4})
        series[case.name] = s
    return ExperimentResult(
        EQ_NAME, EQ_CLAIM,
        ["p_data = p_g", "max |D - 1/2|", "mean |D - 1/2|", "V quadrature + log 4", "V Monte Carlo + log 4",
         "MC s.e.", "within tolerance"],
        rows, summary, holds, series={"cases": series, "reference": "1/2", "mass_threshold": mass_threshold},
    )
