"""The adversarial autoencoder recipe (Makhzani et al. 2015) as phases of the one loop.

An encoder ``E: x -> z`` (the generator of codes), a decoder ``G: z -> x`` and a latent
discriminator ``D: z -> logit``. Each training step runs three phases, in the order of
seed 001's eq. (21)-(22):

* ``recon``: E and G minimise ``mean ||G(E(x)) - x||^2`` (per pixel);
* ``D``: D minimises the configured critic loss (default: the classic GAN's, on logits)
  with prior samples ``z ~ p(z)`` as real and codes ``E(x)`` as fake;
* ``G``: E, as the generator, minimises the generator loss on ``D(E(x))``
  (default: non-saturating ``-log D(E(x))``).

``model.adversarial=false`` keeps only ``recon``: a plain autoencoder, the baseline the
regularisation is measured against. ``model.supervised=true`` is the paper's label-informed
regularisation: D also sees the one-hot label, and the prior samples of a batch come from
the components its labels pick, so the codes of class ``y`` are pushed into component ``y``.
The loop in :mod:`gankit.engine.loop` runs the phases; nothing here loops over steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.capabilities import Encodes
from gankit.data.base import DataSource, held_out
from gankit.errors import ConfigError
from gankit.losses import LOSSES, Objective
from gankit.losses.penalties import PENALTIES, Penalty
from gankit.networks import DISCRIMINATORS, ENCODERS, GENERATORS, PRIORS
from gankit.networks.aae_priors import LatentPrior, as_latent_prior
from gankit.registry import Component, LatentDim
from gankit.recipes.base import (RECIPES, DiscriminatorOption, EncoderOption, GeneratorOption, LossOption,
                                    PenaltyOption, PriorOption, Recipe)

if TYPE_CHECKING:
    from gankit.config import Config
from gankit.engine.loop import Logs, Phase, make_optimizer

AAE_METRICS = ["recon", "latent_mmd"]


@RECIPES.register("aae", summary="adversarial autoencoder: encoder vs a latent discriminator",
                  paper="Makhzani et al. 2015")
class AAERecipe(Encodes, Recipe):
    """Encoder, decoder, latent discriminator and prior of one AAE run, and its phases."""

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 encoder: EncoderOption = Component("mlp"), generator: GeneratorOption = Component("mlp"),
                 discriminator: DiscriminatorOption = Component("mlp"), prior: PriorOption = Component("normal"),
                 latent_dim: LatentDim = 2, loss: LossOption = Component("ns"),
                 penalty: PenaltyOption = Component("none"), adversarial: bool = True,
                 supervised: bool = False) -> None:
        """``encoder``: x -> z; ``generator``: the decoder z -> x; ``discriminator``: D on codes;
        ``prior``: p(z) of ``latent_dim`` coordinates; ``loss``/``penalty``: the latent game's;
        ``adversarial``: the regularisation phase (false: a plain autoencoder);
        ``supervised``: each label picks its prior component (Makhzani et al. 2015)."""
        self.cfg, self.data, self.device = cfg, data, device
        _check(cfg)
        self.supervised, self.adversarial, self.latent_dim = supervised, adversarial, latent_dim
        self.prior: LatentPrior = as_latent_prior(PRIORS.build(prior.name, prior.options, dim=latent_dim))
        if self.supervised:
            if not data.num_classes:
                raise ConfigError(f"model.supervised=true needs a labelled data set; {data.name!r} has no labels")
            if self.prior.num_components != data.num_classes:
                raise ConfigError(f"model.supervised=true needs one prior component per class: prior "
                                  f"{prior.name!r} has {self.prior.num_components}, {data.name!r} has "
                                  f"{data.num_classes} classes (use prior=mog or swissroll with "
                                  f"prior.components={data.num_classes})")
        # Labels select prior components (and so decoded classes) only in the supervised variant.
        self.num_classes = data.num_classes if self.supervised else 0
        self.objective: Objective = LOSSES.build(loss.name, loss.options)
        if not self.objective.learned_critic:
            raise ConfigError(f"loss {loss.name!r} has no discriminator; the AAE's regularisation needs one")
        self.penalty: Penalty = PENALTIES.build(penalty.name, penalty.options)
        self.E: nn.Module = ENCODERS.build(encoder.name, encoder.options, data_shape=data.shape,
                                           latent_dim=latent_dim).to(device)
        self.G: nn.Module = GENERATORS.build(generator.name, generator.options, latent_dim=latent_dim,
                                             data_shape=data.shape, num_classes=0).to(device)
        self.D: nn.Module = DISCRIMINATORS.build(discriminator.name, discriminator.options,
                                                 data_shape=(latent_dim,), num_classes=self.num_classes,
                                                 out_dim=self.objective.critic_dim).to(device)
        self.batch_size = cfg.train.batch_size
        self.data_rng = self.data_order(cfg)
        self.trainer = self.make_trainer(cfg, self.phases())

    @property
    def default_metrics(self) -> list[str]:
        from gankit.metrics.defaults import default_metrics

        own = AAE_METRICS + (["latent_components"] if self.supervised else [])
        return own + default_metrics(self.data)

    # -- the phases -----------------------------------------------------------------------
    def batch(self) -> tuple[Tensor, Tensor | None]:
        """A training batch ``x (B, *shape)`` and, when supervised, its labels ``y (B,)``."""
        x, y = self.data.sample(self.batch_size, self.data_rng)
        x = x.to(self.device, non_blocking=True)
        return x, (y.to(self.device) if self.supervised else None)

    def prior_sample(self, n: int, labels: Tensor | None) -> Tensor:
        return self.prior.sample(n, device=self.device, labels=labels)

    def recon_loss(self) -> tuple[Tensor, Logs]:
        """Reconstruction phase: ``mean (G(E(x)) - x)^2``."""
        x, _ = self.batch()
        loss = F.mse_loss(self.G(self.E(x)), x)
        return loss, {"recon_mse": loss.detach()}

    def d_loss(self) -> tuple[Tensor, Logs]:
        """Regularisation phase, D step: prior samples are real, codes are fake."""
        x, y = self.batch()
        with torch.no_grad():
            codes = self.E(x)                                    # (B, latent_dim)
        z = self.prior_sample(x.shape[0], y)                     # (B, latent_dim)
        critic = lambda v: self.D(v, y)  # noqa: E731
        real_out, fake_out = critic(z), critic(codes)
        loss = self.objective.d_loss(real_out, fake_out)
        logs = {"d_loss": loss.detach()}
        if self.penalty.loss is not None and self.trainer.step % self.penalty.every == 0:
            p = self.penalty.loss(critic, z, codes)
            loss = loss + p
            logs["penalty"] = p.detach()
        if self.objective.probability_outputs:
            logs["D(z)"] = torch.sigmoid(real_out.detach()).mean()
            logs["D(E(x))"] = torch.sigmoid(fake_out.detach()).mean()
        return loss, logs

    def g_loss(self) -> tuple[Tensor, Logs]:
        """Regularisation phase, encoder step: E is the generator of codes that must fool D."""
        x, y = self.batch()
        fake_out = self.D(self.E(x), y)
        real_out = self.D(self.prior_sample(x.shape[0], y), y) if self.objective.g_uses_real else None
        loss = self.objective.g_loss(fake_out, real_out)
        return loss, {"g_loss": loss.detach()}

    def phases(self) -> list[Phase]:
        cfg = self.cfg
        og, od = cfg.optim_g, cfg.optim_d
        fused = self.device.type == "cuda"  # one fused Adam/SGD kernel per update on a GPU
        ae = list(self.E.parameters()) + list(self.G.parameters())
        opt_ae = make_optimizer(ae, og.name, og.lr, tuple(og.betas), og.momentum, og.weight_decay, fused=fused)
        phases = [Phase("recon", [self.E, self.G], opt_ae, self.recon_loss)]
        if self.adversarial:
            opt_d = make_optimizer(self.D.parameters(), od.name, od.lr, tuple(od.betas), od.momentum, od.weight_decay, fused=fused)
            # The encoder's generator step has its own optimiser state: its gradients come
            # from another loss than reconstruction's, as in Makhzani et al.'s two phases.
            opt_e = make_optimizer(self.E.parameters(), og.name, og.lr, tuple(og.betas), og.momentum, og.weight_decay, fused=fused)
            d_after = [lambda: self.penalty.after_step(self.D)] if self.penalty.after_step is not None else []
            phases += [Phase("D", [self.D], opt_d, self.d_loss, repeats=cfg.train.d_steps, after_step=d_after),
                       Phase("G", [self.E], opt_e, self.g_loss, repeats=cfg.train.g_steps)]
        return phases

    # -- using the result -----------------------------------------------------------------
    @torch.no_grad()
    def _apply(self, net: nn.Module, x: Tensor, batch: int) -> Tensor:
        was = net.training
        net.eval()
        out = [net(part.to(self.device)).float().cpu() for part in x.split(batch)]
        net.train(was)
        return torch.cat(out) if out else torch.empty(0)

    def encode(self, x: Tensor, batch: int = 4096) -> Tensor:
        """Codes ``E(x)``: ``(n, *shape) -> (n, latent_dim)`` on the CPU."""
        return self._apply(self.E, x, batch).reshape(x.shape[0], self.latent_dim)

    def decode(self, z: Tensor, batch: int = 4096) -> Tensor:
        """Decoded codes ``G(z)``: ``(n, latent_dim) -> (n, *shape)`` on the CPU."""
        return self._apply(self.G, z, batch).reshape(z.shape[0], *self.data.shape)

    def reconstruct(self, x: Tensor, batch: int = 4096) -> Tensor:
        return self.decode(self.encode(x, batch), batch)

    @torch.no_grad()
    def generate(self, n: int, labels: Tensor | None = None, *, seed: int | None = None,
                 batch: int = 4096) -> Tensor:
        """``n`` decoded prior samples ``G(z), z ~ p(z)`` (``z ~ p(z | y)`` for given labels
        of a supervised run), ``(n, *shape)`` on the CPU."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        if labels is not None and not self.num_classes:
            raise ConfigError("labels select prior components only in a supervised AAE (model.supervised=true)")
        z = self.prior.sample(n, generator=gen, labels=labels)   # (n, latent_dim), CPU
        return self.decode(z, batch)

    def sampler(self) -> nn.Module:
        return self.G

    def heldout(self) -> DataSource | None:
        """The data set's test split (:func:`gankit.data.base.held_out`), or None."""
        return held_out(self.cfg.data.name, dict(self.cfg.data.options))

    def modules(self) -> dict[str, nn.Module]:
        return {"E": self.E, "G": self.G, "D": self.D}



def _check(cfg: Config) -> None:
    if cfg.train.ema > 0 or cfg.train.ema_half_life > 0:
        raise ConfigError("train.ema is not supported for model=aae")
    t = cfg.train
    unsupported = [k for k, on in (("precision", t.precision != "fp32"), ("compile", t.compile),
                                   ("channels_last", t.channels_last), ("sync_batchnorm", t.sync_batchnorm)) if on]
    if unsupported:
        raise ConfigError(f"train.{unsupported[0]} is not supported for model=aae (the GAN recipe's fast paths)")
