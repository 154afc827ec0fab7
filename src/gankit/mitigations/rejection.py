"""Discriminator rejection sampling with a critic refitted to the trained generator.

Azadi et al. 2019 ("Discriminator Rejection Sampling"): a discriminator trained to optimality
between p_data and a *fixed* generator p_g has logit ``D*(x) = log p_data(x) / p_g(x)``, so
accepting a sample of G with probability ``exp(D*(x) - M)`` (``M >= sup D*``) yields exactly
p_data. Their practical version keeps training the GAN's own D after training and caps the
acceptance; here the critic is a separate network, fitted from scratch once training ends
(``steps`` Adam steps of the logistic loss, at most the run's ``train.steps``, real data
against the frozen sampling generator, the EMA one if there is one), because the game's
final D is near-flat where G is close to the data and cannot resolve what is left
(``docs/bench-generalise.md``). The critic is an MLP
on random Fourier features of its input (:class:`gankit.networks.mlp.FourierFeatures`), so it
resolves modes much narrower than the data's spread.

``M`` is the ``quantile`` of the critic's logits on fresh generator samples, not their
supremum (which an estimated critic overshoots): samples whose estimated ratio is above
``e^M`` are always kept, as Azadi et al.'s shift ``gamma`` does, which bounds the rejection
rate at the price of under-correcting where G under-covers the data most. The critic, ``M``
and the training step it was fitted at are saved with the run; sampling rejects only with a
critic fitted to the generator of the current step (never during training).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.registry import Count, Fraction, NonNegativeInt, Positive
from gankit.mitigations.base import MITIGATIONS, Mitigation

AZADI = "Azadi et al. 2019, 'Discriminator Rejection Sampling'"


def acceptance(logits: Tensor, threshold: Tensor | float) -> Tensor:
    """``min(1, exp(logit - M))``: the probability of keeping a sample whose critic logit
    (an estimate of ``log p_data / p_g``) is ``logit``, with cap ``M = threshold``."""
    return torch.exp((logits - threshold).clamp(max=0.0))


class RejectionCritic(nn.Module):
    """The sampling-time critic: an MLP (with Fourier features) on the game's input space, its
    acceptance threshold ``M`` and the training step it was fitted at (-1: not yet)."""

    def __init__(self, data_shape: tuple[int, ...], num_classes: int, *, width: int, depth: int, fourier: int,
                 fourier_max: float) -> None:
        super().__init__()
        from gankit.networks.mlp import MLPDiscriminator

        self.net = MLPDiscriminator(data_shape, num_classes, 1, width=width, depth=depth, fourier=fourier,
                                    fourier_max=fourier_max)
        self.register_buffer("threshold", torch.zeros(()))
        self.register_buffer("fitted_step", torch.full((), -1, dtype=torch.long))

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x, y)                                       # (B,) logits


class DiscriminatorRejection(Mitigation):
    """See the module docstring. ``keep`` is a fresh Bernoulli draw per call, from the
    sampling generator when one is given (``generate(seed=...)`` is then reproducible)."""

    name = "drs"

    def __init__(self, *, steps: int, batch: int, lr: float, width: int, depth: int, fourier: int,
                 fourier_max: float, quantile: float, calibration: int) -> None:
        self.steps, self.batch, self.lr, self.quantile, self.calibration = steps, batch, lr, quantile, calibration
        self.arch = {"width": width, "depth": depth, "fourier": fourier, "fourier_max": fourier_max}
        self.critic: RejectionCritic | None = None

    def build(self, recipe: Any) -> None:
        # with its own generator, so the run's networks and latents are those of the run without DRS
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(recipe.cfg.seed * 104_729 + 3)
            self.critic = RejectionCritic(recipe.data.shape, recipe.num_classes, **self.arch).to(recipe.device)

    def modules(self) -> dict[str, nn.Module]:
        return {"drs_critic": self.critic} if self.critic is not None else {}

    def after_training(self, recipe: Any) -> None:
        assert self.critic is not None
        step = recipe.trainer.step
        gen = torch.Generator().manual_seed(recipe.cfg.seed * 104_729 + step)
        with torch.random.fork_rng(devices=[]):  # a fresh critic, without touching the run's generator
            torch.manual_seed(recipe.cfg.seed * 104_729 + 7 + step)
            fresh = RejectionCritic(recipe.data.shape, recipe.num_classes, **self.arch).to(recipe.device)
            self.critic.load_state_dict(fresh.state_dict())
            fit_critic(self.critic.net, recipe, min(self.steps, recipe.cfg.train.steps), self.batch, self.lr, gen)
            logits = critic_logits(self.critic.net, recipe, self.calibration, gen)
        self.critic.threshold.fill_(float(torch.quantile(logits.double(), self.quantile)))
        self.critic.fitted_step.fill_(step)

    def keep(self, recipe: Any, x: Tensor, y: Tensor | None, generator: Any) -> Tensor | None:
        c = self.critic
        if c is None or int(c.fitted_step) != recipe.trainer.step:
            return None
        p = acceptance(c(x, y).float(), c.threshold)
        u = torch.rand(p.shape, generator=generator) if generator is not None else torch.rand(p.shape)
        return u.to(p.device) < p


@contextlib.contextmanager
def _sampler_in_eval(recipe: Any) -> Iterator[nn.Module]:
    """The sampling generator in eval mode for the duration, its mode restored after."""
    G = recipe.sampler()
    was = G.training
    G.eval()
    try:
        yield G
    finally:
        G.train(was)


def _fake(recipe: Any, n: int, y: Tensor | None, gen: torch.Generator) -> Tensor:
    z = recipe.prior.sample(n, generator=gen).to(recipe.device)
    with torch.no_grad():
        return recipe.sampler()(z, y).float()


def fit_critic(net: nn.Module, recipe: Any, steps: int, batch: int, lr: float, gen: torch.Generator) -> float:
    """``steps`` Adam steps of the logistic loss: real data (label 1) against the frozen
    sampling generator (label 0), fake labels those of the real batch for a conditional run.
    Returns the last batch's loss (2 log 2 = 1.386 is a critic that cannot tell). A progress
    bar shows the fit, as training's does (``train.progress``; rank 0 only)."""
    data_state = copy.deepcopy(recipe.data.state_dict())  # the run's data order is not the critic's to move
    if recipe.batches.sharded:  # a finite data set smaller than the critic's batch gives all its rows
        batch = min(batch, len(recipe.data) // recipe.batches.ctx.world)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999))
    with _sampler_in_eval(recipe), _progress(recipe, steps) as bar:
        for _ in range(steps):
            real, y = recipe.batches.real(batch, gen)
            if recipe.transform is not None:
                real = recipe.transform(real)
            y = y if recipe.num_classes else None
            fake = _fake(recipe, len(real), y, gen)  # a split smaller than the batch gives all its rows
            loss = F.softplus(-net(real, y)).mean() + F.softplus(net(fake, y)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
    recipe.data.load_state_dict(data_state)
    return float(loss.detach()) if steps else float("nan")


def _progress(recipe: Any, steps: int) -> Any:
    """The critic fit's tqdm bar (disabled without ``train.progress`` and off rank 0): the
    fit runs after the last training step and would otherwise look like a hang."""
    from tqdm.auto import tqdm

    show = bool(recipe.cfg.train.progress) and recipe.dist.is_main
    return tqdm(total=steps, desc="rejection critic (drs)", unit="step", dynamic_ncols=True, mininterval=0.5,
                disable=not show)


@torch.no_grad()
def critic_logits(net: nn.Module, recipe: Any, n: int, gen: torch.Generator) -> Tensor:
    """The critic's logits on ``n`` fresh samples of the sampling generator."""
    y = torch.randint(recipe.num_classes, (n,), generator=gen).to(recipe.device) if recipe.num_classes else None
    with _sampler_in_eval(recipe):
        return net(_fake(recipe, n, y, gen), y).float().reshape(-1).cpu()


@MITIGATIONS.register("drs", paper=AZADI)
def drs(*, steps: Count = 2000, batch: Count = 512, lr: Positive = 1e-3, width: Count = 128,
        depth: Count = 3, fourier: NonNegativeInt = 32, fourier_max: Positive = 64.0, quantile: Fraction = 0.2,
        calibration: Count = 20_000) -> Mitigation:
    """Discriminator rejection sampling: once training ends, a critic (an MLP on ``fourier``
    random Fourier features per octave up to ``fourier_max``) is fitted for ``steps`` steps (at
    most ``train.steps``) to tell data from the trained G; sampling keeps a sample with probability
    ``min(1, exp(logit - M))``, ``M`` the ``quantile`` of the critic's logits on G's samples."""
    return DiscriminatorRejection(steps=steps, batch=batch, lr=lr, width=width, depth=depth, fourier=fourier,
                                  fourier_max=fourier_max, quantile=quantile, calibration=calibration)
