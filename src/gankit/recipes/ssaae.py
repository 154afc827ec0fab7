"""The semi-supervised adversarial autoencoder (Makhzani et al. 2016, "Adversarial
Autoencoders", §5) as phases of the one loop.

The encoder (:class:`~gankit.networks.semisup.CategoricalStyleEncoder`) gives class logits
``l`` and a style code ``z`` (``latent_dim``); the decoder ``G`` reconstructs ``x`` from
``[softmax(l), z]``. Two latent discriminators, ``D_cat`` on ``softmax(l)`` against one-hot
samples of ``Cat(K)`` and ``D_style`` on ``z`` against the prior, make ``y`` a class code
and ``z`` free of class. Each training step runs, as in the paper:

* ``recon``: E and G minimise ``mean ||G(E(x)) - x||^2`` on an unlabelled batch;
* ``D``: both discriminators minimise the configured critic loss (default the classic GAN's),
  prior samples real, codes fake;
* ``G``: E, as the generator of both codes, minimises the generator loss against both;
* ``sup``: E minimises the cross-entropy of ``l`` on a batch of the ``labels`` labelled
  training examples (:mod:`gankit.data.labelled`).

The classifier is ``argmax l``, scored on the test split by the ``test_error`` metric.
``model.unlabelled=false`` keeps only ``sup``: the same encoder trained on the labelled
examples alone, the baseline. Sample grids decode one row per class with random styles.
"""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.base import DataSource
from gankit.errors import ConfigError
from gankit.losses import LOSSES, Objective
from gankit.losses.semisup import supervised_loss
from gankit.networks import DISCRIMINATORS, ENCODERS, GENERATORS, PRIORS
from gankit.networks.aae_priors import LatentPrior, as_latent_prior
from gankit.networks.semisup import CategoricalStyleEncoder
from gankit.registry import Component, Count, LatentDim, Positive, Seed
from gankit.recipes.aae import _check
from gankit.engine.loop import Logs, Phase, make_optimizer
from gankit.recipes.base import (RECIPES, DiscriminatorOption, EncoderOption, GeneratorOption, LossOption,
                                    PriorOption, Recipe)
from gankit.recipes.semisup import SemiSupervised

if TYPE_CHECKING:
    from gankit.config import Config

MAKHZANI = "Makhzani et al. 2016, 'Adversarial Autoencoders' (ICLR workshop / arXiv 1511.05644v2), §5"


@RECIPES.register("ssaae", summary="semi-supervised AAE: a categorical and a style code, each with its own D",
                  paper=MAKHZANI)
class SSAAERecipe(SemiSupervised, Recipe):
    """Encoder (two heads), decoder, ``D_cat``, ``D_style``, the style prior, and the four phases.

    ``labels``: labelled training examples, balanced over the classes;
    ``label_seed``: seed of their choice; ``supervised``: weight of the labelled cross-entropy;
    ``unlabelled``: false trains the classifier on the labelled examples alone (the baseline).
    """

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 labels: Count = 100, label_seed: Seed = 0, supervised: Positive = 1.0,
                 unlabelled: bool = True, encoder: EncoderOption = Component("mlp"),
                 generator: GeneratorOption = Component("mlp"), discriminator: DiscriminatorOption = Component("mlp"),
                 prior: PriorOption = Component("normal"), latent_dim: LatentDim = 2,
                 loss: LossOption = Component("ns")) -> None:
        self.cfg, self.device = cfg, device
        _check(cfg)
        self.labels, self.supervised, self.unlabelled = labels, supervised, unlabelled
        self.data = self._semisup_setup(cfg, data, labels, label_seed)
        k, style = self.class_count, latent_dim
        self.num_classes = k   # sample grids: one row per class code
        self.objective: Objective = LOSSES.build(loss.name, loss.options)
        if not self.objective.learned_critic or self.objective.g_features or self.objective.critic_dim != 1:
            raise ConfigError(f"model=ssaae needs a loss with one-logit latent discriminators; {loss.name!r} is not one")
        self.prior: LatentPrior = as_latent_prior(PRIORS.build(prior.name, prior.options, dim=style))
        body = ENCODERS.build(encoder.name, encoder.options, data_shape=data.shape, latent_dim=k + style)
        self.E = CategoricalStyleEncoder(body, k, style).to(device)
        self.G: nn.Module = GENERATORS.build(generator.name, generator.options, latent_dim=k + style,
                                             data_shape=data.shape, num_classes=0).to(device)
        d = discriminator
        self.D_cat: nn.Module = DISCRIMINATORS.build(d.name, d.options, data_shape=(k,), num_classes=0,
                                                     out_dim=1).to(device)
        self.D_style: nn.Module = DISCRIMINATORS.build(d.name, d.options, data_shape=(style,), num_classes=0,
                                                       out_dim=1).to(device)
        self.batch_size = cfg.train.batch_size
        self.data_rng = self.data_order(cfg)
        self.trainer = self.make_trainer(cfg, self.phases())

    @property
    def default_metrics(self) -> list[str]:
        return ["test_error"]

    # -- the phases -----------------------------------------------------------------------
    def batch(self) -> Tensor:
        """An unlabelled batch ``x (B, *shape)``."""
        x, _ = self.data.sample(self.batch_size, self.data_rng)
        return x.to(self.device, non_blocking=True)

    def prior_codes(self, n: int) -> tuple[Tensor, Tensor]:
        """One-hot samples of ``Cat(K)`` ``(n, K)`` and style prior samples ``(n, style_dim)``."""
        cls = torch.randint(self.class_count, (n,), device=self.device)
        return F.one_hot(cls, self.class_count).float(), self.prior.sample(n, device=self.device)

    def recon_loss(self) -> tuple[Tensor, Logs]:
        x = self.batch()
        loss = F.mse_loss(self.G(self.E(x)), x)
        return loss, {"recon_mse": loss.detach()}

    def d_loss(self) -> tuple[Tensor, Logs]:
        """Both latent discriminators: prior samples real, the encoder's codes fake."""
        x = self.batch()
        with torch.no_grad():
            logits, z = self.E.heads(x)
        y_prior, z_prior = self.prior_codes(x.shape[0])
        d_cat = self.objective.d_loss(self.D_cat(y_prior), self.D_cat(torch.softmax(logits, 1)))
        d_style = self.objective.d_loss(self.D_style(z_prior), self.D_style(z))
        return d_cat + d_style, {"d_cat": d_cat.detach(), "d_style": d_style.detach()}

    def g_loss(self) -> tuple[Tensor, Logs]:
        """The encoder as the generator of both codes."""
        x = self.batch()
        logits, z = self.E.heads(x)
        real_cat = real_style = None
        if self.objective.g_uses_real:
            y_prior, z_prior = self.prior_codes(x.shape[0])
            real_cat, real_style = self.D_cat(y_prior), self.D_style(z_prior)
        g_cat = self.objective.g_loss(self.D_cat(torch.softmax(logits, 1)), real_cat)
        g_style = self.objective.g_loss(self.D_style(z), real_style)
        return g_cat + g_style, {"g_cat": g_cat.detach(), "g_style": g_style.detach()}

    def sup_loss(self) -> tuple[Tensor, Logs]:
        """``supervised`` x cross-entropy of the class logits on a labelled batch."""
        x, y = self.split.batch(self.batch_size, self.device)
        ce = supervised_loss(self.E.heads(x)[0], y)
        return self.supervised * ce, {"sup_ce": ce.detach()}

    def phases(self) -> list[Phase]:
        cfg = self.cfg
        og, od = cfg.optim_g, cfg.optim_d
        fused = self.device.type == "cuda"

        def opt(params: list[nn.Parameter], o: Any = og) -> torch.optim.Optimizer:
            return make_optimizer(params, o.name, o.lr, tuple(o.betas), o.momentum, o.weight_decay, fused=fused)

        # Each phase of the encoder has its own optimiser state, as the paper's phases do.
        sup = Phase("sup", [self.E], opt(list(self.E.parameters())), self.sup_loss)
        if not self.unlabelled:
            return [sup]
        ae = list(self.E.parameters()) + list(self.G.parameters())
        ds = list(self.D_cat.parameters()) + list(self.D_style.parameters())
        return [Phase("recon", [self.E, self.G], opt(ae), self.recon_loss),
                Phase("D", [self.D_cat, self.D_style], opt(ds, od), self.d_loss, repeats=cfg.train.d_steps),
                Phase("G", [self.E], opt(list(self.E.parameters())), self.g_loss, repeats=cfg.train.g_steps),
                sup]

    # -- using the result -----------------------------------------------------------------
    def class_logits(self, x: Tensor) -> Tensor:
        return self.E.heads(x)[0].float()                               # (B, K)

    @torch.no_grad()
    def generate(self, n: int, labels: Tensor | None = None, *, seed: int | None = None,
                 batch: int = 4096) -> Tensor:
        """``n`` decoded codes ``G([onehot(y), z])``, ``z`` from the style prior and ``y`` the
        given labels (default uniform), ``(n, *shape)`` on the CPU."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        if labels is None:
            labels = torch.randint(self.class_count, (n,), generator=gen)
        z = self.prior.sample(n, generator=gen)                          # (n, style_dim), CPU
        codes = torch.cat([F.one_hot(labels.long(), self.class_count).float(), z], dim=1)
        was = self.G.training
        self.G.eval()
        out = [self.G(c.to(self.device)).float().cpu() for c in codes.split(batch)]
        self.G.train(was)
        return torch.cat(out) if out else torch.empty(0, *self.data.shape)

    def sampler(self) -> nn.Module:
        return self.G

    def modules(self) -> dict[str, nn.Module]:
        return {"E": self.E, "G": self.G, "D_cat": self.D_cat, "D_style": self.D_style}
