"""The GAN recipe: turns a :class:`~gankit.config.Config` into networks and phases.

This is the only place that knows what a GAN update is: the discriminator phase (k
repeats of Goodfellow et al.'s inner loop, WGAN's n_critic) and the generator phase, with
the configured objective, penalty and mitigations. The loop in
:mod:`gankit.engine.loop` runs the phases; nothing here loops over steps.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from gankit.capabilities import Discriminates
from gankit.data.base import DataSource
from gankit.errors import ConfigError
from gankit.losses import LOSSES, Objective
from gankit.losses.penalties import PENALTIES, Penalty
from gankit.networks import DISCRIMINATORS, GENERATORS, PRIORS
from gankit.networks.base import ParallelCritics
from gankit.engine.transform import Standardize
from gankit.engine import distributed, fastpath
from gankit.registry import Component, LatentDim
from gankit.recipes.base import (RECIPES, DiscriminatorOption, GeneratorOption, LossOption, MitigationsOption,
                                    PenaltyOption, PriorOption, Recipe)
from gankit.engine.loop import EMA, Logs, Phase, ema_decay, lr_factor, make_optimizer, ramp
from gankit.mitigations.base import MITIGATIONS, Mitigation
from gankit.engine.precision import precision_for

if TYPE_CHECKING:
    from gankit.config import Config


@dataclasses.dataclass(frozen=True)
class GANOptions:
    """The GAN recipe's own options (``model.*``), as resolved: its networks, latent,
    objective, penalty and mitigations."""

    generator: Component
    discriminator: Component
    prior: Component
    latent_dim: int
    loss: Component
    penalty: Component
    mitigations: dict[str, dict[str, Any]]
    conditional: bool


class _Flatten(nn.Module):
    """The identity critic of objectives without an adversary (GMMN): ``x -> (B, D)``."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return x.reshape(x.shape[0], -1)


def _add_terms(loss: Tensor, logs: Logs, phase: str, terms: list[tuple[str, Tensor | None]]) -> Tensor:
    """``loss`` plus the mitigations' extra terms of a phase (None: none), each logged as
    ``<mitigation>_<phase>``."""
    for name, term in terms:
        if term is not None:
            loss = loss + term
            logs[f"{name}_{phase}"] = term.detach()
    return loss


@RECIPES.register("gan", summary="generator vs discriminator (every loss, network, mitigation)")
class GANRecipe(Discriminates, Recipe):
    """Networks, objective, penalty and mitigations of one GAN run, and its phases.

    In a torchrun job (:mod:`gankit.engine.distributed`) ``train.batch_size`` is the
    global batch; ``batch_size`` here is this rank's share, ``G_train`` / ``D_train`` the
    DDP wrappers used by the phase that trains each network.
    """

    supports_distributed = True

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 generator: GeneratorOption = Component("mlp"), discriminator: DiscriminatorOption = Component("mlp"),
                 prior: PriorOption = Component("normal"), latent_dim: LatentDim = 2,
                 loss: LossOption = Component("ns"), penalty: PenaltyOption = Component("none"),
                 mitigations: MitigationsOption = {}, conditional: bool = False) -> None:  # noqa: B006 (never mutated)
        """The GAN's own options (``model.*``):

        ``generator``: G; ``discriminator``: D, returning logits;
        ``prior``: z's distribution, of ``latent_dim`` coordinates;
        ``loss``: the adversarial objective; ``penalty``: a critic regulariser;
        ``mitigations``: mode-collapse mitigations, name -> options;
        ``conditional``: G and D see the data set's labels (Mirza & Osindero 2014)."""
        self.cfg, self.data, self.device = cfg, data, device
        o = self.options = GANOptions(generator, discriminator, prior, latent_dim, loss, penalty, dict(mitigations),
                                      conditional)
        self.num_classes = data.num_classes if o.conditional else 0
        if o.conditional and data.num_classes == 0:
            raise ConfigError(f"conditional=true needs a labelled data set; {data.name!r} has no labels")
        self.latent_dim = o.latent_dim
        self.objective: Objective = LOSSES.build(o.loss.name, o.loss.options)
        self.penalty: Penalty = PENALTIES.build(o.penalty.name, o.penalty.options)
        self.mitigations: list[Mitigation] = [MITIGATIONS.build(n, opts) for n, opts in o.mitigations.items()]
        self.prior = PRIORS.build(o.prior.name, o.prior.options, dim=o.latent_dim)
        # Point data of any range trains standardised; generate() maps back to the data's units.
        self.transform = (Standardize.fit(data, cfg.seed) if cfg.train.standardize and data.kind == "points"
                          else None)
        self.G = GENERATORS.build(o.generator.name, o.generator.options, latent_dim=o.latent_dim,
                                  data_shape=data.shape, num_classes=self.num_classes).to(device)
        if self.objective.learned_critic:
            k = self.objective.critics
            Ds = []
            for _ in range(k):  # D2GAN: separate critics, each with its share of the outputs
                D = DISCRIMINATORS.build(o.discriminator.name, o.discriminator.options, data_shape=data.shape,
                                         num_classes=self.num_classes, out_dim=self.d_outputs() // k)
                for m in self.mitigations:
                    D = m.wrap_discriminator(D, self)
                Ds.append(D)
            self.D: nn.Module = (Ds[0] if k == 1 else ParallelCritics(Ds)).to(device)
        else:
            self.D = _Flatten().to(device)
        if self.objective.g_features:
            if not hasattr(self.D, "phi"):
                raise ConfigError(f"loss {o.loss.name!r} matches D's body features, which discriminator "
                                  f"{o.discriminator.name!r} does not expose (mlp and dcgan do; no packing, no D2GAN)")
            own = [n for n, m in zip(o.mitigations, self.mitigations)
                   if type(m).generator_critic is not Mitigation.generator_critic]
            if own:
                raise ConfigError(f"loss {o.loss.name!r} matches D's features; mitigation {own[0]!r} replaces "
                                  "the critic the generator sees and cannot be combined with it")
        for m in self.mitigations:
            self.G = m.wrap_generator(self.G, self).to(device)
            self.prior = m.wrap_prior(self.prior, self)
        t = cfg.train
        self.G_ema = copy.deepcopy(self.G).eval() if t.ema > 0 or t.ema_half_life > 0 else None
        decay_at = ((lambda step: ema_decay(t.ema_half_life, t.ema_rampup, t.batch_size, step * t.batch_size))
                    if t.ema_half_life > 0 else None)
        self.ema = EMA(self.G, self.G_ema, t.ema, t.ema_start, decay_at) if self.G_ema is not None else None
        # the penalty's strength along the lr schedule's shape, from 1 to train.penalty_final
        decay = lr_factor(t.lr_decay, t.steps, t.extend)
        self.penalty_scale = ramp(decay, 1.0, t.penalty_final) if t.penalty_final is not None else None
        for m in self.mitigations:
            m.build(self)
        self.dist = distributed.info()
        if cfg.train.batch_size % self.dist.world:
            raise ConfigError(f"train.batch_size={cfg.train.batch_size} (the global batch) must be divisible "
                              f"by the {self.dist.world} processes")
        self.batch_size = cfg.train.batch_size // self.dist.world   # this rank's share
        multiple = max([m.batch_multiple() for m in self.mitigations] + [1])
        if self.batch_size % multiple:
            raise ConfigError(f"the per-process batch {self.batch_size} must be a multiple of {multiple} (packing)")
        self.data_rng = self.data_order(cfg)
        self._speed_and_scale()
        self.trainer = self.make_trainer(cfg, self.phases(), self.precision.grad_scaler())

    @staticmethod
    def gan_options(options: dict[str, Any]) -> GANOptions:
        """The GAN options among a subclass's ``**options`` (AC-GAN, InfoGAN, SSGAN take the
        GAN's and their own), defaults filled from :class:`GANRecipe`'s signature."""
        params = inspect.signature(GANRecipe.__init__).parameters
        return GANOptions(**{f.name: options.get(f.name, params[f.name].default)
                             for f in dataclasses.fields(GANOptions)})

    def _speed_and_scale(self) -> None:
        """Precision, fast paths and the DDP wrappers (identity in a one-process run)."""
        t, dev = self.cfg.train, self.device
        self.precision = precision_for(t.precision, dev)
        if t.channels_last:
            fastpath.to_channels_last(self.G)
            fastpath.to_channels_last(self.D)
        self.batches = distributed.RankBatches(self.data, dev, self.dist, data_on_device=t.data_on_device,
                                               channels_last=t.channels_last)
        if t.compile:
            twice = ([f"penalty {self.options.penalty.name}"] if self.penalty.loss is not None else []) + \
                [f"mitigation {n}" for n in self.options.mitigations if n == "unrolled"]
            fastpath.compile_networks(self.G, self.D, double_backward=twice)
        self.G_train = distributed.wrap(self.G, dev, self.dist, sync_batchnorm=t.sync_batchnorm)
        self.D_train = distributed.wrap(self.D, dev, self.dist, sync_batchnorm=t.sync_batchnorm)

    def d_outputs(self) -> int:
        """D's output width: the objective's ``critic_dim`` (a subclass whose critic reads
        more outputs, e.g. the K class logits of the semi-supervised GAN, widens it)."""
        return self.objective.critic_dim

    # -- the game -------------------------------------------------------------------------
    def d_input(self, x: Tensor) -> Tensor:
        for m in self.mitigations:
            x = m.discriminator_input(x, self.trainer.step if hasattr(self, "trainer") else 0)
        return x

    def critic(self, x: Tensor, y: Tensor | None, D: nn.Module | None = None) -> Tensor:
        """D's raw outputs on ``x`` as the game sees it (after input mitigations), in float32
        so that losses never run in a mixed-precision dtype. ``D``: the module to call
        (default the plain ``self.D``; the D phase passes its DDP wrapper)."""
        return (self.D if D is None else D)(self.d_input(x), y).float()

    def g_critic(self) -> Callable[[Tensor, Tensor | None], Tensor]:
        """What the generator's loss sees of D: its outputs (:meth:`critic`), or for an
        objective with ``g_features`` (feature matching) its body features ``D.phi`` ``(B, F)``."""
        if not self.objective.g_features:
            return self.critic
        return lambda x, y: self.D.phi(self.d_input(x), y).float()

    def real_batch(self, n: int | None = None) -> tuple[Tensor, Tensor | None]:
        """This rank's ``n`` rows (default: its batch share) of the next global real batch."""
        x, y = self.batches.real(n or self.batch_size, self.data_rng)
        if self.transform is not None:
            x = self.transform(x)
        return x, (y if self.num_classes else None)

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """D's raw outputs on data-space points ``x`` (standardised first when training is)."""
        if self.transform is not None:
            x = self.transform(x.to(self.device))
        return self.D(x, y)

    def fake_labels(self, n: int) -> Tensor | None:
        if not self.num_classes:
            return None
        return self.batches.labels(self.num_classes, n)

    def d_loss(self) -> tuple[Tensor, Logs]:
        real, y = self.real_batch()
        z = self.batches.noise(self.prior, real.shape[0])
        with torch.no_grad():
            fake = self.G(z, y)
        critic = lambda x: self.critic(x, y, self.D_train)  # noqa: E731
        real_out, fake_out = critic(real), critic(fake)
        for m in self.mitigations:
            m.observe_critic(real_out.detach(), fake_out.detach())
        loss = self.objective.d_loss(real_out, fake_out)
        logs = {"d_loss": loss.detach()}
        pen = self.penalty
        if pen.loss is not None and self.trainer.step % pen.every == 0:
            p = pen.loss(critic, real, fake)
            if self.penalty_scale is not None:
                p = p * self.penalty_scale(self.trainer.step)
            loss = loss + p
            logs["penalty"] = p.detach()
        if self.objective.probability_outputs:
            logs["D(x)"] = torch.sigmoid(real_out.detach()).mean()
            logs["D(G(z))"] = torch.sigmoid(fake_out.detach()).mean()
        if self.objective.estimate is not None:
            logs["divergence"] = self.objective.estimate(real_out.detach(), fake_out.detach()).detach()
        loss = _add_terms(loss, logs, "d", [(m.name, m.d_extra_loss(self, real, fake, y)) for m in self.mitigations])
        return loss, logs

    def g_loss(self) -> tuple[Tensor, Logs]:
        n = self.batch_size
        y = self.fake_labels(n)
        z = self.batches.noise(self.prior, n)
        fake = self.G_train(z, y)
        critic = self.g_critic()  # the plain D: its parameters are frozen in this phase
        for m in self.mitigations:
            critic = m.generator_critic(critic, self)
        fake_out = critic(fake, y)
        real_out = None
        if self.objective.g_uses_real:
            real, yr = self.real_batch(n)
            real_out = critic(real, yr)
        loss = self.objective.g_loss(fake_out, real_out)
        logs: Logs = {"g_loss": loss.detach()}
        loss = _add_terms(loss, logs, "g", [(m.name, m.g_extra_loss(self, fake, y, z)) for m in self.mitigations])
        return loss, logs

    def phases(self) -> list[Phase]:
        cfg = self.cfg
        og, od = cfg.optim_g, cfg.optim_d
        fused = self.device.type == "cuda"  # one fused Adam/SGD kernel per update on a GPU
        opt_g = make_optimizer(self.G.parameters(), og.name, og.lr, tuple(og.betas), og.momentum, og.weight_decay, fused=fused)
        g_after = [lambda: self.ema.update(self.trainer.step)] if self.ema is not None else []
        phases = []
        if self.objective.learned_critic:
            opt_d = make_optimizer(self.D.parameters(), od.name, od.lr, tuple(od.betas), od.momentum, od.weight_decay, fused=fused)
            d_after = [lambda: self.penalty.after_step(self.D)] if self.penalty.after_step is not None else []
            phases.append(Phase("D", [self.D], opt_d, self.precision.wrap(self.d_loss), repeats=cfg.train.d_steps,
                                after_step=d_after))
        phases.append(Phase("G", [self.G], opt_g, self.precision.wrap(self.g_loss), repeats=cfg.train.g_steps,
                            after_step=g_after))
        return phases

    # -- using the result -----------------------------------------------------------------
    def sampler(self) -> nn.Module:
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def generate(self, n: int, labels: Tensor | None = None, *, seed: int | None = None,
                 batch: int = 4096) -> Tensor:
        """``n`` samples ``(n, *shape)`` on the CPU from the EMA generator if there is one."""
        G = self.sampler()
        was_training = G.training
        G.eval()
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        if self.num_classes and labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=gen)
        out = []
        for i in range(0, n, batch):
            m = min(batch, n - i)
            y = None if labels is None else labels[i:i + m].to(self.device)
            x = self._kept_samples(G, m, y, gen)
            out.append((x if self.transform is None else self.transform.inverse(x)).cpu())
        G.train(was_training)
        return torch.cat(out) if out else torch.empty(0, *self.data.shape)

    def _kept_samples(self, G: nn.Module, m: int, y: Tensor | None, gen: torch.Generator | None,
                      max_rounds: int = 1000) -> Tensor:
        """``m`` samples of G (training space), each slot redrawn until every mitigation's
        :meth:`~gankit.mitigations.base.Mitigation.keep` accepts it (rejection sampling)."""
        x = G(self.prior.sample(m, generator=gen, device=self.device), y).float()
        todo = torch.arange(m, device=x.device)
        for _ in range(max_rounds):
            ok = torch.ones(len(todo), dtype=torch.bool, device=x.device)
            for mit in self.mitigations:
                keep = mit.keep(self, x[todo], None if y is None else y[todo], gen)
                if keep is not None:
                    ok &= keep
            todo = todo[~ok]
            if len(todo) == 0:
                return x
            yt = None if y is None else y[todo]
            x[todo] = G(self.prior.sample(len(todo), generator=gen, device=self.device), yt).float()
        raise RuntimeError(f"rejection sampling kept no sample for {len(todo)} of {m} slots in {max_rounds} rounds")

    def modules(self) -> dict[str, nn.Module]:
        mods = {"G": self.G, "D": self.D}
        if self.transform is not None:  # the standardisation is part of the run, saved and checked with it
            mods["transform"] = self.transform
        if self.G_ema is not None:
            mods["G_ema"] = self.G_ema
        for m in self.mitigations:
            mods.update(m.modules())
        return mods

    def finishing(self) -> bool:
        return any(type(m).after_training is not Mitigation.after_training for m in self.mitigations)

    def finish(self) -> None:
        for m in self.mitigations:
            m.after_training(self)

