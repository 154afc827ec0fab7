"""Metric registry shared by the trainer (periodic evaluation), ``gankit eval`` and the docs.

A metric is a function ``(ctx: EvalContext, **options) -> dict[str, float]``; the context
gives it the real data source, a way to draw generated samples and a per-evaluation cache
(so, e.g., image features are extracted once for FID, KID and precision/recall).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from gankit.capabilities import Generates
from gankit.data.base import DataSource
from gankit.registry import Registry


@dataclasses.dataclass
class EvalContext:
    """What a metric may use.

    Attributes:
        data: the real data source (toy distribution or finite data set).
        generate: ``(n, labels or None) -> x (n, *shape)``: generated samples (EMA G if present).
        num_samples: how many samples metrics should draw.
        seed: seed for the evaluation's own RNG (real samples, latents), independent of training.
        device: where to run feature extractors.
        cache: shared between the metrics of one evaluation.
        model: the trained model, for metrics of what it can do besides generating
            (encode, translate, classify, codes: :mod:`gankit.capabilities`); None when
            only samples are evaluated.
    """

    data: DataSource
    generate: Callable[[int, Tensor | None], Tensor]
    num_samples: int = 2500
    seed: int = 1234
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    cache: dict[str, Any] = dataclasses.field(default_factory=dict)
    model: Generates | None = None

    def generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed + offset)


Metric = Callable[..., dict[str, float]]
METRICS: Registry[Metric] = Registry("metric", context=("ctx",))
