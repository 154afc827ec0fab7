"""BiGAN / ALI (Donahue, Krähenbühl & Darrell 2017; Dumoulin et al. 2017) as phases of the one loop.

A generator ``G: z -> x``, an encoder ``E: x -> z`` and a discriminator ``D`` of joint pairs
``(x, z)``, read as one flat vector ``[x, z]`` of ``d + latent_dim`` coordinates. The two
joint distributions are

    p_EX(x, z) = p_data(x) delta(z - E(x))       (real pairs ``(x, E(x))``)
    p_GZ(x, z) = p(z) delta(x - G(z))            (fake pairs ``(G(z), z)``)

and each training step runs two phases:

* ``D``: D minimises the configured critic loss with real pairs as real and fake pairs as
  fake, so that for the logistic losses ``D*(x, z) = p_EX / (p_EX + p_GZ)`` (Donahue et al.,
  Proposition 1);
* ``GE``: G and E together minimise ``g_loss(D(G(z), z)) + g_loss(-D(x, E(x)))``: the
  objective's generator loss on the fake pairs, plus the same loss on the real pairs with
  the labels swapped. For a logit ``t``, ``sigmoid(-t) = 1 - sigmoid(t)``, so negating D's
  output is swapping real and fake. With ``loss=ns`` this is ALI's generator loss
  ``softplus(-D(G(z), z)) + softplus(D(x, E(x)))`` (the released code) and BiGAN's
  "inverted" objective, which keeps the gradients strong where D is sure; with
  ``loss=minimax`` it is ``-V(D, E, G)``, the papers' minimax game itself; with ``wgan``
  or ``hinge`` it is ``E D(x, E(x)) - E D(G(z), z)``. Without the real-pair term E would
  get no gradient at all: it appears only in the real pairs.

The swap by negation is the game only for objectives whose critic loss treats the two
classes alike under it, ``d_loss(r, f) = d_loss(-f, -r)`` (ns, minimax, ml, wgan, hinge,
rpgan); the others (lsgan's 0-1 coding, one-sided label smoothing, most f-divergences) are
refused. E is deterministic, as in BiGAN; ALI's stochastic encoder is not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from gankit.capabilities import Encodes
from gankit.data.base import DataSource, held_out
from gankit.engine.loop import Logs, Phase, lr_factor, make_optimizer, ramp
from gankit.engine.transform import Standardize
from gankit.errors import ConfigError
from gankit.losses import LOSSES, Objective
from gankit.losses.penalties import PENALTIES, Penalty
from gankit.networks import DISCRIMINATORS, ENCODERS, GENERATORS, PRIORS
from gankit.networks.aae_priors import LatentPrior, as_latent_prior
from gankit.recipes.base import (RECIPES, DiscriminatorOption, EncoderOption, GeneratorOption, LossOption,
                                 PenaltyOption, PriorOption, Recipe)
from gankit.registry import Component, LatentDim

if TYPE_CHECKING:
    from gankit.config import Config

PAPERS = ("Donahue, Krähenbühl & Darrell 2017, 'Adversarial Feature Learning'; "
          "Dumoulin et al. 2017, 'Adversarially Learned Inference'")

# Probe critic outputs for the symmetry check of the objective (any distinct values do).
_PROBE_REAL = torch.tensor([0.3, -1.2, 2.0, 0.05], dtype=torch.float64)
_PROBE_FAKE = torch.tensor([-0.7, 0.4, 1.5, -2.5], dtype=torch.float64)


def swaps_by_negation(objective: Objective) -> bool:
    """Whether negating the critic's outputs swaps real and fake for ``objective``:
    ``d_loss(r, f) = d_loss(-f, -r)``, checked on fixed probe values."""
    r, f = _PROBE_REAL, _PROBE_FAKE
    return bool(torch.allclose(objective.d_loss(r, f), objective.d_loss(-f, -r), rtol=1e-12, atol=1e-12))


def joint(x: Tensor, z: Tensor) -> Tensor:
    """The pair ``(x, z)`` as D reads it: ``(B, *shape), (B, k) -> (B, d + k)``."""
    return torch.cat([x.reshape(x.shape[0], -1), z], dim=1)


def ge_loss(objective: Objective, real_out: Tensor, fake_out: Tensor) -> Tensor:
    """G and E's loss: the generator loss on the fake pairs plus, with the labels swapped
    (outputs negated), on the real pairs. ``real_out = D(x, E(x))``, ``fake_out = D(G(z), z)``."""
    return objective.g_loss(fake_out, real_out) + objective.g_loss(-real_out, -fake_out)


@RECIPES.register("bigan", summary="BiGAN / ALI: generator and encoder vs a discriminator of (x, z) pairs",
                  paper=PAPERS)
class BiGANRecipe(Encodes, Recipe):
    """Generator, encoder, joint discriminator and prior of one BiGAN run, and its phases."""

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 generator: GeneratorOption = Component("mlp"), encoder: EncoderOption = Component("mlp"),
                 discriminator: DiscriminatorOption = Component("mlp"), prior: PriorOption = Component("normal"),
                 latent_dim: LatentDim = 2, loss: LossOption = Component("ns"),
                 penalty: PenaltyOption = Component("none")) -> None:
        """``generator``: G, z -> x; ``encoder``: E, x -> z; ``discriminator``: D on the flat
        pair ``[x, z]``; ``prior``: p(z) of ``latent_dim`` coordinates; ``loss``: the game's
        objective (negating D's output must swap the classes); ``penalty``: a regulariser of D
        on the joint pairs."""
        self.cfg, self.data, self.device = cfg, data, device
        _check(cfg)
        self.latent_dim = latent_dim
        self.prior: LatentPrior = as_latent_prior(PRIORS.build(prior.name, prior.options, dim=latent_dim))
        self.objective: Objective = LOSSES.build(loss.name, loss.options)
        o = self.objective
        if not o.learned_critic or o.critic_dim != 1 or o.critics != 1 or o.g_features:
            raise ConfigError(f"loss {loss.name!r} does not judge pairs by one critic output; "
                              "model=bigan needs one (ns, minimax, wgan, hinge)")
        if not swaps_by_negation(o):
            with_opts = f" with {dict(loss.options)}" if loss.options else ""
            raise ConfigError(f"loss {loss.name!r}{with_opts} does not swap real and fake when D's output is "
                              "negated, which bigan's encoder loss needs (ns, minimax, wgan, hinge)")
        if DISCRIMINATORS.entry(discriminator.name).meta.get("data") == "images":
            raise ConfigError(f"discriminator {discriminator.name!r} takes images; bigan's D reads flat (x, z) "
                              "vectors (use mlp or maxout)")
        self.penalty: Penalty = PENALTIES.build(penalty.name, penalty.options)
        # Point data of any range trains standardised; generate() and decode() map back.
        self.transform = (Standardize.fit(data, cfg.seed) if cfg.train.standardize and data.kind == "points"
                          else None)
        self.G: nn.Module = GENERATORS.build(generator.name, generator.options, latent_dim=latent_dim,
                                             data_shape=data.shape, num_classes=0).to(device)
        self.E: nn.Module = ENCODERS.build(encoder.name, encoder.options, data_shape=data.shape,
                                           latent_dim=latent_dim).to(device)
        d = int(torch.tensor(data.shape).prod())
        self.D: nn.Module = DISCRIMINATORS.build(discriminator.name, discriminator.options,
                                                 data_shape=(d + latent_dim,), num_classes=0, out_dim=1).to(device)
        t = cfg.train
        decay = lr_factor(t.lr_decay, t.steps, t.extend)
        self.penalty_scale = ramp(decay, 1.0, t.penalty_final) if t.penalty_final is not None else None
        self.batch_size = t.batch_size
        self.data_rng = self.data_order(cfg)
        self.trainer = self.make_trainer(cfg, self.phases())

    @property
    def default_metrics(self) -> list[str]:
        from gankit.metrics.defaults import default_metrics

        return default_metrics(self.data) + ["recon", "latent_mmd"]

    # -- the phases -----------------------------------------------------------------------
    def pairs(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """A real batch ``x (B, *shape)`` and prior batch ``z (B, k)`` with their partners
        ``E(x) (B, k)`` and ``G(z) (B, *shape)``, in training space."""
        x, _ = self.data.sample(self.batch_size, self.data_rng)
        x = x.to(self.device, non_blocking=True)
        if self.transform is not None:
            x = self.transform(x)
        z = self.prior.sample(x.shape[0], device=self.device)
        return x, self.E(x), self.G(z), z

    def d_loss(self) -> tuple[Tensor, Logs]:
        """D step: real pairs ``(x, E(x))`` against fake pairs ``(G(z), z)``."""
        with torch.no_grad():
            x, ex, gz, z = self.pairs()
        real, fake = joint(x, ex), joint(gz, z)                 # (B, d + k) each
        critic = lambda v: self.D(v).float()  # noqa: E731
        real_out, fake_out = critic(real), critic(fake)         # (B,) logits
        loss = self.objective.d_loss(real_out, fake_out)
        logs: Logs = {"d_loss": loss.detach()}
        if self.penalty.loss is not None and self.trainer.step % self.penalty.every == 0:
            p = self.penalty.loss(critic, real, fake)
            if self.penalty_scale is not None:
                p = p * self.penalty_scale(self.trainer.step)
            loss = loss + p
            logs["penalty"] = p.detach()
        if self.objective.probability_outputs:  # on the pairs: D(x, E(x)) and D(G(z), z)
            logs["D(x)"] = torch.sigmoid(real_out.detach()).mean()
            logs["D(G(z))"] = torch.sigmoid(fake_out.detach()).mean()
        return loss, logs

    def ge_loss(self) -> tuple[Tensor, Logs]:
        """G and E step: :func:`ge_loss` on fresh pairs (D's parameters are not trained here)."""
        x, ex, gz, z = self.pairs()
        real_out, fake_out = self.D(joint(x, ex)).float(), self.D(joint(gz, z)).float()
        loss = ge_loss(self.objective, real_out, fake_out)
        return loss, {"g_loss": loss.detach()}

    def phases(self) -> list[Phase]:
        cfg = self.cfg
        og, od = cfg.optim_g, cfg.optim_d
        fused = self.device.type == "cuda"  # one fused Adam/SGD kernel per update on a GPU
        opt_d = make_optimizer(self.D.parameters(), od.name, od.lr, tuple(od.betas), od.momentum,
                               od.weight_decay, fused=fused)
        ge = list(self.G.parameters()) + list(self.E.parameters())
        opt_ge = make_optimizer(ge, og.name, og.lr, tuple(og.betas), og.momentum, og.weight_decay, fused=fused)
        d_after = [lambda: self.penalty.after_step(self.D)] if self.penalty.after_step is not None else []
        return [Phase("D", [self.D], opt_d, self.d_loss, repeats=cfg.train.d_steps, after_step=d_after),
                Phase("GE", [self.G, self.E], opt_ge, self.ge_loss, repeats=cfg.train.g_steps)]

    # -- using the result -----------------------------------------------------------------
    @torch.no_grad()
    def _apply(self, net: nn.Module, v: Tensor, batch: int) -> Tensor:
        was = net.training
        net.eval()
        out = [net(part.to(self.device)).float() for part in v.split(batch)]
        net.train(was)
        return torch.cat(out) if out else torch.empty(0)

    def encode(self, x: Tensor, batch: int = 4096) -> Tensor:
        """Codes ``E(x)``: ``(n, *shape) -> (n, latent_dim)`` on the CPU."""
        if self.transform is not None:
            x = self.transform(x.to(self.device))
        return self._apply(self.E, x, batch).reshape(x.shape[0], self.latent_dim).cpu()

    def decode(self, z: Tensor, batch: int = 4096) -> Tensor:
        """``G(z)`` in the data's units: ``(n, latent_dim) -> (n, *shape)`` on the CPU."""
        x = self._apply(self.G, z, batch).reshape(z.shape[0], *self.data.shape)
        return (x if self.transform is None else self.transform.inverse(x)).cpu()

    def reconstruct(self, x: Tensor, batch: int = 4096) -> Tensor:
        """``G(E(x))``: how well E inverts G on the data, ``(n, *shape)`` on the CPU."""
        return self.decode(self.encode(x, batch), batch)

    def generate(self, n: int, labels: Tensor | None = None, *, seed: int | None = None,
                 batch: int = 4096) -> Tensor:
        """``n`` samples ``G(z), z ~ p(z)``, ``(n, *shape)`` on the CPU."""
        if labels is not None:
            raise ConfigError("model=bigan draws no samples by label")
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return self.decode(self.prior.sample(n, generator=gen), batch)

    def sampler(self) -> nn.Module:
        return self.G

    def heldout(self) -> DataSource | None:
        """The data set's test split (:func:`gankit.data.base.held_out`), or None."""
        return held_out(self.cfg.data.name, dict(self.cfg.data.options))

    def modules(self) -> dict[str, nn.Module]:
        mods = {"G": self.G, "E": self.E, "D": self.D}
        if self.transform is not None:  # the standardisation is part of the run, saved and checked with it
            mods["transform"] = self.transform
        return mods


def _check(cfg: Config) -> None:
    """The GAN recipe's training options that this recipe does not implement, refused by name."""
    t = cfg.train
    unsupported = [k for k, on in (("ema", t.ema > 0 or t.ema_half_life > 0), ("precision", t.precision != "fp32"),
                                   ("compile", t.compile), ("channels_last", t.channels_last),
                                   ("sync_batchnorm", t.sync_batchnorm)) if on]
    if unsupported:
        raise ConfigError(f"train.{unsupported[0]} is not supported for model=bigan (the GAN recipe's)")
