"""AC-GAN (Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier
GANs") as a configuration of the GAN recipe.

G is conditional, ``x_fake = G(z, c)`` with ``c`` a class label; D does not see the label
but has two heads on one body: the adversarial logit (the source, ``L_S``) and K class
logits (``P(C | X)``). With the class log-likelihood ``L_C = E log P(C = c | X_real) +
E log P(C = c | X_fake)``, D maximises ``L_S + L_C`` and G maximises ``L_C - L_S``
(eq. (2)-(3)). As losses to minimise:

    D:  (configured adversarial D loss) + w * [CE(D_cls(x_real), y) + CE(D_cls(G(z, c)), c)]
    G:  (configured adversarial G loss) + w * CE(D_cls(G(z, c)), c)

with ``w = model.class_weight`` (1 in the paper, which adds the two terms unweighted). The
fakes of D's phase are generated for the labels of the real batch (a draw from the data's
label distribution); G's phase samples labels uniformly. ``model.fake_classes=false``
drops the fake term from D's loss (D learns to classify real data only), a common variant.

Usage: ``--set model=acgan --set conditional=true`` with any mlp/dcgan networks and any
single-critic loss; the conditional metrics (``cond_accuracy`` from gankit's classifier)
apply as for any conditional run.
"""

from __future__ import annotations

from typing import Any, TYPE_CHECKING

import torch
from torch import Tensor

from gankit.data.base import DataSource
from gankit.errors import ConfigError
from gankit.losses.info import class_loss
from gankit.registry import NonNegative
from gankit.recipes.auxiliary import AuxiliaryGANRecipe
from gankit.recipes.base import RECIPES

if TYPE_CHECKING:
    from gankit.config import Config

ODENA = "Odena, Olah & Shlens 2017, 'Conditional Image Synthesis with Auxiliary Classifier GANs'"


@RECIPES.register("acgan", summary="conditional G, D with an auxiliary classifier head (class losses)",
                  paper=ODENA)
class ACGANRecipe(AuxiliaryGANRecipe):
    """The GAN recipe with AC-GAN's class head and class losses.

    Options: ``class_weight`` (w above, the paper's 1), ``fake_classes`` (D's class loss on
    generated samples too, as in the paper).
    """

    term_name = "class"

    def __init__(self, cfg: Config, data: DataSource, device: torch.device, *, rank: int = 0,
                 class_weight: NonNegative = 1.0, fake_classes: bool = True, **gan: Any) -> None:
        if not self.gan_options(gan).conditional:
            raise ConfigError("model=acgan generates the class it is given: set conditional=true")
        if data.num_classes < 2:
            raise ConfigError(f"model=acgan needs a labelled data set with at least 2 classes; "
                              f"{data.name!r} has {data.num_classes}")
        self.class_weight, self.fake_classes = float(class_weight), bool(fake_classes)
        super().__init__(cfg, data, device, rank=rank, **gan)

    def head_dim(self) -> int:
        return self.num_classes

    def head_loss_d(self, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor | None:
        assert y is not None
        loss = class_loss(self.head(real), y)
        if self.fake_classes:
            loss = loss + class_loss(self.head(fake), y)  # D's fakes were made for the real batch's labels
        return self.class_weight * loss

    def head_loss_g(self, fake: Tensor, y: Tensor | None, z: Tensor) -> Tensor | None:
        assert y is not None
        return self.class_weight * class_loss(self.head(fake), y)

    def classify(self, x: Tensor) -> Tensor:
        """D's class predictions ``(n,)`` for data-space images/points ``x``."""
        return self.head_outputs(x).argmax(1)
