"""What every recipe shares: the registry, the option types of the components it builds,
and the checkpointable state of its networks, loop and data order.

A recipe (``GANRecipe``, ``AAERecipe``) turns a config into networks and the phases of the
one loop; this base class saves and restores what a run needs to continue exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import torch
from torch import nn

from gankit.capabilities import Generates
from gankit.data.base import DataSource
from gankit.registry import Component, Of, Registry
from gankit.engine.loop import Phase, Trainer, lr_factor, lr_schedule

# The recipes (``model=`` in a config): name -> class built with the run's context. A recipe's
# keyword-only constructor arguments are its options (``model.cycle=10``), validated like
# every other component's.
RECIPES: Registry[Callable[..., Any]] = Registry("model", context=("cfg", "data", "device", "rank"))

# How a recipe's signature names the components it builds: each is validated against its
# registry (``model.generator.width=64`` against the generator's options).
GeneratorOption = Annotated[Component, Of("generator")]
DiscriminatorOption = Annotated[Component, Of("discriminator")]
EncoderOption = Annotated[Component, Of("encoder")]
PriorOption = Annotated[Component, Of("prior")]
LossOption = Annotated[Component, Of("loss")]
PenaltyOption = Annotated[Component, Of("penalty")]
MitigationsOption = Annotated[dict[str, dict[str, Any]], Of("mitigation", many=True)]


def build_recipe(cfg: Any, data: DataSource, device: torch.device, rank: int = 0) -> Any:
    """The recipe ``cfg.model`` names, built with its own options and the run's context."""
    return RECIPES.build(cfg.model.name, cfg.model.options, cfg=cfg, data=data, device=device, rank=rank)


class Recipe(Generates):
    """Subclasses set ``trainer``, ``data`` and ``data_rng`` and define :meth:`modules`."""

    trainer: Trainer
    data: DataSource
    data_rng: torch.Generator

    def modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def finishing(self) -> bool:
        """Whether :meth:`finish` has work to do."""
        return False

    def finish(self) -> None:
        """Called once training has reached its planned end, before the final checkpoint
        (e.g. fitting a sampling-time critic); nothing by default."""

    @staticmethod
    def data_order(cfg: Any) -> torch.Generator:
        """The data order's own generator, so it is reproducible and resumable on its own."""
        return torch.Generator().manual_seed(cfg.seed * 7919 + 17)

    @staticmethod
    def make_trainer(cfg: Any, phases: list[Phase], grad_scaler: Any = None) -> Trainer:
        """The one loop over ``phases`` with the config's update rule and lr schedule."""
        t = cfg.train
        return Trainer(phases, update=t.update, grad_scaler=grad_scaler,
                       lr_factor=lr_schedule(t.lr_decay, t.steps, t.extend, t.lr_final),
                       beta2_final=t.beta2_final, decay=lr_factor(t.lr_decay, t.steps, t.extend))

    def state_dict(self) -> dict[str, Any]:
        return {"modules": {k: m.state_dict() for k, m in self.modules().items()},
                "trainer": self.trainer.state_dict(),
                "data": {"rng": self.data_rng.get_state(), "source": self.data.state_dict()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        self.trainer.load_state_dict(state["trainer"])
        self.data_rng.set_state(state["data"]["rng"])
        self.data.load_state_dict(state["data"]["source"])
