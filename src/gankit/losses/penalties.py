"""Critic regularisers, separate from the objectives: ``(critic, real, fake) -> scalar``.

Registered in :data:`PENALTIES`; a penalty either adds a term to the critic's loss
(``loss``) or acts on the critic after each optimiser step (``after_step``, e.g. weight
clipping). ``critic`` is any callable ``x -> outputs``: the training loop closes it over
the class labels for conditional models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from torch import Tensor, nn

from gankit.registry import Registry

Critic = Callable[[Tensor], Tensor]


@dataclasses.dataclass(frozen=True)
class Penalty:
    name: str
    loss: Callable[[Critic, Tensor, Tensor], Tensor] | None = None   # added to the critic's loss
    after_step: Callable[[nn.Module], None] | None = None            # applied to D after its step
    every: int = 1                                                   # lazy regularisation interval


PENALTIES: Registry[Callable[..., Penalty]] = Registry("penalty")


@PENALTIES.register("none")
def no_penalty() -> Penalty:
    """No regulariser."""
    return Penalty("none")
