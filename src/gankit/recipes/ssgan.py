"""The semi-supervised GAN (Salimans et al. 2016, "Improved Techniques for Training GANs", §5).

A :class:`~gankit.recipes.gan.GANRecipe` whose discriminator has K outputs, one logit per
class of the data set, the fake class's logit fixed at 0 (:mod:`gankit.losses.semisup`). The
GAN's game sees D through its implied real logit ``log Z(x) = logsumexp_k l_k``, so every
classic objective applies unchanged (``loss=feature-matching``, the paper's choice for
semi-supervised learning, by default; ``ns`` and one-sided smoothing too); the D phase adds
the supervised cross-entropy of a batch of the ``labels`` labelled training examples
(:mod:`gankit.data.labelled`). The generator and the unsupervised real/fake loss see only
the rest of the training split. The classifier is ``argmax_k l_k``, scored on the test split
by the ``test_error`` metric.

``model.unlabelled=false`` trains the same D on the labelled examples alone (the D phase's
cross-entropy only, no generator): the baseline the unlabelled data is measured against.
"""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

import torch
from torch import Tensor

from gankit.data.base import DataSource
from gankit.errors import ConfigError
from gankit.losses import LOSSES
from gankit.losses.semisup import real_logit, supervised_loss
from gankit.registry import Count, Positive, Seed
from gankit.recipes.gan import GANRecipe
from gankit.engine.loop import Logs, Phase
from gankit.recipes.base import RECIPES
from gankit.recipes.semisup import SemiSupervised

if TYPE_CHECKING:
    from gankit.config import Config

SALIMANS = "Salimans et al. 2016, 'Improved Techniques for Training GANs'"


@RECIPES.register("ssgan", summary="semi-supervised GAN: a K-class D (fake logit 0) and feature matching",
                  paper=SALIMANS)
class SSGANRecipe(SemiSupervised, GANRecipe):
    """K-logit D, classic game on ``logsumexp`` of the logits, cross-entropy on labelled batches.

    ``labels``: labelled training examples, balanced over the classes;
    ``label_seed``: seed of their choice; ``supervised``: weight of the labelled cross-entropy;
    ``unlabelled``: false trains the classifier on the labelled examples alone (the baseline).
    """

    supports_distributed = False

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 labels: Count = 100, label_seed: Seed = 0, supervised: Positive = 1.0,
                 unlabelled: bool = True, **gan: Any) -> None:
        o = self.gan_options(gan)
        obj = LOSSES.build(o.loss.name, o.loss.options)
        if not obj.probability_outputs or obj.critic_dim != 1:
            raise ConfigError(f"model=ssgan reads D(x) = Z/(Z+1) as a GAN probability; loss {o.loss.name!r} "
                              "is not one (use feature-matching, ns, minimax or ml)")
        self.labels, self.supervised, self.unlabelled = labels, supervised, unlabelled
        pool = self._semisup_setup(cfg, data, labels, label_seed, conditional=o.conditional)
        super().__init__(cfg, pool, device, rank=rank, **gan)

    def d_outputs(self) -> int:
        return self.class_count

    def critic(self, x: Tensor, y: Tensor | None, D: torch.nn.Module | None = None) -> Tensor:
        """The implied real logit ``log Z(x)`` ``(B,)``: ``sigmoid`` of it is D's P(real)."""
        return real_logit(super().critic(x, y, D))

    def class_logits(self, x: Tensor) -> Tensor:
        return self.D(x).float()                                        # (B, K)

    def d_loss(self) -> tuple[Tensor, Logs]:
        """Unsupervised real/fake loss on the unlabelled pool (the GAN's D phase) plus
        ``supervised`` x the cross-entropy of a labelled batch."""
        loss, logs = super().d_loss() if self.unlabelled else (None, {})
        x, y = self.split.batch(self.batch_size, self.device)
        ce = supervised_loss(self.D_train(self.d_input(x), None).float(), y)
        logs["sup_ce"] = ce.detach()
        return (self.supervised * ce if loss is None else loss + self.supervised * ce), logs

    def phases(self) -> list[Phase]:
        phases = super().phases()
        return phases if self.unlabelled else [p for p in phases if p.name == "D"]

    @property
    def default_metrics(self) -> list[str]:
        return ["test_error"]
