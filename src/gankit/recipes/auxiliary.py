"""What AC-GAN and InfoGAN share: the GAN recipe with a second head on D's body, and a loss
term for that head in the D and the G phase.

Both are :class:`~gankit.recipes.gan.GANRecipe` runs (its objective, penalty, EMA,
schedule and the one loop) in which

* D is unconditional and wrapped in :class:`~gankit.networks.auxiliary.AuxiliaryHead`;
* the extra terms enter through the GAN recipe's per-phase extra-loss hook (the one the
  mitigations use: ``d_extra_loss`` / ``g_extra_loss``, logged as ``<name>_d`` / ``<name>_g``);
* each phase runs inside ``AuxiliaryHead.remember``, so a term reads the head outputs of
  the forward pass the adversarial loss already made.
"""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

import torch
from torch import Tensor, nn

from gankit.data.base import DataSource
from gankit.errors import ConfigError
from gankit.networks import DISCRIMINATORS
from gankit.networks.auxiliary import AuxiliaryHead
from gankit.recipes.gan import GANRecipe
from gankit.engine.loop import Logs
from gankit.mitigations.base import Mitigation

if TYPE_CHECKING:
    from gankit.config import Config

# Mitigation hooks that would change the network the head sits on, or the latent it reads.
_EXCLUSIVE_HOOKS = ("wrap_discriminator", "wrap_generator", "wrap_prior")


class AuxiliaryTerm(Mitigation):
    """The recipe's own extra loss terms, through the mitigations' hook interface."""

    def __init__(self, name: str, recipe: AuxiliaryGANRecipe) -> None:
        self.name, self.recipe = name, recipe

    def d_extra_loss(self, recipe: Any, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor | None:
        return self.recipe.head_loss_d(real, fake, y)

    def g_extra_loss(self, recipe: Any, fake: Tensor, y: Tensor | None, z: Tensor) -> Tensor | None:
        return self.recipe.head_loss_g(fake, y, z)


class AuxiliaryGANRecipe(GANRecipe):
    """A GAN recipe whose D carries a head of ``head_dim()`` outputs on its body.

    Subclasses define ``term_name``, :meth:`head_dim`, :meth:`head_loss_d` and
    :meth:`head_loss_g`; ``head_hidden`` is the head's hidden width (0: linear).
    """

    supports_distributed = False  # the head's terms read kept outputs of D's forward, not DDP's buckets
    term_name = "aux"
    head_hidden = 0

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0, **gan: Any) -> None:
        self._check_aux(cfg, self.gan_options(gan).mitigations)
        super().__init__(cfg, data, device, rank=rank, **gan)

    def _check_aux(self, cfg: Config, mitigations: dict[str, dict[str, Any]]) -> None:
        name = cfg.model.name
        from gankit.mitigations.base import MITIGATIONS

        for m_name, opts in mitigations.items():
            m = MITIGATIONS.build(m_name, opts)
            hooks = [h for h in _EXCLUSIVE_HOOKS if getattr(type(m), h) is not getattr(Mitigation, h)]
            if hooks:
                raise ConfigError(f"mitigation {m_name!r} changes the networks or the latent ({hooks[0]}) and "
                                  f"cannot be combined with model={name}")
        if cfg.train.compile:
            raise ConfigError(f"train.compile is not supported for model={name} (its D keeps head outputs)")

    def head_dim(self) -> int:
        raise NotImplementedError

    def head_loss_d(self, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor | None:
        raise NotImplementedError

    def head_loss_g(self, fake: Tensor, y: Tensor | None, z: Tensor) -> Tensor | None:
        raise NotImplementedError

    def _speed_and_scale(self) -> None:
        # GANRecipe calls this once its networks are built and before the fast paths, DDP
        # wrappers and phases are made from self.D: the place to put the head on an
        # unconditional D (AC-GAN's G is conditional, its D is not) and to add the head's terms.
        if hasattr(self, "aux_net"):  # called again (a future re-wrap): the head is already in place
            super()._speed_and_scale()
            return
        cfg = self.cfg
        if not self.objective.learned_critic or self.objective.critics != 1:
            raise ConfigError(f"loss {self.options.loss.name!r} has no single discriminator for "
                              f"model={cfg.model.name}'s head")
        d = self.options.discriminator
        body = DISCRIMINATORS.build(d.name, d.options, data_shape=self.data.shape,
                                    num_classes=0, out_dim=self.objective.critic_dim)
        self.aux_net = AuxiliaryHead(body, self.head_dim(), hidden=self.head_hidden,
                                     who=f"model={cfg.model.name}").to(self.device)
        self.D = self.aux_net
        self.mitigations.append(AuxiliaryTerm(self.term_name, self))
        super()._speed_and_scale()

    def d_loss(self) -> tuple[Tensor, Logs]:
        with self.aux_net.remember():
            return super().d_loss()

    def g_loss(self) -> tuple[Tensor, Logs]:
        with self.aux_net.remember():
            return super().g_loss()

    def head(self, x: Tensor) -> Tensor:
        """The head's outputs ``(B, head_dim)`` on a batch as D sees it (after input mitigations)."""
        return self.aux_net.auxiliary(self.d_input(x)).float()

    @torch.no_grad()
    def head_outputs(self, x: Tensor, batch: int = 1024) -> Tensor:
        """The head on data-space inputs ``x (n, *shape)``, in eval mode, on the CPU."""
        net: nn.Module = self.aux_net
        was = net.training
        net.eval()
        out = []
        for part in x.split(batch):
            part = part.to(self.device)
            if self.transform is not None:
                part = self.transform(part)
            out.append(net.auxiliary(part).float().cpu())
        net.train(was)
        return torch.cat(out) if out else torch.empty(0, self.head_dim())
