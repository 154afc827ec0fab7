"""What the semi-supervised recipes (``ssgan``, ``ssaae``) share: the labelled split of the
training data (:mod:`gankit.data.labelled`), the test split they are scored on, predictions of
their classifier, and the labelled data's position in the checkpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gankit.capabilities import Classifies
from gankit.data.base import DataSource
from gankit.data.labelled import split_labelled, test_split
from gankit.errors import ConfigError

if TYPE_CHECKING:
    from gankit.config import Config


class SemiSupervised(Classifies):
    """What the semi-supervised recipes share: the labelled split, the test split, the
    classifier's predictions and the labelled data's checkpointed position."""

    def _semisup_setup(self, cfg: Config, data: DataSource, labels: int, label_seed: int, *,
                       conditional: bool = False) -> DataSource:
        if conditional:
            raise ConfigError(f"model={cfg.model.name} learns the labels itself; set conditional=false")
        self.split = split_labelled(data, labels, label_seed)
        self.test = test_split(cfg.data.name, dict(cfg.data.options))
        self.class_count = data.num_classes
        if cfg.train.batch_size > len(self.split.unlabelled):
            raise ConfigError(f"train.batch_size={cfg.train.batch_size} exceeds the {len(self.split.unlabelled)} "
                              "unlabelled training examples")
        return self.split.unlabelled

    def class_logits(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def classify(self, x: Tensor, batch: int = 2048) -> Tensor:
        """Predicted classes ``(n,)`` on the CPU of images ``x (n, *shape)`` (eval mode)."""
        nets = list(self.modules().values())
        was = [m.training for m in nets]
        for m in nets:
            m.eval()
        try:
            out = [self.class_logits(p.to(self.device)).argmax(1).cpu() for p in x.split(batch)]
        finally:
            for m, w in zip(nets, was):
                m.train(w)
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "labelled": self.split.state_dict()}  # type: ignore[misc]

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)  # type: ignore[misc]
        self.split.load_state_dict(state["labelled"])
